#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/logger.h"
#include "common/status.h"
#include "raft/log_storage.h"
#include "storage/fs.h"
#include "storage/record.h"
#include "storage/run_map.h"
#include "storage/segment.h"
#include "storage/snapshot_file.h"

// DiskStorage: the durable raft::LogStorage. A data directory holds
//   <seq:020>.wal                 WAL segments (see segment.h, record.h), preallocated
//   <index:020>-<term:020>.snap   snapshot files (see snapshot_file.h), the newest two kept
//
// Write semantics mirror raft::MemoryStorage, plus durability: a write method that returns ok
// has been fdatasynced (save_async's callback reports the same). Hard state is a WAL record,
// not a separate file: it is written after the entries of the same save() and covered by the
// same fdatasync, so a Ready costs one sync instead of three (temp file + fsync + rename + dir
// fsync), and the torn-tail rules of the WAL cover it. Each new segment starts with a copy of
// the current hard state, so removing older segments never loses it.
//
// Append replacing a suffix needs no special record: replay applies an entry at index i by
// dropping everything >= i, so a truncation is durable exactly when its first new entry is.
//
// Group commit: writes go to the page cache at once (under the mutex); one fdatasync at a time
// covers everything written before it started. It is run by a waiting writer (wait_durable,
// no thread hand-off) or, for save_async callbacks, by the sync thread. A writer therefore
// waits for at most the sync in flight when it wrote plus its own, whatever the number of
// writers.
//
// Failures: a write or sync error poisons the storage (every later write returns the same
// IoError). Retrying an fsync can lose acknowledged data (the kernel may drop the dirty pages),
// so the owner must treat it as fatal: log and exit, then recover from disk on restart.
//
// Memory: per stored entry, 4 bytes (its offset in its segment); terms and segments are kept
// as runs; entry contents only in a cache of the newest entries bounded by cache_bytes_max.
//
// Thread-safety: every public method may be called from any thread.
namespace raftkv::storage {

struct DiskStorageOptions {
  Fs* fs = nullptr;                               // nullptr: the real file system.
  Logger* logger = nullptr;                       // nullptr: discard log lines.
  uint64_t segment_bytes = kSegmentBytesDefault;  // Rotation size (and preallocation).
  uint64_t cache_bytes_max = 64u << 20;           // Entry cache (Entry::size_bytes()).
  size_t snapshots_kept = 2;                      // Newest snapshot files kept.
};

// Called once the write is durable (ok) or has failed (IoError); from the sync thread.
using SyncDone = std::function<void(const Status&)>;

// A position in the WAL's write stream: durable once every byte before it is synced.
struct SyncTicket {
  uint64_t position = 0;
};

class DiskStorage final : public raft::LogStorage {
 public:
  // Opens `dir` (created if missing), replaying snapshots, segments and hard state.
  // Corruption (naming file and offset) when stored data is damaged or contradicts itself; a
  // torn last record is cut away and logged instead. Never drops synced data silently.
  [[nodiscard]] static Result<std::unique_ptr<DiskStorage>> open(const std::string& dir,
                                                                 DiskStorageOptions options);
  ~DiskStorage() override;
  DiskStorage(const DiskStorage&) = delete;
  DiskStorage& operator=(const DiskStorage&) = delete;

  // raft::LogStorage.
  [[nodiscard]] raft::HardState hard_state() const override;
  [[nodiscard]] Index first_index() const override;
  [[nodiscard]] Index last_index() const override;
  [[nodiscard]] Result<Term> term(Index index) const override;
  [[nodiscard]] Result<std::vector<raft::Entry>> entries(Index lo, Index hi,
                                                         uint64_t bytes_max) const override;
  // The newest snapshot's metadata, data left empty: read the file with open_snapshot().
  [[nodiscard]] Result<raft::Snapshot> snapshot() const override;

