#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "common/status.h"
#include "common/types.h"
#include "raft/log_storage.h"
#include "raft/messages.h"

// The core's view of the log: the durable part (read through LogStorage) followed by an
// unstable tail of entries, or a snapshot, that the runtime has not persisted yet. Tracks the
// commit and apply positions. Owned by one Raft; not thread-safe.
//
// Invariants: applied <= committed <= last_index(); terms never decrease along the log;
// unstable entries start right after the durable log or the unstable snapshot.
namespace raftkv::raft {

class RaftLog {
 public:
  explicit RaftLog(const LogStorage& storage);

  [[nodiscard]] Index first_index() const;
  // The last index the runtime has made durable (0 while a received snapshot is unpersisted).
  [[nodiscard]] Index stable_last_index() const;
  [[nodiscard]] Index last_index() const;
  [[nodiscard]] Term last_term() const;
  // Term at `index` in [first_index() - 1, last_index()]; NotFound outside.
  [[nodiscard]] Result<Term> term(Index index) const;
  // Term at `index`, or Term{0} where unknown (compacted or past the end); for comparisons.
  [[nodiscard]] Term term_or_zero(Index index) const;
  [[nodiscard]] bool match_term(Index index, Term term) const;
  // Raft §5.4.1: a log ending at (last_index, last_term) is at least as up to date as ours.
  [[nodiscard]] bool is_up_to_date(Index candidate_last_index, Term candidate_last_term) const;

  enum class AppendOutcome : uint8_t {
    Appended,                // Entries now follow prev; *last_new is the last of them.
    Mismatch,                // Our log does not hold (prev_index, prev_term); nothing changed.
    ConflictsWithCommitted,  // The entries contradict a committed entry; nothing changed.
  };
  // Follower side of AppendEntries: when our log holds (prev_index, prev_term), appends
  // `entries`, cutting off a conflicting uncommitted suffix (Raft §5.3).
  [[nodiscard]] AppendOutcome maybe_append(Index prev_index, Term prev_term,
                                           const std::vector<Entry>& entries, Index* last_new);
  // Leader side: appends entries that continue the log. Returns the new last index.
  Index append(std::vector<Entry> entries);
  // Fast backtracking: the largest index <= `index` whose term is <= `term`, and its term.
  // A follower answers a rejected Append with it; the leader narrows its probe with it.
  [[nodiscard]] std::pair<Index, Term> find_conflict_by_term(Index index, Term term) const;

  void commit_to(Index index);
  void applied_to(Index index);
  // The runtime persisted the entries up to (index, term) / the snapshot at `index`.
  void stable_to(Index index, Term term);
  void stable_snapshot_to(Index index);
  // Replaces the log with a snapshot received from the leader.
  void restore(Snapshot snapshot);

  // Entries [lo, hi), at most `bytes_max` (but at least one entry when lo is valid).
  [[nodiscard]] Result<std::vector<Entry>> slice(Index lo, Index hi, uint64_t bytes_max) const;
  // Entries [lo, last_index()], at most `bytes_max` (but at least one entry when lo is valid).
  [[nodiscard]] Result<std::vector<Entry>> entries_from(Index lo, uint64_t bytes_max) const;
  // Committed entries not applied yet, at most `bytes_max` worth (at least one when any).
  // Corruption or IoError when storage could not read them back (never NotFound: committed,
  // unapplied entries are never compacted).
  [[nodiscard]] Result<std::vector<Entry>> next_committed_entries(uint64_t bytes_max) const;
  [[nodiscard]] bool has_next_committed_entries() const;
  // The newest snapshot: the unpersisted one received from the leader, else the stored one.
  [[nodiscard]] Result<Snapshot> snapshot() const;

  [[nodiscard]] const std::vector<Entry>& unstable_entries() const { return unstable_; }
  [[nodiscard]] const std::optional<Snapshot>& unstable_snapshot() const {
    return unstable_snapshot_;
  }
  [[nodiscard]] Index committed() const { return committed_; }
  [[nodiscard]] Index applied() const { return applied_; }
  // Only at start-up, to resume from the runtime's last applied index.
  void set_applied(Index index);

  // Asserts the invariants above; O(unstable entries).
  void check_invariants() const;

 private:
  // Appends entries[from...], first cutting off every entry at or after that entry's index.
  void truncate_and_append(const std::vector<Entry>& entries, size_t from);
  // Index of the first entry in `entries` that our log lacks or holds with another term;
  // Index{0} when our log holds all of them.
  [[nodiscard]] Index find_conflict(const std::vector<Entry>& entries) const;

  const LogStorage& storage_;
  // Entries after the durable log, not yet persisted; unstable_[0].index == unstable_offset_.
  std::vector<Entry> unstable_;
  Index unstable_offset_;
  // A snapshot received from the leader and not yet persisted by the runtime.
  std::optional<Snapshot> unstable_snapshot_;
  Index committed_;
  Index applied_;
};

}  // namespace raftkv::raft
