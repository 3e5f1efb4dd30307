#pragma once

#include <set>
#include <string>

#include "common/status.h"
#include "local_cluster.h"

// Network partitions of a local cluster whose nodes have distinct peer addresses
// (ClusterLayout::distinct_peer_hosts: node I talks to its peers from 127.0.1.I), made by the
// kernel with iptables: isolating node I rejects every TCP packet between 127.0.1.I and
// another node's peer address, in both directions, with a TCP reset. Client and HTTP traffic
// (on 127.0.0.1) still flows, so the page keeps showing the node and clients can still reach
// it; its peers cannot.
//
// Why iptables rather than a proxy the tool runs: the nodes' peer addresses are part of the
// cluster's identity (its id hashes --peers), so nothing can stand between two nodes without
// the server knowing; and the kernel cuts exactly the node's own traffic, as a broken link
// would. Why a reset rather than a silent drop: both sides see the link go at once and a
// healed link comes back at the transport's next redial (at most a second later), where
// dropped packets would leave TCP backing off its retransmissions for many seconds after the
// heal. Needs root (CAP_NET_ADMIN) and the iptables command; available() says why not.
//
// The rules live in a chain of their own, RAFTKV-<base peer port>, jumped to from INPUT; the
// destructor removes them, and the constructor first removes any left by a killed tool.
// Not thread-safe.
namespace raftkv::tools {

class Partitioner {
 public:
  explicit Partitioner(const ClusterLayout& layout);
  ~Partitioner();
  Partitioner(const Partitioner&) = delete;
  Partitioner& operator=(const Partitioner&) = delete;

  // Ok when partitions can be made; otherwise why not, for the page's tooltip.
  [[nodiscard]] const Status& available() const { return available_; }
  // Cuts node `id` off from every other node (no-op if it is already).
  [[nodiscard]] Status isolate(int id);
  // Reconnects node `id` (no-op if it is not cut off).
  [[nodiscard]] Status heal(int id);
  [[nodiscard]] const std::set<int>& isolated() const { return isolated_; }

 private:
  // Adds ("-A") or deletes ("-D") the rules that cut node `id` off.
  [[nodiscard]] Status change_rules(const char* action, int id);
  void remove_chain();

  ClusterLayout layout_;
  std::string chain_;
  Status available_;
  std::set<int> isolated_;
};

// Runs a program to completion, its output discarded; IoError naming it and how it ended
// unless it exited with status 0.
[[nodiscard]] Status run_quietly(const std::string& program, const std::vector<std::string>& args);

}  // namespace raftkv::tools
