#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <thread>
#include <utility>
#include <vector>

#include "common/logger.h"
#include "common/status.h"
#include "raft/log_storage.h"
#include "runtime/storage.h"
#include "storage/fs.h"
#include "storage/record.h"
#include "storage/run_map.h"
#include "storage/segment.h"
#include "storage/segment_pipeline.h"
#include "storage/snapshot_file.h"
#include "storage/wal_buffer.h"
#include "storage/wal_replay.h"

// DiskStorage: the durable raft::LogStorage. A data directory holds
//   <seq:020>.wal                 WAL segments (see segment.h, record.h), preallocated
//   <index:020>-<term:020>.snap   snapshot files (see snapshot_file.h), the newest two kept
//   spare-<n>.wal.tmp             the next segment, prepared ahead (see segment_pipeline.h)
//
// Write semantics mirror raft::MemoryStorage, plus durability: a write method that returns ok
// has been fdatasynced; write() returns a ticket that wait_durable() waits for. It is the
// runtime's storage (runtime/storage.h), over the real file system or a simulated one. Hard
// state is a WAL record, not a separate file: it is written after the entries of the same
// save() and covered by the same fdatasync, so a Ready costs one sync instead of three (temp
// file + fsync + rename + dir fsync), and the torn-tail rules of the WAL cover it. Each new
// segment starts with a copy of the current hard state, so removing older segments never
// loses it.
//
// Append replacing a suffix needs no special record: replay applies an entry at index i by
// dropping everything >= i, so a truncation is durable exactly when its first new entry is.
//
// Group commit: writes are framed outside the mutex and appended to an in-memory batch under
// it; the next sync writes the batch with one pwrite, then runs one fdatasync, which covers
// everything written before it started (reads of records still in the batch are served from
// it; rotation and close write it out too). A writer finding no sync in flight runs one
// itself (wait_durable: a lone writer pays one fdatasync, no thread hand-off); data written
// while a sync runs is covered by the next one, which the sync thread starts as soon as the
// running one ends. A writer therefore waits for at most
// the sync in flight when it wrote plus its own, whatever the number of writers. Waiters sleep
// in two cohorts, by the parity of the sync that covers them, and each sync wakes only its own
// cohort, which needs no lock to see it is done: no thundering herd (see cohort_epoch_).
//
// Failures: a write or sync error poisons the storage (every later write returns the same
// IoError). Retrying an fsync can lose acknowledged data (the kernel may drop the dirty pages),
// so the owner must treat it as fatal: log and exit, then recover from disk on restart.
//
// Memory: per stored entry, 4 bytes (its offset in its segment); terms and segments are kept
// as runs; entry contents only in a cache of the newest entries bounded by cache_bytes_max.
// Entries read back from the WAL share the buffer of the run they were read in (about 1 MiB,
// see EntryRun): whoever holds one of them holds that buffer.
//
// Thread-safety: every public method may be called from any thread.
namespace raftkv::storage {

struct DiskStorageOptions {
  Fs* fs = nullptr;                               // nullptr: the real file system.
  Logger* logger = nullptr;                       // nullptr: discard log lines.
  uint64_t segment_bytes = kSegmentBytesDefault;  // Rotation size (and preallocation).
  uint64_t cache_bytes_max = 64u << 20;           // Entry cache (Entry::size_bytes()).
  size_t snapshots_kept = 2;                      // Newest snapshot files kept.
  // Threads of its own: one preparing the next segment file (see segment_pipeline.h) and one
  // starting the next sync as soon as the one in flight ends when data was written meanwhile
  // (see the class comment). false: neither; the next segment is prepared on the rotating
  // thread right after each rotation and syncs run only in wait_durable() callers, so that
  // every file-system step comes in one deterministic order (crash-point tests, the
  // simulator, where one thread makes every call).
  bool background_threads = true;
};

using runtime::SyncTicket;

class DiskStorage final : public runtime::Storage {
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

