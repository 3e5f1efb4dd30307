#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "common/types.h"
#include "storage/fs.h"

// `raftkv-wal export`: one node's key-value state as one snapshot file, for a backup or to
// start a new cluster from (raftkv-server --restore-from, docs/operations.md).
//
// It reads a data directory the way recovery does (storage/wal_replay.h: the newest snapshot,
// then every valid entry after it; a torn tail is left out, corruption refuses), restores the
// real state machine (kv::RespStateMachine) from the snapshot, applies every entry after it in
// log order, and writes that state in the snapshot file format the node itself uses
// (storage/snapshot_file.h), so the file's checksums and its fuzz target are the node's.
//
// Read-only on the data directory. On a stopped node's directory (or a copy) the result is
// that node's whole log; on a running node's it is a consistent prefix of it (the walk stops
// at the first record still being written), or an error if the node removed a file the
// export was reading (a snapshot replaced, segments compacted): run it again.
//
// Every entry the node holds is applied, not only those it knew to be committed: after losing
// a majority the survivor's tail may hold writes the cluster acknowledged. Entries past the
// node's commit index may also never have been acknowledged (report.past_commit counts them).
//
// The file's meta carries the index and term of the last entry applied and no membership: a
// cluster restored from it takes its members from its own --peers.
namespace raftkv::wal {

struct ExportReport {
  Index snapshot_index;  // The node's newest snapshot (0: none; the state starts empty).
  Term snapshot_term;
  uint64_t entries_applied = 0;  // Log entries applied after the snapshot.
  Index last_index;              // The exported state's index: the last entry applied.
  Term last_term;
  Index commit_index;  // The node's hard state: what it knew to be committed.
  // Entries in (commit_index, last_index]: they may never have been acknowledged.
  uint64_t past_commit = 0;
  bool torn_tail = false;  // The last segment ended in a torn record, left out.
  uint64_t keys = 0;       // Keys in the exported state.
  uint64_t data_bytes = 0;  // The state machine's image in the file.
};

// Exports the raft directory `dir` (a node's DATA_DIR/raft) into the snapshot file
// `out_path`, written as a temporary file beside it, synced, then renamed (never a partial
// file under that name). Errors: NotFound/IoError reading `dir`; Corruption naming the file
// and offset where the node itself would refuse to start; InvalidArgument for a directory
// with nothing to export (no snapshot, no entry) or an `out_path` that exists already or
// lies inside `dir`.
[[nodiscard]] Result<ExportReport> export_data_dir(storage::Fs& fs, const std::string& dir,
                                                   const std::string& out_path);

}  // namespace raftkv::wal
