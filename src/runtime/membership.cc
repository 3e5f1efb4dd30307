#include "runtime/membership.h"

#include <algorithm>
#include <charconv>
#include <sstream>

namespace raftkv::runtime {
namespace {

std::string or_dash(const std::string& addr) { return addr.empty() ? "-" : addr; }
std::string from_dash(const std::string& word) { return word == "-" ? "" : word; }

bool parse_id(const std::string& word, NodeId* id) {
  uint64_t value = 0;
  const auto [end, error] = std::from_chars(word.data(), word.data() + word.size(), value);
  if (error != std::errc() || end != word.data() + word.size() || value == 0) return false;
  *id = NodeId{value};
  return true;
}

bool contains(const std::vector<NodeId>& ids, NodeId id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

std::string describe(const Member& member) {
  return "node " + std::to_string(member.id.value()) + " (peer " + or_dash(member.peer_addr) +
         ", client " + or_dash(member.client_addr) + ")";
}

}  // namespace

bool valid_member_addr(std::string_view addr) {
  if (addr.empty()) return true;
  const size_t colon = addr.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == addr.size()) return false;
  return std::none_of(addr.begin(), addr.end(), [](char c) {
    return c == ' ' || c == '\n' || c == '\t' || c == '\r';
  });
}

std::string encode_member_context(const Member& member) {
  return or_dash(member.peer_addr) + " " + or_dash(member.client_addr);
}

bool decode_member_context(std::string_view text, Member* member) {
  std::istringstream in{std::string(text)};
  std::string peer;
  std::string client;
  std::string extra;
  if (!(in >> peer >> client) || (in >> extra)) return false;
  member->peer_addr = from_dash(peer);
  member->client_addr = from_dash(client);
  return valid_member_addr(member->peer_addr) && valid_member_addr(member->client_addr);
}

std::string encode_member_set(const MemberSet& set) {
  std::string out = "conf_index " + std::to_string(set.conf_index.value()) + "\n";
  for (const auto& [id, member] : set.members) {
    out += "member " + std::to_string(id.value()) + " " + encode_member_context(member) + "\n";
  }
  for (NodeId id : set.removed) out += "removed " + std::to_string(id.value()) + "\n";
  return out;
}

bool decode_member_set(std::string_view text, MemberSet* set) {
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string kind;
    std::string id_word;
    words >> kind >> id_word;
    std::string rest;
    std::getline(words, rest);
    NodeId id;
    if (kind == "conf_index") {
      uint64_t index = 0;
      const auto [end, error] =
          std::from_chars(id_word.data(), id_word.data() + id_word.size(), index);
      if (error != std::errc() || end != id_word.data() + id_word.size()) return false;
      set->conf_index = Index{index};
    } else if (kind == "member" && parse_id(id_word, &id)) {
      Member member{.id = id};
      if (!decode_member_context(rest, &member)) return false;
      set->members[id] = member;
    } else if (kind == "removed" && parse_id(id_word, &id) && rest.empty()) {
      set->removed.insert(id);
    } else {
      return false;
    }
  }
  return true;
}

Status Membership::restore(const raft::SnapshotMeta& meta) {
  MemberSet set;
  if (!meta.conf_context.empty()) {
    if (!decode_member_set(meta.conf_context, &set)) {
      return Status(ErrorCode::Corruption, "the snapshot at index " +
                                               std::to_string(meta.index.value()) +
                                               " holds a membership that does not decode");
    }
  } else {
    // No snapshot, or one written before snapshots held addresses: the bootstrap records of
    // the ids its ConfState names.
    std::vector<NodeId> ids = meta.conf_state.voters;
    ids.insert(ids.end(), meta.conf_state.learners.begin(), meta.conf_state.learners.end());
    for (NodeId id : ids) set.members[id] = Member{.id = id};
    for (const Member& member : node_.options.members) {
      if (set.members.contains(member.id)) set.members[member.id] = member;
    }
  }
  members_ = std::move(set.members);
  removed_ = std::move(set.removed);
  conf_index_ = set.conf_index;
  if (removed_self()) note_self_removed(conf_index_);
  sync_transport();
  return Status::ok();
}