  // runtime::Storage. write(): `entries` (replacing stored entries at or after
  // entries.front().index) and then `hard_state`, if any, in one write, readable at once;
  // InvalidArgument (before writing anything) for a gap, an append below the snapshot, or a
  // hard state committing past the last index. wait_durable(): group commit: the first waiter
  // with no sync in flight runs one fdatasync for everything written so far; waiters arriving
  // meanwhile share the next, so nobody waits behind more than one unrelated sync. IoError if
  // the WAL failed.
  [[nodiscard]] Result<SyncTicket> write(
      const std::vector<raft::Entry>& entries,
      const std::optional<raft::HardState>& hard_state) override;
  [[nodiscard]] Status wait_durable(SyncTicket ticket) override;
  [[nodiscard]] Status compact(Index index) override;
  // Drops cached entries up to `index`; entries() reads them from the WAL afterwards.
  void release_cached_through(Index index) override;
  [[nodiscard]] Result<uint64_t> save_snapshot(const raft::SnapshotMeta& meta,
                                               const runtime::SnapshotImage& image) override;
  [[nodiscard]] Result<std::unique_ptr<runtime::SnapshotFile>> open_snapshot() const override;
  [[nodiscard]] Result<std::unique_ptr<runtime::IncomingSnapshot>> begin_receive_snapshot()
      override;
  [[nodiscard]] Status install_received_snapshot(
      std::unique_ptr<runtime::IncomingSnapshot> snapshot) override;
  [[nodiscard]] runtime::StorageStats stats() const override;

  // write + wait_durable: durable on ok.
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
  // The same for this node's own snapshot, written over an old snapshot file when one was set
  // aside for it (remove_doomed_files).
  [[nodiscard]] Result<std::unique_ptr<SnapshotWriter>> begin_local_snapshot(
      const raft::SnapshotMeta& meta);
  // The state machine's own snapshot at meta.index, which must be stored, with its term, and
  // newer than the current snapshot. Entries stay until compact().
  [[nodiscard]] Status finish_local_snapshot(std::unique_ptr<SnapshotWriter> writer);
  // A leader's snapshot (InstallSnapshot): replaces the whole log, durably.
  [[nodiscard]] Status finish_leader_snapshot(std::unique_ptr<SnapshotWriter> writer);
  // install_received_snapshot(): a snapshot received as raw file chunks (SnapshotReceiver,
  // from begin_receive_snapshot()) is verified end to end (Corruption if damaged in transit),
  // then installed as a leader's snapshot.
  // MemoryStorage's in-memory forms of the two above.
  [[nodiscard]] Status create_snapshot(Index index, const raft::ConfState& conf_state,
                                       std::string data);
  [[nodiscard]] Status apply_snapshot(raft::Snapshot snapshot);
  // compact(): drops entries up to and including `index` (covered by the snapshot), then
  // removes the whole segments holding only such entries.

  // For tests and the inspector; stats() above is the part for metrics.
  struct Details {
    size_t cached_entries = 0;
    uint64_t cached_bytes = 0;
    SegmentPipeline::Stats pipeline;  // Spare segment files prepared ahead of rotations.
  };
  [[nodiscard]] Details details() const;

 private:
  struct Segment {
    uint64_t sequence = 0;
    Index first_index;
    std::string path;
    std::shared_ptr<File> file;
  };
  class ReplaySink;  // Builds the index from the shared walk (disk_storage_recovery.cc).

  DiskStorage(std::string dir, DiskStorageOptions options);

  // Recovery (disk_storage_recovery.cc): the walk shared with raftkv-wal (wal_replay.h)
  // decides; these apply its verdict.
  [[nodiscard]] Status recover();
  [[nodiscard]] Status remove_unfinished_locked(const DataDirListing& listing);
  [[nodiscard]] Status open_segments_locked(const WalReplay& wal);
  [[nodiscard]] Status cut_torn_tail(const Segment& segment, uint64_t offset,
                                     const std::string& reason);
  [[nodiscard]] Status finish_recovery_locked(const WalReplay& wal);

