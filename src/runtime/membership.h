#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "raft/messages.h"
#include "runtime/member.h"
#include "runtime/node_context.h"

// The cluster's members as replicated state: each member's id, peer address (where the other
// nodes dial it) and client address, and whether it votes. The core holds only the ids (its
// ConfState); the addresses travel beside them, in the ConfChange's context and in the
// snapshot's conf_context, so every node learns a member's addresses at the same log index as
// its id, and a node restored from a snapshot knows every member without the compacted log.
//
// Changes are single-server (thesis §4.1), one at a time, adopted when applied, as the core
// does. This class checks an operator's request against the membership before it is proposed
// (check()), applies committed changes (apply()), keeps the transport's peer set equal to the
// membership, and notices when this node itself was removed.
//
// Ids are never reused: a removed id stays refused, so a node restarted on the data of a
// removed one can never be mistaken for a new member with the same id.
//
// Not thread-safe: the loop thread only.
namespace raftkv::runtime {

// A decoded snapshot conf_context: every member's addresses and the ids removed so far.
struct MemberSet {
  std::map<NodeId, Member> members;  // `learner` is not stored: the ConfState says it.
  std::set<NodeId> removed;
  Index conf_index;  // The membership change applied last.
};

// The textual encodings, replicated and stored (so any change must keep reading old ones).
// A change's context: "peer_addr client_addr" ("-" for an empty one).
[[nodiscard]] std::string encode_member_context(const Member& member);
[[nodiscard]] bool decode_member_context(std::string_view text, Member* member);
// A snapshot's: "conf_index N", then one line "member ID PEER CLIENT" per member and one
// "removed ID" per removed id.
[[nodiscard]] std::string encode_member_set(const MemberSet& set);
[[nodiscard]] bool decode_member_set(std::string_view text, MemberSet* set);
// A usable address for the context: "host:port", no blanks. Empty is allowed.
[[nodiscard]] bool valid_member_addr(std::string_view addr);

class Membership {
 public:
  explicit Membership(NodeContext& node) : node_(node) {}

  // At start and after installing a leader's snapshot: the members from the snapshot's
  // conf_context, or, when there is no snapshot or it predates conf contexts, the bootstrap
  // members (NodeOptions::members) that its ConfState names. Then the transport is given every
  // peer. Corruption for a conf_context that does not decode.
  [[nodiscard]] Status restore(const raft::SnapshotMeta& meta);
  // The snapshot's conf_context at the applied index (Snapshots writes it).
  [[nodiscard]] std::string encode() const;

  // Refuses a request that cannot be right (InvalidArgument with what is wrong, nothing
  // proposed) or that must wait (Busy). `leader_status` is the leader's core status.
  [[nodiscard]] Status check(const MemberChange& change, const raft::RaftStatus& leader) const;
  // The core's change for an operator's request that passed check().
  [[nodiscard]] raft::ConfChange to_conf_change(const MemberChange& change) const;

  // A committed ConfChange entry: the core adopts the new configuration, the transport the
  // new peer set.
  void apply(const raft::Entry& entry);
  // A peer told us where it serves clients, and over TLS (the transport's Hello).
  void on_peer_hello(NodeId peer, const std::string& client_addr,
                     const std::string& client_tls_addr);
  void set_own_client_addr(std::string client_addr, std::string client_tls_addr);

  // Every member, voters and learners, by id, with what is known of its addresses.
  [[nodiscard]] std::vector<Member> members() const;
  // Every known member's client address, self included.
  [[nodiscard]] std::map<NodeId, std::string> client_addrs() const;
  // The TLS client address of every member known to have one, self included. Learned from
  // Hellos only, not replicated (see Hello.client_tls_addr): a member this node has not heard
  // from since it started is missing.
  [[nodiscard]] std::map<NodeId, std::string> client_tls_addrs() const;
  // Index of the membership change applied last (0: the bootstrap membership).
  [[nodiscard]] Index conf_index() const { return conf_index_; }
  // This node applied its own removal: it no longer campaigns and should be stopped.
  [[nodiscard]] bool removed_self() const { return removed_.contains(node_.id()); }
  // `id` was removed from the cluster (ids are never reused).
  [[nodiscard]] bool was_removed(NodeId id) const { return removed_.contains(id); }
  // A member refused our connection because the cluster removed us (the transport's
  // Refusal): we may have missed the commit of our removal, and must not campaign.
  void on_removed_notice(NodeId peer);
  // Removed, by our own log or by a member's word: the node idles.
  [[nodiscard]] bool removed() const { return removed_self() || removed_notice_by_ != kNoNode; }

 private:
  void sync_transport();
  void note_self_removed(Index index);

  NodeContext& node_;
  std::map<NodeId, Member> members_;  // Learner flags are the core's; see members().
  std::set<NodeId> removed_;
  std::map<NodeId, std::string> transport_peers_;  // What the transport was told to dial.
  std::set<NodeId> transport_removed_;             // What it was told is removed.
  NodeId removed_notice_by_ = kNoNode;
  std::map<NodeId, std::string> hello_client_addrs_;  // From Hellos: bootstrap members.
  std::map<NodeId, std::string> hello_client_tls_addrs_;  // From Hellos: non-empty ones.
  std::string own_client_addr_;
  std::string own_client_tls_addr_;
  Index conf_index_;
};

}  // namespace raftkv::runtime
