#include "sim/network.h"

#include <algorithm>

#include "common/assert.h"

namespace raftkv::sim {

SimNetwork::SimNetwork(uint32_t node_count, const NetworkOptions& options)
    : node_count_(node_count),
      options_(options),
      cut_(static_cast<size_t>(node_count) * node_count, 0),
      isolated_(node_count, 0) {
  RAFT_ASSERT(node_count > 0);
  RAFT_ASSERT(options.delay_us_min <= options.delay_us_max);
}

bool SimNetwork::known(NodeId node) const {
  return node.value() >= 1 && node.value() <= node_count_;
}

size_t SimNetwork::slot(NodeId from, NodeId to) const {
  RAFT_ASSERT(known(from));
  RAFT_ASSERT(known(to));
  return static_cast<size_t>(from.value() - 1) * node_count_ + (to.value() - 1);
}

bool SimNetwork::link_up(NodeId from, NodeId to) const {
  if (!known(from) || !known(to)) return false;  // Hostile ids are never routed.
  if (isolated_[from.value() - 1] != 0 || isolated_[to.value() - 1] != 0) return false;
  return cut_[slot(from, to)] == 0;
}

void SimNetwork::isolate(NodeId node) {
  RAFT_ASSERT(known(node));
  isolated_[node.value() - 1] = 1;
  narrate("network: node " + std::to_string(node.value()) + " isolated");
}

void SimNetwork::reconnect(NodeId node) {
  RAFT_ASSERT(known(node));
  isolated_[node.value() - 1] = 0;
  narrate("network: node " + std::to_string(node.value()) + " reconnected");
}

bool SimNetwork::is_isolated(NodeId node) const {
  RAFT_ASSERT(known(node));
  return isolated_[node.value() - 1] != 0;
}

void SimNetwork::partition(const std::vector<NodeId>& group_a,
                           const std::vector<NodeId>& group_b) {
  for (NodeId a : group_a) {
    for (NodeId b : group_b) {
      RAFT_ASSERT(a != b);  // A node in both groups would be cut from itself.
      cut_[slot(a, b)] = 1;
      cut_[slot(b, a)] = 1;
    }
  }
  auto names = [](const std::vector<NodeId>& group) {
    std::string out;
    for (NodeId id : group) out += (out.empty() ? "" : " ") + std::to_string(id.value());
    return out;
  };
  narrate("network: partition {" + names(group_a) + "} | {" + names(group_b) + "}");
}

void SimNetwork::cut_one_way(NodeId from, NodeId to) {
  RAFT_ASSERT(from != to);
  cut_[slot(from, to)] = 1;
  narrate("network: link " + std::to_string(from.value()) + " -> " +
          std::to_string(to.value()) + " cut");
}

void SimNetwork::heal() {
  std::fill(cut_.begin(), cut_.end(), uint8_t{0});
  std::fill(isolated_.begin(), isolated_.end(), uint8_t{0});
  narrate("network: healed");
}

std::vector<uint64_t> SimNetwork::plan_delivery(NodeId from, NodeId to, Prng& prng) const {
  std::vector<uint64_t> delays;
  if (!link_up(from, to)) return delays;
  // Draw the same number of random values whatever the outcome, so that changing one
  // probability does not shift every later draw of the run.
  const bool dropped = prng.chance(options_.drop_per_mille, 1000);
  const bool duplicated = prng.chance(options_.duplicate_per_mille, 1000);
  const uint64_t first = prng.uniform(options_.delay_us_min, options_.delay_us_max);
  const uint64_t second = prng.uniform(options_.delay_us_min, options_.delay_us_max);
  if (dropped) return delays;
  delays.push_back(first);
  if (duplicated) delays.push_back(second);
  RAFT_ASSERT(delays.size() <= 2);
  return delays;
}

}  // namespace raftkv::sim
