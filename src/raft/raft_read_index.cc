#include "raft/raft.h"

// Linearizable reads without writing to the log (Raft thesis §6.4, "ReadIndex").
//
// A read arriving at the leader remembers the commit index at that moment. It is released once
// (1) the leader has committed an entry of its own term (so that commit index is current), and
// (2) a quorum acknowledged a heartbeat round started after the read arrived, proving that no
// newer leader existed when the read was taken. All reads queued between two Readies share one
// round, and at most one round is in flight: reads arriving meanwhile wait for the next, which
// starts once a quorum acknowledged the current one. Under load a round then serves every read
// of a round-trip, not those of one loop turn: at 256 clients, rounds had served 2.4 reads each,
// and their heartbeats and acknowledgements cost the leader about as much as the reads.

namespace raftkv::raft {

Status Raft::read_index(uint64_t request_id) {
  if (role_ != Role::Leader) return Status(ErrorCode::NotLeader, "not the leader");
  if (!committed_in_current_term()) {
    reads_before_commit_.push_back(request_id);  // Queued by maybe_commit() once it commits.
  } else {
    queue_read(request_id);
  }
  after_input();
  return Status::ok();
}

bool Raft::committed_in_current_term() const {
  return log_.term_or_zero(log_.committed()) == term_;
}

void Raft::queue_read(uint64_t request_id) {
  RAFT_ASSERT(role_ == Role::Leader);
  RAFT_ASSERT(committed_in_current_term());
  if (quorum_.is_sole_voter(id_)) {  // Nobody else could have been elected.
    read_states_.push_back(ReadState{log_.committed(), request_id});
    return;
  }
  pending_reads_.push_back(PendingRead{request_id, log_.committed(), read_round_ + 1});
  read_round_wanted_ = true;
}

bool Raft::read_round_in_flight() const {
  if (read_round_ == 0) return false;
  return !quorum_.is_quorum([&](NodeId id) {
    auto it = progress_.find(id);
    return it != progress_.end() && it->second.read_round_acked >= read_round_;
  });
}

bool Raft::read_round_due() const { return read_round_wanted_ && !read_round_in_flight(); }

void Raft::start_read_round_if_needed() {
  // An unacknowledged round is resent with every heartbeat, so waiting for it cannot stall:
  // once a quorum answers, the reads queued behind it get their own round.
  if (!read_round_due()) return;
  read_round_wanted_ = false;
  if (role_ != Role::Leader) return;
  ++read_round_;
  progress_.at(id_).read_round_acked = read_round_;
  broadcast_heartbeat();
}

void Raft::on_read_round_acked(NodeId peer, uint64_t round) {
  RAFT_ASSERT(role_ == Role::Leader);
  Progress& progress = progress_.at(peer);
  // Rounds count from 1 within a term; an echo above ours came from a bug or a forgery.
  if (round > read_round_) return;
  progress.read_round_acked = std::max(progress.read_round_acked, round);
  release_confirmed_reads();
}

void Raft::release_confirmed_reads() {
  size_t released = 0;
  while (released < pending_reads_.size()) {
    const uint64_t round = pending_reads_[released].round;
    const bool confirmed = quorum_.is_quorum([&](NodeId id) {
      auto it = progress_.find(id);
      return it != progress_.end() && it->second.read_round_acked >= round;
    });
    if (!confirmed) break;
    for (; released < pending_reads_.size() && pending_reads_[released].round == round;
         ++released) {
      const PendingRead& read = pending_reads_[released];
      read_states_.push_back(ReadState{read.index, read.request_id});
    }
  }
  pending_reads_.erase(pending_reads_.begin(),
                       pending_reads_.begin() + static_cast<ptrdiff_t>(released));
}

}  // namespace raftkv::raft
