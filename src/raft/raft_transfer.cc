#include "raft/raft.h"

// Leadership transfer (Raft thesis §3.10): the leader stops taking proposals, brings the target
// fully up to date, then tells it to campaign at once with TimeoutNow. The target's election
// skips PreVote and carries a flag so voters ignore their leader lease for it.

namespace raftkv::raft {

Status Raft::transfer_leadership(NodeId target) {
  if (role_ != Role::Leader) return Status(ErrorCode::NotLeader, "not the leader");
  if (target == id_) return Status::ok();  // Already there.
  if (!quorum_.is_voter(target)) {
    return Status(ErrorCode::InvalidArgument,
                  "node " + std::to_string(target.value()) + " is not a voter");
  }
  if (transfer_target_ == target) return Status::ok();
  if (transfer_target_ != kNoNode) abort_transfer("a transfer to another node was asked for");
  transfer_target_ = target;
  transfer_elapsed_ = 0;
  const Progress& progress = progress_.at(target);
  log(LogLevel::Info, "transferring leadership to node ", target, " (its match index ",
      progress.match_index, ", our last index ", log_.last_index(), ")");
  if (progress.match_index == log_.last_index()) {
    maybe_send_timeout_now(target);
  } else {
    send_append(target, /*send_if_empty=*/true);
  }
  after_input();
  return Status::ok();
}

void Raft::maybe_send_timeout_now(NodeId peer) {
  if (peer != transfer_target_) return;
  if (progress_.at(peer).match_index != log_.last_index()) return;
  log(LogLevel::Info, "node ", peer, " is caught up; sending TimeoutNow");
  send(Message{.type = MessageType::TimeoutNow, .to = peer});
}

void Raft::abort_transfer(const char* reason) {
  RAFT_ASSERT(transfer_target_ != kNoNode);
  log(LogLevel::Warn, "abandoned leadership transfer to node ", transfer_target_, ": ", reason);
  transfer_target_ = kNoNode;
  transfer_elapsed_ = 0;
}

void Raft::on_timeout_now(const Message& message) {
  if (!promotable()) {
    log(LogLevel::Warn, "ignored TimeoutNow from node ", message.from, ": not promotable");
    return;
  }
  log(LogLevel::Info, "leader node ", message.from, " asked us to take over; campaigning now");
  campaign(/*pre_vote=*/false, /*leadership_transfer=*/true);
}

}  // namespace raftkv::raft
