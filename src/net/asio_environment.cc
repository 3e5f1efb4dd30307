#include "net/asio_environment.h"

#include <chrono>
#include <cstdlib>

#include "common/assert.h"

namespace raftkv::net {

AsioEnvironment::AsioEnvironment(asio::io_context& io, Logger& logger)
    : io_(io), logger_(logger), tick_timer_(io), sync_(io), snapshot_(io) {}

void AsioEnvironment::tick_every(uint32_t tick_ms, std::function<void()> tick) {
  RAFT_ASSERT(tick_ms > 0);
  tick_ms_ = tick_ms;
  tick_ = std::move(tick);
  schedule_tick();
}

void AsioEnvironment::stop_ticks() { tick_timer_.cancel(); }

void AsioEnvironment::schedule_tick() {
  tick_timer_.expires_after(std::chrono::milliseconds(tick_ms_));
  tick_timer_.async_wait([this](const asio::error_code& error) {
    if (error) return;  // Cancelled: stop_ticks() or the loop is going away.
    tick_();
    schedule_tick();
  });
}

AsioEnvironment::~AsioEnvironment() = default;

uint64_t AsioEnvironment::now_us() const {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

uint64_t AsioEnvironment::wall_ms() const {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

void AsioEnvironment::post(std::function<void()> fn) { asio::post(io_, std::move(fn)); }

void AsioEnvironment::offload(runtime::Lane lane, std::function<void()> job,
                                std::function<void()> done) {
  Worker& worker = lane == runtime::Lane::Sync ? sync_ : snapshot_;
  worker.run(std::move(job), std::move(done));
}

void AsioEnvironment::fatal(const std::string& why) {
  // Storage failures cannot be retried safely (a failed fsync may have dropped dirty pages):
  // stop here and let recovery from disk sort out what is durable.
  log_to(logger_, LogLevel::Error, "fatal: ", why);
  std::_Exit(70);
}

AsioEnvironment::Worker::Worker(asio::io_context& io) : io_(io), thread_([this] { loop(); }) {}

AsioEnvironment::Worker::~Worker() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wanted_.notify_one();
  thread_.join();
}

void AsioEnvironment::Worker::run(std::function<void()> job, std::function<void()> done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.emplace_back(std::move(job), std::move(done));
  }
  wanted_.notify_one();
}

void AsioEnvironment::Worker::loop() {
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

}  // namespace raftkv::net