  // Writes `entries` (replacing stored entries at or after entries.front().index) and then
  // `hard_state`, if any, in one write; both readable at once; `done` runs once durable.
  // InvalidArgument (before writing anything) for a gap, an append below the snapshot, or a
  // hard state committing past the last index.
  [[nodiscard]] Status save_async(const std::vector<raft::Entry>& entries,
                                  const std::optional<raft::HardState>& hard_state, SyncDone done);
  // The same write, without waiting: pass the ticket to wait_durable(). Lets the caller
  // release its own locks before waiting (the runtime orders appends, then waits outside).
  [[nodiscard]] Result<SyncTicket> save_nowait(const std::vector<raft::Entry>& entries,
                                               const std::optional<raft::HardState>& hard_state);
  // Blocks until `ticket` is durable. Group commit: the first waiter with no sync in flight
  // runs one fdatasync for everything written so far; waiters arriving meanwhile share the
  // next, so nobody waits behind more than one unrelated sync. IoError if the WAL failed.
  [[nodiscard]] Status wait_durable(SyncTicket ticket);
  // save_nowait + wait_durable: durable on ok.
  [[nodiscard]] Status save(const std::vector<raft::Entry>& entries,
                            const std::optional<raft::HardState>& hard_state);
  [[nodiscard]] Status append(const std::vector<raft::Entry>& entries);
  [[nodiscard]] Status set_hard_state(const raft::HardState& hard_state);
  // fdatasync of everything written so far (shares the group commit in flight).
  [[nodiscard]] Status sync();

  // Starts a snapshot file for `meta` (streamed; see SnapshotWriter). Then install it with
  // finish_local_snapshot or finish_leader_snapshot.
  [[nodiscard]] Result<std::unique_ptr<SnapshotWriter>> begin_snapshot(
      const raft::SnapshotMeta& meta) const;
  // The state machine's own snapshot at meta.index, which must be stored, with its term, and
  // newer than the current snapshot. Entries stay until compact().
  [[nodiscard]] Status finish_local_snapshot(std::unique_ptr<SnapshotWriter> writer);
  // A leader's snapshot (InstallSnapshot): replaces the whole log, durably.
  [[nodiscard]] Status finish_leader_snapshot(std::unique_ptr<SnapshotWriter> writer);
  // The same for a snapshot received as raw file chunks (see SnapshotReceiver): verified end
  // to end (Corruption if damaged in transit), then installed as a leader's snapshot.
  [[nodiscard]] Result<std::unique_ptr<SnapshotReceiver>> begin_receive_snapshot() const;
  [[nodiscard]] Status finish_received_snapshot(std::unique_ptr<SnapshotReceiver> receiver);
  // MemoryStorage's in-memory forms of the two above.
  [[nodiscard]] Status create_snapshot(Index index, const raft::ConfState& conf_state,
                                       std::string data);
  [[nodiscard]] Status apply_snapshot(raft::Snapshot snapshot);
  // Drops entries up to and including `index` (covered by the snapshot), then removes the
  // whole segments holding only such entries.
  [[nodiscard]] Status compact(Index index);

  // The newest snapshot file as a stream (NotFound when there is none).
  [[nodiscard]] Result<std::unique_ptr<SnapshotReader>> open_snapshot() const;
  // Up to `bytes_max` raw bytes of the newest snapshot file at `offset`, for InstallSnapshot.
  [[nodiscard]] Result<std::string> read_snapshot_chunk(uint64_t offset, uint64_t bytes_max) const;

  // For tests, the inspector and metrics.
  struct Stats {
    size_t segments = 0;
    size_t cached_entries = 0;
    uint64_t cached_bytes = 0;
    uint64_t syncs = 0;  // fdatasyncs run by the group-commit thread.
    uint64_t bytes_written = 0;
  };
  [[nodiscard]] Stats stats() const;

 private:
  struct Segment {
    uint64_t sequence = 0;
    Index first_index;
    std::string path;
    std::shared_ptr<File> file;
  };
  struct Waiter {
    uint64_t position = 0;  // Bytes written (cumulative) that must be synced.
    SyncDone done;
  };
  struct Replay;

  DiskStorage(std::string dir, DiskStorageOptions options);

  // Recovery (disk_storage_recovery.cc).
  [[nodiscard]] Status recover();
  [[nodiscard]] Status load_snapshots();
  [[nodiscard]] Status replay_segments(const std::vector<uint64_t>& sequences);
  [[nodiscard]] Status replay_segment(Replay& replay, size_t position, bool last);
  [[nodiscard]] Status replay_record(Replay& replay, const RecordView& record);
  [[nodiscard]] Status replay_entry(Replay& replay, const RecordView& record);
  [[nodiscard]] Status cut_torn_tail(const Segment& segment, uint64_t offset,
                                     const std::string& reason);
  [[nodiscard]] Status finish_replay(const Replay& replay);

