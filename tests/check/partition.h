#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "check/history.h"
#include "check/model.h"

// P-compositionality (Herlihy & Wing's locality, as Porcupine uses it): a history is
// linearizable iff the sub-history of each independent group of keys is. Keys are joined when
// one operation touches several of them (txn, mget, multi-key del); each group is searched
// alone. Also the pruning that keeps unknown outcomes cheap (README "Unknown outcomes").
namespace raftkv::lincheck::detail {

struct PartitionPlan {
  std::vector<std::string> keys;     // Sorted.
  std::vector<uint32_t> operations;  // History indices, in history order.
};

struct PlanStats {
  size_t fail_dropped = 0;           // Took no effect: nothing to place.
  size_t unknown_reads_dropped = 0;  // Change nothing and constrain nothing.
};

// Drops what needs no placing and groups the rest by connected keys; plans are ordered by
// their first key, so reports come out in a stable order.
[[nodiscard]] std::vector<PartitionPlan> plan_partitions(const History& history,
                                                         PlanStats* stats);

struct PruneStats {
  size_t unknown_inert = 0;    // Unknown writes no Ok operation can observe: dropped.
  size_t unknown_delayed = 0;  // Unknown appends shown to take effect later than their invoke.
};

// Compiles one plan for the search: drops unknown writes that cannot matter, narrows when
// unknown appends may take effect, links identical unknown operations, interns every value.
[[nodiscard]] std::unique_ptr<Partition> compile_partition(const History& history,
                                                           const PartitionPlan& plan,
                                                           PruneStats* stats);

}  // namespace raftkv::lincheck::detail
