#pragma once

#include <cstdint>

#include "common/logger.h"
#include "common/status.h"
#include "server/config.h"

// raftkv-server --restore-from FILE: a new cluster starts from the state in a snapshot file
// (one that `raftkv-wal export` wrote, or a node's own .snap file), for a restore from backup
// or to recover after losing a majority for good (docs/operations.md).
//
// On the first start only, with an empty data dir: the file's state is installed as the
// node's first snapshot, as if a leader had sent it, at the file's index and term, with the
// membership of --peers instead of the file's. The node then starts as usual: it restores its
// state machine from that snapshot and elects a leader with the other first members. Every
// first member is given the same file and the same --peers, so all of them begin with the same
// log (a member started empty could otherwise win an election without the state and overwrite
// it); a node added later joins with --join and receives the state as a snapshot.
//
// The cluster is new, with a new id (ServerConfig::restored_cluster_id): nodes of the cluster
// the file came from, if they ever come back, are refused on every peer connection.
namespace raftkv::server {

// Installs config.restore_from into the empty config.data_dir and returns the new cluster's
// id. InvalidArgument when the data dir is not empty (a restart must drop the flag) or the
// file is not a valid snapshot file (naming what is wrong); IoError writing the data dir. On
// error the data dir is left as empty as it was found.
[[nodiscard]] Result<uint64_t> restore_from_snapshot_file(const ServerConfig& config,
                                                          Logger& logger);

}  // namespace raftkv::server
