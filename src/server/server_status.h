#pragma once

#include <map>

#include "net/peer_transport.h"
#include "runtime/node.h"

// What INFO, /status and /metrics show of one server: the runtime's view of its node and the
// transport's per-peer counters. A copy, safe to hand to other threads.
namespace raftkv::server {

struct ServerStatus {
  runtime::NodeStatus node;
  std::map<NodeId, net::PeerCounters> peers;
  uint64_t cluster_id = 0;  // From the identity file (identity.h).
};

}  // namespace raftkv::server
