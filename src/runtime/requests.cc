#include "runtime/requests.h"

#include <algorithm>
#include <utility>

#include "common/prng.h"

namespace raftkv::runtime {
namespace {


constexpr const char* kOverwritten =
    "leadership changed before the write committed; it was not applied";

Response no_leader() { return Response::not_applied("no leader"); }

}  // namespace

Requests::Requests(NodeContext& node)
    : node_(node), next_id_(Prng(node.options.seed ^ 0xf0f0f0f0f0f0f0f0ULL).next() >> 1) {}

// ---- Entry points ----

void Requests::submit(Request request, Done done) {
  dispatch(std::move(request), std::move(done),
           node_.now_ms() + node_.options.request_timeout_ms);
}

void Requests::submit_local_read(const Request& request, Done done) {
  done(Response::ok(node_.state_machine.query(request.bytes, node_.env.wall_ms())));
}

void Requests::maybe_maintain() {
  if (maintenance_in_flight_ || node_.core->leader() != node_.id()) return;
  std::optional<std::string> write = node_.state_machine.maintenance(node_.env.wall_ms());
  if (!write) return;
  maintenance_in_flight_ = true;
  // The answer comes from this object (it owns every pending request), so `this` is alive.
  propose(Request{std::move(*write), false},
          [this](const Response&) { maintenance_in_flight_ = false; },
          node_.now_ms() + node_.options.request_timeout_ms);
}

void Requests::dispatch(Request request, Done done, uint64_t deadline_ms, bool forwarded) {
  const NodeId leader = node_.core->leader();
  if (leader == node_.id()) {
    if (request.read_only) {
      read(std::move(request), std::move(done), deadline_ms);
    } else if (is_large_write(request)) {
      // It may wait for as long as it may then take: the writes ahead of it are as large.
      const uint64_t wait_until_ms =
          std::max(deadline_ms, node_.now_ms() + large_write_timeout_ms(request.bytes.size()));
      large_writes_waiting_.push_back(
          {std::move(request), std::move(done), wait_until_ms, forwarded});
      admit_large_writes();
    } else {
      propose(std::move(request), std::move(done), deadline_ms);
    }
  } else if (leader != kNoNode) {
    forward(leader, std::move(request), std::move(done), deadline_ms);
  } else {
    // No leader now: wait (bounded) for one, rather than fail during a short election.
    waiting_for_leader_.push_back({std::move(request), std::move(done), deadline_ms});
  }
}

void Requests::propose(Request request, Done done, uint64_t deadline_ms) {
  if (writes_.size() >= node_.options.pending_requests_max) {
    done(Response::not_applied("busy: too many requests in flight"));
    return;
  }
  // The state machine may stamp the leader's clock into the entry: the only time it acts on.
  std::string entry = node_.state_machine.to_entry(std::move(request.bytes), node_.env.wall_ms());
  if (entry.size() > node_.options.entry_bytes_max) {
    done(Response::not_applied("request of " + std::to_string(entry.size()) +
                               " bytes is larger than a log entry may be (" +
                               std::to_string(node_.options.entry_bytes_max) + ")"));
    return;
  }
  Result<raft::Proposal> proposal = node_.core->propose(std::move(entry));
  if (!proposal.is_ok()) {
    done(proposal.status().code() == ErrorCode::Busy
             ? Response::not_applied("busy: " + proposal.status().message())
             : no_leader());
    return;
  }
  node_.metrics.proposals.fetch_add(1, std::memory_order_relaxed);
  track(proposal.value(), std::move(done), deadline_ms);
}

bool Requests::is_large_write(const Request& request) const {
  return !request.read_only && request.bytes.size() >= node_.options.large_write_bytes_min;
}

uint64_t Requests::large_write_timeout_ms(uint64_t bytes) const {
  return node_.options.request_timeout_ms +
         (bytes * node_.options.large_write_timeout_ms_per_mib >> 20);
}

void Requests::admit_large_writes() {
  while (!large_writes_waiting_.empty() && node_.core->leader() == node_.id()) {
    const uint64_t bytes = large_writes_waiting_.front().request.bytes.size();
    RAFT_ASSERT(bytes >= node_.options.large_write_bytes_min);
    if (large_write_bytes_in_flight_ > 0 &&
        large_write_bytes_in_flight_ + bytes > node_.options.large_write_bytes_in_flight_max) {
      return;
    }
    WaitingRequest admitted = std::move(large_writes_waiting_.front());
    large_writes_waiting_.pop_front();
    large_write_bytes_in_flight_ += bytes;
    // However it ends (applied, refused, overwritten, timed out), its bytes leave the budget.
    propose(std::move(admitted.request),
            [this, bytes, done = std::move(admitted.done)](Response response) {
              RAFT_ASSERT(large_write_bytes_in_flight_ >= bytes);
              large_write_bytes_in_flight_ -= bytes;
              done(std::move(response));
            },
            node_.now_ms() + large_write_timeout_ms(bytes));
  }
}

void Requests::track_write(const raft::Proposal& proposal, Done done) {
  track(proposal, std::move(done), node_.now_ms() + node_.options.request_timeout_ms);
}

void Requests::track(const raft::Proposal& proposal, Done done, uint64_t deadline_ms) {
  if (auto stale = writes_.find(proposal.index); stale != writes_.end()) {
    // Ours from an earlier term as leader, never committed: this leader's log now holds its new
    // entry there, and a leader holds every committed entry (Raft §5.4). Regression: a new
    // proposal at that index was dropped and its client never answered (simulator
    // kv_disk_faults seed 1215).
    RAFT_ASSERT(stale->second.term != proposal.term);
    fail_write(stale);
  }
  writes_.emplace(proposal.index,
                  PendingWrite{proposal.term, std::move(done), deadline_ms, node_.env.now_us()});
  // As for reads: the writes that arrive in this loop turn leave in one Ready, one WAL write
  // and one Append per follower, rather than the first alone and the rest a sync later.
  node_.drive_soon();
}

void Requests::read(Request request, Done done, uint64_t deadline_ms) {
  const uint64_t id = next_read_id_;
  if (Status status = node_.core->read_index(id); !status.is_ok()) {
    done(no_leader());
    return;
  }
  ++next_read_id_;  // Only ids the core took: reads_ stays consecutive.
  reads_.push_back(PendingRead{id, std::move(request.bytes), std::move(done), deadline_ms, {}});
  // Reads arriving together share one quorum round: the Ready waits for this loop turn.
  node_.drive_soon();
}

void Requests::forward(NodeId leader, Request request, Done done, uint64_t deadline_ms) {
  const uint64_t id = next_id_++;
  // The leader may hold a large write back for up to large_write_timeout_ms before proposing
  // it, then give it as long again (dispatch, admit_large_writes): wait for its answer, which
  // says whether the write was applied, rather than end in doubt first. Half a request timeout
  // more covers the trip to the leader and back.
  if (is_large_write(request)) {
    deadline_ms = std::max(deadline_ms, node_.now_ms() +
                                            2 * large_write_timeout_ms(request.bytes.size()) +
                                            node_.options.request_timeout_ms / 2);
  }
  const bool read_only = request.read_only;
  if (!node_.transport.forward(leader, ForwardRequest{id, request})) {
    // Not sent, so not ambiguous: wait for a leader we can reach (on_role_change).
    waiting_for_leader_.push_back({std::move(request), std::move(done), deadline_ms});
    return;
  }
  forwards_.emplace(id, PendingForward{leader, read_only, std::move(done), deadline_ms});
}

void Requests::on_forward_request(NodeId from, ForwardRequest request) {
  // The leader answers; if leadership moved on meanwhile, the requester gets a retryable
  // error rather than a second hop (its own view of the leader will catch up).
  if (node_.core->leader() != node_.id()) {
    node_.transport.reply(from, {request.id, Response::not_applied("leadership moved; retry")});
    return;
  }
  const uint64_t id = request.id;
  dispatch(std::move(request.request),
           [this, from, id](Response response) {
             node_.transport.reply(from, {id, std::move(response)});
           },
           node_.now_ms() + node_.options.request_timeout_ms, /*forwarded=*/true);
}

void Requests::on_forward_reply(ForwardReply reply) {
  auto it = forwards_.find(reply.id);
  if (it == forwards_.end()) return;  // Timed out already.
  Done done = std::move(it->second.done);
  forwards_.erase(it);
  done(std::move(reply.response));
}

// ---- Completion ----

void Requests::on_applied(const raft::Entry& entry, std::string reply) {
  auto pending = writes_.find(entry.index);
  if (pending == writes_.end()) return;
  // Another leader's entry took this index: ours was overwritten and is gone for good.
  if (pending->second.term != entry.term) return fail_write(pending);
  PendingWrite write = std::move(pending->second);
  writes_.erase(pending);
  node_.metrics.commit_latency.observe(node_.env.now_us() - write.started_us);
  write.done(Response::ok(std::move(reply)));
}

void Requests::fail_write(std::map<Index, PendingWrite>::iterator write) {
  node_.metrics.proposals_failed.fetch_add(1, std::memory_order_relaxed);
  Done done = std::move(write->second.done);
  writes_.erase(write);
  done(Response::not_applied(kOverwritten));
}

void Requests::on_read_states(const std::vector<raft::ReadState>& read_states) {
  for (const raft::ReadState& read_state : read_states) {
    // Not ours (any more): a read of an earlier leadership, answered when it ended.
    if (reads_.empty() || read_state.request_id < reads_.front().id) continue;
    const uint64_t position = read_state.request_id - reads_.front().id;
    if (position < reads_.size()) reads_[position].index = read_state.index;
  }
}

void Requests::serve_reads() {
  const Index applied = node_.state_machine.applied_index();
  const uint64_t wall_ms = node_.env.wall_ms();  // One moment for the reads served together.
  std::vector<PendingRead> ready;
  for (; !reads_.empty(); reads_.pop_front()) {
    PendingRead& front = reads_.front();
    if (!front.done) continue;  // Timed out: answered already.
    if (!front.index || *front.index > applied) break;
    ready.push_back(std::move(front));
  }
  if (ready.empty()) return;
  std::vector<std::string_view> requests;
  requests.reserve(ready.size());
  for (const PendingRead& read : ready) requests.push_back(read.request);
  node_.state_machine.prefetch(requests);
  for (PendingRead& read : ready) {
    node_.metrics.reads.fetch_add(1, std::memory_order_relaxed);
    read.done(Response::ok(node_.state_machine.query(read.request, wall_ms)));
  }
}

void Requests::on_role_change(const raft::SoftState& soft) {
  if (soft.role != raft::Role::Leader) {
    // Reads in flight cannot be confirmed by a deposed leader; they are safe to retry.
    for (PendingRead& read : std::exchange(reads_, {})) {
      if (read.done) read.done(Response::not_applied("leadership changed during the read"));
    }
    // Not proposed, so not in doubt: they go to the next leader like any request, except
    // those a follower forwarded here, which are answered as when they arrive at a node that
    // no longer leads (on_forward_request): no second hop, whose answer nobody may wait for.
    for (WaitingRequest& request : large_writes_waiting_) {
      if (request.forwarded) {
        request.done(Response::not_applied("leadership moved; retry"));
      } else {
        waiting_for_leader_.push_back(std::move(request));
      }
    }
    large_writes_waiting_.clear();
    // Writes stay pending: they may still commit under the new leader, and the entry applied
    // at their index tells which (on_applied).
  }
  abandon_forwards([&soft](NodeId leader) { return leader != soft.leader; }, "leadership moved");
  if (soft.leader == kNoNode) return;
  for (LeaderWait& wait : std::exchange(leader_waits_, {})) wait.done(Response::ok(""));
  std::vector<WaitingRequest> waiting = std::move(waiting_for_leader_);
  waiting_for_leader_.clear();
  for (WaitingRequest& request : waiting) {
    dispatch(std::move(request.request), std::move(request.done), request.deadline_ms);
  }
}

void Requests::await_leader(uint64_t deadline_ms, Done done) {
  leader_waits_.push_back({std::move(done), deadline_ms});
}

void Requests::on_peer_disconnected(NodeId peer) {
  abandon_forwards([peer](NodeId leader) { return leader == peer; },
                   "the leader's connection closed");
}

void Requests::abandon_forwards(const std::function<bool(NodeId leader)>& gone,
                                const std::string& why) {
  std::erase_if(forwards_, [&](auto& item) {
    const PendingForward& forward = item.second;
    if (!gone(forward.leader)) return false;
    // A read is never applied, so losing its leader leaves nothing in doubt.
    forward.done(forward.read_only
                     ? Response::not_applied(why)
                     : Response::maybe_applied(why + "; the write may or may not have been "
                                                     "applied"));
    return true;
  });
}

// ---- Deadlines ----

void Requests::expire() {
  // Every tick: the large writes answered since the last one make room for the next.
  admit_large_writes();
  const uint64_t now = node_.now_ms();
  if (now < next_expiry_sweep_ms_) return;
  // A twentieth of the timeout: deadlines are kept within 5% (100 ms for the server's 2 s),
  // without rescanning every pending request on every tick.
  next_expiry_sweep_ms_ = now + std::max<uint64_t>(1, node_.options.request_timeout_ms / 20);
  for (auto it = writes_.begin(); it != writes_.end();) {
    if (it->second.deadline_ms > now) {
      ++it;
      continue;
    }
    node_.metrics.proposals_failed.fetch_add(1, std::memory_order_relaxed);
    it->second.done(
        Response::maybe_applied("timed out; the write may or may not have been applied"));
    it = writes_.erase(it);
  }
  std::erase_if(forwards_, [&](auto& item) {
    const PendingForward& forward = item.second;
    if (forward.deadline_ms > now) return false;
    const std::string why = "the leader did not answer in time";
    forward.done(forward.read_only
                     ? Response::not_applied(why)
                     : Response::maybe_applied(why + "; the write may or may not have been "
                                                     "applied"));
    return true;
  });
  std::erase_if(waiting_for_leader_, [&](WaitingRequest& request) {
    if (request.deadline_ms > now) return false;
    request.done(no_leader());
    return true;
  });
  std::erase_if(leader_waits_, [&](LeaderWait& wait) {
    if (wait.deadline_ms > now) return false;
    wait.done(Response::ok(""));
    return true;
  });
  std::erase_if(large_writes_waiting_, [&](WaitingRequest& request) {
    if (request.deadline_ms > now) return false;
    request.done(Response::not_applied("busy: the large writes ahead of it did not finish in "
                                       "time; it was not applied"));
    return true;
  });
  // Reads time out too: a leader that cannot reach a quorum never releases them.
  std::vector<Done> unconfirmed;  // Answered once reads_ is consistent: a Done may submit.
  for (PendingRead& read : reads_) {
    if (read.done && read.deadline_ms <= now) unconfirmed.push_back(std::exchange(read.done, {}));
  }
  while (!reads_.empty() && !reads_.front().done) reads_.pop_front();
  for (Done& done : unconfirmed) {
    done(Response::not_applied("the read could not be confirmed in time"));
  }
  node_.metrics.pending_requests.store(pending(), std::memory_order_relaxed);
}

size_t Requests::pending() const {
  const auto reads = static_cast<size_t>(std::ranges::count_if(
      reads_, [](const PendingRead& read) { return static_cast<bool>(read.done); }));
  return writes_.size() + reads + forwards_.size() + waiting_for_leader_.size() +
         large_writes_waiting_.size();
}

}  // namespace raftkv::runtime
