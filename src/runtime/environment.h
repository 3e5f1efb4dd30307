#pragma once

#include <cstdint>
#include <functional>
#include <string>

// Time and threads for the runtime, which has neither of its own: the server gives it the
// steady and system clocks, an asio loop and worker threads (src/server/server_environment.h);
// the simulator gives it simulated time and one deterministic scheduler, where every "thread"
// is an event at a simulated instant.
//
// The loop thread runs the core and everything in runtime::Node. Work that blocks on the disk
// runs off it (offload) or, when short, on it (block_on_disk), and the environment decides
// what that costs in time.
namespace raftkv::runtime {

// Who runs offloaded work. Each lane runs its jobs one at a time, in order; lanes run in
// parallel with each other and with the loop.
enum class Lane : uint8_t {
  Sync,      // WAL fdatasyncs: one per Ready.
  Snapshot,  // Writing a snapshot file: long, and must not hold up the WAL.
};

class Environment {
 public:
  virtual ~Environment() = default;

  // Monotonic microseconds: deadlines and latencies.
  [[nodiscard]] virtual uint64_t now_us() const = 0;
  // Wall-clock milliseconds since the Unix epoch: what a leader stamps into entries.
  [[nodiscard]] virtual uint64_t wall_ms() const = 0;

  // Runs `fn` on the loop thread after the handlers already queued there.
  virtual void post(std::function<void()> fn) = 0;
  // Runs `job` on `lane` (it may block), then `done` on the loop thread.
  virtual void offload(Lane lane, std::function<void()> job, std::function<void()> done) = 0;
  // Runs `job`, which blocks on the disk, on the loop thread itself: nothing else runs on the
  // loop meanwhile (no ticks, no messages), which the simulator charges as disk latency.
  virtual void block_on_disk(const std::function<void()>& job) { job(); }

  // The node cannot go on safely (its storage failed: a retried fsync can lose acknowledged
  // writes). The server exits the process; the simulator takes the node down. The runtime
  // stops itself before calling this and does nothing afterwards.
  virtual void fatal(const std::string& why) = 0;
};

}  // namespace raftkv::runtime
