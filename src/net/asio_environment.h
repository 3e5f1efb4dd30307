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

// The runtime's environment on a real machine (raftkv-server, and any program embedding
// libraft): the steady and system clocks, an asio loop (one thread runs the core, the transport
// and whatever else the program puts on it), one worker thread per lane for the work that
// blocks on the disk, and the ticks. A fatal error exits the process: recovery from disk on
// restart sorts out what is durable.
namespace raftkv::net {

class AsioEnvironment final : public runtime::Environment {
 public:
  AsioEnvironment(asio::io_context& io, Logger& logger);
  // Waits for the lanes' jobs in hand to finish; their completions are dropped (the loop has
  // stopped by then).
  ~AsioEnvironment() override;
  AsioEnvironment(const AsioEnvironment&) = delete;
  AsioEnvironment& operator=(const AsioEnvironment&) = delete;

  // Calls `tick` on the loop every `tick_ms` (runtime::Node::tick), until stop_ticks().
  void tick_every(uint32_t tick_ms, std::function<void()> tick);
  void stop_ticks();

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

  void schedule_tick();

  asio::io_context& io_;
  Logger& logger_;
  asio::steady_timer tick_timer_;
  uint32_t tick_ms_ = 0;
  std::function<void()> tick_;
  Worker sync_;
  Worker snapshot_;
};

}  // namespace raftkv::net
