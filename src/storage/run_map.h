#pragma once

#include <algorithm>
#include <utility>
#include <vector>

#include "common/assert.h"
#include "common/types.h"

// A map from log index to a value that changes rarely along the log (an entry's term, the
// segment holding it), kept as runs: (first index of the run, value). Memory is per run, not
// per entry, which is what lets a long log keep its term and segment index in RAM.
// Not thread-safe; DiskStorage guards it.

namespace raftkv::storage {

template <typename V>
class RunMap {
 public:
  // Sets the value of `index` (which must be <= the last set index + 1) and drops everything
  // after it: the log's append-replacing-a-suffix.
  void set(Index index, const V& value) {
    truncate_from(index + 1);
    if (!runs_.empty() && runs_.back().second == value) return;
    if (!runs_.empty() && runs_.back().first == index) {
      runs_.back().second = value;
      if (runs_.size() >= 2 && runs_[runs_.size() - 2].second == value) runs_.pop_back();
      return;
    }
    runs_.emplace_back(index, value);
  }

  // The value at `index`. Precondition: at or after the first run's start.
  [[nodiscard]] const V& at(Index index) const {
    RAFT_ASSERT(!runs_.empty());
    RAFT_ASSERT(index >= runs_.front().first);
    auto after = std::upper_bound(runs_.begin(), runs_.end(), index,
                                  [](Index i, const auto& run) { return i < run.first; });
    return std::prev(after)->second;
  }

  // Forgets indexes >= `index`.
  void truncate_from(Index index) {
    while (!runs_.empty() && runs_.back().first >= index) runs_.pop_back();
  }

  // Forgets indexes < `index`, keeping the run that covers `index` (restarted at it).
  void drop_before(Index index) {
    size_t keep = 0;
    while (keep + 1 < runs_.size() && runs_[keep + 1].first <= index) ++keep;
    runs_.erase(runs_.begin(), runs_.begin() + static_cast<std::ptrdiff_t>(keep));
    if (!runs_.empty() && runs_.front().first < index) runs_.front().first = index;
  }

  void clear() { runs_.clear(); }
  [[nodiscard]] bool empty() const { return runs_.empty(); }
  [[nodiscard]] size_t run_count() const { return runs_.size(); }

 private:
  std::vector<std::pair<Index, V>> runs_;
};

}  // namespace raftkv::storage
