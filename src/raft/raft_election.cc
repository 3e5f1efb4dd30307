#include <algorithm>

#include "raft/raft.h"

// Elections (Raft §5.2, §5.4.1), PreVote (thesis §9.6) and CheckQuorum (thesis §6.2).

namespace raftkv::raft {

void Raft::tick_election() {
  ++election_elapsed_;
  if (!promotable() || election_elapsed_ < randomized_election_ticks_) return;
  log(LogLevel::Info, "election timeout after ", election_elapsed_, " ticks without a leader");
  election_elapsed_ = 0;
  campaign(config_.pre_vote, /*leadership_transfer=*/false);
}

void Raft::tick_heartbeat() {
  RAFT_ASSERT(role_ == Role::Leader);
  ++heartbeat_elapsed_;
  ++election_elapsed_;
  for (auto& [peer, progress] : progress_) {
    ++progress.ticks_since_contact;
    if (peer == id_) continue;
    const bool waiting = progress.inflights.count() > 0 || progress.probe_sent ||
                         progress.state == ProgressState::Snapshot;
    progress.stalled_ticks = waiting ? progress.stalled_ticks + 1 : 0;
    if (progress.stalled_ticks >= config_.election_ticks) {
      // Its Appends, or its snapshot, were lost (a snapshot also when the follower crashed
      // before persisting it: regression, sim crash_restart seed 1153): probe again from the
      // known match (see Progress::stalled_ticks); a probe finds what it really needs.
      if (progress.state != ProgressState::Probe) progress.become_probe();
      progress.probe_sent = false;
      progress.stalled_ticks = 0;
    }
  }
  if (election_elapsed_ >= config_.election_ticks) {
    election_elapsed_ = 0;
    if (config_.check_quorum) {
      check_quorum_or_step_down();
      if (role_ != Role::Leader) return;
    }
  }
  if (transfer_target_ != kNoNode && ++transfer_elapsed_ >= config_.election_ticks) {
    abort_transfer("the target did not take over within an election timeout");
  }
  if (heartbeat_elapsed_ >= config_.heartbeat_ticks) {
    heartbeat_elapsed_ = 0;
    broadcast_heartbeat();
  }
}

void Raft::check_quorum_or_step_down() {
  const bool active = quorum_.is_quorum([&](NodeId id) {
    return id == id_ || progress_.at(id).recent_active;
  });
  for (auto& [peer, progress] : progress_) progress.recent_active = false;
  if (active) return;
  log(LogLevel::Warn, "stepping down: heard from no quorum for an election timeout");
  become_follower(term_, kNoNode);
}

// A voter may campaign; a learner, a removed node, or a node still installing a snapshot
// (its log is not yet what it claims) may not.
bool Raft::promotable() const {
  return quorum_.is_voter(id_) && !log_.unstable_snapshot().has_value();
}

// While a follower hears from a live leader (or a leader from a quorum), it refuses to help
// elect anyone else, so that a node that only lost contact itself cannot depose a healthy leader.
bool Raft::in_leader_lease() const {
  return config_.check_quorum && leader_ != kNoNode && election_elapsed_ < config_.election_ticks;
}

void Raft::report_peer_down(NodeId peer) {
  if (role_ != Role::Follower || peer == kNoNode || peer != leader_) return;
  const uint32_t delay = static_cast<uint32_t>(prng_.uniform(1, config_.election_ticks / 2));
  log(LogLevel::Info, "the connection from leader ", peer, " closed; campaigning in ", delay,
      " ticks unless it returns");
  set_leader(kNoNode);  // Its lease no longer holds our vote back.
  election_elapsed_ = std::max(election_elapsed_, randomized_election_ticks_ - delay);
}

void Raft::campaign(bool pre_vote, bool leadership_transfer) {
  Term vote_term;
  MessageType request_type;
  if (pre_vote) {
    become_pre_candidate();
    vote_term = term_ + 1;
    request_type = MessageType::PreVote;
  } else {
    become_candidate();
    vote_term = term_;
    request_type = MessageType::Vote;
  }
  votes_[id_] = true;
  const VoteResult self_only = quorum_.vote_result([&](NodeId id) -> std::optional<bool> {
    if (auto it = votes_.find(id); it != votes_.end()) return it->second;
    return std::nullopt;
  });
  if (self_only == VoteResult::Won) {  // A single-voter cluster needs nobody else.
    if (pre_vote) {
      campaign(false, leadership_transfer);
    } else {
      become_leader();
    }
    return;
  }
  for (NodeId voter : quorum_.all_voters()) {
    if (voter == id_) continue;
    send(Message{.type = request_type,
                 .to = voter,
                 .term = vote_term,
                 .log_term = log_.last_term(),
                 .index = log_.last_index(),
                 .leadership_transfer = leadership_transfer});
  }
}

void Raft::on_vote_request(const Message& message) {
  const bool pre_vote = message.type == MessageType::PreVote;
  // We can vote for the sender if we already did in this term, or have not voted and know of
  // no leader; a pre-vote for a future term commits us to nothing, so it only needs the log.
  const bool can_vote = voted_for_ == message.from ||
                        (voted_for_ == kNoNode && leader_ == kNoNode) ||
                        (pre_vote && message.term > term_);
  const bool log_ok = log_.is_up_to_date(message.index, message.log_term);
  const MessageType response_type =
      pre_vote ? MessageType::PreVoteResponse : MessageType::VoteResponse;
  const char* what = pre_vote ? "pre-vote" : "vote";
  if (can_vote && log_ok) {
    log(LogLevel::Info, "granted ", what, " to node ", message.from, " for term ", message.term);
    if (!pre_vote) {
      voted_for_ = message.from;  // Persisted (hard state) before the response leaves.
      election_elapsed_ = 0;
    }
    // A granted pre-vote carries the term it was asked for, so the candidate counts it.
    send(Message{.type = response_type, .to = message.from, .term = message.term});
    return;
  }
  if (!can_vote) {
    log(LogLevel::Info, "refused ", what, " to node ", message.from, " for term ", message.term,
        ": already voted for node ", voted_for_, " / leader is node ", leader_);
  } else {
    log(LogLevel::Info, "refused ", what, " to node ", message.from, " for term ", message.term,
        ": its log (last index ", message.index, ", term ", message.log_term,
        ") is behind ours (last index ", log_.last_index(), ", term ", log_.last_term(), ")");
  }
  send(Message{.type = response_type, .to = message.from, .term = term_, .reject = true});
}

void Raft::on_vote_response(const Message& message) {
  const bool expected = (role_ == Role::PreCandidate &&
                         message.type == MessageType::PreVoteResponse) ||
                        (role_ == Role::Candidate && message.type == MessageType::VoteResponse);
  if (!expected) return;  // A late answer to an election that is already over.
  votes_[message.from] = !message.reject;
  const VoteResult result = quorum_.vote_result([&](NodeId id) -> std::optional<bool> {
    if (auto it = votes_.find(id); it != votes_.end()) return it->second;
    return std::nullopt;
  });
  const bool pre_vote = role_ == Role::PreCandidate;
  if (result == VoteResult::Won) {
    log(LogLevel::Info, "won the ", pre_vote ? "pre-election" : "election", " with ",
        votes_.size(), " answers");
    if (pre_vote) {
      campaign(false, /*leadership_transfer=*/false);
    } else {
      become_leader();
    }
  } else if (result == VoteResult::Lost) {
    log(LogLevel::Info, "lost the ", pre_vote ? "pre-election" : "election");
    become_follower(term_, kNoNode);
  }
}

}  // namespace raftkv::raft
