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
};

}  // namespace raftkv::server
