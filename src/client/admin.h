#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "client/reply.h"
#include "common/status.h"

// Replies of raftkv's cluster administration commands (server/admin_commands.h), parsed. They
// come from the network: a malformed reply is an error, never a crash.
namespace raftkv::client {

// One row of RAFT.MEMBER LIST.
struct MemberRecord {
  uint64_t id = 0;
  std::string peer_addr;
  std::string client_addr;
  bool learner = false;
};

[[nodiscard]] Result<std::vector<MemberRecord>> parse_member_list(const Reply& reply);

}  // namespace raftkv::client
