#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "runtime/member.h"
#include "server/config.h"

// A data directory belongs to one node of one cluster. The first start writes
// <data-dir>/identity.json: the cluster's name and id, the node's id, and the membership the
// node started from (the bootstrap --peers, or what the cluster said when it joined). Every
// later start takes the cluster id and that membership from the file, never from the flags:
// the membership is replicated state from then on (runtime/membership.h), and the log and
// snapshots rebuild it from this starting point. A start with another --id is refused, naming
// both, so a node cannot be started on another node's data by mistake.
//
// Files written before the membership was stored (a "peers" string only) keep working: their
// peers are the bootstrap voters, and their cluster id (then a hash of name and peers) stays.
namespace raftkv::server {

struct Identity {
  uint64_t cluster_id = 0;
  std::vector<runtime::Member> members;  // Where this node's membership starts.
};

[[nodiscard]] bool has_identity(const ServerConfig& config);

// Creates the directory and the identity file if missing (written to a temp file, fsynced,
// renamed): from `joined` (a --join: what the cluster said) or from the flags (--peers).
// Otherwise reads it. InvalidArgument naming both ids when the file is another node's;
// Corruption for a file that does not parse.
[[nodiscard]] Result<Identity> check_or_write_identity(const ServerConfig& config,
                                                       const Identity* joined);

}  // namespace raftkv::server
