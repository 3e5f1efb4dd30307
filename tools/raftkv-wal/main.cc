// raftkv-wal: offline inspector of a raftkv data directory. Prints the WAL segments, their
// entries (index, term, type, size), the hard state in force and the snapshot files, verifying
// every checksum. Read-only: it never truncates or repairs anything.
//
//   raftkv-wal /var/lib/raftkv/node1            # summary per segment and snapshot
//   raftkv-wal /var/lib/raftkv/node1 --entries  # plus one line per entry
//   raftkv-wal export --out FILE /var/lib/raftkv/node1   # the node's state as one snapshot
//                                                        # file (export.h)
//
// DIR is a node's --data-dir (its raft/ subdirectory is used) or that raft directory itself.
//
// The verdict is recovery's own: the directory is listed, the newest snapshot verified and the
// segments walked by the functions DiskStorage::open runs (storage/wal_replay.h), so a problem
// reported here is the one the node reports, naming the same file and offset, and the walk
// stops where recovery would stop.
//
// Exit status: 0 clean (a torn tail or a leftover *.tmp file, which the next start removes,
// is reported but clean) or exported, 1 corruption found (the node would refuse to start;
// export refuses too), 2 usage or I/O error.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "export.h"
#include "proto/convert.h"
#include "storage/fs.h"
#include "storage/record.h"
#include "storage/segment.h"
#include "storage/snapshot_file.h"
#include "storage/wal_replay.h"

namespace raftkv::storage {
namespace {

using ull = unsigned long long;

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

void print_segment_summary(const WalSegment& segment) {
  std::printf("  %llu records, %llu of %llu bytes used, checksums ok\n", ull{segment.records},
              ull{segment.end_offset}, ull{segment.file_bytes});
  if (segment.torn) {
    std::printf("  torn tail, cut on the next start: %s\n", segment.torn_reason.c_str());
  }
}

// Prints what the shared walk accepts; the log events are recovery's business.
class Printer final : public WalSink {
 public:
  explicit Printer(bool print_entries) : print_entries_(print_entries) {}

  void on_segment_begin(const WalSegment& segment) override {
    std::printf("segment %s\n", segment.path.c_str());
  }
  void on_segment_end(const WalSegment& segment) override {
    ++segments_ended_;
    print_segment_summary(segment);
  }
  void on_record(const WalSegment& segment, const RecordView& record) override;
  void on_log_reset(Index, Term) override {}
  void on_entry(const WalSegment&, uint64_t, Index, Term) override {}
  void on_truncate(Index) override {}
  void on_compact(Index, Term) override {}

  [[nodiscard]] size_t segments_ended() const { return segments_ended_; }

