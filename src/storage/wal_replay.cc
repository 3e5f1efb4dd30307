#include "storage/wal_replay.h"

#include <algorithm>
#include <memory>

#include "proto/convert.h"
#include "storage/run_map.h"
#include "storage/segment.h"
#include "storage/snapshot_file.h"

namespace raftkv::storage {
namespace {

Status corrupt(const std::string& where, const std::string& what) {
  return Status(ErrorCode::Corruption, what + " in " + where);
}

std::string at(const std::string& path, uint64_t offset) {
  return path + " at offset " + std::to_string(offset);
}

std::string str(Index index) { return std::to_string(index.value()); }

// Where a record lies, spelled out only for an error or the hard state: a string built for
// every record cost an allocation per entry on every start.
struct Where {
  const std::string& path;
  uint64_t offset;
};

Status corrupt(const Where& where, const std::string& what) {
  return corrupt(at(where.path, where.offset), what);
}

// Opens `path` and asks the disk to start reading it (the caller checksums another segment
// meanwhile); nullptr on failure, which the caller's own open then reports.
std::unique_ptr<File> open_prefetched(Fs& fs, const std::string& path) {
  Result<std::unique_ptr<File>> opened = fs.open(path, OpenMode::ReadOnly);
  if (!opened.is_ok()) return nullptr;
  opened.value()->prefetch();
  return std::move(opened.value());
}

// Reads the whole of `file` into `buffer`, reusing its memory (segment after segment).
Status read_whole(const File& file, std::string* buffer) {
  Result<uint64_t> size = file.size();
  if (!size.is_ok()) return size.status();
  buffer->resize(size.value());
  Result<size_t> got = file.read_at(0, buffer->data(), buffer->size());
  if (!got.is_ok()) return got.status();
  buffer->resize(got.value());
  return Status::ok();
}

// The walk over the segments, with its own model of the log: just enough (terms as runs) to
// check every record against the ones before it. Feeds the sink what it accepts.
class Walk {
 public:
  Walk(const NewestSnapshot& snapshot, WalSink& sink, WalReplay& out)
      : snapshot_(snapshot), sink_(sink), out_(out) {}

  // Scans one segment's bytes; `last` allows a torn tail.
  [[nodiscard]] Status segment(WalSegment& segment, std::string_view bytes, bool last);
  // Reconciles the log with the snapshot and checks the hard state; fills out_.
  [[nodiscard]] Status finish();

 private:
  [[nodiscard]] Status record(const RecordView& record);
  [[nodiscard]] Status header(const RecordView& record, const Where& where);
  [[nodiscard]] Status entry(const RecordView& record, const Where& where);
  [[nodiscard]] Status log_reset(const RecordView& record, const Where& where);
  void reset(Index index, Term term);

