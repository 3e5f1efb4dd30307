#include "server/server_environment.h"

#include <chrono>
#include <cstdlib>

namespace raftkv::server {

ServerEnvironment::ServerEnvironment(asio::io_context& io, Logger& logger)
    : io_(io), logger_(logger), sync_(io), snapshot_(io) {}

ServerEnvironment::~ServerEnvironment() = default;

uint64_t ServerEnvironment::now_us() const {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

uint64_t ServerEnvironment::wall_ms() const {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

void ServerEnvironment::post(std::function<void()> fn) { asio::post(io_, std::move(fn)); }

void ServerEnvironment::offload(runtime::Lane lane, std::function<void()> job,
                                std::function<void()> done) {
  Worker& worker = lane == runtime::Lane::Sync ? sync_ : snapshot_;
  worker.run(std::move(job), std::move(done));
}

void ServerEnvironment::fatal(const std::string& why) {
  // Storage failures cannot be retried safely (a failed fsync may have dropped dirty pages):
  // stop here and let recovery from disk sort out what is durable.
  log_to(logger_, LogLevel::Error, "fatal: ", why);
  std::_Exit(70);
}

ServerEnvironment::Worker::Worker(asio::io_context& io) : io_(io), thread_([this] { loop(); }) {}

ServerEnvironment::Worker::~Worker() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wanted_.notify_one();
  thread_.join();
}

void ServerEnvironment::Worker::run(std::function<void()> job, std::function<void()> done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.emplace_back(std::move(job), std::move(done));
  }
  wanted_.notify_one();
}

void ServerEnvironment::Worker::loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    wanted_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
    if (jobs_.empty()) return;  // Stopping, and nothing left in hand.
    auto [job, done] = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    job();
    asio::post(io_, std::move(done));
    lock.lock();
  }
}

}  // namespace raftkv::server
