#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "check/model.h"

// Wing & Gong's linearizability search with Lowe's memoization, over one compiled partition;
// the algorithm is described in tests/check/README.md.
namespace raftkv::lincheck::detail {

struct SearchLimits {
  std::chrono::steady_clock::time_point deadline;
  uint64_t steps_max = 0;         // 0: unbounded. Counts attempts to place an operation.
  size_t memory_bytes_max = 0;    // The cache plus the interned values.
};

enum class SearchOutcome { Linearizable, Violation, OutOfTime, OutOfSteps, OutOfMemory };

struct SearchResult {
  SearchOutcome outcome = SearchOutcome::Violation;
  // On Violation: the partial linearization that placed the most Ok operations, as indices
  // into Partition::ops in linearization order (unknown operations it placed included).
  std::vector<uint32_t> longest_prefix;
  uint64_t steps = 0;
  size_t memory_bytes = 0;
};

// Decides whether the partition's Ok operations, plus any subset of its unknown ones, have a
// linearization. Iterative: memory grows with the partition, the stack never does.
[[nodiscard]] SearchResult search(Partition& partition, const SearchLimits& limits);

// The operations that may be placed right after `prefix` (indices into Partition::ops): not
// in it, invoked no later than the earliest return among the Ok operations not in it.
[[nodiscard]] std::vector<uint32_t> next_candidates(const Partition& partition,
                                                    const std::vector<uint32_t>& prefix);

}  // namespace raftkv::lincheck::detail