  // Writing (disk_storage.cc); *_locked run with mu_ held.
  struct Batch;
  [[nodiscard]] static Status encode_batch(const std::vector<raft::Entry>& entries,
                                           const std::optional<raft::HardState>& hard_state,
                                           Batch* batch);
  [[nodiscard]] Status save_locked(const std::vector<raft::Entry>& entries,
                                   const std::optional<raft::HardState>& hard_state,
                                   Batch& batch);
  // One fdatasync for everything written so far, mu_ released meanwhile. Returns its
  // generation: the caller passes it to wake_cohort() once it has released mu_.
  [[nodiscard]] uint32_t run_sync_locked(std::unique_lock<std::mutex>& lock);
  // Wakes the wait_durable() callers that sync `generation` covers (call without mu_).
  void wake_cohort(uint32_t generation);
  // Wakes every wait_durable() caller to look again: after a rotation's seal or a failure.
  void wake_all_locked();
  [[nodiscard]] bool sync_needed_locked() const;  // The sync thread should run one now.
  [[nodiscard]] Status check_save_locked(const std::vector<raft::Entry>& entries,
                                         const std::optional<raft::HardState>& hard_state) const;
  // Moves `records` into pending_ at the end of the active segment (rotating first if they
  // do not fit); *offset is where they start.
  [[nodiscard]] Status write_locked(WalBuffer& records, Index first_index, uint64_t* offset);
  // Writes pending_ into the active segment (one pwrite per piece); poisons the storage on
  // failure.
  [[nodiscard]] Status flush_locked();
  [[nodiscard]] Status rotate_locked(Index first_index, const std::string& extra_records);
  [[nodiscard]] Status create_segment_locked(Index first_index, const std::string& extra_records);
  [[nodiscard]] Status fail_locked(Status status);
  void index_entry_locked(const raft::Entry& entry, uint64_t sequence, uint64_t offset);
  void truncate_from_locked(Index index);
  void reset_log_locked(Index index, Term term);
  void drop_through_locked(Index index);
  void cache_locked(const raft::Entry& entry);
  void drop_cached_through_locked(Index index);
  void sync_loop();
  // The term of `index`, in [compacted_index_, last_index_].
  [[nodiscard]] Term term_locked(Index index) const;

  // Reading entries back (disk_storage.cc): see EntryRun.
  struct EntryRun;
  // Entries from `first` (uncached, stored), in first's segment, before `end`, whose records
  // span about `bytes_budget` (at least one entry, at most kRunReadBytesMax).
  [[nodiscard]] EntryRun plan_run_locked(Index first, Index end, uint64_t bytes_budget) const;
  // Reads and decodes a planned run without mu_; Corruption naming file and offset for a
  // damaged record or one that is not the entry its index says.
  [[nodiscard]] static Result<std::vector<raft::Entry>> read_run(const EntryRun& run);
  [[nodiscard]] static Status extend_to_last_record(const EntryRun& run, std::string* bytes);

  // Snapshots and compaction (disk_storage_snapshot.cc).
  [[nodiscard]] Status check_leader_snapshot(const raft::SnapshotMeta& meta) const;
  [[nodiscard]] Status install_leader_snapshot_locked(const raft::SnapshotMeta& meta,
                                                      const std::string& path, uint64_t data_bytes);
  void install_snapshot_locked(const raft::SnapshotMeta& meta, const std::string& path,
                               uint64_t data_bytes, bool log_reset);
  // Snapshot files past snapshots_kept, and whole segments the snapshot covers (with
  // `log_reset`, every segment before the active one: the reset at its head made them dead),
  // leave the bookkeeping at once and join doomed_files_; remove_doomed_files() deletes them,
  // or hands a segment to the pipeline for recycling when no reader holds it.
  void doom_old_snapshots_locked();
  void doom_covered_segments_locked(bool log_reset);
  [[nodiscard]] Status remove_doomed_files();

  const std::string dir_;
  DiskStorageOptions options_;
  Fs& fs_;
  Logger& logger_;
  // Hands rotations a created, preallocated, synced file; its own lock, taken under mu_.
  SegmentPipeline pipeline_;

