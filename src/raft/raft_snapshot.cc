#include <algorithm>

#include "raft/raft.h"

// Snapshots (Raft §7) and membership (single-server changes, thesis §4.1; the quorum code
// already understands joint configurations for the later move to joint consensus).

namespace raftkv::raft {

bool Raft::send_snapshot(NodeId peer) {
  Progress& progress = progress_.at(peer);
  if (!progress.recent_active) {
    // A snapshot can be large; send none to a peer that may be down. It gets one once it
    // answers a heartbeat.
    log(LogLevel::Debug, "not sending a snapshot to node ", peer, ": not recently active");
    return false;
  }
  Result<Snapshot> snapshot = log_.snapshot();
  if (!snapshot.is_ok() || snapshot.value().is_empty()) {
    log(LogLevel::Warn, "node ", peer, " needs a snapshot, but none is available yet");
    return false;
  }
  const Index index = snapshot.value().meta.index;
  log(LogLevel::Info, "sending snapshot at index ", index, " (term ", snapshot.value().meta.term,
      ") to node ", peer, ", whose next index ", progress.next_index, " was compacted");
  progress.become_snapshot(index);
  send(Message{.type = MessageType::InstallSnapshot, .to = peer,
               .snapshot = std::move(snapshot).value()});
  return true;
}

void Raft::on_install_snapshot(const Message& message) {
  if (role_ != Role::Follower) become_follower(term_, message.from);
  set_leader(message.from);
  election_elapsed_ = 0;
  const SnapshotMeta& meta = message.snapshot->meta;
  if (meta.index <= log_.committed()) {
    // We are already past it: tell the leader where we are.
    send(Message{.type = MessageType::AppendResponse, .to = message.from,
                 .index = log_.committed()});
    return;
  }
  if (log_.match_term(meta.index, meta.term)) {
    // Our log already holds the snapshot's last entry: everything up to it is committed.
    log_.commit_to(meta.index);
  } else {
    log(LogLevel::Info, "installing snapshot at index ", meta.index, " (term ", meta.term,
        ") from node ", message.from);
    log_.restore(*message.snapshot);
    restore_membership(meta.conf_state);
  }
  send(Message{.type = MessageType::AppendResponse, .to = message.from, .index = meta.index});
}

void Raft::report_snapshot_failed(NodeId peer) {
  auto it = progress_.find(peer);
  if (role_ != Role::Leader || it == progress_.end()) return;
  if (it->second.state != ProgressState::Snapshot) return;
  log(LogLevel::Warn, "snapshot to node ", peer, " failed; probing it again");
  it->second.become_probe();
}

void Raft::report_snapshot_progress(NodeId peer) {
  auto it = progress_.find(peer);
  if (role_ != Role::Leader || it == progress_.end()) return;
  if (it->second.state == ProgressState::Snapshot) it->second.stalled_ticks = 0;
}

void Raft::report_unreachable(NodeId peer) {
  auto it = progress_.find(peer);
  if (role_ != Role::Leader || it == progress_.end()) return;
  // Pipelined appends were probably lost with the connection; fall back to probing.
  if (it->second.state == ProgressState::Replicate) it->second.become_probe();
}

// Adopts a membership: the quorum rules, and one Progress per member. Existing progress is kept
// so that a change does not restart replication to the peers that stay.
void Raft::restore_membership(const ConfState& conf_state) {
  conf_state_ = conf_state;
  quorum_ = QuorumConfig(conf_state);
  std::map<NodeId, Progress> next;
  auto add = [&](NodeId id, bool is_learner) {
    auto it = progress_.find(id);
    Progress progress = it != progress_.end()
                            ? it->second
                            : Progress(log_.last_index() + 1, config_.inflight_messages_max,
                                       config_.inflight_bytes_max);
    progress.is_learner = is_learner;
    next.insert_or_assign(id, std::move(progress));
  };
  for (NodeId id : quorum_.all_voters()) add(id, false);
  for (NodeId id : conf_state.learners) {
    if (!quorum_.is_voter(id)) add(id, true);
  }
  progress_ = std::move(next);
}

Result<Proposal> Raft::propose_conf_change(const ConfChange& change) {
  if (role_ != Role::Leader) return Status(ErrorCode::NotLeader, "not the leader");
  if (pending_conf_index_ > log_.applied()) {
    return Status(ErrorCode::Busy, "an earlier membership change is not applied yet");
  }
  if (change.node == kNoNode) return Status(ErrorCode::InvalidArgument, "node id 0");
  const bool removing_last_voter = change.type == ConfChangeType::RemoveNode &&
                                   quorum_.incoming().size() == 1 &&
                                   quorum_.is_voter(change.node);
  if (removing_last_voter) {
    return Status(ErrorCode::InvalidArgument, "cannot remove the last voter");
  }
  append_entries({Entry{term_, Index{0}, EntryType::ConfChange, encode_conf_change(change)}});
  pending_conf_index_ = log_.last_index();
  const Proposal proposal{term_, log_.last_index()};
  after_input();  // Sent by ready().
  return proposal;
}

ConfState Raft::apply_conf_change(const ConfChange& change) {
  ConfState next = conf_state_;
  auto erase = [](std::vector<NodeId>& ids, NodeId id) {
    ids.erase(std::remove(ids.begin(), ids.end(), id), ids.end());
  };
  erase(next.voters, change.node);
  erase(next.learners, change.node);
  if (change.type == ConfChangeType::AddVoter) next.voters.push_back(change.node);
  if (change.type == ConfChangeType::AddLearner) next.learners.push_back(change.node);
  std::sort(next.voters.begin(), next.voters.end());
  std::sort(next.learners.begin(), next.learners.end());
  RAFT_ASSERT(!next.voters.empty());  // propose_conf_change() refuses to remove the last voter.
  log(LogLevel::Info, "membership now ", next.voters.size(), " voters and ", next.learners.size(),
      " learners");
  if (role_ == Role::Leader && change.type == ConfChangeType::RemoveNode) {
    // The last word of the old configuration: each follower's commit index reaches the
    // removal if it holds it. A removed follower then applies it and learns that it is out
    // instead of campaigning in vain; when the leader removed itself, the others apply it and
    // elect a leader among themselves, which they could not without hearing that it committed.
    broadcast_heartbeat();
  }
  restore_membership(next);
  if (role_ == Role::Leader) {
    if (!quorum_.is_voter(id_)) {
      log(LogLevel::Info, "stepping down: removed from the voters");
      become_follower(term_, kNoNode);
    } else {
      if (transfer_target_ != kNoNode && !quorum_.is_voter(transfer_target_)) {
        abort_transfer("the target left the voters");
      }
      maybe_commit();  // A smaller quorum may already hold newer entries.
      broadcast_append();
    }
  }
  after_input();
  return conf_state_;
}

}  // namespace raftkv::raft
