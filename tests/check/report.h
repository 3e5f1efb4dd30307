#pragma once

#include "check/lincheck.h"
#include "check/model.h"
#include "check/search.h"

namespace raftkv::lincheck::detail {

// Turns a search that found no linearization into what a person debugging the seed needs:
// the keys, the state the longest linearizable prefix leaves them in, its last operations on
// them, and each operation that could come next with what the model answers there.
[[nodiscard]] PartitionViolation explain_violation(const History& history, Partition& partition,
                                                   const SearchResult& result,
                                                   const Options& options);

}  // namespace raftkv::lincheck::detail
