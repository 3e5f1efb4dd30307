#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

// The "# Raft" section of raftkv-server's INFO reply, parsed. The text comes from the network:
// a missing or malformed field is an error, never a crash.

namespace raftkv::client {

struct MemberInfo {
  uint64_t id = 0;
  std::string client_addr;  // "host:port" clients use; empty if the node did not say.
  std::string tls_addr;     // "host:port" of its TLS client port; empty if none or unknown.

  // The address a client speaking TLS (or not) should use; empty if there is none.
  [[nodiscard]] const std::string& addr(bool tls) const { return tls ? tls_addr : client_addr; }
};

struct RaftInfo {
  uint64_t node_id = 0;
  std::string role;  // "leader", "follower", "candidate", "pre-candidate".
  uint64_t term = 0;
  uint64_t leader_id = 0;    // 0: no known leader.
  std::string leader_addr;   // The leader's client address; empty if unknown.
  std::string leader_tls_addr;  // Its TLS client address; empty if unknown or none.
  uint64_t commit_index = 0;
  uint64_t applied_index = 0;
  uint64_t last_log_index = 0;
  std::vector<MemberInfo> members;

  [[nodiscard]] bool is_leader() const { return role == "leader"; }
};

// Parses INFO's text ("key:value" lines, CRLF or LF). Requires role and term; other fields
// default to zero or empty when absent so an older server still parses.
[[nodiscard]] Result<RaftInfo> parse_info(std::string_view text);

}  // namespace raftkv::client
