#pragma once

#include <string>
#include <vector>

#include "server/client_commands.h"

// The cluster administration commands (issue 15), all answered by the leader:
//   RAFT.MEMBER LIST                               every member: [id, peer, client, role]
//   RAFT.MEMBER ADD id peer_addr client_addr [LEARNER]
//   RAFT.MEMBER PROMOTE id                         a learner that has caught up becomes a voter
//   RAFT.MEMBER REMOVE id
//   RAFT.TRANSFER [id]                             hand leadership over (default: the voter
//                                                  furthest along)
//   RAFT.CLUSTERID                                 the cluster id, for a joining node
// A change is answered +OK once it is applied on the leader. Errors: ERR for a request that is
// wrong (nothing changed: an id or address in use, an unknown id, the last voter, a
// non-learner promoted); TRYAGAIN for one that must wait (a change pending, a new leader that
// has not committed an entry of its term yet, a learner still too far behind, not the
// leader); UNCERTAIN when the change may or may not have been applied.
namespace raftkv::server {

// Requires upper(args[0]) to start with "RAFT.".
[[nodiscard]] Action translate_admin(const std::vector<std::string>& args,
                                     const ServerContext& context);

}  // namespace raftkv::server
