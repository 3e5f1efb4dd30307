#include "runtime/membership.h"

namespace raftkv::runtime {

void Membership::apply(const raft::Entry& entry) {
  RAFT_ASSERT(entry.type == raft::EntryType::ConfChange);
  raft::ConfChange change;
  if (!raft::decode_conf_change(entry.data, &change)) {
    // Every node refuses the same bytes, so they stay in agreement; the log is not ours to fix.
    log_to(node_.logger, LogLevel::Error, "ignored a malformed membership change at index ",
           entry.index);
    return;
  }
  node_.core->apply_conf_change(change);
}

void Membership::on_peer_hello(NodeId peer, const std::string& client_addr) {
  client_addrs_[peer] = client_addr;
}

void Membership::set_own_client_addr(std::string client_addr) {
  client_addrs_[node_.id()] = std::move(client_addr);
}

}  // namespace raftkv::runtime
