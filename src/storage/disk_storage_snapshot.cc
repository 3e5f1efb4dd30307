// DiskStorage: snapshot files, log compaction and segment removal.
#include <utility>

#include "proto/convert.h"
#include "storage/disk_storage.h"

namespace raftkv::storage {

Result<std::unique_ptr<SnapshotWriter>> DiskStorage::begin_snapshot(
    const raft::SnapshotMeta& meta) const {
  return SnapshotWriter::create(fs_, dir_, meta);
}

Result<std::unique_ptr<SnapshotWriter>> DiskStorage::begin_local_snapshot(
    const raft::SnapshotMeta& meta) {
  std::string reuse;
  {
    std::lock_guard<std::mutex> lock(mu_);
    reuse = std::exchange(reusable_snapshot_, {});
  }
  return SnapshotWriter::create(fs_, dir_, meta, reuse);
}

Status DiskStorage::finish_local_snapshot(std::unique_ptr<SnapshotWriter> writer) {
  RAFT_ASSERT(writer != nullptr);
  const raft::SnapshotMeta& meta = writer->meta();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!failed_.is_ok()) return failed_;
    if (meta.index <= snapshot_meta_.index) {
      return Status(ErrorCode::InvalidArgument, "snapshot not newer than the current one");
    }
    if (meta.index < compacted_index_ || meta.index > last_index_) {
      return Status(ErrorCode::InvalidArgument, "snapshot index not stored");
    }
    const Term stored = meta.index == compacted_index_ ? compacted_term_ : term_of_.at(meta.index);
    if (stored != meta.term) {
      return Status(ErrorCode::InvalidArgument, "snapshot term differs from the stored entry");
    }
  }
  // The file is written and synced without the lock: appends go on meanwhile.
  Status status = writer->finish();
  if (!status.is_ok()) return status;
  {
    std::lock_guard<std::mutex> lock(mu_);
    install_snapshot_locked(writer->meta(), writer->path(), writer->data_bytes(),
                            /*log_reset=*/false);
  }
  return remove_doomed_files();
}

Status DiskStorage::check_leader_snapshot(const raft::SnapshotMeta& meta) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!failed_.is_ok()) return failed_;
  if (meta.index < snapshot_meta_.index) {
    return Status(ErrorCode::InvalidArgument, "snapshot older than the current one");
  }
  if (hard_state_.commit > meta.index) {
    return Status(ErrorCode::InvalidArgument, "snapshot older than the commit index");
  }
  return Status::ok();
}

Status DiskStorage::finish_leader_snapshot(std::unique_ptr<SnapshotWriter> writer) {
  RAFT_ASSERT(writer != nullptr);
  Status status = check_leader_snapshot(writer->meta());
  if (status.is_ok()) status = writer->finish();
  if (status.is_ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    status = install_leader_snapshot_locked(writer->meta(), writer->path(), writer->data_bytes());
  }
  return status.is_ok() ? remove_doomed_files() : status;
}

Result<uint64_t> DiskStorage::save_snapshot(const raft::SnapshotMeta& meta,
                                            const runtime::SnapshotImage& image) {
  Result<std::unique_ptr<SnapshotWriter>> writer = begin_local_snapshot(meta);
  if (!writer.is_ok()) return writer.status();
  if (Status saved = image.save(*writer.value()); !saved.is_ok()) return saved;
  const uint64_t data_bytes = writer.value()->data_bytes();
  if (Status finished = finish_local_snapshot(std::move(writer).value()); !finished.is_ok()) {
    return finished;
  }
  std::lock_guard<std::mutex> lock(mu_);
  ++snapshots_written_;
  return data_bytes;
}

Result<std::unique_ptr<runtime::IncomingSnapshot>> DiskStorage::begin_receive_snapshot() {
  Result<std::unique_ptr<SnapshotReceiver>> receiver = SnapshotReceiver::create(fs_, dir_);
  if (!receiver.is_ok()) return receiver.status();
  return std::unique_ptr<runtime::IncomingSnapshot>(std::move(receiver).value());
}

