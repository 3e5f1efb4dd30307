#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "local_cluster.h"

// Network partitions between the nodes of a local cluster, cut with iptables (issue 22, J5).
//
// The peer transport's connections carry data one way only (the dialer writes) and are bound
// to the dialer's own peer address, so a link is named by its sender's address and its
// receiver's peer port. That needs a peer address per node: with_peer_addresses() gives node k
// 127.0.0.k where the layout puts every node on 127.0.0.1 (client and HTTP stay there, so
// clients and the harness work unchanged); a layout with distinct peer hosts is used as is.
// A cut link is a REJECT rule (TCP reset) for sender -> receiver's peer port: the sender sees
// its connection fail and redials with its capped backoff, so a healed link is back within
// about a second.
//
// The rules live in a chain of their own, hooked into OUTPUT (loopback packets pass there),
// and match only this cluster's peer ports, so nothing else on the machine is touched. Needs
// root and a working iptables: unavailable_reason() says why not, for a clear failure. Not
// thread-safe.

namespace raftkv::process_test {

class LoopbackPartition {
 public:
  // "" if iptables can be used here, else why not.
  [[nodiscard]] static std::string unavailable_reason();

  // `chain`: a name of our own (at most 28 characters); `log_path`: where iptables' output
  // goes. Adds nothing yet.
  LoopbackPartition(std::string chain, tools::ClusterLayout layout, std::string log_path);
  // Removes the chain and its hook, if start() made them.
  ~LoopbackPartition();
  LoopbackPartition(const LoopbackPartition&) = delete;
  LoopbackPartition& operator=(const LoopbackPartition&) = delete;

  // Makes the (empty) chain and hooks it in; a leftover of a crashed run is removed first.
  [[nodiscard]] Status start();
  // Cuts both directions of every link between a node in `side` and a node outside it.
  [[nodiscard]] Status isolate(const std::vector<int>& side);
  // Every link back.
  [[nodiscard]] Status heal();

  // The layout, its server replaced by a wrapper (written to `wrapper_path`) that starts it
  // with node k's peer address on 127.0.0.k; unchanged if its peer hosts are distinct already.
  [[nodiscard]] static Result<tools::ClusterLayout> with_peer_addresses(
      tools::ClusterLayout layout, const std::string& wrapper_path);
  // Each node's peer host (by id - 1) once with_peer_addresses() has run.
  [[nodiscard]] static std::vector<std::string> peer_hosts(const tools::ClusterLayout& layout);

 private:
  [[nodiscard]] Status iptables(const std::vector<std::string>& args);
  void remove_chain();

  std::string chain_;
  tools::ClusterLayout layout_;
  std::vector<std::string> hosts_;  // peer_hosts(layout_).
  std::string log_path_;
  bool started_ = false;
};

}  // namespace raftkv::process_test
