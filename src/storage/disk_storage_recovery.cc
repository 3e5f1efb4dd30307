// DiskStorage::open's recovery. What the directory holds and whether it is sound is decided by
// the walk shared with the raftkv-wal inspector (wal_replay.h); this file builds the in-memory
// index from the walk's events, then repairs what the walk reported: it removes unfinished
// files, cuts a torn tail and makes a log reset durable.
#include "proto/convert.h"
#include "storage/disk_storage.h"
#include "storage/wal_replay.h"

namespace raftkv::storage {

// Mirrors the walk's log events into DiskStorage's index (offsets, terms, segments).
class DiskStorage::ReplaySink final : public WalSink {
 public:
  explicit ReplaySink(DiskStorage& storage) : storage_(storage) {}

  void on_log_reset(Index index, Term term) override { storage_.reset_log_locked(index, term); }
  void on_entry(const WalSegment& segment, uint64_t offset, Index index, Term term) override {
    raft::Entry entry;  // Only index and term: replay does not copy payloads.
    entry.index = index;
    entry.term = term;
    storage_.index_entry_locked(entry, segment.sequence, offset);
  }
  void on_truncate(Index index) override { storage_.truncate_from_locked(index); }
  void on_compact(Index index, Term term) override {
    if (index > storage_.compacted_index_) storage_.drop_through_locked(index);
    storage_.compacted_term_ = term;
  }

 private:
  DiskStorage& storage_;
};

Status DiskStorage::recover() {
  std::lock_guard<std::mutex> lock(mu_);
  Status status = fs_.create_dir(dir_);
  if (!status.is_ok()) return status;
  ReplaySink sink(*this);
  const DataDirScan scan = scan_data_dir(fs_, dir_, sink);
  if (!scan.status.is_ok()) return scan.status;  // Nothing was changed on disk.
  status = remove_unfinished_locked(scan.listing);
  if (!status.is_ok()) return status;
  snapshot_files_ = scan.listing.snapshot_names;
  snapshot_meta_ = scan.snapshot.meta;
  snapshot_path_ = scan.snapshot.path;
  hard_state_ = scan.wal.hard_state;
  if (scan.wal.segments.empty()) {
    RAFT_ASSERT(snapshot_path_.empty());  // The walk calls a snapshot without a log damage.
    status = create_segment_locked(Index{1}, "");
    return status.is_ok() ? fs_.sync_dir(dir_) : status;
  }
  status = open_segments_locked(scan.wal);
  if (!status.is_ok()) return status;
  return finish_recovery_locked(scan.wal);
}

Status DiskStorage::remove_unfinished_locked(const DataDirListing& listing) {
  for (const std::string& name : listing.unfinished_names) {
    // A spare segment, or an unfinished segment or snapshot: never renamed into place, so
    // never part of durable state.
    log_to(logger_, LogLevel::Info, "storage: removing unfinished file ", name);
    Status removed = fs_.remove(join_path(dir_, name));
    if (!removed.is_ok()) return removed;
  }
  return Status::ok();
}

Status DiskStorage::open_segments_locked(const WalReplay& wal) {
  RAFT_ASSERT(segments_.empty());
  RAFT_ASSERT(!wal.segments.empty());
  for (const WalSegment& found : wal.segments) {
    const bool last = &found == &wal.segments.back();
    Result<std::unique_ptr<File>> file =
        fs_.open(found.path, last ? OpenMode::ReadWrite : OpenMode::ReadOnly);
    if (!file.is_ok()) return file.status();
    segments_.push_back(Segment{found.sequence, found.first_index, found.path,
                                std::move(file.value())});
  }
  const WalSegment& last = wal.segments.back();
  if (last.torn) {
    Status cut = cut_torn_tail(segments_.back(), last.end_offset, last.torn_reason);
    if (!cut.is_ok()) return cut;
  } else {
    // A killed process may have left records in the page cache that no sync covered (never
    // acknowledged). Replayed, they are part of the log from now on, so they must be durable
    // before anything relies on them (a vote, an acknowledgement, a sealed segment). Sealed
    // segments were synced whole before their successor got data; only the last can hold any.
    Status synced = segments_.back().file->sync();
    if (!synced.is_ok()) return synced;
  }
  write_offset_ = last.end_offset;
  head_bytes_ = 0;  // Unknown; only decides whether a huge batch rotates first.
  return Status::ok();
}

Status DiskStorage::cut_torn_tail(const Segment& segment, uint64_t offset,
                                  const std::string& reason) {
  log_to(logger_, LogLevel::Warn, "wal: truncating torn tail of ", segment.path, " at offset ",
         offset, " (", reason, "); only unsynced writes can be lost");
  // Zero everything after the cut (truncate, then preallocate and zero-fill again, as a spare
  // is), so that stale records beyond it can never be mistaken for a continuation after a
  // later crash.
  Status status = segment.file->truncate(offset);
  if (status.is_ok()) status = segment.file->allocate(options_.segment_bytes);
  if (status.is_ok()) status = write_zeros(*segment.file, offset, options_.segment_bytes);
  if (status.is_ok()) status = segment.file->sync();
  return status;
}

Status DiskStorage::finish_recovery_locked(const WalReplay& wal) {
  // Pair check: the index built from the walk's events is the log the walk checked.
  RAFT_ASSERT(compacted_index_ == wal.compacted_index);
  RAFT_ASSERT(last_index_ == wal.last_index);
  RAFT_ASSERT(compacted_term_ == wal.compacted_term);
  const Index snapshot_index = snapshot_meta_.index;
  if (wal.snapshot_conflict) {
    log_to(logger_, LogLevel::Warn, "wal: dropped entries after ", snapshot_index,
           " that conflict with snapshot ", snapshot_path_);
  }
  if (wal.reset_to_snapshot) {
    // Made durable now: otherwise the next append would follow a gap on the next replay.
    std::string payload;
    proto::encode_log_reset(snapshot_index, snapshot_meta_.term, &payload);
    std::string records;
    append_record(RecordType::LogReset, payload, &records);
    Status rotated = rotate_locked(snapshot_index + 1, records);
    if (!rotated.is_ok()) return rotated;
  }
  log_to(logger_, LogLevel::Info, "storage: recovered ", dir_, ": entries (", compacted_index_,
         ", ", last_index_, "], snapshot ", snapshot_index, ", term ", hard_state_.term,
         ", commit ", hard_state_.commit, ", ", segments_.size(), " segments");
  return Status::ok();
}

}  // namespace raftkv::storage
