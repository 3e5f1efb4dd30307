#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/types.h"
#include "raft/messages.h"
#include "storage/fs.h"
#include "storage/record.h"

// The read-only half of recovery, shared by DiskStorage::open and the raftkv-wal inspector so
// that the two can never disagree: which files make up a data directory, which snapshot is in
// force, and the walk over the WAL segments that tells valid records from a torn tail from
// corruption (naming the file and offset). DiskStorage builds its index from the walk's events
// and then repairs what the walk reported (cuts the torn tail, writes a log reset, removes
// unfinished files); the inspector prints the same events and repairs nothing.
//
// Pure functions of the directory's bytes (through Fs), no state kept; thread-compatible.
namespace raftkv::storage {

// A data directory's files by kind: names, not paths; each list sorted.
struct DataDirListing {
  std::vector<uint64_t> segment_sequences;    // <sequence:020>.wal
  std::vector<std::string> snapshot_names;    // <index:020>-<term:020>.snap, oldest first.
  std::vector<std::string> unfinished_names;  // *.tmp: spare segments, unfinished snapshots.
};

// The newest snapshot file: the one recovery uses (older ones are never read).
struct NewestSnapshot {
  raft::SnapshotMeta meta;  // Index 0 when there is no snapshot file.
  std::string path;         // Empty when there is none.
  uint64_t data_bytes = 0;
};

// One WAL segment as the walk found it.
struct WalSegment {
  uint64_t sequence = 0;
  std::string path;
  Index first_index;        // From its header (set once the header was read).
  uint64_t file_bytes = 0;  // Its size: segments are preallocated.
  uint64_t end_offset = 0;  // Where its valid records end: the next append would go there.
  uint64_t records = 0;     // Valid records, its header included.
  bool torn = false;        // Last segment only: a torn tail at end_offset, cut on open.
  std::string torn_reason;  // Why, naming the file and offset.
};

// Receives what the walk accepts, in order; a record reaches the sink only after it passed
// every check, so a sink holds a valid log prefix even when the walk ends in Corruption. The
// log events (resets, entries, truncation, compaction) describe the log recovery rebuilds.
class WalSink {
 public:
  virtual ~WalSink() = default;
  virtual void on_segment_begin(const WalSegment& segment) { (void)segment; }
  virtual void on_segment_end(const WalSegment& segment) { (void)segment; }
  // Every valid record (header, entry, hard state, log reset), after the walk checked it.
  virtual void on_record(const WalSegment& segment, const RecordView& record) {
    (void)segment;
    (void)record;
  }
  // The log now ends at `index`, whose term is `term` (0: unknown, never contradicts):
  // nothing after it remains. At the oldest segment's header, at a log reset record, and when
  // an entry reaches below the log's start (older segments were removed after a snapshot).
  virtual void on_log_reset(Index index, Term term) = 0;
  // Entry (index, term) whose record starts at `offset` in `segment`; it replaces every entry
  // at or after `index`. Precondition: index is in (log start, last index + 1].
  virtual void on_entry(const WalSegment& segment, uint64_t offset, Index index, Term term) = 0;
  // After the last segment. Entries at or after `index` contradict the snapshot: dropped.
  virtual void on_truncate(Index index) = 0;
  // After the last segment, when the log goes past the snapshot (index, term): the entries up
  // to `index` are covered by it and dropped; `term` becomes the term of the log's start.
  virtual void on_compact(Index index, Term term) = 0;
};

// What the walk established.
struct WalReplay {
  Status status;                     // ok, or the first Corruption (file and offset).
  std::vector<WalSegment> segments;  // Those walked (every segment when ok).
  raft::HardState hard_state;        // In force: the last one replayed.
  std::string hard_state_where;      // Its file and offset; empty if there is none.
  // The log once reconciled with the snapshot: entries (compacted_index, last_index].
  Index compacted_index;
  Term compacted_term;
  Index last_index;
  uint64_t entry_records = 0;  // Entry records replayed (replaced ones included).
  // Entries after the snapshot's index contradicted its term: a leader's snapshot became
  // durable, but not the log reset record that should follow it. They were dropped.
  bool snapshot_conflict = false;
  // The log must restart at the snapshot durably (a new segment with a log reset record): it
  // ends before the snapshot or contradicts it, so the next append would otherwise follow a
  // gap on the next replay.
  bool reset_to_snapshot = false;
};

// Everything recovery reads of a data directory, in the order it reads it.
struct DataDirScan {
  Status status;  // ok; IoError (listing, reading); or the first Corruption, naming the file.
  DataDirListing listing;
  NewestSnapshot snapshot;
  WalReplay wal;
};

// Lists `dir`: IoError if it cannot be listed.
[[nodiscard]] Result<DataDirListing> list_data_dir(Fs& fs, const std::string& dir);
// Opens and verifies the newest snapshot named in `listing`, whole: the log it covers may be
// gone. Corruption (naming the file, and the offset where known) if it is damaged or its meta
// contradicts its name. meta.index is 0 and path empty when there is no snapshot.
[[nodiscard]] Result<NewestSnapshot> load_newest_snapshot(Fs& fs, const std::string& dir,
                                                          const DataDirListing& listing);
// Walks the segments `sequences` (sorted) of `dir` against the newest `snapshot` (see
// load_newest_snapshot), feeding `sink`. IoError if a segment cannot be read. Corruption when
// a segment is missing (a gap), damaged anywhere but in the last segment's tail, or when the
// log contradicts itself: a misplaced or wrong header, an entry gap, terms going backwards,
// entries below a log reset, a log that starts after the snapshot, a hard state committing
// past the last index. A snapshot without any segment is Corruption too (the log after it is
// lost); no snapshot and no segment is an empty log. A torn tail of the last segment (see
// scan_records) is reported in its WalSegment, not as an error.
[[nodiscard]] WalReplay replay_wal(Fs& fs, const std::string& dir,
                                   const std::vector<uint64_t>& sequences,
                                   const NewestSnapshot& snapshot, WalSink& sink);
// list_data_dir, load_newest_snapshot, replay_wal: stops at the first error.
[[nodiscard]] DataDirScan scan_data_dir(Fs& fs, const std::string& dir, WalSink& sink);

}  // namespace raftkv::storage