  // Writing (disk_storage.cc); *_locked run with mu_ held.
  struct Batch;
  [[nodiscard]] static Status encode_batch(const std::vector<raft::Entry>& entries,
                                           const std::optional<raft::HardState>& hard_state,
                                           Batch* batch);
  [[nodiscard]] Status save_locked(const std::vector<raft::Entry>& entries,
                                   const std::optional<raft::HardState>& hard_state,
                                   const Batch& batch);
  void run_sync_locked(std::unique_lock<std::mutex>& lock);
  [[nodiscard]] Status check_save_locked(const std::vector<raft::Entry>& entries,
                                         const std::optional<raft::HardState>& hard_state) const;
  [[nodiscard]] Status write_locked(const std::string& records, Index first_index,
                                    uint64_t* offset);
  [[nodiscard]] Status rotate_locked(Index first_index, const std::string& extra_records);
  [[nodiscard]] Status create_segment_locked(Index first_index, const std::string& extra_records);
  [[nodiscard]] Status fail_locked(Status status);
  void index_entry_locked(const raft::Entry& entry, uint64_t sequence, uint64_t offset);
  void truncate_from_locked(Index index);
  void reset_log_locked(Index index, Term term);
  void drop_through_locked(Index index);
  void cache_locked(const raft::Entry& entry);
  void enqueue_waiter_locked(SyncDone done);
  void sync_loop();
  [[nodiscard]] Result<raft::Entry> read_entry_locked(Index index) const;

  // Snapshots and compaction (disk_storage_snapshot.cc).
  [[nodiscard]] Status check_leader_snapshot(const raft::SnapshotMeta& meta) const;
  [[nodiscard]] Status install_leader_snapshot_locked(const raft::SnapshotMeta& meta,
                                                      const std::string& path, uint64_t data_bytes);
  [[nodiscard]] Status install_snapshot_locked(const raft::SnapshotMeta& meta,
                                               const std::string& path, uint64_t data_bytes,
                                               bool log_reset);
  [[nodiscard]] Status compact_locked(Index index);
  [[nodiscard]] Status remove_old_snapshots_locked();
  // Removes whole segments the snapshot covers; with `log_reset` every segment before the
  // active one (a log reset record at its head made them all dead).
  [[nodiscard]] Status remove_covered_segments_locked(bool log_reset);

  const std::string dir_;
  DiskStorageOptions options_;
  Fs& fs_;
  Logger& logger_;

  mutable std::mutex mu_;
  std::condition_variable sync_wanted_;     // Wakes the sync thread.
  std::condition_variable synced_changed_;  // Wakes wait_durable() callers.
  // Segments by sequence, oldest first; back() is the active one being appended to.
  std::vector<Segment> segments_;
  uint64_t write_offset_ = 0;  // Next byte to write in the active segment.
  uint64_t head_bytes_ = 0;    // Size of the active segment's head records (0 if unknown).

  // Entries (compacted_index_, last_index_] are stored; as in MemoryStorage the compaction
  // point trails the snapshot until compact() (on open it is the snapshot). offsets_[i -
  // compacted_index_ - 1] is entry i's record offset in segment segment_of_.at(i); term_of_
  // gives its term; compacted_term_ answers term(compacted_index_).
  Index compacted_index_;
  Term compacted_term_;
  raft::SnapshotMeta snapshot_meta_;
  std::string snapshot_path_;                // Empty when there is no snapshot.
  std::vector<std::string> snapshot_files_;  // Final names, oldest first.
  Index last_index_;
  std::deque<uint32_t> offsets_;
  RunMap<uint64_t> segment_of_;
  RunMap<Term> term_of_;
  // The newest entries, contiguous and ending at last_index_; bounded by cache_bytes_max.
  std::deque<raft::Entry> cache_;
  uint64_t cache_bytes_ = 0;
  raft::HardState hard_state_;

  // Group commit. Positions count bytes written since open; waiters_ is in position order.
  uint64_t written_ = 0;
  uint64_t synced_ = 0;
  uint64_t syncs_ = 0;
  bool sync_running_ = false;  // One fdatasync at a time, run by a waiter or the sync thread.
  std::deque<Waiter> waiters_;
  Status failed_;  // Sticky: the first write or sync error.
  bool stopping_ = false;
  std::thread sync_thread_;
};

}  // namespace raftkv::storage
