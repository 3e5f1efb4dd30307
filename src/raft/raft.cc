#include "raft/raft.h"

#include <algorithm>
#include <string>
#include <utility>

// Roles, terms and the Ready/advance handshake. Elections live in raft_election.cc,
// replication in raft_replication.cc, reads in raft_read_index.cc, leadership transfer in
// raft_transfer.cc, snapshots and membership in raft_snapshot.cc, input checks in
// raft_validate.cc.

namespace raftkv::raft {

const char* role_name(Role role) {
  switch (role) {
    case Role::Follower: return "follower";
    case Role::PreCandidate: return "pre-candidate";
    case Role::Candidate: return "candidate";
    case Role::Leader: return "leader";
  }
  return "unknown";
}

Status Config::validate() const {
  auto invalid = [](const std::string& what) {
    return Status(ErrorCode::InvalidArgument, "raft config: " + what);
  };
  if (id == kNoNode) return invalid("id must be non-zero");
  if (heartbeat_ticks == 0) return invalid("heartbeat_ticks must be positive");
  if (election_ticks <= heartbeat_ticks) {
    return invalid("election_ticks must be greater than heartbeat_ticks");
  }
  if (inflight_messages_max == 0) return invalid("inflight_messages_max must be positive");
  if (inflight_bytes_max == 0) return invalid("inflight_bytes_max must be positive");
  if (message_bytes_max == 0) return invalid("message_bytes_max must be positive");
  if (appends_per_ack_max == 0) return invalid("appends_per_ack_max must be positive");
  for (NodeId learner : learners) {
    if (std::find(voters.begin(), voters.end(), learner) != voters.end()) {
      return invalid("node " + std::to_string(learner.value()) + " is both voter and learner");
    }
  }
  return Status::ok();
}

Raft::Raft(const Config& config, const LogStorage& storage, Prng& prng, Logger& logger)
    : config_(config), id_(config.id), prng_(prng), logger_(logger), log_(storage) {
  RAFT_ASSERT(config.validate().is_ok());
  const HardState hard = storage.hard_state();
  Result<Snapshot> snapshot = storage.snapshot();
  RAFT_ASSERT(snapshot.is_ok());
  if (snapshot.value().is_empty()) {
    restore_membership(ConfState{config.voters, {}, config.learners});
  } else {
    restore_membership(snapshot.value().meta.conf_state);
  }
  term_ = hard.term;
  voted_for_ = hard.voted_for;
  const bool torn_hard_state = log_.last_term() > term_;
  if (torn_hard_state) {
    // A crash kept a write's entries and tore off the hard state saved with them. Nothing of
    // that write was acknowledged, and a vote is persisted before it is sent, so no vote was
    // cast in the log's term: adopt the term with no vote (Raft needs the current term to be
    // at least every log term). The first Ready persists it. Regression: simulator
    // kv_disk_faults seed 159.
    log(LogLevel::Warn, "the log ends in term ", log_.last_term(), " but the hard state says ",
        term_, " (a torn write): adopting term ", log_.last_term());
    term_ = log_.last_term();
    voted_for_ = kNoNode;
  }
  // Everything a snapshot covers is committed, and the driver restored its state machine from
  // it, so it is applied too even if `config.applied` is older (the log may keep a tail of
  // entries behind the snapshot: they must not be applied twice).
  const Index snapshot_index = snapshot.value().meta.index;
  log_.commit_to(std::max(hard.commit, snapshot_index));
  log_.set_applied(std::max(std::min(config.applied, log_.committed()), snapshot_index));
  last_hard_state_ = torn_hard_state ? hard : hard_state();
  become_follower(term_, kNoNode);
  log(LogLevel::Info, "started as follower: last index ", log_.last_index(), ", commit ",
      log_.committed(), ", voters ", quorum_.all_voters().size());
}

void Raft::reset(Term term) {
  RAFT_ASSERT(term >= term_);  // Raft §5.1: terms only grow.
  if (term_ != term) {
    term_ = term;
    voted_for_ = kNoNode;
  }
  set_leader(kNoNode);
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  reset_election_timeout();
  votes_.clear();
  transfer_target_ = kNoNode;
  transfer_elapsed_ = 0;
  pending_reads_.clear();
  reads_before_commit_.clear();
  read_round_ = 0;
  read_round_wanted_ = false;
  uncommitted_.clear();
  uncommitted_bytes_ = 0;
  for (auto& [peer, progress] : progress_) {
    progress = Progress(log_.last_index() + 1, config_.inflight_messages_max,
                        config_.inflight_bytes_max);
    progress.is_learner = !quorum_.is_voter(peer);
  }
}

void Raft::reset_election_timeout() {
  randomized_election_ticks_ = static_cast<uint32_t>(
      prng_.uniform(config_.election_ticks, 2 * config_.election_ticks - 1));
}

void Raft::set_leader(NodeId leader) {
  if (leader == leader_) return;
  if (leader != kNoNode) {
    log(LogLevel::Info, "leader is now node ", leader);
  }
  leader_ = leader;
}

void Raft::become_follower(Term term, NodeId leader) {
  const Role previous = role_;
  const Term previous_term = term_;
  reset(term);
  role_ = Role::Follower;
  set_leader(leader);
  if (previous != Role::Follower || previous_term != term_) {
    log(LogLevel::Info, "became follower (was ", role_name(previous), " in term ", previous_term,
        ")");
  }
}

void Raft::become_pre_candidate() {
  RAFT_ASSERT(role_ != Role::Leader);
  // PreVote does not touch the term or the vote: a failed pre-election leaves no trace.
  role_ = Role::PreCandidate;
  votes_.clear();
  set_leader(kNoNode);
  // A pre-election whose answers are lost wins nothing and changes no term, so nothing else
  // redraws the timeout: without this, two pre-candidates would retry after the same timeouts
  // round after round and keep colliding (Raft §5.2: randomized every time). Regression:
  // simulator kv_lossy_commits seed 59.
  reset_election_timeout();
  log(LogLevel::Info, "became pre-candidate: asking whether an election at term ", term_ + 1,
      " could win");
}

void Raft::become_candidate() {
  RAFT_ASSERT(role_ != Role::Leader);
  reset(term_ + 1);
  role_ = Role::Candidate;
  voted_for_ = id_;
  log(LogLevel::Info, "became candidate: starting election for term ", term_);
}

void Raft::become_leader() {
  RAFT_ASSERT(role_ == Role::Candidate);
  reset(term_);
  role_ = Role::Leader;
  set_leader(id_);
  // The leader's own entry tracks what it has synced; it starts at the durable last index.
  Progress& self = progress_.at(id_);
  self.become_replicate();
  self.match_index = log_.stable_last_index();
  self.next_index = log_.last_index() + 1;
  log(LogLevel::Info, "became leader with ", quorum_.all_voters().size(), " voters, last index ",
      log_.last_index());
  // Raft §8: a no-op in the new term lets the leader commit entries of earlier terms (which
  // Figure 8 forbids counting directly) and tells it when its commit index is current.
  append_entries({Entry{term_, Index{0}, EntryType::NoOp, {}}});
  // No membership change until that no-op is applied: our log may end in a ConfChange of an
  // earlier term, and a change proposed before an entry of this term commits can make two
  // disjoint majorities (the single-server pitfall, Ongaro, raft-dev 2015).
  pending_conf_index_ = log_.last_index();
  broadcast_append();
}

HardState Raft::hard_state() const { return HardState{term_, voted_for_, log_.committed()}; }

bool Raft::is_member(NodeId id) const { return progress_.contains(id); }

void Raft::on_storage_error(const Status& status) {
  RAFT_ASSERT(!status.is_ok());
  if (storage_error_.is_ok()) {
    log(LogLevel::Error, "storage could not read the log back; stopping: ", status.to_string());
    storage_error_ = status;
  }
}

void Raft::send(Message message) {
  RAFT_ASSERT(message.to != id_);
  RAFT_ASSERT(message.to != kNoNode);
  message.from = id_;
  // Pre-vote requests carry the future term they would campaign in; everything else our term.
  if (message.type != MessageType::PreVote && message.type != MessageType::PreVoteResponse) {
    message.term = term_;
  }
  messages_.push_back(std::move(message));
}

void Raft::tick() {
  if (role_ == Role::Leader) {
    tick_heartbeat();
  } else {
    tick_election();
  }
  after_input();
}

Status Raft::step(const Message& message) {
  if (Status valid = validate_message(message); !valid.is_ok()) {
    log(LogLevel::Warn, "rejected ", message_type_name(message.type), " from node ", message.from,
        ": ", valid.message());
    return valid;
  }
  bool handled = false;
  if (Status term_ok = step_term(message, &handled); !term_ok.is_ok()) return term_ok;
  if (!handled) step_by_role(message);
  after_input();
  return Status::ok();
}

// The term rules common to every role (Raft §5.1): a higher term makes us a follower, a lower
// one is stale. Sets *handled when nothing else should look at the message.
Status Raft::step_term(const Message& message, bool* handled) {
  const bool is_vote_request =
      message.type == MessageType::Vote || message.type == MessageType::PreVote;
  if (message.term > term_) {
    if (is_vote_request && !message.leadership_transfer && in_leader_lease()) {
      // CheckQuorum's other half: while we hear from a live leader, an election is disruption.
      log(LogLevel::Info, "ignored ", message_type_name(message.type), " from node ",
          message.from, " for term ", message.term, ": leader ", leader_, " is alive");
      *handled = true;
      return Status::ok();
    }
    const bool keeps_term =
        message.type == MessageType::PreVote ||
        (message.type == MessageType::PreVoteResponse && !message.reject);
    if (!keeps_term) {
      const bool from_leader = message.type == MessageType::Append ||
                               message.type == MessageType::Heartbeat ||
                               message.type == MessageType::InstallSnapshot;
      log(LogLevel::Info, "term ", term_, " -> ", message.term, " on ",
          message_type_name(message.type), " from node ", message.from);
      become_follower(message.term, from_leader ? message.from : kNoNode);
    }
    return Status::ok();
  }
  if (message.term < term_) {
    *handled = true;
    const bool from_stale_leader = message.type == MessageType::Append ||
                                   message.type == MessageType::Heartbeat;
    if (from_stale_leader && (config_.check_quorum || config_.pre_vote)) {
      // Tell the stale leader our term so it steps down; without this, a node whose term grew
      // while partitioned could never rejoin under PreVote (it cannot win, and it is ignored).
      send(Message{.type = MessageType::AppendResponse, .to = message.from});
    } else if (message.type == MessageType::PreVote) {
      send(Message{.type = MessageType::PreVoteResponse, .to = message.from, .term = term_,
                   .reject = true});
    }
    log(LogLevel::Debug, "ignored stale ", message_type_name(message.type), " from node ",
        message.from, " at term ", message.term);
    return Status::ok();
  }
  return Status::ok();
}

void Raft::step_by_role(const Message& message) {
  switch (message.type) {
    case MessageType::PreVote:
    case MessageType::Vote: on_vote_request(message); return;
    case MessageType::PreVoteResponse:
    case MessageType::VoteResponse: on_vote_response(message); return;
    case MessageType::Append: on_append(message); return;
    case MessageType::AppendResponse: on_append_response(message); return;
    case MessageType::Heartbeat: on_heartbeat(message); return;
    case MessageType::HeartbeatResponse: on_heartbeat_response(message); return;
    case MessageType::InstallSnapshot: on_install_snapshot(message); return;
    case MessageType::TimeoutNow: on_timeout_now(message); return;
  }
}

Result<Proposal> Raft::propose(SharedBytes data) {
  if (role_ != Role::Leader) return Status(ErrorCode::NotLeader, "not the leader");
  if (transfer_target_ != kNoNode) {
    return Status(ErrorCode::Busy, "leadership transfer in progress");
  }
  if (uncommitted_bytes_ + data.size() > config_.uncommitted_bytes_max &&
      uncommitted_bytes_ > 0) {
    return Status(ErrorCode::Busy, "too many uncommitted proposals");
  }
  const uint64_t bytes = data.size();
  append_entries({Entry{term_, Index{0}, EntryType::Normal, std::move(data)}});
  const Proposal proposal{term_, log_.last_index()};
  uncommitted_.emplace_back(proposal.index, bytes);
  uncommitted_bytes_ += bytes;
  after_input();  // Sent by ready(), together with every other proposal made until then.
  return proposal;
}

void Raft::after_input() {
#ifndef NDEBUG
  check_invariants();
#endif
}

bool Raft::has_ready() const {
  if (!storage_error_.is_ok()) return false;  // Stopped: the driver must stop the node.
  if (!messages_.empty() || !read_states_.empty() || read_round_due()) return true;
  if (!log_.unstable_entries().empty() || log_.unstable_snapshot()) return true;
  if (log_.has_next_committed_entries()) return true;
  if (hard_state() != last_hard_state_) return true;
  return SoftState{role_, leader_} != last_soft_state_;
}

Ready Raft::ready() {
  RAFT_ASSERT(!ready_outstanding_);
  // Batching: proposals made since the last Ready leave in one Append per follower, and reads
  // that arrived since then share one quorum round (thesis §6.4).
  if (role_ == Role::Leader) broadcast_append();
  start_read_round_if_needed();
  Ready ready;
  const SoftState soft{role_, leader_};
  if (soft != last_soft_state_) {
    ready.soft_state = soft;
    last_soft_state_ = soft;
  }
  if (hard_state() != last_hard_state_) ready.hard_state = hard_state();
  ready.snapshot = log_.unstable_snapshot();
  ready.entries = log_.unstable_entries();
  ready.messages = std::move(messages_);
  messages_.clear();
  Result<std::vector<Entry>> committed = log_.next_committed_entries(config_.apply_bytes_max);
  if (committed.is_ok()) {
    ready.committed_entries = std::move(committed).value();
  } else {
    on_storage_error(committed.status());
  }
  ready.read_states = std::move(read_states_);
  read_states_.clear();
  ready_outstanding_ = true;
  return ready;
}

void Raft::advance(const Ready& ready) {
  RAFT_ASSERT(ready_outstanding_);
  ready_outstanding_ = false;
  if (ready.hard_state) last_hard_state_ = *ready.hard_state;
  if (ready.snapshot) {
    log_.stable_snapshot_to(ready.snapshot->meta.index);
    log_.set_applied(ready.snapshot->meta.index);
  }
  if (!ready.entries.empty()) {
    const Entry& last = ready.entries.back();
    log_.stable_to(last.index, last.term);
    if (role_ == Role::Leader) leader_entries_stable(last.index);
  }
  if (!ready.committed_entries.empty()) {
    log_.applied_to(ready.committed_entries.back().index);
  }
  after_input();
}

std::vector<ReadState> Raft::replicate_while_persisting() {
  RAFT_ASSERT(ready_outstanding_);
  if (role_ == Role::Leader) broadcast_append();
  start_read_round_if_needed();
  return std::exchange(read_states_, {});
}

std::vector<Message> Raft::take_messages_before_persist() {
  std::vector<Message> early;
  std::vector<Message> later;
  for (Message& message : messages_) {
    (may_send_before_persist(message) ? early : later).push_back(std::move(message));
  }
  messages_ = std::move(later);
  return early;
}

RaftStatus Raft::status() const {
  RaftStatus status{.id = id_,
                    .role = role_,
                    .term = term_,
                    .leader = leader_,
                    .voted_for = voted_for_,
                    .commit_index = log_.committed(),
                    .applied_index = log_.applied(),
                    .first_index = log_.first_index(),
                    .last_index = log_.last_index(),
                    .last_term = log_.last_term(),
                    .conf_state = conf_state_,
                    .transfer_target = transfer_target_,
                    .conf_change_pending =
                        role_ == Role::Leader && pending_conf_index_ > log_.applied(),
                    .read_rounds = role_ == Role::Leader ? read_round_ : 0,
                    .election_elapsed_ticks = election_elapsed_,
                    .randomized_election_ticks = randomized_election_ticks_,
                    .peers = {}};
  if (role_ != Role::Leader) return status;
  for (const auto& [peer, progress] : progress_) {
    if (peer == id_) continue;
    status.peers.push_back(PeerStatus{peer, progress.match_index, progress.next_index,
                                      progress.state, progress.is_learner,
                                      progress.ticks_since_contact, progress.inflights.count()});
  }
  return status;
}

void Raft::check_invariants() const {
  log_.check_invariants();
  RAFT_ASSERT(log_.last_term() <= term_);
  if (role_ == Role::Leader) {
    RAFT_ASSERT(leader_ == id_);
    RAFT_ASSERT(voted_for_ == id_);
    for (const auto& [peer, progress] : progress_) {
      RAFT_ASSERT(progress.match_index < progress.next_index);
      RAFT_ASSERT(progress.match_index <= log_.last_index());
    }
  } else {
    RAFT_ASSERT(leader_ != id_);
    RAFT_ASSERT(pending_reads_.empty());
  }
  if (role_ == Role::Candidate) RAFT_ASSERT(voted_for_ == id_);
}

}  // namespace raftkv::raft
