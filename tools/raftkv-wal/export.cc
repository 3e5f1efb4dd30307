#include "export.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>

#include "common/assert.h"
#include "kv/resp_state_machine.h"
#include "proto/convert.h"
#include "storage/snapshot_file.h"
#include "storage/wal_replay.h"

namespace raftkv::wal {
namespace {

using storage::RecordType;
using storage::RecordView;
using storage::WalSegment;

// Keeps the log recovery would rebuild, entry contents included, following the walk's events
// (wal_replay.h): an entry replaces every entry at or after its index, a reset empties the
// log, the end of the walk drops what the snapshot covers or contradicts. In memory: the log
// after a snapshot is bounded by the node's snapshot policy.
class EntryCollector final : public storage::WalSink {
 public:
  void on_log_reset(Index, Term) override { entries_.clear(); }
  // Comes before the entry's on_record(), which fills it in.
  void on_entry(const WalSegment&, uint64_t, Index index, Term) override {
    entries_.erase(entries_.lower_bound(index), entries_.end());
    next_ = index;
  }
  void on_record(const WalSegment&, const RecordView& record) override {
    if (record.type != RecordType::Entry) return;
    raft::Entry entry;
    // The walk decoded its position already; only the contents are new.
    decoded_ = decoded_ && proto::decode_entry(record.payload, &entry).is_ok();
    if (decoded_) RAFT_ASSERT(entry.index == next_);
    entries_[next_] = std::move(entry);
  }
  void on_truncate(Index index) override {
    entries_.erase(entries_.lower_bound(index), entries_.end());
  }
  void on_compact(Index index, Term) override {
    entries_.erase(entries_.begin(), entries_.upper_bound(index));
  }

  [[nodiscard]] bool decoded() const { return decoded_; }
  [[nodiscard]] const std::map<Index, raft::Entry>& entries() const { return entries_; }

