#include <algorithm>

#include "raft/raft.h"

// Log replication and commitment (Raft §5.3, §5.4.2), with etcd-style flow control: per-peer
// probe/replicate/snapshot states, a bounded pipelining window, and fast backtracking.
//
// The commit index reaches followers on the next Append or Heartbeat rather than by an extra
// broadcast when it advances: under load Appends flow anyway, and when idle the heartbeat
// follows within heartbeat_ticks. That halves the messages per write in a quiet cluster.

namespace raftkv::raft {

void Raft::append_entries(std::vector<Entry> entries) {
  RAFT_ASSERT(role_ == Role::Leader);
  Index index = log_.last_index();
  for (Entry& entry : entries) {
    entry.term = term_;
    entry.index = ++index;
  }
  log_.append(std::move(entries));
  // The leader's own copy counts toward a quorum only once synced: see leader_entries_stable().
}

void Raft::leader_entries_stable(Index last_stable) {
  RAFT_ASSERT(role_ == Role::Leader);
  progress_.at(id_).maybe_update(last_stable);
  maybe_commit();
}

bool Raft::send_append(NodeId peer, bool send_if_empty) {
  Progress& progress = progress_.at(peer);
  if (progress.is_paused()) return false;
  const Index prev_index = progress.next_index - 1;
  Result<Term> prev_term = log_.term(prev_index);
  Result<std::vector<Entry>> entries =
      log_.entries_from(progress.next_index, config_.message_bytes_max);
  if (!entries.is_ok() && entries.status().code() != ErrorCode::NotFound) {
    on_storage_error(entries.status());  // Read back damaged: send nothing.
    return false;
  }
  if (!prev_term.is_ok() || !entries.is_ok()) {
    return send_snapshot(peer);  // What the peer needs was compacted away.
  }
  if (entries.value().empty() && !send_if_empty) return false;
  uint64_t bytes = 0;
  for (const Entry& entry : entries.value()) bytes += entry.size_bytes();
  const bool has_entries = !entries.value().empty();
  const Index last_sent = has_entries ? entries.value().back().index : prev_index;
  progress.sent_append(last_sent, bytes, has_entries);
  send(Message{.type = MessageType::Append,
               .to = peer,
               .log_term = prev_term.value(),
               .index = prev_index,
               .entries = std::move(entries).value(),
               .commit = log_.committed()});
  return true;
}

void Raft::broadcast_append() {
  for (const auto& [peer, progress] : progress_) {
    if (peer != id_) send_append(peer, /*send_if_empty=*/false);
  }
}

void Raft::send_heartbeat(NodeId peer) {
  // Never tell a follower to commit past what it is known to hold: its log beyond the match
  // may still differ from ours.
  const Index commit = std::min(progress_.at(peer).match_index, log_.committed());
  send(Message{.type = MessageType::Heartbeat,
               .to = peer,
               .commit = commit,
               .read_round = read_round_});
}

void Raft::broadcast_heartbeat() {
  log(LogLevel::Debug, "heartbeat to followers (commit ", log_.committed(), ", read round ",
      read_round_, ")");
  for (const auto& [peer, progress] : progress_) {
    if (peer != id_) send_heartbeat(peer);
  }
}

void Raft::on_append(const Message& message) {
  if (role_ != Role::Follower) become_follower(term_, message.from);  // Raft §5.2: a leader won.
  set_leader(message.from);
  election_elapsed_ = 0;
  if (message.index < log_.committed()) {
    // Everything up to our commit index matches the leader's log already (Raft §5.4).
    send(Message{.type = MessageType::AppendResponse, .to = message.from,
                 .index = log_.committed()});
    return;
  }
  Index last_new;
  switch (log_.maybe_append(message.index, message.log_term, message.entries, &last_new)) {
    case RaftLog::AppendOutcome::Appended:
      log_.commit_to(std::min(message.commit, last_new));
      send(Message{.type = MessageType::AppendResponse, .to = message.from, .index = last_new});
      return;
    case RaftLog::AppendOutcome::Mismatch: {
      // Guess where our logs could last agree, skipping whole terms that cannot match.
      const Index probe = std::min(message.index, log_.last_index());
      const auto [hint_index, hint_term] = log_.find_conflict_by_term(probe, message.log_term);
      log(LogLevel::Debug, "rejected Append at index ", message.index, " (term ",
          message.log_term, "): hint index ", hint_index, " term ", hint_term);
      send(Message{.type = MessageType::AppendResponse, .to = message.from,
                   .index = message.index, .reject = true, .hint_index = hint_index,
                   .hint_term = hint_term});
      return;
    }
    case RaftLog::AppendOutcome::ConflictsWithCommitted:
      log(LogLevel::Error, "refused Append from node ", message.from,
          ": it contradicts committed entries (commit index ", log_.committed(), ")");
      return;
  }
}

void Raft::on_append_response(const Message& message) {
  if (role_ != Role::Leader) return;
  Progress& progress = progress_.at(message.from);
  progress.recent_active = true;
  progress.ticks_since_contact = 0;
  if (message.reject) {
    Index next_probe = message.hint_index;
    if (message.hint_term > Term{0}) {
      next_probe = log_.find_conflict_by_term(message.hint_index, message.hint_term).first;
    }
    if (!progress.maybe_decrease_to(message.index, next_probe)) return;  // Stale rejection.
    if (progress.state == ProgressState::Replicate) progress.become_probe();
    send_append(message.from, /*send_if_empty=*/true);
    return;
  }
  if (!progress.maybe_update(message.index)) return;  // A duplicate or reordered reply.
  on_match_advanced(message.from, progress);
}

void Raft::on_match_advanced(NodeId peer, Progress& progress) {
  switch (progress.state) {
    case ProgressState::Probe: progress.become_replicate(); break;
    case ProgressState::Snapshot:
      if (progress.match_index >= progress.pending_snapshot) {
        progress.become_probe();
        progress.become_replicate();
      }
      break;
    case ProgressState::Replicate: progress.inflights.free_up_to(progress.match_index); break;
  }
  maybe_commit();
  // Keep the pipeline full: send until the window closes or the peer has everything, but no
  // more than appends_per_ack_max messages for this acknowledgement (bounds one step's work).
  for (uint32_t sent = 0; sent < config_.appends_per_ack_max; ++sent) {
    if (!send_append(peer, /*send_if_empty=*/false)) break;
  }
  maybe_send_timeout_now(peer);
}

void Raft::on_heartbeat(const Message& message) {
  if (role_ != Role::Follower) become_follower(term_, message.from);
  set_leader(message.from);
  election_elapsed_ = 0;
  log(LogLevel::Debug, "heartbeat from leader ", message.from, " (commit ", message.commit, ")");
  log_.commit_to(std::min(message.commit, log_.last_index()));
  // Our commit index tells the leader a prefix it may count as matched: committed entries are
  // the leader's too (Leader Completeness). It recovers a lost acknowledgement, such as the
  // one for an installed snapshot.
  send(Message{.type = MessageType::HeartbeatResponse, .to = message.from,
               .commit = log_.committed(), .read_round = message.read_round});
}

void Raft::on_heartbeat_response(const Message& message) {
  if (role_ != Role::Leader) return;
  Progress& progress = progress_.at(message.from);
  progress.recent_active = true;
  progress.ticks_since_contact = 0;
  progress.probe_sent = false;  // A probe lost on the way is retried once per heartbeat.
  on_read_round_acked(message.from, message.read_round);
  if (message.commit <= log_.last_index() && progress.maybe_update(message.commit)) {
    on_match_advanced(message.from, progress);
  } else if (progress.match_index < log_.last_index()) {
    // Even an empty Append probes: its rejection tells where the follower's log really ends.
    send_append(message.from, /*send_if_empty=*/true);
  }
}

bool Raft::maybe_commit() {
  const Index quorum_index = quorum_.committed_index([&](NodeId id) {
    auto it = progress_.find(id);
    return it == progress_.end() ? Index{0} : it->second.match_index;
  });
  if (quorum_index <= log_.committed()) return false;
  // Raft §5.4.2 (Figure 8): count replicas only for an entry of our own term; earlier entries
  // commit indirectly with it.
  if (log_.term_or_zero(quorum_index) != term_) return false;
  log_.commit_to(quorum_index);
  forget_committed_proposals();
  if (!reads_before_commit_.empty()) {
    std::vector<uint64_t> waiting = std::move(reads_before_commit_);
    reads_before_commit_.clear();
    for (uint64_t request_id : waiting) queue_read(request_id);
  }
  return true;
}

void Raft::forget_committed_proposals() {
  while (!uncommitted_.empty() && uncommitted_.front().first <= log_.committed()) {
    uncommitted_bytes_ -= uncommitted_.front().second;
    uncommitted_.pop_front();
  }
}

}  // namespace raftkv::raft
