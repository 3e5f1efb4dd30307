#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/prng.h"
#include "common/types.h"
#include "kv/reply.h"
#include "sim/simulator.h"

// Small helpers shared by the scenario files.
namespace raftkv::sim {

// The election timeout in ticks (raft::Config's default), the unit every bound is written in.
inline constexpr uint64_t kE = 10;

// Defaults for a scenario: `nodes` nodes, a reliable network delaying each message by
// 0.1 to 1 tick, an instant disk.
[[nodiscard]] SimOptions default_options(uint32_t nodes);

// A generator for a scenario's own choices (which node to cut, how long to wait), separate
// from the simulator's so that adding a choice does not perturb the network's draws.
[[nodiscard]] Prng scenario_prng(const Run& run);

// The ids in `all` that are not in `excluded`.
[[nodiscard]] std::vector<NodeId> without(const std::vector<NodeId>& all,
                                          const std::vector<NodeId>& excluded);
// `count` distinct random ids from `all`.
[[nodiscard]] std::vector<NodeId> pick(Prng& prng, std::vector<NodeId> all, size_t count);

// 6.824's one(): proposes a fresh payload to the stable leader among `among` and waits until
// every up node of `among` applied it; re-proposes when a leader change loses it. The payload,
// or nullopt (and the Run failed) after ticks_max.
std::optional<std::string> commit_one(Simulator& sim, const std::vector<NodeId>& among,
                                      uint64_t ticks_max);

// True when every up node among `among` applied `payload`.
[[nodiscard]] bool applied_on(const Simulator& sim, const std::vector<NodeId>& among,
                              const std::string& payload);

// True when the up nodes among `among` follow one leader and every one of them has committed
// and applied all of its log.
[[nodiscard]] bool applied_whole_log(const Simulator& sim, const std::vector<NodeId>& among);

// Fails the run unless every up node's budget for large writes (runtime::Requests) is empty,
// nothing in flight and nothing waiting, now or within `ticks_max` when it is not 0. `when`
// ends the failure message.
void expect_large_write_budgets_empty(Simulator& sim, uint64_t ticks_max, const std::string& when);

// "node 3" for messages.
[[nodiscard]] std::string node_name(NodeId node);

// The runtime hands a KV node's replies out as RESP: back to the store's typed reply, for
// checks. A malformed reply (never the store's) reads as an error reply saying so.
[[nodiscard]] kv::Reply parse_resp(std::string_view resp);

}  // namespace raftkv::sim
