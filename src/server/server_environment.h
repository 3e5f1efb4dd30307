#pragma once

#include <asio.hpp>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "common/logger.h"
#include "runtime/environment.h"

// The runtime's environment in raftkv-server: the steady and system clocks, the asio loop (one
// thread runs the core, the transport and the clients), and one worker thread per lane for
// the work that blocks on the disk. A fatal error exits the process: recovery from disk on
// restart sorts out what is durable.
namespace raftkv::server {

class ServerEnvironment final : public runtime::Environment {
 public:
  ServerEnvironment(asio::io_context& io, Logger& logger);
  // Waits for the lanes' jobs in hand to finish; their completions are dropped (the loop has
  // stopped by then).
  ~ServerEnvironment() override;
  ServerEnvironment(const ServerEnvironment&) = delete;
  ServerEnvironment& operator=(const ServerEnvironment&) = delete;

  [[nodiscard]] uint64_t now_us() const override;
  [[nodiscard]] uint64_t wall_ms() const override;
  void post(std::function<void()> fn) override;
  void offload(runtime::Lane lane, std::function<void()> job,
               std::function<void()> done) override;
  [[noreturn]] void fatal(const std::string& why) override;

 private:
  // One thread running its jobs in order; each job's completion is posted to the loop.
  class Worker {
   public:
    explicit Worker(asio::io_context& io);
    ~Worker();
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;
    void run(std::function<void()> job, std::function<void()> done);

   private:
    void loop();

    asio::io_context& io_;
    std::mutex mu_;
    std::condition_variable wanted_;
    std::deque<std::pair<std::function<void()>, std::function<void()>>> jobs_;
    bool stopping_ = false;
    std::thread thread_;
  };

  asio::io_context& io_;
  Logger& logger_;
  Worker sync_;
  Worker snapshot_;
};

}  // namespace raftkv::server
