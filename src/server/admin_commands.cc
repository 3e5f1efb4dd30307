#include "server/admin_commands.h"

#include <algorithm>
#include <charconv>

#include "kv/resp_reply.h"
#include "protocol/reply_codes.h"
#include "server/replies.h"

namespace raftkv::server {
namespace {

using kv::Reply;

bool parse_id(const std::string& text, NodeId* id) {
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value == 0) return false;
  *id = NodeId{value};
  return true;
}

// The client's answer to an admin request's outcome (the header lists the codes).
std::string status_reply(const Status& status) {
  switch (status.code()) {
    case ErrorCode::Ok: return resp(Reply::ok());
    case ErrorCode::Busy:
    case ErrorCode::NotLeader:
      return resp(Reply::error(protocol::not_applied_error(status.message())));
    case ErrorCode::Unavailable:
      return resp(Reply::error(protocol::maybe_applied_error(status.message())));
    default: return resp(Reply::error("ERR " + status.message()));
  }
}

Action member_list(const ServerContext& context) {
  std::vector<Reply> rows;
  for (const runtime::Member& member : context.status().node.members) {
    rows.push_back(Reply::array({Reply::integer_value(static_cast<int64_t>(member.id.value())),
                                 Reply::bulk(member.peer_addr), Reply::bulk(member.client_addr),
                                 Reply::bulk(member.learner ? "learner" : "voter")}));
  }
  Action action;
  action.reply = resp(Reply::array(std::move(rows)));
  return action;
}

Action member_change(const std::vector<std::string>& args) {
  const std::string sub = upper(args[1]);
  runtime::MemberChange change;
  const bool add = sub == "ADD" && (args.size() == 5 || args.size() == 6);
  const bool one_id = (sub == "PROMOTE" || sub == "REMOVE") && args.size() == 3;
  if (!add && !one_id) {
    return error("ERR usage: RAFT.MEMBER ADD id peer_addr client_addr [LEARNER] | PROMOTE id | "
                 "REMOVE id | LIST");
  }
  if (!parse_id(args[2], &change.member.id)) {
    return error("ERR node id must be a positive integer, not '" + args[2] + "'");
  }
  if (add) {
    change.member.peer_addr = args[3];
    change.member.client_addr = args[4];
    if (args.size() == 6 && upper(args[5]) != "LEARNER") {
      return error("ERR the optional last argument of ADD is LEARNER, not '" + args[5] + "'");
    }
    change.member.learner = args.size() == 6;
    if (change.member.peer_addr.empty() || change.member.client_addr.empty() ||
        !runtime::valid_member_addr(change.member.peer_addr) ||
        !runtime::valid_member_addr(change.member.client_addr)) {
      return error("ERR peer_addr and client_addr must be host:port");
    }
  }
  change.kind = add ? runtime::MemberChange::Kind::Add
                    : (sub == "PROMOTE" ? runtime::MemberChange::Kind::Promote
                                        : runtime::MemberChange::Kind::Remove);
  return admin([change](runtime::Node& node, runtime::Done done) {
    node.change_membership(change, [done = std::move(done)](const Status& status) {
      done(runtime::Response::ok(status_reply(status)));
    });
  });
}

// The voter other than the leader with the longest matching log: the transfer's catch-up is
// then shortest.
NodeId best_transfer_target(const raft::RaftStatus& leader) {
  NodeId best = kNoNode;
  Index best_match;
  for (const raft::PeerStatus& peer : leader.peers) {
    const bool voter = std::find(leader.conf_state.voters.begin(), leader.conf_state.voters.end(),
                                 peer.id) != leader.conf_state.voters.end();
    if (peer.id == leader.id || !voter) continue;
    if (best == kNoNode || peer.match_index > best_match) {
      best = peer.id;
      best_match = peer.match_index;
    }
  }
  return best;
}

Action transfer(const std::vector<std::string>& args) {
  if (args.size() > 2) return error("ERR usage: RAFT.TRANSFER [id]");
  NodeId target = kNoNode;
  if (args.size() == 2 && !parse_id(args[1], &target)) {
    return error("ERR node id must be a positive integer, not '" + args[1] + "'");
  }
  return admin([target](runtime::Node& node, runtime::Done done) {
    NodeId to = target;
    if (to == kNoNode) to = best_transfer_target(node.status().raft);
    if (to == kNoNode) {
      return done(runtime::Response::ok(resp(Reply::error("ERR no other voter to transfer to"))));
    }
    Status started = node.transfer_leadership(to);
    if (started.code() == ErrorCode::InvalidArgument) {
      started = Status(ErrorCode::InvalidArgument, "node " + std::to_string(to.value()) +
                                                       " is not a voter: " + started.message());
    }
    done(runtime::Response::ok(started.is_ok() ? resp(Reply::integer_value(static_cast<int64_t>(
                                                     to.value())))
                                               : status_reply(started)));
  });
}

}  // namespace

Action translate_admin(const std::vector<std::string>& args, const ServerContext& context) {
  const std::string name = upper(args[0]);
  RAFT_ASSERT(name.starts_with("RAFT."));
  if (name == "RAFT.CLUSTERID") {
    Action action;
    action.reply = resp(Reply::bulk(std::to_string(context.status().cluster_id)));
    return action;
  }
  if (name == "RAFT.TRANSFER") return transfer(args);
  RAFT_ASSERT(name == "RAFT.MEMBER");  // The command table knows no other.
  if (args.size() == 2 && upper(args[1]) == "LIST") return member_list(context);
  return member_change(args);
}

}  // namespace raftkv::server