std::string Membership::encode() const {
  return encode_member_set(MemberSet{members_, removed_, conf_index_});
}

Status Membership::check(const MemberChange& change, const raft::RaftStatus& leader) const {
  auto invalid = [](const std::string& why) { return Status(ErrorCode::InvalidArgument, why); };
  const Member& asked = change.member;
  const std::string node = "node " + std::to_string(asked.id.value());
  if (asked.id == kNoNode) return invalid("node id 0 is not valid");
  if (change.kind == MemberChange::Kind::Add) {
    if (members_.contains(asked.id)) return invalid(node + " is already a member");
    if (removed_.contains(asked.id)) {
      return invalid(node + " was removed before; ids are never reused, choose a new one");
    }
    if (!valid_member_addr(asked.peer_addr) || !valid_member_addr(asked.client_addr)) {
      return invalid("addresses must be host:port");
    }
    for (const auto& [id, member] : members_) {
      if (!asked.peer_addr.empty() && member.peer_addr == asked.peer_addr) {
        return invalid("peer address " + asked.peer_addr + " is in use by " + describe(member));
      }
      if (!asked.client_addr.empty() && member.client_addr == asked.client_addr) {
        return invalid("client address " + asked.client_addr + " is in use by " +
                       describe(member));
      }
    }
    return Status::ok();
  }
  if (!members_.contains(asked.id)) return invalid(node + " is not a member");
  if (change.kind == MemberChange::Kind::Remove) return Status::ok();  // The core: last voter.
  if (!contains(leader.conf_state.learners, asked.id)) {
    return invalid(node + " is not a learner; only a learner can be promoted");
  }
  const auto peer = std::find_if(leader.peers.begin(), leader.peers.end(),
                                 [&](const raft::PeerStatus& p) { return p.id == asked.id; });
  const uint64_t match = peer == leader.peers.end() ? 0 : peer->match_index.value();
  const uint64_t behind = leader.last_index.value() - std::min(match, leader.last_index.value());
  if (behind > node_.options.promote_lag_entries_max) {
    return Status(ErrorCode::Busy, node + " is " + std::to_string(behind) +
                                       " entries behind the leader (at most " +
                                       std::to_string(node_.options.promote_lag_entries_max) +
                                       " to be promoted); try again once it has caught up");
  }
  return Status::ok();
}

raft::ConfChange Membership::to_conf_change(const MemberChange& change) const {
  switch (change.kind) {
    case MemberChange::Kind::Add:
      return raft::ConfChange{change.member.learner ? raft::ConfChangeType::AddLearner
                                                    : raft::ConfChangeType::AddVoter,
                              change.member.id, encode_member_context(change.member)};
    case MemberChange::Kind::Promote:
      return raft::ConfChange{raft::ConfChangeType::AddVoter, change.member.id,
                              encode_member_context(members_.at(change.member.id))};
    case MemberChange::Kind::Remove:
      return raft::ConfChange{raft::ConfChangeType::RemoveNode, change.member.id, ""};
  }
  RAFT_ASSERT(false);
  return {};
}

void Membership::apply(const raft::Entry& entry) {
  RAFT_ASSERT(entry.type == raft::EntryType::ConfChange);
  raft::ConfChange change;
  Member member;
  const bool valid = raft::decode_conf_change(entry.data, &change) &&
                     (change.context.empty() || decode_member_context(change.context, &member));
  if (!valid) {
    // Every node refuses the same bytes, so they stay in agreement; the log is not ours to fix.
    log_to(node_.logger, LogLevel::Error, "ignored a malformed membership change at index ",
           entry.index);
    return;
  }
  member.id = change.node;
  const char* what = "removed";
  if (change.type == raft::ConfChangeType::RemoveNode) {
    if (auto it = members_.find(change.node); it != members_.end()) member = it->second;
    members_.erase(change.node);
    removed_.insert(change.node);
  } else {
    // A change written before contexts existed keeps what we knew of the member.
    if (change.context.empty() && members_.contains(change.node)) member = members_[change.node];
    what = change.type == raft::ConfChangeType::AddVoter ? "voter" : "learner";
    members_[change.node] = member;
  }
  node_.core->apply_conf_change(change);
  RAFT_ASSERT(entry.index > conf_index_);
  conf_index_ = entry.index;
  log_to(node_.logger, LogLevel::Info, "membership change at index ", entry.index, ": ",
         describe(member), " is now ", what);
  sync_transport();
  if (change.type == raft::ConfChangeType::RemoveNode && change.node == node_.id()) {
    note_self_removed(entry.index);
  }
}