  const NewestSnapshot& snapshot_;
  WalSink& sink_;
  WalReplay& out_;
  WalSegment* segment_ = nullptr;  // Being scanned.
  bool first_segment_ = true;
  // Entries at or below this index are corruption (a log reset record moved the start).
  Index floor_;
  // The oldest segment starts past the snapshot: a gap, unless a log reset record follows
  // (a crash while removing the segments a leader's snapshot replaced).
  Status pending_gap_;
  // The log replayed so far: entries (compacted_index_, last_index_]; terms_ holds their
  // terms; compacted_term_ is 0 when unknown (the start of the oldest segment).
  Index compacted_index_;
  Term compacted_term_;
  Index last_index_;
  RunMap<Term> terms_;
};

Status Walk::segment(WalSegment& segment, std::string_view bytes, bool last) {
  segment_ = &segment;
  segment.file_bytes = bytes.size();
  sink_.on_segment_begin(segment);
  const ScanResult scan = scan_records(bytes, segment.path, last,
                                       [this](const RecordView& view) { return record(view); });
  segment.end_offset = scan.end_offset;
  if (!scan.status.is_ok()) return scan.status;
  if (scan.end_offset == 0) return corrupt(at(segment.path, 0), "missing segment header");
  RAFT_ASSERT(!scan.torn || last);  // scan_records reports torn tails only in the last segment.
  segment.torn = scan.torn;
  segment.torn_reason = scan.torn_reason;
  sink_.on_segment_end(segment);
  first_segment_ = false;
  return Status::ok();
}

Status Walk::record(const RecordView& record) {
  const Where where{segment_->path, record.offset};
  if ((record.offset == 0) != (record.type == RecordType::SegmentHeader)) {
    return corrupt(where, "segment header misplaced");
  }
  Status status = Status::ok();
  switch (record.type) {
    case RecordType::SegmentHeader: status = header(record, where); break;
    case RecordType::Entry: status = entry(record, where); break;
    case RecordType::HardState:
      status = proto::decode_hard_state(record.payload, &out_.hard_state);
      if (!status.is_ok()) return corrupt(where, status.message());
      out_.hard_state_where = at(where.path, where.offset);
      break;
    case RecordType::LogReset: status = log_reset(record, where); break;
  }
  if (!status.is_ok()) return status;
  ++segment_->records;
  sink_.on_record(*segment_, record);
  return Status::ok();
}

Status Walk::header(const RecordView& record, const Where& where) {
  SegmentHeader header;
  Status decoded = decode_segment_header(record.payload, &header);
  if (!decoded.is_ok()) return corrupt(where, decoded.message());
  if (header.sequence != segment_->sequence) {
    return corrupt(where, "segment header names sequence " + std::to_string(header.sequence));
  }
  segment_->first_index = header.first_index;
  if (!first_segment_) return Status::ok();
  // The oldest segment must reach back to the snapshot, or entries in between are lost.
  if (header.first_index == Index{0}) return corrupt(where, "segment starts at index 0");
  if (header.first_index > snapshot_.meta.index + 1) {
    pending_gap_ = corrupt(where, "gap: log starts at index " + str(header.first_index) +
                                      " but the newest snapshot ends at " +
                                      str(snapshot_.meta.index));
  }
  reset(header.first_index - 1, Term{});
  return Status::ok();
}

Status Walk::entry(const RecordView& record, const Where& where) {
  proto::EntryView view;
  Status decoded = proto::decode_entry_view(record.payload, &view);
  if (!decoded.is_ok()) return corrupt(where, decoded.message());
  const Index index = view.index;
  const Term term = view.term;
  if (index <= floor_) {
    return corrupt(where, "entry " + str(index) + " is below the start of the log");
  }
  if (index <= compacted_index_) {
    // A suffix replacement reaching below the oldest segment's first index: the segments
    // before were removed because the snapshot covers them, so the log restarts here.
    reset(index - 1, Term{});
  }
  if (index > last_index_ + 1) {
    return corrupt(where, "gap: entry " + str(index) + " follows entry " + str(last_index_));
  }
  // compacted_term_ is unknown (0) at the start of the oldest segment; 0 never contradicts.
  const Term previous_term = index - 1 == compacted_index_ ? compacted_term_ : terms_.at(index - 1);
  if (term < previous_term) {
    return corrupt(where, "entry " + str(index) + " has a term lower than its predecessor");
  }
  terms_.set(index, term);  // Replaying entry i drops everything >= i.
  last_index_ = index;
  ++out_.entry_records;
  sink_.on_entry(*segment_, record.offset, index, term);
  return Status::ok();
}

Status Walk::log_reset(const RecordView& record, const Where& where) {
  Index index;
  Term term;
  Status decoded = proto::decode_log_reset(record.payload, &index, &term);
  if (!decoded.is_ok()) return corrupt(where, decoded.message());
  if (index > snapshot_.meta.index) {
    return corrupt(where,
                   "log reset to index " + str(index) + " is newer than every snapshot file");
  }
  reset(index, term);
  floor_ = index;
  pending_gap_ = Status::ok();
  return Status::ok();
}

void Walk::reset(Index index, Term term) {
  compacted_index_ = index;
  compacted_term_ = term;
  last_index_ = index;
  terms_.clear();
  sink_.on_log_reset(index, term);
}

Status Walk::finish() {
  if (!pending_gap_.is_ok()) return pending_gap_;
  const Index snapshot_index = snapshot_.meta.index;
  RAFT_ASSERT(compacted_index_ <= snapshot_index);  // Checked at the header and log resets.
  // The log must be reset when the snapshot is past its end or conflicts with it.
  out_.reset_to_snapshot = snapshot_index > last_index_;
  if (snapshot_index > compacted_index_ && snapshot_index <= last_index_ &&
      terms_.at(snapshot_index) != snapshot_.meta.term) {
    // A leader's snapshot became durable but the crash came before its log reset record:
    // the entries after it belong to a log the snapshot replaced (none can be committed,
    // they follow an entry that conflicts with committed state).
    out_.reset_to_snapshot = true;
    out_.snapshot_conflict = true;
    terms_.truncate_from(snapshot_index + 1);
    last_index_ = snapshot_index;
    sink_.on_truncate(snapshot_index + 1);
  }
  if (snapshot_index >= last_index_) {
    reset(snapshot_index, snapshot_.meta.term);
  } else {
    if (snapshot_index > compacted_index_) terms_.drop_before(snapshot_index + 1);
    compacted_index_ = snapshot_index;
    compacted_term_ = snapshot_.meta.term;
    sink_.on_compact(snapshot_index, snapshot_.meta.term);
  }
  out_.compacted_index = compacted_index_;
  out_.compacted_term = compacted_term_;
  out_.last_index = last_index_;
  if (out_.hard_state.commit > last_index_) {
    return corrupt(out_.hard_state_where, "hard state commits index " +
                                              str(out_.hard_state.commit) +
                                              " beyond the last stored index " + str(last_index_));
  }
  return Status::ok();
}

}  // namespace

Result<DataDirListing> list_data_dir(Fs& fs, const std::string& dir) {
  Result<std::vector<std::string>> names = fs.list(dir);
  if (!names.is_ok()) return names.status();
  DataDirListing listing;
  for (const std::string& name : names.value()) {
    uint64_t sequence = 0;
    Index index;
    Term term;
    if (name.ends_with(".tmp")) {
      listing.unfinished_names.push_back(name);
    } else if (parse_segment_file_name(name, &sequence)) {
      listing.segment_sequences.push_back(sequence);
    } else if (parse_snapshot_file_name(name, &index, &term)) {
      listing.snapshot_names.push_back(name);
    }
  }
  // Fs::list sorts names, and fixed-width numbers sort as numbers.
  RAFT_ASSERT(std::is_sorted(listing.segment_sequences.begin(), listing.segment_sequences.end()));
  return listing;
}

Result<NewestSnapshot> load_newest_snapshot(Fs& fs, const std::string& dir,
                                            const DataDirListing& listing) {
  NewestSnapshot newest;
  if (listing.snapshot_names.empty()) return newest;
  const std::string& name = listing.snapshot_names.back();
  const std::string path = join_path(dir, name);
  Result<std::unique_ptr<SnapshotReader>> reader = SnapshotReader::open(fs, path);
  if (!reader.is_ok()) return reader.status();
  Status verified = reader.value()->verify();
  if (!verified.is_ok()) return verified;
  Index index;
  Term term;
  RAFT_ASSERT(parse_snapshot_file_name(name, &index, &term));  // Listed as a snapshot.
  const raft::SnapshotMeta& meta = reader.value()->meta();
  if (meta.index != index || meta.term != term) {
    return corrupt(at(path, kSnapshotHeaderBytes), "snapshot meta does not match the file name");
  }
  newest.meta = meta;
  newest.path = path;
  newest.data_bytes = reader.value()->data_bytes();
  return newest;
}

WalReplay replay_wal(Fs& fs, const std::string& dir, const std::vector<uint64_t>& sequences,
                     const NewestSnapshot& snapshot, WalSink& sink) {
  RAFT_ASSERT(std::is_sorted(sequences.begin(), sequences.end()));
  WalReplay out;
  Walk walk(snapshot, sink, out);
  if (sequences.empty() && !snapshot.path.empty()) {
    out.status = corrupt(dir, "snapshot " + snapshot.path + " present but no WAL segment");
    return out;
  }
  std::string buffer;
  std::unique_ptr<File> next;  // Opened one segment ahead, to start reading it early.
  for (size_t i = 0; i < sequences.size(); ++i) {
    const std::string path = join_path(dir, segment_file_name(sequences[i]));
    if (i > 0 && sequences[i] != sequences[i - 1] + 1) {
      out.status = corrupt(at(path, 0), "gap between segments: segment " +
                                            std::to_string(sequences[i - 1] + 1) + " is missing");
      return out;
    }
    std::unique_ptr<File> file = std::move(next);
    if (file == nullptr) {
      Result<std::unique_ptr<File>> opened = fs.open(path, OpenMode::ReadOnly);
      if (!opened.is_ok()) {
        out.status = opened.status();
        return out;
      }
      file = std::move(opened.value());
    }
    // Let the disk read the next segment while this one is checksummed and indexed.
    if (i + 1 < sequences.size()) {
      next = open_prefetched(fs, join_path(dir, segment_file_name(sequences[i + 1])));
    }
    out.status = read_whole(*file, &buffer);
    if (!out.status.is_ok()) return out;
    out.segments.push_back(WalSegment{sequences[i], path});
    out.status = walk.segment(out.segments.back(), buffer, i + 1 == sequences.size());
    if (!out.status.is_ok()) return out;
  }
  RAFT_ASSERT(out.segments.size() == sequences.size());
  out.status = walk.finish();
  return out;
}

DataDirScan scan_data_dir(Fs& fs, const std::string& dir, WalSink& sink) {
  DataDirScan scan;
  Result<DataDirListing> listing = list_data_dir(fs, dir);
  if (!listing.is_ok()) {
    scan.status = listing.status();
    return scan;
  }
  scan.listing = std::move(listing.value());
  Result<NewestSnapshot> snapshot = load_newest_snapshot(fs, dir, scan.listing);
  if (!snapshot.is_ok()) {
    scan.status = snapshot.status();
    return scan;
  }
  scan.snapshot = std::move(snapshot.value());
  scan.wal = replay_wal(fs, dir, scan.listing.segment_sequences, scan.snapshot, sink);
  scan.status = scan.wal.status;
  return scan;
}

}  // namespace raftkv::storage
