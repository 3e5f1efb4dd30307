#include "raft/memory_storage.h"

#include <string>

namespace raftkv::raft {

MemoryStorage::MemoryStorage() { entries_.push_back(Entry{}); }

Index MemoryStorage::first_index() const { return entries_.front().index + 1; }

Index MemoryStorage::last_index() const { return entries_.back().index; }

Result<Term> MemoryStorage::term(Index index) const {
  const Index offset = entries_.front().index;
  if (index < offset || index > last_index()) {
    return Status(ErrorCode::NotFound, "no term stored for index " + std::to_string(index.value()));
  }
  return entries_[index - offset].term;
}

Result<std::vector<Entry>> MemoryStorage::entries(Index lo, Index hi, uint64_t bytes_max) const {
  const Index offset = entries_.front().index;
  if (lo <= offset) return Status(ErrorCode::NotFound, "entries compacted");
  RAFT_ASSERT(lo < hi);
  RAFT_ASSERT(hi <= last_index() + 1);
  std::vector<Entry> out;
  uint64_t bytes = 0;
  for (Index i = lo; i < hi; ++i) {
    const Entry& entry = entries_[i - offset];
    bytes += entry.size_bytes();
    if (!out.empty() && bytes > bytes_max) break;
    out.push_back(entry);
  }
  return out;
}

Status MemoryStorage::append(const std::vector<Entry>& entries) {
  if (entries.empty()) return Status::ok();
  const Index offset = entries_.front().index;
  const Index first_new = entries.front().index;
  if (first_new <= offset) {
    return Status(ErrorCode::InvalidArgument, "append below the snapshot");
  }
  if (first_new > last_index() + 1) {
    return Status(ErrorCode::InvalidArgument, "append would leave a gap");
  }
  entries_.resize(first_new - offset);  // Cut the conflicting suffix, if any.
  entries_.insert(entries_.end(), entries.begin(), entries.end());
  RAFT_ASSERT(entries_.back().index == entries.back().index);
  return Status::ok();
}

Status MemoryStorage::apply_snapshot(Snapshot snapshot) {
  if (snapshot.meta.index < snapshot_.meta.index) {
    return Status(ErrorCode::InvalidArgument, "snapshot older than the current one");
  }
  entries_.clear();
  entries_.push_back(Entry{snapshot.meta.term, snapshot.meta.index, EntryType::NoOp, {}});
  snapshot_ = std::move(snapshot);
  return Status::ok();
}

Status MemoryStorage::create_snapshot(Index index, const ConfState& conf_state, std::string data) {
  if (index <= snapshot_.meta.index) {
    return Status(ErrorCode::InvalidArgument, "snapshot not newer than the current one");
  }
  Result<Term> term_at = term(index);
  if (!term_at.is_ok()) return term_at.status();
  snapshot_ = Snapshot{SnapshotMeta{index, term_at.value(), conf_state}, std::move(data)};
  return Status::ok();
}

Status MemoryStorage::compact(Index index) {
  const Index offset = entries_.front().index;
  if (index <= offset) return Status::ok();  // Already compacted.
  if (index > snapshot_.meta.index) {
    return Status(ErrorCode::InvalidArgument, "compaction past the snapshot");
  }
  entries_.erase(entries_.begin(), entries_.begin() + static_cast<ptrdiff_t>(index - offset));
  entries_.front().data = SharedBytes();  // Now the placeholder: only index and term matter.
  RAFT_ASSERT(entries_.front().index == index);
  return Status::ok();
}

}  // namespace raftkv::raft
