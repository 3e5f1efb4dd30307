#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/logger.h"
#include "common/types.h"

// One run of one scenario with one seed: where the simulator reports the first failure and the
// figures a scenario measured. The scenario runner (scenario.h) creates a Run per seed, and
// prints the seed and the replay command when it failed.
namespace raftkv::sim {

// Simulated time is counted in microseconds; one core tick is kTickUs of it, so message and
// disk latencies can be a fraction of a tick.
inline constexpr uint64_t kTickUs = 1000;

// Receives the cores' log lines and the simulator's own narration, stamped with simulated time
// and node. The demo prints them; scenarios normally run without one (nothing is formatted).
class SimLogSink {
 public:
  virtual ~SimLogSink() = default;
  [[nodiscard]] virtual bool enabled(LogLevel level) const = 0;
  // `node` is kNoNode for the simulator's own lines.
  virtual void write(uint64_t now_us, NodeId node, LogLevel level, std::string_view line) = 0;
};

class Run {
 public:
  Run(std::string scenario, uint64_t seed) : scenario_(std::move(scenario)), seed_(seed) {}

  [[nodiscard]] const std::string& scenario() const { return scenario_; }
  [[nodiscard]] uint64_t seed() const { return seed_; }

  // Records a failure; only the first is kept (later ones are usually its consequences).
  void fail(std::string message) {
    if (failure_.empty()) failure_ = std::move(message);
  }
  [[nodiscard]] bool failed() const { return !failure_.empty(); }
  [[nodiscard]] const std::string& failure() const { return failure_; }

  // A figure the scenario measured (e.g. round trips to repair a follower), for the report.
  void metric(std::string name, uint64_t value) { metrics_.emplace_back(std::move(name), value); }
  [[nodiscard]] const std::vector<std::pair<std::string, uint64_t>>& metrics() const {
    return metrics_;
  }

  // Multiplies the length of the long-running scenarios (rounds, ticks); 1 in CI, more when
  // soaking (raftkv-sim --scale=N).
  [[nodiscard]] uint64_t scale() const { return scale_; }
  void set_scale(uint64_t scale) { scale_ = scale == 0 ? 1 : scale; }

  [[nodiscard]] SimLogSink* sink() const { return sink_; }
  void set_sink(SimLogSink* sink) { sink_ = sink; }

 private:
  std::string scenario_;
  uint64_t seed_;
  std::string failure_;
  std::vector<std::pair<std::string, uint64_t>> metrics_;
  SimLogSink* sink_ = nullptr;
  uint64_t scale_ = 1;
};

}  // namespace raftkv::sim