void Membership::note_self_removed(Index index) {
  RAFT_ASSERT(removed_self());
  log_to(node_.logger, LogLevel::Warn, "this node (", node_.id(),
         ") was removed from the cluster at index ", index,
         ": it no longer campaigns or votes; stop it, and wipe its data dir before the machine "
         "rejoins under a new id");
}

void Membership::sync_transport() {
  // A removed node keeps dialling its former peers: their refusals tell it that it is out.
  std::map<NodeId, std::string> wanted;
  for (const auto& [id, member] : members_) {
    if (id != node_.id()) wanted[id] = member.peer_addr;
  }
  for (const auto& [id, addr] : transport_peers_) {
    if (!wanted.contains(id) && !removed_.contains(id)) node_.transport.remove_peer(id);
  }
  for (NodeId id : removed_) {
    // Also the removals before a restart: the transport tells such a node it is out.
    if (id != node_.id() && transport_removed_.insert(id).second) {
      node_.transport.remove_peer(id);
    }
  }
  for (const auto& [id, addr] : wanted) {
    auto known = transport_peers_.find(id);
    if (known == transport_peers_.end() || known->second != addr) {
      node_.transport.add_peer(id, addr);
    }
  }
  transport_peers_ = std::move(wanted);
}

void Membership::on_removed_notice(NodeId peer) {
  if (removed()) return;
  removed_notice_by_ = peer;
  log_to(node_.logger, LogLevel::Warn, "node ", peer, " says this node (", node_.id(),
         ") was removed from the cluster; it no longer campaigns or votes and idles; stop it, "
         "and wipe its data dir before the machine rejoins under a new id");
}

void Membership::on_peer_hello(NodeId peer, const std::string& client_addr,
                               const std::string& client_tls_addr) {
  hello_client_addrs_[peer] = client_addr;
  // From the network, and shown in INFO's lines: only a plain "host:port" is kept. An empty
  // one (the peer restarted without its TLS port, or is older) forgets the last one heard.
  if (client_tls_addr.empty() || !valid_member_addr(client_tls_addr)) {
    hello_client_tls_addrs_.erase(peer);
  } else {
    hello_client_tls_addrs_[peer] = client_tls_addr;
  }
}

void Membership::set_own_client_addr(std::string client_addr, std::string client_tls_addr) {
  own_client_addr_ = std::move(client_addr);
  own_client_tls_addr_ = std::move(client_tls_addr);
}

std::vector<Member> Membership::members() const {
  const raft::ConfState conf = node_.core->status().conf_state;
  std::vector<Member> out;
  const std::map<NodeId, std::string> clients = client_addrs();
  for (const auto& [id, member] : members_) {
    Member shown = member;
    shown.learner = contains(conf.learners, id);
    if (auto it = clients.find(id); it != clients.end()) shown.client_addr = it->second;
    out.push_back(std::move(shown));
  }
  return out;
}

std::map<NodeId, std::string> Membership::client_addrs() const {
  std::map<NodeId, std::string> out;
  for (const auto& [id, member] : members_) {
    if (!member.client_addr.empty()) {
      out[id] = member.client_addr;
    } else if (auto hello = hello_client_addrs_.find(id); hello != hello_client_addrs_.end()) {
      out[id] = hello->second;
    }
  }
  if (!own_client_addr_.empty()) out[node_.id()] = own_client_addr_;
  return out;
}

std::map<NodeId, std::string> Membership::client_tls_addrs() const {
  std::map<NodeId, std::string> out;
  for (const auto& [id, member] : members_) {
    if (auto hello = hello_client_tls_addrs_.find(id); hello != hello_client_tls_addrs_.end()) {
      out[id] = hello->second;
    }
  }
  if (!own_client_tls_addr_.empty()) out[node_.id()] = own_client_tls_addr_;
  return out;
}

}  // namespace raftkv::runtime
