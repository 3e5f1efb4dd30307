#include "runtime/snapshot_policy.h"

#include <algorithm>

#include "common/assert.h"

namespace raftkv::runtime {

SnapshotPolicy::SnapshotPolicy(SnapshotPolicyOptions options, uint64_t seed)
    : options_(options), prng_(seed) {
  RAFT_ASSERT(options_.log_ratio > 0);
  RAFT_ASSERT(options_.min_log_bytes > 0);
  on_snapshot_stored(0);
}

void SnapshotPolicy::on_applied(uint64_t command_bytes) {
  log_bytes_ += command_bytes + kEntryOverheadBytes;
  ++entries_;
}

bool SnapshotPolicy::due() const {
  return log_bytes_ >= threshold_bytes_ ||
         (options_.max_entries != 0 && entries_ >= options_.max_entries);
}

void SnapshotPolicy::on_snapshot_started() {
  covered_log_bytes_ = log_bytes_;
  covered_entries_ = entries_;
  log_bytes_ = 0;
  entries_ = 0;
}

uint64_t SnapshotPolicy::entries_to_keep(uint64_t keep_entries, uint64_t keep_bytes) const {
  if (covered_entries_ == 0) return keep_entries;
  const uint64_t mean_entry_bytes = covered_log_bytes_ / covered_entries_;  // >= the overhead.
  return std::min(keep_entries, keep_bytes / mean_entry_bytes);
}

void SnapshotPolicy::on_snapshot_stored(uint64_t data_bytes) {
  const auto ratio_bytes =
      static_cast<uint64_t>(options_.log_ratio * static_cast<double>(data_bytes));
  const uint64_t base = std::max(options_.min_log_bytes, ratio_bytes);
  threshold_bytes_ = base + prng_.uniform(0, base / 4);
}

}  // namespace raftkv::runtime
