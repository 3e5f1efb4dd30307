#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/prng.h"
#include "common/types.h"

// SimNetwork decides the fate of every message the simulator sends: dropped, delivered once
// after a random delay, or duplicated. Reordering is not a separate knob: it emerges from
// independent random delays. Partitions are directed link cuts, so symmetric, one-way and
// isolation faults are all the same mechanism. Node ids are 1..node_count.
// Not thread-safe; owned by the Simulator.
namespace raftkv::sim {

struct NetworkOptions {
  // Delivery delay of each message copy, uniform in [delay_us_min, delay_us_max] (a tick is
  // kTickUs microseconds of simulated time).
  uint64_t delay_us_min = 100;
  uint64_t delay_us_max = 1000;
  // Probability, per mille, that a message is lost, and that it is delivered twice.
  uint32_t drop_per_mille = 0;
  uint32_t duplicate_per_mille = 0;
};

class SimNetwork {
 public:
  SimNetwork(uint32_t node_count, const NetworkOptions& options);

  // Receives a line for every partition change, so that a replay shows the faults.
  void set_narrator(std::function<void(const std::string&)> narrator) {
    narrator_ = std::move(narrator);
  }

  [[nodiscard]] NetworkOptions& options() { return options_; }
  [[nodiscard]] const NetworkOptions& options() const { return options_; }

  // Whether a message from `from` to `to` would get through right now.
  [[nodiscard]] bool link_up(NodeId from, NodeId to) const;
  // Cuts every link to and from `node` (6.824's "disconnect"); reconnect() undoes only that.
  void isolate(NodeId node);
  void reconnect(NodeId node);
  [[nodiscard]] bool is_isolated(NodeId node) const;
  // Cuts every link between the two groups, both ways.
  void partition(const std::vector<NodeId>& group_a, const std::vector<NodeId>& group_b);
  // Cuts only the direction from -> to.
  void cut_one_way(NodeId from, NodeId to);
  // Restores every link, isolated nodes included.
  void heal();

  // Delays (relative to now) of the copies of one message sent now; empty when it is lost.
  // Cut links lose the message too; the simulator checks the link again at delivery, so a
  // partition also catches messages already in flight.
  [[nodiscard]] std::vector<uint64_t> plan_delivery(NodeId from, NodeId to, Prng& prng) const;

 private:
  [[nodiscard]] size_t slot(NodeId from, NodeId to) const;
  [[nodiscard]] bool known(NodeId node) const;
  void narrate(const std::string& line) const {
    if (narrator_) narrator_(line);
  }

  uint32_t node_count_;
  NetworkOptions options_;
  // cut_[slot(from, to)]: that direction is cut by a partition.
  std::vector<uint8_t> cut_;
  // isolated_[id - 1]: the node is disconnected from everyone.
  std::vector<uint8_t> isolated_;
  std::function<void(const std::string&)> narrator_;
};

}  // namespace raftkv::sim