Status DiskStorage::install_received_snapshot(
    std::unique_ptr<runtime::IncomingSnapshot> incoming) {
  // Only our own begin_receive_snapshot() makes them (runtime/storage.h's contract).
  auto* receiver = dynamic_cast<SnapshotReceiver*>(incoming.get());
  RAFT_ASSERT(receiver != nullptr);
  Status status = receiver->verify();
  if (status.is_ok()) status = check_leader_snapshot(receiver->meta());
  if (status.is_ok()) status = receiver->finish();
  if (status.is_ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    status =
        install_leader_snapshot_locked(receiver->meta(), receiver->path(), receiver->data_bytes());
    if (status.is_ok()) ++snapshots_received_;
  }
  return status.is_ok() ? remove_doomed_files() : status;
}

Status DiskStorage::install_leader_snapshot_locked(const raft::SnapshotMeta& meta,
                                                   const std::string& path, uint64_t data_bytes) {
  // The log restarts in a fresh segment whose head carries the reset, so replay drops the old
  // log even before the older segments are removed; the rotation makes it durable.
  std::string reset;
  proto::encode_log_reset(meta.index, meta.term, &reset);
  std::string records;
  append_record(RecordType::LogReset, reset, &records);
  Status status = rotate_locked(meta.index + 1, records);
  if (!status.is_ok()) return status;
  reset_log_locked(meta.index, meta.term);
  install_snapshot_locked(meta, path, data_bytes, /*log_reset=*/true);
  return Status::ok();
}

void DiskStorage::install_snapshot_locked(const raft::SnapshotMeta& meta, const std::string& path,
                                          uint64_t data_bytes, bool log_reset) {
  snapshot_meta_ = meta;
  snapshot_path_ = path;
  const std::string name = snapshot_file_name(snapshot_meta_.index, snapshot_meta_.term);
  if (snapshot_files_.empty() || snapshot_files_.back() != name) snapshot_files_.push_back(name);
  log_to(logger_, LogLevel::Info, "storage: snapshot ", snapshot_path_, " installed (index ",
         snapshot_meta_.index, ", term ", snapshot_meta_.term, ", ", data_bytes, " bytes)");
  doom_old_snapshots_locked();
  doom_covered_segments_locked(log_reset);
}

Status DiskStorage::create_snapshot(Index index, const raft::ConfState& conf_state,
                                    std::string data) {
  Result<Term> term_at = term(index);
  if (!term_at.is_ok()) return term_at.status();
  Result<std::unique_ptr<SnapshotWriter>> writer =
      begin_local_snapshot(raft::SnapshotMeta{index, term_at.value(), conf_state});
  if (!writer.is_ok()) return writer.status();
  Status written = writer.value()->write(data);
  if (!written.is_ok()) return written;
  return finish_local_snapshot(std::move(writer.value()));
}

Status DiskStorage::apply_snapshot(raft::Snapshot snapshot) {
  Result<std::unique_ptr<SnapshotWriter>> writer = begin_snapshot(snapshot.meta);
  if (!writer.is_ok()) return writer.status();
  Status written = writer.value()->write(snapshot.data);
  if (!written.is_ok()) return written;
  return finish_leader_snapshot(std::move(writer.value()));
}

Status DiskStorage::compact(Index index) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!failed_.is_ok()) return failed_;
    if (index <= compacted_index_) return Status::ok();  // Already compacted.
    if (index > snapshot_meta_.index) {
      return Status(ErrorCode::InvalidArgument, "compaction past the snapshot");
    }
    drop_through_locked(index);
    RAFT_ASSERT(compacted_index_ == index);
    doom_covered_segments_locked(/*log_reset=*/false);
  }
  return remove_doomed_files();
}

void DiskStorage::doom_old_snapshots_locked() {
  while (snapshot_files_.size() > options_.snapshots_kept) {
    std::string path = join_path(dir_, snapshot_files_.front());
    RAFT_ASSERT(path != snapshot_path_);
    doomed_files_.push_back(DoomedFile{std::move(path), /*is_segment=*/false, nullptr});
    snapshot_files_.erase(snapshot_files_.begin());
  }
}

// Dooms the oldest segments while the next one still starts at or before the compaction
// point + 1: then every entry they hold is covered by a durable snapshot, and replay starting
// at the next segment finds no gap. The active segment is never removed. After a log reset,
// the active segment starts with the reset, so everything before it is dead.
void DiskStorage::doom_covered_segments_locked(bool log_reset) {
  size_t removable = 0;
  while (removable + 1 < segments_.size() &&
         (log_reset || segments_[removable + 1].first_index <= compacted_index_ + 1)) {
    ++removable;
  }
  for (size_t i = 0; i < removable; ++i) {
    doomed_files_.push_back(
        DoomedFile{segments_[i].path, /*is_segment=*/true, std::move(segments_[i].file)});
  }
  segments_.erase(segments_.begin(), segments_.begin() + static_cast<std::ptrdiff_t>(removable));
}

