// raftkv-wal: offline inspector of a raftkv data directory. Prints the WAL segments, their
// entries (index, term, type, size), the hard state in force and the snapshot files, verifying
// every checksum. Read-only: it never truncates or repairs anything.
//
//   raftkv-wal /var/lib/raftkv/node1            # summary per segment and snapshot
//   raftkv-wal /var/lib/raftkv/node1 --entries  # plus one line per record
//
// Exit status: 0 clean (a torn tail, which the next start would cut, is reported but clean),
// 1 corruption found (the node would refuse to start), 2 usage or I/O error.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "proto/convert.h"
#include "storage/fs.h"
#include "storage/record.h"
#include "storage/segment.h"
#include "storage/snapshot_file.h"

namespace raftkv::storage {
namespace {

const char* entry_type_name(raft::EntryType type) {
  switch (type) {
    case raft::EntryType::Normal: return "normal";
    case raft::EntryType::NoOp: return "noop";
    case raft::EntryType::ConfChange: return "conf-change";
  }
  return "unknown";
}

std::string ids(const std::vector<NodeId>& nodes) {
  std::string out = "[";
  for (size_t i = 0; i < nodes.size(); ++i) {
    out += (i > 0 ? "," : "") + std::to_string(nodes[i].value());
  }
  return out + "]";
}

// What the walk over all segments has established so far (a read-only replay).
struct Walk {
  bool print_entries = false;
  bool corrupt = false;
  Index snapshot_index;
  Index last;  // Last entry index replayed.
  bool have_log = false;
  raft::HardState hard_state;
  std::string hard_state_where = "(none)";
  uint64_t entries = 0;
};

void report_corruption(Walk& walk, const std::string& message) {
  walk.corrupt = true;
  std::printf("  CORRUPTION: %s\n", message.c_str());
}

Status visit_entry(Walk& walk, const RecordView& record, const std::string& where) {
  raft::Entry entry;
  Status decoded = proto::decode_entry(record.payload, &entry);
  if (!decoded.is_ok()) return Status(ErrorCode::Corruption, decoded.message() + " in " + where);
  if (walk.have_log && entry.index > walk.last + 1) {
    return Status(ErrorCode::Corruption, "gap: entry " + std::to_string(entry.index.value()) +
                                             " follows " + std::to_string(walk.last.value()) +
                                             " in " + where);
  }
  if (walk.print_entries) {
    std::printf("    %10llu  index %llu term %llu %s %zu bytes\n",
                static_cast<unsigned long long>(record.offset),
                static_cast<unsigned long long>(entry.index.value()),
                static_cast<unsigned long long>(entry.term.value()), entry_type_name(entry.type),
                entry.data.size());
  }
  walk.last = entry.index;
  walk.have_log = true;
  ++walk.entries;
  return Status::ok();
}

Status visit_record(Walk& walk, const RecordView& record, const std::string& path) {
  const std::string where = path + " at offset " + std::to_string(record.offset);
  switch (record.type) {
    case RecordType::Entry: return visit_entry(walk, record, where);
    case RecordType::SegmentHeader: {
      SegmentHeader header;
      Status decoded = decode_segment_header(record.payload, &header);
      if (!decoded.is_ok())
        return Status(ErrorCode::Corruption, decoded.message() + " in " + where);
      std::printf("  header: sequence %llu, first index %llu\n",
                  static_cast<unsigned long long>(header.sequence),
                  static_cast<unsigned long long>(header.first_index.value()));
      if (!walk.have_log) walk.last = header.first_index - 1;
      walk.have_log = true;
      return Status::ok();
    }
    case RecordType::HardState: {
      Status decoded = proto::decode_hard_state(record.payload, &walk.hard_state);
      if (!decoded.is_ok())
        return Status(ErrorCode::Corruption, decoded.message() + " in " + where);
      walk.hard_state_where = where;
      return Status::ok();
    }
    case RecordType::LogReset: {
      Index index;
      Term term;
      Status decoded = proto::decode_log_reset(record.payload, &index, &term);
      if (!decoded.is_ok())
        return Status(ErrorCode::Corruption, decoded.message() + " in " + where);
      std::printf("  log reset to index %llu term %llu (a leader's snapshot)\n",
                  static_cast<unsigned long long>(index.value()),
                  static_cast<unsigned long long>(term.value()));
      walk.last = index;
      return Status::ok();
    }
  }
  return Status(ErrorCode::Corruption, "unknown record in " + where);
}

void inspect_segment(Walk& walk, const std::string& path, bool last_segment) {
  std::printf("segment %s\n", path.c_str());
  Result<std::string> bytes = read_file(posix_fs(), path);
  if (!bytes.is_ok()) {
    report_corruption(walk, bytes.status().to_string());
    return;
  }
  uint64_t records = 0;
  const ScanResult scan =
      scan_records(bytes.value(), path, last_segment, [&](const RecordView& record) {
        ++records;
        return visit_record(walk, record, path);
      });
  std::printf("  %llu records, %llu of %zu bytes used, checksums %s\n",
              static_cast<unsigned long long>(records),
              static_cast<unsigned long long>(scan.end_offset), bytes.value().size(),
              scan.status.is_ok() ? "ok" : "BAD");
  if (!scan.status.is_ok()) report_corruption(walk, scan.status.to_string());
  if (scan.torn) std::printf("  torn tail, cut on the next start: %s\n", scan.torn_reason.c_str());
}

void inspect_snapshot(Walk& walk, const std::string& path, bool newest) {
  std::printf("snapshot %s\n", path.c_str());
  Result<std::unique_ptr<SnapshotReader>> reader = SnapshotReader::open(posix_fs(), path);
  if (!reader.is_ok()) {
    report_corruption(walk, reader.status().to_string());
    return;
  }
  const raft::SnapshotMeta& meta = reader.value()->meta();
  std::printf("  index %llu term %llu voters %s outgoing %s learners %s, %llu data bytes\n",
              static_cast<unsigned long long>(meta.index.value()),
              static_cast<unsigned long long>(meta.term.value()),
              ids(meta.conf_state.voters).c_str(), ids(meta.conf_state.voters_outgoing).c_str(),
              ids(meta.conf_state.learners).c_str(),
              static_cast<unsigned long long>(reader.value()->data_bytes()));
  Status verified = reader.value()->verify();
  std::printf("  checksum %s\n", verified.is_ok() ? "ok" : "BAD");
  if (!verified.is_ok()) report_corruption(walk, verified.to_string());
  if (newest) walk.snapshot_index = meta.index;
}

int run(const std::string& dir, bool print_entries) {
  Result<std::vector<std::string>> names = posix_fs().list(dir);
  if (!names.is_ok()) {
    std::fprintf(stderr, "raftkv-wal: %s\n", names.status().to_string().c_str());
    return 2;
  }
  Walk walk;
  walk.print_entries = print_entries;
  std::vector<std::string> segments;
  std::vector<std::string> snapshots;
  for (const std::string& name : names.value()) {
    uint64_t sequence = 0;
    Index index;
    Term term;
    if (parse_segment_file_name(name, &sequence)) segments.push_back(name);
    if (parse_snapshot_file_name(name, &index, &term)) snapshots.push_back(name);
    if (name.ends_with(".tmp"))
      std::printf("unfinished file %s (removed on the next start)\n", name.c_str());
  }
  for (size_t i = 0; i < snapshots.size(); ++i) {
    inspect_snapshot(walk, join_path(dir, snapshots[i]), i + 1 == snapshots.size());
  }
  uint64_t previous = 0;
  for (size_t i = 0; i < segments.size(); ++i) {
    uint64_t sequence = 0;
    RAFT_ASSERT(parse_segment_file_name(segments[i], &sequence));
    if (i > 0 && sequence != previous + 1) {
      report_corruption(walk,
                        "gap between segments: " + segment_file_name(previous + 1) + " is missing");
    }
    previous = sequence;
    inspect_segment(walk, join_path(dir, segments[i]), i + 1 == segments.size());
  }
  const Index last = std::max(walk.last, walk.snapshot_index);
  std::printf("hard state: term %llu vote %llu commit %llu (from %s)\n",
              static_cast<unsigned long long>(walk.hard_state.term.value()),
              static_cast<unsigned long long>(walk.hard_state.voted_for.value()),
              static_cast<unsigned long long>(walk.hard_state.commit.value()),
              walk.hard_state_where.c_str());
  if (walk.hard_state.commit > last) {
    report_corruption(walk,
                      "hard state commits past the last index " + std::to_string(last.value()));
  }
  std::printf("log: %llu entry records, last index %llu, snapshot index %llu\n",
              static_cast<unsigned long long>(walk.entries),
              static_cast<unsigned long long>(last.value()),
              static_cast<unsigned long long>(walk.snapshot_index.value()));
  std::printf("%s\n", walk.corrupt ? "RESULT: CORRUPT" : "RESULT: ok");
  return walk.corrupt ? 1 : 0;
}

}  // namespace
}  // namespace raftkv::storage

int main(int argc, char** argv) {
  CLI::App app{"raftkv-wal: inspect and verify a raftkv data directory (read-only)"};
  std::string dir;
  bool entries = false;
  app.add_option("dir", dir, "Data directory (WAL segments and snapshot files)")->required();
  app.add_flag("--entries", entries, "Print every entry (index, term, type, size)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);
    return code == 0 ? 0 : 2;
  }
  return raftkv::storage::run(dir, entries);
}
