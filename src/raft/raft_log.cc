#include "raft/raft_log.h"

#include <algorithm>
#include <string>

namespace raftkv::raft {

RaftLog::RaftLog(const LogStorage& storage)
    : storage_(storage),
      unstable_offset_(storage.last_index() + 1),
      committed_(storage.first_index() - 1),
      applied_(storage.first_index() - 1) {}

Index RaftLog::first_index() const {
  if (unstable_snapshot_) return unstable_snapshot_->meta.index + 1;
  return storage_.first_index();
}

Index RaftLog::last_index() const {
  if (!unstable_.empty()) return unstable_.back().index;
  return unstable_offset_ - 1;  // The snapshot's index while one is unpersisted.
}

Index RaftLog::stable_last_index() const {
  return unstable_snapshot_ ? Index{0} : unstable_offset_ - 1;
}

Result<Snapshot> RaftLog::snapshot() const {
  if (unstable_snapshot_) return *unstable_snapshot_;
  return storage_.snapshot();
}

Term RaftLog::last_term() const {
  Result<Term> last = term(last_index());
  RAFT_ASSERT(last.is_ok());  // The last entry (or the snapshot's) always has a known term.
  return last.value();
}

Result<Term> RaftLog::term(Index index) const {
  if (unstable_snapshot_ && index == unstable_snapshot_->meta.index) {
    return unstable_snapshot_->meta.term;
  }
  if (index >= unstable_offset_) {
    if (index > last_index()) {
      return Status(ErrorCode::NotFound, "index " + std::to_string(index.value()) + " past end");
    }
    return unstable_[index - unstable_offset_].term;
  }
  if (unstable_snapshot_ || index + 1 < storage_.first_index()) {
    return Status(ErrorCode::NotFound, "index " + std::to_string(index.value()) + " compacted");
  }
  return storage_.term(index);
}

Term RaftLog::term_or_zero(Index index) const {
  Result<Term> found = term(index);
  return found.is_ok() ? found.value() : Term{0};
}

bool RaftLog::match_term(Index index, Term term_expected) const {
  Result<Term> found = term(index);
  return found.is_ok() && found.value() == term_expected;
}

bool RaftLog::is_up_to_date(Index candidate_last_index, Term candidate_last_term) const {
  const Term our_last_term = last_term();
  if (candidate_last_term != our_last_term) return candidate_last_term > our_last_term;
  return candidate_last_index >= last_index();
}

Index RaftLog::find_conflict(const std::vector<Entry>& entries) const {
  for (const Entry& entry : entries) {
    if (!match_term(entry.index, entry.term)) return entry.index;
  }
  return Index{0};
}

RaftLog::AppendOutcome RaftLog::maybe_append(Index prev_index, Term prev_term,
                                             const std::vector<Entry>& entries,
                                             Index* last_new) {
  if (!match_term(prev_index, prev_term)) return AppendOutcome::Mismatch;
  const Index conflict = find_conflict(entries);
  if (conflict != Index{0}) {
    // Raft §5.3 deletes only the uncommitted suffix; a leader sending anything else is broken.
    if (conflict <= committed_) return AppendOutcome::ConflictsWithCommitted;
    truncate_and_append(entries, conflict - (prev_index + 1));
  }
  *last_new = prev_index + entries.size();
  RAFT_ASSERT(last_index() >= *last_new);
  return AppendOutcome::Appended;
}

Index RaftLog::append(std::vector<Entry> entries) {
  if (entries.empty()) return last_index();
  RAFT_ASSERT(entries.front().index == last_index() + 1);
  RAFT_ASSERT(entries.front().term >= last_term());
  if (unstable_.empty()) unstable_offset_ = entries.front().index;
  for (Entry& entry : entries) unstable_.push_back(std::move(entry));
  return last_index();
}

void RaftLog::truncate_and_append(const std::vector<Entry>& entries, size_t from) {
  RAFT_ASSERT(from < entries.size());
  const Index first = entries[from].index;
  RAFT_ASSERT(first > committed_);
  RAFT_ASSERT(first <= last_index() + 1);
  if (first <= unstable_offset_) {
    // The replaced suffix reaches into the durable log: the runtime overwrites it from `first`.
    unstable_offset_ = first;
    unstable_.clear();
  } else {
    unstable_.resize(first - unstable_offset_);
  }
  unstable_.insert(unstable_.end(), entries.begin() + static_cast<ptrdiff_t>(from), entries.end());
}

std::pair<Index, Term> RaftLog::find_conflict_by_term(Index index, Term term_max) const {
  for (; index > Index{0}; index = index - 1) {
    Result<Term> found = term(index);
    // Compacted: we cannot tell, so assume a possible match here with an unknown term.
    if (!found.is_ok()) return {index, Term{0}};
    if (found.value() <= term_max) return {index, found.value()};
  }
  return {Index{0}, Term{0}};
}

void RaftLog::commit_to(Index index) {
  if (index <= committed_) return;  // Commit never moves back (e.g. a stale heartbeat).
  RAFT_ASSERT(index <= last_index());
  committed_ = index;
}

void RaftLog::applied_to(Index index) {
  RAFT_ASSERT(index <= committed_);
  RAFT_ASSERT(index >= applied_);
  applied_ = index;
}

void RaftLog::set_applied(Index index) {
  RAFT_ASSERT(index <= committed_);
  applied_ = std::max(applied_, index);
}

void RaftLog::stable_to(Index index, Term term_persisted) {
  // The entry may have been replaced after the Ready was taken; then it is still unstable.
  if (index < unstable_offset_ || index > last_index()) return;
  if (unstable_[index - unstable_offset_].term != term_persisted) return;
  unstable_.erase(unstable_.begin(), unstable_.begin() + static_cast<ptrdiff_t>(index -
                                                                                unstable_offset_ +
                                                                                1));
  unstable_offset_ = index + 1;
}

void RaftLog::stable_snapshot_to(Index index) {
  if (unstable_snapshot_ && unstable_snapshot_->meta.index == index) unstable_snapshot_.reset();
}

void RaftLog::restore(Snapshot snapshot) {
  RAFT_ASSERT(snapshot.meta.index > committed_);
  committed_ = snapshot.meta.index;
  unstable_.clear();
  unstable_offset_ = snapshot.meta.index + 1;
  unstable_snapshot_ = std::move(snapshot);
}

Result<std::vector<Entry>> RaftLog::slice(Index lo, Index hi, uint64_t bytes_max) const {
  if (lo < first_index()) return Status(ErrorCode::NotFound, "entries compacted");
  RAFT_ASSERT(lo < hi);
  RAFT_ASSERT(hi <= last_index() + 1);
  std::vector<Entry> out;
  uint64_t bytes = 0;
  if (lo < unstable_offset_) {
    Result<std::vector<Entry>> stored = storage_.entries(lo, std::min(hi, unstable_offset_),
                                                         bytes_max);
    if (!stored.is_ok()) return stored.status();
    out = std::move(stored).value();
    for (const Entry& entry : out) bytes += entry.size_bytes();
    // Storage stopped early for the byte budget: do not continue past the gap it left.
    if (out.back().index + 1 < std::min(hi, unstable_offset_)) return out;
  }
  for (Index i = std::max(lo, unstable_offset_); i < hi; ++i) {
    const Entry& entry = unstable_[i - unstable_offset_];
    bytes += entry.size_bytes();
    if (!out.empty() && bytes > bytes_max) break;
    out.push_back(entry);
  }
  return out;
}

Result<std::vector<Entry>> RaftLog::entries_from(Index lo, uint64_t bytes_max) const {
  if (lo > last_index()) return std::vector<Entry>{};
  return slice(lo, last_index() + 1, bytes_max);
}

bool RaftLog::has_next_committed_entries() const {
  return !unstable_snapshot_ && committed_ > applied_;
}

Result<std::vector<Entry>> RaftLog::next_committed_entries(uint64_t bytes_max) const {
  if (!has_next_committed_entries()) return std::vector<Entry>{};
  Result<std::vector<Entry>> entries = slice(applied_ + 1, committed_ + 1, bytes_max);
  // Committed, unapplied entries are never compacted: the runtime snapshots only applied state.
  if (!entries.is_ok()) RAFT_ASSERT(entries.status().code() != ErrorCode::NotFound);
  return entries;
}

void RaftLog::check_invariants() const {
  RAFT_ASSERT(applied_ <= committed_);
  RAFT_ASSERT(committed_ <= last_index());
  RAFT_ASSERT(first_index() >= Index{1});
  for (size_t i = 0; i < unstable_.size(); ++i) {
    RAFT_ASSERT(unstable_[i].index == unstable_offset_ + i);
    if (i > 0) RAFT_ASSERT(unstable_[i].term >= unstable_[i - 1].term);
  }
  if (!unstable_.empty()) {
    if (unstable_snapshot_) RAFT_ASSERT(unstable_offset_ == unstable_snapshot_->meta.index + 1);
    const Result<Term> before = term(unstable_offset_ - 1);
    if (before.is_ok()) RAFT_ASSERT(before.value() <= unstable_.front().term);
  }
}

}  // namespace raftkv::raft