// Runs without mu_: a directory fsync waits for the file system's journal, which can take
// tens of milliseconds while a snapshot is being flushed, and appends must not wait behind it.
// removal_mu_ lets one caller at a time take the oldest doomed file, so files go in the order
// they were doomed, and one directory sync per removal keeps that order on disk: a crash
// leaves a prefix of the segments removed, never a hole that replay would report as a gap.
// A file that cannot be removed stays doomed; the next call tries it again.
//
// A segment is recycled into a spare (renamed to a *.tmp name, which recovery treats as
// removed) unless a reader still holds its file: a run planned before the compaction reads it
// without mu_, and zeros written over it would fail that read. No reader can take the file
// any more (it left segments_), so a use count of one here stays one. Likewise an old
// snapshot file nobody reads is set aside for the next local snapshot to write over (one at
// a time; open_snapshot() opens only the newest, so an expired lease stays expired). Why:
// writing over pages the page cache holds is a memory copy, while a new file's pages come
// fresh from the allocator, which on a virtual machine that returns freed memory to its host
// also costs a fault in the host per page (segment_pipeline.h has the figures).
Status DiskStorage::remove_doomed_files() {
  std::lock_guard<std::mutex> removing(removal_mu_);
  while (true) {
    std::string path;
    bool is_segment = false;
    bool recycle = false;  // A segment no reader holds: it becomes a spare.
    std::string reuse;     // Where an unread old snapshot file goes for reuse, if one may.
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (doomed_files_.empty()) return Status::ok();
      DoomedFile& doomed = doomed_files_.front();
      path = doomed.path;
      is_segment = doomed.is_segment;
      if (is_segment) {
        // Null on a retry after a failure: then the file is removed, as before recycling.
        recycle = doomed.segment != nullptr && doomed.segment.use_count() == 1;
        doomed.segment.reset();  // Closed before its name changes or goes.
      } else {
        const auto readers = snapshot_readers_.find(path);
        const bool read = readers != snapshot_readers_.end() && !readers->second.expired();
        if (!read && reusable_snapshot_.empty()) {
          reuse = join_path(dir_, "reused-" + std::to_string(++reused_snapshots_) + ".snap.tmp");
        }
      }
    }
    log_to(logger_, LogLevel::Info, "storage: ",
           recycle || !reuse.empty() ? "recycling " : "removing ", path,
           " (covered by the snapshot)");
    Status removed = recycle           ? pipeline_.recycle(path)
                     : !reuse.empty() ? fs_.rename(path, reuse)
                                      : fs_.remove(path);
    if (removed.is_ok()) removed = fs_.sync_dir(dir_);
    if (!removed.is_ok()) return removed;
    std::lock_guard<std::mutex> lock(mu_);
    if (!is_segment) snapshot_readers_.erase(path);
    if (!reuse.empty()) reusable_snapshot_ = reuse;
    doomed_files_.pop_front();
  }
}

Result<std::unique_ptr<runtime::SnapshotFile>> DiskStorage::open_snapshot() const {
  std::string path;
  std::shared_ptr<const void> lease;  // Taken before the file is opened, so no gap.
  {
    std::lock_guard<std::mutex> lock(mu_);
    path = snapshot_path_;
    if (path.empty()) return Status(ErrorCode::NotFound, "no snapshot");
    std::weak_ptr<const void>& readers = snapshot_readers_[path];
    lease = readers.lock();
    if (lease == nullptr) {
      lease = std::make_shared<int>(0);
      readers = lease;
    }
  }
  Result<std::unique_ptr<SnapshotReader>> reader = SnapshotReader::open(fs_, path);
  if (!reader.is_ok()) return reader.status();
  reader.value()->hold(std::move(lease));
  return std::unique_ptr<runtime::SnapshotFile>(std::move(reader).value());
}

// Metadata only: the core never reads a snapshot's data, and loading a large one into memory
// each time a follower needs it would defeat streaming (src/runtime/snapshot_transfer.h).
Result<raft::Snapshot> DiskStorage::snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (snapshot_path_.empty()) return raft::Snapshot{};
  return raft::Snapshot{snapshot_meta_, {}};
}

}  // namespace raftkv::storage