 private:
  bool print_entries_;
  size_t segments_ended_ = 0;
};

void Printer::on_record(const WalSegment& segment, const RecordView& record) {
  if (record.type == RecordType::SegmentHeader) {
    std::printf("  header: sequence %llu, first index %llu\n", ull{segment.sequence},
                ull{segment.first_index.value()});
  } else if (record.type == RecordType::LogReset) {
    Index index;
    Term term;
    // The walk decoded it already; a failure here would be this tool's bug, shown as such.
    if (!proto::decode_log_reset(record.payload, &index, &term).is_ok()) {
      std::printf("  log reset (not decodable by the inspector)\n");
      return;
    }
    std::printf("  log reset to index %llu term %llu (a leader's snapshot)\n",
                ull{index.value()}, ull{term.value()});
  } else if (record.type == RecordType::Entry && print_entries_) {
    raft::Entry entry;
    // The walk validated the whole message (decode_entry_view); only the data is new.
    if (!proto::decode_entry(record.payload, &entry).is_ok()) {
      std::printf("    %10llu  entry (not decodable by the inspector)\n", ull{record.offset});
      return;
    }
    std::printf("    %10llu  index %llu term %llu %s %zu bytes\n", ull{record.offset},
                ull{entry.index.value()}, ull{entry.term.value()}, entry_type_name(entry.type),
                entry.data.size());
  }
}

void print_unfinished(const DataDirListing& listing) {
  for (const std::string& name : listing.unfinished_names) {
    if (name.starts_with("spare-")) {
      std::printf("spare segment file %s (prepared ahead of a rotation; removed on the next "
                  "start)\n", name.c_str());
    } else {
      std::printf("unfinished file %s (removed on the next start)\n", name.c_str());
    }
  }
}

// Every snapshot file, for the record. Only the newest matters to recovery, which verifies it
// (load_newest_snapshot); damage in an older one is reported, not counted as corruption.
void print_snapshots(const std::string& dir, const DataDirListing& listing) {
  for (size_t i = 0; i < listing.snapshot_names.size(); ++i) {
    const std::string path = join_path(dir, listing.snapshot_names[i]);
    const bool newest = i + 1 == listing.snapshot_names.size();
    std::printf("snapshot %s%s\n", path.c_str(), newest ? " (newest, used on start)" : "");
    Result<std::unique_ptr<SnapshotReader>> reader = SnapshotReader::open(posix_fs(), path);
    Status verified = reader.is_ok() ? reader.value()->verify() : reader.status();
    if (reader.is_ok()) {
      const raft::SnapshotMeta& meta = reader.value()->meta();
      std::printf("  index %llu term %llu voters %s outgoing %s learners %s, %llu data bytes\n",
                  ull{meta.index.value()}, ull{meta.term.value()},
                  ids(meta.conf_state.voters).c_str(),
                  ids(meta.conf_state.voters_outgoing).c_str(),
                  ids(meta.conf_state.learners).c_str(), ull{reader.value()->data_bytes()});
    }
    if (verified.is_ok()) {
      std::printf("  checksum ok\n");
    } else if (!newest) {
      std::printf("  DAMAGED, unused (recovery reads only the newest): %s\n",
                  verified.to_string().c_str());
    }
  }
}

// The walk's verdict, after the segments it printed. `segments` counts the directory's.
int print_verdict(const WalReplay& wal, const NewestSnapshot& snapshot, const Printer& printer,
                  size_t segments) {
  const bool failed_inside = wal.segments.size() > printer.segments_ended();
  if (!wal.status.is_ok() && failed_inside) {
    const WalSegment& segment = wal.segments.back();
    std::printf("  %llu valid records, up to offset %llu\n", ull{segment.records},
                ull{segment.end_offset});
  }
  std::printf("hard state%s: term %llu vote %llu commit %llu (from %s)\n",
              wal.status.is_ok() ? "" : " so far", ull{wal.hard_state.term.value()},
              ull{wal.hard_state.voted_for.value()}, ull{wal.hard_state.commit.value()},
              wal.hard_state_where.empty() ? "(none)" : wal.hard_state_where.c_str());
  if (!wal.status.is_ok()) {
    if (segments > wal.segments.size()) {
      std::printf("%zu later segments not checked (recovery stops at the first problem)\n",
                  segments - wal.segments.size());
    }
    std::printf("CORRUPTION: %s\n", wal.status.to_string().c_str());
    std::printf("RESULT: CORRUPT\n");
    return wal.status.code() == ErrorCode::Corruption ? 1 : 2;
  }
  if (wal.snapshot_conflict) {
    std::printf("entries after %llu contradict the snapshot: the next start drops them\n",
                ull{snapshot.meta.index.value()});
  }
  if (wal.reset_to_snapshot) {
    std::printf("the next start restarts the log at the snapshot (index %llu)\n",
                ull{snapshot.meta.index.value()});
  }
  std::printf("log: %llu entry records, entries (%llu, %llu], snapshot index %llu\n",
              ull{wal.entry_records}, ull{wal.compacted_index.value()},
              ull{wal.last_index.value()}, ull{snapshot.meta.index.value()});
  std::printf("RESULT: ok\n");
  return 0;
}

int run(const std::string& dir, bool print_entries) {
  Result<DataDirListing> listing = list_data_dir(posix_fs(), dir);
  if (!listing.is_ok()) {
    std::fprintf(stderr, "raftkv-wal: %s\n", listing.status().to_string().c_str());
    return 2;
  }
  print_unfinished(listing.value());
  print_snapshots(dir, listing.value());
  Result<NewestSnapshot> snapshot = load_newest_snapshot(posix_fs(), dir, listing.value());
  if (!snapshot.is_ok()) {
    // Recovery stops here too: without the snapshot the log cannot be checked against it.
    std::printf("CORRUPTION: %s\n", snapshot.status().to_string().c_str());
    std::printf("segments not checked: %zu\n", listing.value().segment_sequences.size());
    std::printf("RESULT: CORRUPT\n");
    return snapshot.status().code() == ErrorCode::Corruption ? 1 : 2;
  }
  Printer printer(print_entries);
  const WalReplay wal = replay_wal(posix_fs(), dir, listing.value().segment_sequences,
                                   snapshot.value(), printer);
  return print_verdict(wal, snapshot.value(), printer,
                       listing.value().segment_sequences.size());
}

// What export took, and the loud warning when it took entries the node did not know to be
// committed.
void print_export(const wal::ExportReport& report, const std::string& out_path) {
  std::printf("exported %s\n", out_path.c_str());
  std::printf("  snapshot index %llu term %llu, then %llu log entries applied\n",
              ull{report.snapshot_index.value()}, ull{report.snapshot_term.value()},
              ull{report.entries_applied});
  std::printf("  state at index %llu term %llu: %llu keys, %llu bytes\n",
              ull{report.last_index.value()}, ull{report.last_term.value()}, ull{report.keys},
              ull{report.data_bytes});
  std::printf("  commit index in this node's hard state: %llu\n",
              ull{report.commit_index.value()});
  if (report.torn_tail) {
    std::printf("  a torn record at the end of the log was left out (never acknowledged)\n");
  }
  if (report.past_commit == 0) return;
  std::printf(
      "WARNING: %llu entries (%llu..%llu) past the commit index in this node's hard state\n"
      "WARNING: were included. They may never have been acknowledged to a client, or the\n"
      "WARNING: cluster may have replaced them (the hard state's commit index trails the\n"
      "WARNING: cluster's, so a healthy node's last entries show here too). And writes the\n"
      "WARNING: cluster acknowledged are missing if this node lagged: export the node with\n"
      "WARNING: the most recent log (docs/operations.md).\n",
      ull{report.past_commit}, ull{report.commit_index.value() + 1},
      ull{report.last_index.value()});
}

int run_export(const std::string& dir, const std::string& out_path) {
  Result<wal::ExportReport> report = wal::export_data_dir(posix_fs(), dir, out_path);
  if (!report.is_ok()) {
    std::fprintf(stderr, "raftkv-wal export: %s\n", report.status().to_string().c_str());
    if (report.status().code() == ErrorCode::Corruption) {
      std::fprintf(stderr, "RESULT: CORRUPT (nothing exported)\n");
      return 1;
    }
    return 2;
  }
  print_export(report.value(), out_path);
  return 0;
}

// A node's --data-dir keeps its log in raft/; the tools take either.
std::string raft_dir(const std::string& dir) {
  const std::string inner = join_path(dir, "raft");
  std::error_code error;
  return std::filesystem::is_directory(inner, error) ? inner : dir;
}

}  // namespace
}  // namespace raftkv::storage

int main(int argc, char** argv) {
  CLI::App app{"raftkv-wal: inspect and verify a raftkv data directory (read-only)"};
  std::string dir;
  bool entries = false;
  app.add_option("dir", dir, "Data directory (WAL segments and snapshot files)");
  app.add_flag("--entries", entries, "Print every entry (index, term, type, size)");
  CLI::App* export_command = app.add_subcommand(
      "export", "Write the node's state (snapshot + every log entry after it) as one snapshot "
                "file, for a backup or raftkv-server --restore-from");
  std::string export_dir;
  std::string out_path;
  export_command->add_option("--out", out_path, "The snapshot file to write (must not exist)")
      ->required();
  export_command->add_option("dir", export_dir, "The node's data directory")->required();
  try {
    app.parse(argc, argv);
    if (export_command->parsed()) {
      return raftkv::storage::run_export(raftkv::storage::raft_dir(export_dir), out_path);
    }
    if (dir.empty()) throw CLI::RequiredError("dir");
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);
    return code == 0 ? 0 : 2;
  }
  return raftkv::storage::run(raftkv::storage::raft_dir(dir), entries);
}
