#pragma once

#include <map>
#include <string>

#include "raft/messages.h"
#include "runtime/node_context.h"

// The cluster's members as this node knows them: which ids the core counts (its ConfState)
// and where each member serves clients. Membership changes are applied here, in log order, so
// that every node switches at the same entry.
// Not thread-safe: the loop thread only.
namespace raftkv::runtime {

class Membership {
 public:
  explicit Membership(NodeContext& node) : node_(node) {}

  // A committed ConfChange entry: the core adopts the new configuration.
  void apply(const raft::Entry& entry);
  // A peer told us where it serves clients (the transport's Hello).
  void on_peer_hello(NodeId peer, const std::string& client_addr);
  void set_own_client_addr(std::string client_addr);

  // Every known member's client address, self included.
  [[nodiscard]] const std::map<NodeId, std::string>& client_addrs() const {
    return client_addrs_;
  }

 private:
  NodeContext& node_;
  std::map<NodeId, std::string> client_addrs_;
};

}  // namespace raftkv::runtime
