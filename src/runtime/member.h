#pragma once

#include <cstdint>
#include <string>

#include "common/types.h"

// One member of the cluster as the replicated membership records it (membership.h), and an
// operator's request to change the membership.
namespace raftkv::runtime {

struct Member {
  NodeId id;
  std::string peer_addr;    // "host:port"; empty where the transport needs none (simulator).
  std::string client_addr;  // "host:port"; empty until known.
  bool learner = false;
  bool operator==(const Member&) const = default;
};

// An operator's request (RAFT.MEMBER).
struct MemberChange {
  enum class Kind : uint8_t { Add, Promote, Remove };
  Kind kind = Kind::Add;
  Member member;  // Add: the whole record (learner: added as a learner). Otherwise the id.
};

}  // namespace raftkv::runtime
