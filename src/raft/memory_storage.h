#pragma once

#include <vector>

#include "raft/log_storage.h"

// LogStorage kept in memory: what the simulator treats as "durable" and what unit tests and
// the core benchmark drive. Not thread-safe.
namespace raftkv::raft {

class MemoryStorage final : public LogStorage {
 public:
  MemoryStorage();

  [[nodiscard]] HardState hard_state() const override { return hard_state_; }
  [[nodiscard]] Index first_index() const override;
  [[nodiscard]] Index last_index() const override;
  [[nodiscard]] Result<Term> term(Index index) const override;
  [[nodiscard]] Result<std::vector<Entry>> entries(Index lo, Index hi,
                                                   uint64_t bytes_max) const override;
  [[nodiscard]] Result<Snapshot> snapshot() const override { return snapshot_; }

  void set_hard_state(const HardState& hard_state) { hard_state_ = hard_state; }
  // Appends entries, replacing any stored entries at or after entries.front().index.
  // InvalidArgument if that would leave a gap or reach below the snapshot.
  [[nodiscard]] Status append(const std::vector<Entry>& entries);
  // Replaces the whole log with `snapshot` (a follower installing the leader's snapshot).
  // InvalidArgument if it is older than the current one.
  [[nodiscard]] Status apply_snapshot(Snapshot snapshot);
  // Records a snapshot of the state machine at `index`, which must be stored and newer than the
  // current snapshot. Entries stay until compact() drops them.
  [[nodiscard]] Status create_snapshot(Index index, const ConfState& conf_state, std::string data);
  // Drops entries up to and including `index`, which must be covered by the snapshot.
  [[nodiscard]] Status compact(Index index);

 private:
  HardState hard_state_;
  Snapshot snapshot_;
  // entries_[0] is a placeholder at the compaction point: its index and term are those of the
  // last compacted entry, so term(first_index() - 1) is always answerable.
  std::vector<Entry> entries_;
};

}  // namespace raftkv::raft
