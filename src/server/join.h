#pragma once

#include <cstdint>

#include "common/logger.h"
#include "common/status.h"
#include "server/config.h"
#include "server/identity.h"

// --join ADDR: a node with an empty data dir becomes a member of a running cluster. It asks
// the member at ADDR (through the client library, which follows it to the leader) for the
// cluster id and the membership, adds itself as a learner unless an operator already did
// (RAFT.MEMBER ADD ... LEARNER), and starts from that membership: the leader then streams it
// the snapshot and the log. An operator promotes it once it has caught up.
namespace raftkv::server {

// The identity to write for a node joining through config.join_addr. InvalidArgument when
// the cluster refuses (this id already used by another address, or removed before);
// Unavailable when no member answered in time.
[[nodiscard]] Result<Identity> join_cluster(const ServerConfig& config, Logger& logger);

// The cluster id the member at `addr` reports (a restart with --join checks its data dir
// against it).
[[nodiscard]] Result<uint64_t> cluster_id_at(const std::string& addr);

}  // namespace raftkv::server
