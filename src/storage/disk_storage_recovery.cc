// DiskStorage::open's recovery: snapshots, then WAL segments, then consistency checks.
#include <algorithm>

#include "proto/convert.h"
#include "storage/disk_storage.h"

namespace raftkv::storage {
namespace {

Status corrupt(const std::string& where, const std::string& what) {
  return Status(ErrorCode::Corruption, what + " in " + where);
}

std::string at(const std::string& path, uint64_t offset) {
  return path + " at offset " + std::to_string(offset);
}

}  // namespace

// Replay state that does not outlive open().
struct DiskStorage::Replay {
  const Segment* segment = nullptr;  // Being scanned.
  bool first_segment = true;
  std::string hard_state_where;  // File and offset of the hard state record in force.
  // Entries at or below this index are corruption (a log reset record moved the start).
  Index floor;
  // The oldest segment starts past the snapshot: a gap, unless a log reset record follows
  // (a crash while removing the segments a leader's snapshot replaced).
  Status pending_gap;
  std::string buffer;  // The segment being scanned; reused.
};

Status DiskStorage::recover() {
  std::lock_guard<std::mutex> lock(mu_);
  Status status = fs_.create_dir(dir_);
  if (!status.is_ok()) return status;
  Result<std::vector<std::string>> names = fs_.list(dir_);
  if (!names.is_ok()) return names.status();
  std::vector<uint64_t> sequences;
  for (const std::string& name : names.value()) {
    uint64_t sequence = 0;
    if (name.ends_with(".tmp")) {
      // An unfinished segment or snapshot: never renamed, so never part of durable state.
      log_to(logger_, LogLevel::Info, "storage: removing unfinished file ", name);
      status = fs_.remove(join_path(dir_, name));
      if (!status.is_ok()) return status;
    } else if (parse_segment_file_name(name, &sequence)) {
      sequences.push_back(sequence);
    }
  }
  status = load_snapshots();
  if (!status.is_ok()) return status;
  if (sequences.empty()) {
    if (!snapshot_path_.empty()) {
      return corrupt(dir_, "snapshot " + snapshot_path_ + " present but no WAL segment");
    }
    status = create_segment_locked(Index{1}, "");
    return status.is_ok() ? fs_.sync_dir(dir_) : status;
  }
  return replay_segments(sequences);
}

Status DiskStorage::load_snapshots() {
  Result<std::vector<std::string>> names = fs_.list(dir_);
  if (!names.is_ok()) return names.status();
  for (const std::string& name : names.value()) {
    Index index;
    Term term;
    if (parse_snapshot_file_name(name, &index, &term)) snapshot_files_.push_back(name);
  }
  if (snapshot_files_.empty()) return Status::ok();
  // Only the newest matters for recovery; it must be whole: the log it covers may be gone.
  const std::string path = join_path(dir_, snapshot_files_.back());
  Result<std::unique_ptr<SnapshotReader>> reader = SnapshotReader::open(fs_, path);
  if (!reader.is_ok()) return reader.status();
  Status verified = reader.value()->verify();
  if (!verified.is_ok()) return verified;
  Index index;
  Term term;
  RAFT_ASSERT(parse_snapshot_file_name(snapshot_files_.back(), &index, &term));
  const raft::SnapshotMeta& meta = reader.value()->meta();
  if (meta.index != index || meta.term != term) {
    return corrupt(at(path, kSnapshotHeaderBytes), "snapshot meta does not match the file name");
  }
  snapshot_meta_ = meta;
  snapshot_path_ = path;
  return Status::ok();
}

Status DiskStorage::replay_segments(const std::vector<uint64_t>& sequences) {
  for (size_t i = 0; i < sequences.size(); ++i) {
    const std::string path = join_path(dir_, segment_file_name(sequences[i]));
    if (i > 0 && sequences[i] != sequences[i - 1] + 1) {
      return corrupt(at(path, 0), "gap between segments: segment " +
                                      std::to_string(sequences[i - 1] + 1) + " is missing");
    }
    const bool last = i + 1 == sequences.size();
    Result<std::unique_ptr<File>> file =
        fs_.open(path, last ? OpenMode::ReadWrite : OpenMode::ReadOnly);
    if (!file.is_ok()) return file.status();
    segments_.push_back(Segment{sequences[i], Index{}, path, std::move(file.value())});
  }
  Replay replay;
  if (!segments_.empty()) segments_.front().file->prefetch();
  for (size_t i = 0; i < segments_.size(); ++i) {
    // Let the disk read the next segment while this one is checksummed and indexed.
    if (i + 1 < segments_.size()) segments_[i + 1].file->prefetch();
    Status status = replay_segment(replay, i, i + 1 == segments_.size());
    if (!status.is_ok()) return status;
    replay.first_segment = false;
  }
  return finish_replay(replay);
}

Status DiskStorage::replay_segment(Replay& replay, size_t position, bool last) {
  const Segment& segment = segments_[position];
  replay.segment = &segment;
  Status read = read_file_into(fs_, segment.path, &replay.buffer);
  if (!read.is_ok()) return read;
  const ScanResult scan =
      scan_records(replay.buffer, segment.path, last,
                   [&](const RecordView& record) { return replay_record(replay, record); });
  if (!scan.status.is_ok()) return scan.status;
  if (scan.end_offset == 0) return corrupt(at(segment.path, 0), "missing segment header");
  if (scan.torn) {
    RAFT_ASSERT(last);  // scan_records reports torn tails only in the last segment.
    Status cut = cut_torn_tail(segment, scan.end_offset, scan.torn_reason);
    if (!cut.is_ok()) return cut;
  }
  if (last) {
    write_offset_ = scan.end_offset;
    head_bytes_ = 0;  // Unknown; only decides whether a huge batch rotates first.
  }
  return Status::ok();
}

Status DiskStorage::cut_torn_tail(const Segment& segment, uint64_t offset,
                                  const std::string& reason) {
  log_to(logger_, LogLevel::Warn, "wal: truncating torn tail of ", segment.path, " at offset ",
         offset, " (", reason, "); only unsynced writes can be lost");
  // Zero everything after the cut (truncate, then preallocate again), so that stale records
  // beyond it can never be mistaken for a continuation after a later crash.
  Status status = segment.file->truncate(offset);
  if (status.is_ok()) status = segment.file->allocate(options_.segment_bytes);
  if (status.is_ok()) status = segment.file->sync();
  return status;
}

Status DiskStorage::replay_record(Replay& replay, const RecordView& record) {
  const std::string where = at(replay.segment->path, record.offset);
  if ((record.offset == 0) != (record.type == RecordType::SegmentHeader)) {
    return corrupt(where, "segment header misplaced");
  }
  switch (record.type) {
    case RecordType::SegmentHeader: {
      SegmentHeader header;
      Status decoded = decode_segment_header(record.payload, &header);
      if (!decoded.is_ok()) return corrupt(where, decoded.message());
      if (header.sequence != replay.segment->sequence) {
        return corrupt(where, "segment header names sequence " + std::to_string(header.sequence));
      }
      segments_[static_cast<size_t>(replay.segment - segments_.data())].first_index =
          header.first_index;
      if (!replay.first_segment) return Status::ok();
      // The oldest segment must reach back to the snapshot, or entries in between are lost.
      if (header.first_index == Index{0}) return corrupt(where, "segment starts at index 0");
      if (header.first_index > snapshot_meta_.index + 1) {
        replay.pending_gap = corrupt(where, "gap: log starts at index " +
                                                std::to_string(header.first_index.value()) +
                                                " but the newest snapshot ends at " +
                                                std::to_string(snapshot_meta_.index.value()));
      }
      reset_log_locked(header.first_index - 1, Term{});
      return Status::ok();
    }
    case RecordType::Entry: return replay_entry(replay, record);
    case RecordType::HardState: {
      Status decoded = proto::decode_hard_state(record.payload, &hard_state_);
      if (!decoded.is_ok()) return corrupt(where, decoded.message());
      replay.hard_state_where = where;
      return Status::ok();
    }
    case RecordType::LogReset: {
      Index index;
      Term term;
      Status decoded = proto::decode_log_reset(record.payload, &index, &term);
      if (!decoded.is_ok()) return corrupt(where, decoded.message());
      if (index > snapshot_meta_.index) {
        return corrupt(where, "log reset to index " + std::to_string(index.value()) +
                                  " is newer than every snapshot file");
      }
      reset_log_locked(index, term);
      replay.floor = index;
      replay.pending_gap = Status::ok();
      return Status::ok();
    }
  }
  return corrupt(where, "unknown record type");
}

Status DiskStorage::replay_entry(Replay& replay, const RecordView& record) {
  const std::string where = at(replay.segment->path, record.offset);
  raft::Entry entry;  // Only index and term: replay does not copy payloads.
  Status decoded = proto::decode_entry_position(record.payload, &entry.index, &entry.term);
  if (!decoded.is_ok()) return corrupt(where, decoded.message());
  if (entry.index <= replay.floor) {
    return corrupt(
        where, "entry " + std::to_string(entry.index.value()) + " is below the start of the log");
  }
  if (entry.index <= compacted_index_) {
    // A suffix replacement reaching below the oldest segment's first index: the segments
    // before were removed because the snapshot covers them, so the log restarts here.
    reset_log_locked(entry.index - 1, Term{});
  }
  if (entry.index > last_index_ + 1) {
    return corrupt(where, "gap: entry " + std::to_string(entry.index.value()) + " follows entry " +
                              std::to_string(last_index_.value()));
  }
  const Term previous_term =
      entry.index - 1 == compacted_index_ ? compacted_term_ : term_of_.at(entry.index - 1);
  // compacted_term_ is unknown (0) at the start of the oldest segment; 0 never contradicts.
  if (entry.term < previous_term) {
    return corrupt(where, "entry " + std::to_string(entry.index.value()) +
                              " has a term lower than its predecessor");
  }
  index_entry_locked(entry, replay.segment->sequence, record.offset);
  return Status::ok();
}

Status DiskStorage::finish_replay(const Replay& replay) {
  if (!replay.pending_gap.is_ok()) return replay.pending_gap;
  const Index snapshot_index = snapshot_meta_.index;
  RAFT_ASSERT(compacted_index_ <= snapshot_index);  // Checked at the header and log resets.
  // The log must be reset when the snapshot is past its end or conflicts with it. That is
  // made durable below: otherwise the next append would follow a gap on the next replay.
  bool reset = snapshot_index > last_index_;
  if (snapshot_index > compacted_index_ && snapshot_index <= last_index_ &&
      term_of_.at(snapshot_index) != snapshot_meta_.term) {
    reset = true;
    // A leader's snapshot became durable but the crash came before its log reset record:
    // the entries after it belong to a log the snapshot replaced (none can be committed,
    // they follow an entry that conflicts with committed state).
    log_to(logger_, LogLevel::Warn, "wal: dropping entries after ", snapshot_index,
           " that conflict with snapshot ", snapshot_path_);
    truncate_from_locked(snapshot_index + 1);
  }
  if (snapshot_index >= last_index_) {
    reset_log_locked(snapshot_index, snapshot_meta_.term);
  } else if (snapshot_index > compacted_index_) {
    drop_through_locked(snapshot_index);
  }
  compacted_term_ = snapshot_meta_.term;
  if (reset) {
    std::string payload;
    proto::encode_log_reset(snapshot_index, snapshot_meta_.term, &payload);
    std::string records;
    append_record(RecordType::LogReset, payload, &records);
    Status rotated = rotate_locked(snapshot_index + 1, records);
    if (!rotated.is_ok()) return rotated;
  }
  if (hard_state_.commit > last_index_) {
    return corrupt(replay.hard_state_where,
                   "hard state commits index " + std::to_string(hard_state_.commit.value()) +
                       " beyond the last stored index " + std::to_string(last_index_.value()));
  }
  log_to(logger_, LogLevel::Info, "storage: recovered ", dir_, ": entries (", compacted_index_,
         ", ", last_index_, "], snapshot ", snapshot_index, ", term ", hard_state_.term,
         ", commit ", hard_state_.commit, ", ", segments_.size(), " segments");
  return Status::ok();
}

}  // namespace raftkv::storage