  mutable std::mutex mu_;
  std::condition_variable sync_wanted_;  // Wakes the sync thread.
  // Segments by sequence, oldest first; back() is the active one being appended to.
  std::vector<Segment> segments_;
  uint64_t write_offset_ = 0;  // Next byte to write in the active segment.
  uint64_t head_bytes_ = 0;    // Size of the active segment's head records (0 if unknown).
  // Records appended to the active segment but not yet written to its file: they belong at
  // [write_offset_ - pending_.size(), write_offset_). Written by the next sync (one pwrite for
  // the whole batch, instead of one per save under the mutex), by a rotation, by close, or
  // once kPendingBytesMax of copied bytes is reached. Never durable before it is written, so
  // never acked. Large payloads are shared with the log, not copied (WalBuffer).
  WalBuffer pending_;

  // Entries (compacted_index_, last_index_] are stored; as in MemoryStorage the compaction
  // point trails the snapshot until compact() (on open it is the snapshot). offsets_[i -
  // compacted_index_ - 1] is entry i's record offset in segment segment_of_.at(i); term_of_
  // gives its term; compacted_term_ answers term(compacted_index_).
  Index compacted_index_;
  Term compacted_term_;
  raft::SnapshotMeta snapshot_meta_;
  std::string snapshot_path_;                // Empty when there is no snapshot.
  std::vector<std::string> snapshot_files_;  // Final names, oldest first.
  struct DoomedFile {
    std::string path;
    bool is_segment = false;  // Else a snapshot file.
    // A segment's open file, which readers share (EntryRun), until remove_doomed_files()
    // has looked at who still holds it.
    std::shared_ptr<File> segment;
  };
  std::deque<DoomedFile> doomed_files_;      // To remove, oldest first.
  // Per snapshot file open_snapshot() handed out: a lease every reader of it holds
  // (SnapshotReader::hold), expired once the last reader is gone.
  mutable std::unordered_map<std::string, std::weak_ptr<const void>> snapshot_readers_;
  // An old snapshot file set aside (as reused-<n>.snap.tmp) for the next local snapshot to
  // write over; empty when none waits.
  std::string reusable_snapshot_;
  uint64_t reused_snapshots_ = 0;  // Names reusable_snapshot_ files.
  std::mutex removal_mu_;                    // Taken before mu_, never under it.
  Index last_index_;
  std::deque<uint32_t> offsets_;
  RunMap<uint64_t> segment_of_;
  RunMap<Term> term_of_;
  // The newest entries, contiguous and ending at last_index_; bounded by cache_bytes_max.
  std::deque<raft::Entry> cache_;
  uint64_t cache_bytes_ = 0;
  raft::HardState hard_state_;

  // Group commit. Positions count bytes written since open.
  uint64_t written_ = 0;
  // Bytes known durable; never decreases. Stored under mu_, loaded without it by woken
  // waiters (so a woken waiter that is covered never touches mu_).
  std::atomic<uint64_t> synced_{0};
  uint64_t syncs_ = 0;
  uint64_t rotations_ = 0;
  uint64_t snapshots_written_ = 0;
  uint64_t snapshots_received_ = 0;
  bool sync_running_ = false;  // One fdatasync at a time, run by a waiter or the sync thread.
  uint64_t sync_target_ = 0;   // written_ when the running (or last) sync started.
  uint32_t sync_generation_ = 0;  // Number of the running (or last) sync; wraps.
  // Data was written while the last sync ran: the sync thread runs the next one at once.
  bool sync_requested_ = false;
  // A wait_durable() caller covered by sync g sleeps on cohort_epoch_[g % 2] (a futex word),
  // which is bumped once sync g ends; those who wrote while g ran sleep on the other word,
  // untouched. Both are bumped when a rotation's seal syncs everything or the storage fails.
  // A bump only means "look again": a waiter checks synced_, then the state under mu_.
  std::array<std::atomic<uint32_t>, 2> cohort_epoch_{};
  Status failed_;  // Sticky: the first write or sync error.
  bool stopping_ = false;
  std::thread sync_thread_;
};

}  // namespace raftkv::storage