 private:
  std::map<Index, raft::Entry> entries_;
  Index next_;
  bool decoded_ = true;  // Every entry record decoded whole.
};

// The state machine as the node would rebuild it: the snapshot, then the entries in order.
Status rebuild(storage::Fs& fs, const storage::NewestSnapshot& snapshot,
               const std::map<Index, raft::Entry>& entries, kv::RespStateMachine& machine) {
  if (!snapshot.path.empty()) {
    Result<std::unique_ptr<storage::SnapshotReader>> reader =
        storage::SnapshotReader::open(fs, snapshot.path);
    if (!reader.is_ok()) {
      return Status(reader.status().code(), reader.status().message() +
                                                " (a running node may have replaced it; run "
                                                "the export again)");
    }
    if (Status restored = machine.restore(*reader.value()); !restored.is_ok()) {
      return Status(ErrorCode::Corruption,
                    "snapshot " + snapshot.path + " does not restore: " + restored.message());
    }
    if (machine.applied_index() != snapshot.meta.index) {
      return Status(ErrorCode::Corruption, "snapshot " + snapshot.path +
                                               " holds the state at another index than its name");
    }
  }
  for (const auto& [index, entry] : entries) {
    RAFT_ASSERT(index == machine.applied_index() + 1);  // The walk checked for gaps.
    if (entry.type == raft::EntryType::Normal) {
      (void)machine.apply(index, entry.data);  // The reply was the client's business.
    } else {
      machine.apply_empty(index);
    }
  }
  return Status::ok();
}

// Writes the image under the snapshot file name beside `out_path` (SnapshotWriter's temp file,
// sync and rename), then renames it to `out_path` and syncs the directory.
Result<uint64_t> write_file(storage::Fs& fs, const raft::SnapshotMeta& meta,
                            const kv::RespStateMachine& machine, const std::string& out_path) {
  namespace fsys = std::filesystem;
  const std::string out_dir = fsys::absolute(out_path).parent_path().string();
  const std::string staged = storage::join_path(out_dir, storage::snapshot_file_name(meta.index,
                                                                                      meta.term));
  if (staged != fsys::absolute(out_path).string() && fsys::exists(staged)) {
    return Status(ErrorCode::InvalidArgument,
                  staged + " exists; export would write its file under that name first");
  }
  Result<std::unique_ptr<storage::SnapshotWriter>> writer =
      storage::SnapshotWriter::create(fs, out_dir, meta);
  if (!writer.is_ok()) return writer.status();
  if (Status saved = machine.snapshot()->save(*writer.value()); !saved.is_ok()) return saved;
  if (Status finished = writer.value()->finish(); !finished.is_ok()) return finished;
  if (Status renamed = fs.rename(writer.value()->path(), out_path); !renamed.is_ok()) {
    return renamed;
  }
  if (Status synced = fs.sync_dir(out_dir); !synced.is_ok()) return synced;
  return writer.value()->data_bytes();
}

Status check_out_path(const std::string& dir, const std::string& out_path) {
  namespace fsys = std::filesystem;
  std::error_code error;
  if (fsys::exists(out_path, error)) {
    return Status(ErrorCode::InvalidArgument, out_path + " exists; refusing to overwrite it");
  }
  const fsys::path data = fsys::weakly_canonical(dir, error);
  const fsys::path out = fsys::weakly_canonical(out_path, error).parent_path();
  const auto mismatch = std::mismatch(data.begin(), data.end(), out.begin(), out.end());
  if (mismatch.first == data.end()) {
    return Status(ErrorCode::InvalidArgument,
                  out_path + " is inside the data dir " + dir + "; write it elsewhere");
  }
  return Status::ok();
}

}  // namespace

Result<ExportReport> export_data_dir(storage::Fs& fs, const std::string& dir,
                                     const std::string& out_path) {
  if (Status ok = check_out_path(dir, out_path); !ok.is_ok()) return ok;
  EntryCollector collector;
  const storage::DataDirScan scan = storage::scan_data_dir(fs, dir, collector);
  if (!scan.status.is_ok()) return scan.status;
  if (!collector.decoded()) {
    return Status(ErrorCode::Corruption, "an entry in " + dir + " passed its checksum but does "
                                         "not decode");
  }
  RAFT_ASSERT(collector.entries().empty() ||
              collector.entries().rbegin()->first == scan.wal.last_index);
  ExportReport report{.snapshot_index = scan.snapshot.meta.index,
                      .snapshot_term = scan.snapshot.meta.term,
                      .entries_applied = collector.entries().size(),
                      .last_index = scan.snapshot.meta.index,
                      .last_term = scan.snapshot.meta.term,
                      .commit_index = scan.wal.hard_state.commit};
  if (!collector.entries().empty()) {
    report.last_index = collector.entries().rbegin()->first;
    report.last_term = collector.entries().rbegin()->second.term;
  }
  if (report.last_index == Index{0}) {
    return Status(ErrorCode::InvalidArgument,
                  dir + " holds no snapshot and no entry: nothing to export");
  }
  report.past_commit = report.last_index.value() -
                       std::min(report.last_index, report.commit_index).value();
  report.torn_tail = !scan.wal.segments.empty() && scan.wal.segments.back().torn;
  kv::RespStateMachine machine;
  if (Status rebuilt = rebuild(fs, scan.snapshot, collector.entries(), machine);
      !rebuilt.is_ok()) {
    return rebuilt;
  }
  RAFT_ASSERT(machine.applied_index() == report.last_index);
  report.keys = machine.machine().key_count();
  // No membership: a cluster restored from the file takes its own (raftkv-server
  // --restore-from).
  const raft::SnapshotMeta meta{.index = report.last_index, .term = report.last_term};
  Result<uint64_t> written = write_file(fs, meta, machine, out_path);
  if (!written.is_ok()) return written.status();
  report.data_bytes = written.value();
  return report;
}

}  // namespace raftkv::wal
