#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "raft/raft.h"
#include "runtime/node_context.h"
#include "runtime/request.h"
#include "runtime/transport.h"

// Client requests between submit() and their Done: where each one waits and how it ends.
//
//   on the leader:  a write is proposed and waits for the entry at its index to apply (a large
//                   one may first wait for earlier large writes to finish: admit_large_writes);
//                   a read waits for ReadIndex to release it and for the state machine to
//                   catch up;
//   on a follower:  both are forwarded to the leader and wait for its reply;
//   with no leader: they wait (bounded) for one to appear, then go one of the ways above.
//
// How each ends (request.h's outcomes):
//   Ok            the entry at the write's index is the write itself (same term), or the
//                 read was served;
//   NotApplied    another leader's entry took the index; the proposal or forward was refused
//                 or never sent; no leader appeared in time; a large write waited for earlier
//                 ones past its deadline; a read lost its leader;
//   MaybeApplied  the write is in the log but not yet applied at its deadline, or the leader a
//                 forward went to died or was deposed before answering.
// Every request is answered exactly once, on the loop thread. Not thread-safe.
namespace raftkv::runtime {

class Requests {
 public:
  explicit Requests(NodeContext& node);

  // Linearizable: writes through the log, reads after ReadIndex; forwarded by followers.
  void submit(Request request, Done done);
  // A read served from this node's state without asking the leader (possibly stale).
  void submit_local_read(const Request& request, Done done);
  // On the leader: proposes the state machine's maintenance write, if it has one and the
  // previous one was answered (StateMachine::maintenance).
  void maybe_maintain();

  // On the leader: `done` answers the entry just proposed at `proposal` (a membership change)
  // as it answers a client's write: Ok once it applied, NotApplied if another leader's entry
  // took its index, MaybeApplied at the request timeout.
  void track_write(const raft::Proposal& proposal, Done done);

  void on_forward_request(NodeId from, ForwardRequest request);
  void on_forward_reply(ForwardReply reply);
  // The entry was applied; `reply` is the state machine's (meaningful for Normal entries).
  void on_applied(const raft::Entry& entry, std::string reply);
  void on_read_states(const std::vector<raft::ReadState>& read_states);
  // Answers the released reads whose index the state machine has reached.
  void serve_reads();
  void on_role_change(const raft::SoftState& soft);
  void on_peer_disconnected(NodeId peer);
  // With no leader known: answers `done` Ok (empty) once one is, or at `deadline_ms` without
  // one (Ok too: the caller reads the node's status either way). Node::await_leader.
  void await_leader(uint64_t deadline_ms, Done done);
  // Answers the requests past their deadline. Cheap to call often: it rescans at most every
  // twentieth of the request timeout (tens of thousands of requests may be pending).
  void expire();

  [[nodiscard]] size_t pending() const;
  // The large-write budget's state (admit_large_writes), for status(): bytes of the large
  // writes this node proposed as leader and has not answered yet, and how many wait.
  [[nodiscard]] uint64_t large_write_bytes_in_flight() const {
    return large_write_bytes_in_flight_;
  }
  [[nodiscard]] size_t large_writes_waiting() const { return large_writes_waiting_.size(); }

 private:
  struct PendingWrite {
    Term term;
    Done done;
    uint64_t deadline_ms = 0;
    uint64_t started_us = 0;
  };
  struct PendingRead {
    uint64_t id = 0;  // Its ReadIndex request id.
    std::string request;
    Done done;  // Empty once answered (it timed out); dropped when it reaches the front.
    uint64_t deadline_ms = 0;
    std::optional<Index> index;  // Released by ReadIndex: served once this index applied.
  };
  struct WaitingRequest {  // For a leader to be known, or (large writes) for room.
    Request request;
    Done done;
    uint64_t deadline_ms = 0;
    // A follower forwarded it here: if this node stops leading first, it is answered
    // rather than forwarded again (one hop; the follower's own view catches up).
    bool forwarded = false;
  };
  struct PendingForward {
    NodeId leader;  // Where it was sent.
    bool read_only = false;
    Done done;
    uint64_t deadline_ms = 0;
  };

  void dispatch(Request request, Done done, uint64_t deadline_ms, bool forwarded = false);
  void propose(Request request, Done done, uint64_t deadline_ms);
  // Waits for the entry at `proposal` to apply (writes_), answering a stale one there first.
  void track(const raft::Proposal& proposal, Done done, uint64_t deadline_ms);
  // Proposes the waiting large writes that fit within large_write_bytes_in_flight_max,
  // oldest first; each then has a whole request timeout to commit and apply in.
  void admit_large_writes();
  [[nodiscard]] bool is_large_write(const Request& request) const;
  // How long a large write of `bytes` may wait to be proposed, and then take to its answer.
  [[nodiscard]] uint64_t large_write_timeout_ms(uint64_t bytes) const;
  void read(Request request, Done done, uint64_t deadline_ms);
  void forward(NodeId leader, Request request, Done done, uint64_t deadline_ms);
  // Answers a pending write whose entry another leader's replaced (NotApplied).
  void fail_write(std::map<Index, PendingWrite>::iterator write);
  // Answers the forwards sent to leaders `gone` picks, at once rather than at their deadline:
  // those leaders died or were deposed (MaybeApplied for writes, NotApplied for reads).
  void abandon_forwards(const std::function<bool(NodeId leader)>& gone, const std::string& why);

  NodeContext& node_;
  std::map<Index, PendingWrite> writes_;                // By log index.
  // By ReadIndex request id, consecutive from the front: the core releases reads in the order
  // it took them, at non-decreasing indexes, so they are served from the front, in order.
  std::deque<PendingRead> reads_;
  uint64_t next_read_id_ = 1;  // ReadIndex ids are this node's own: a restart starts afresh.
  std::vector<WaitingRequest> waiting_for_leader_;
  struct LeaderWait {
    Done done;
    uint64_t deadline_ms = 0;
  };
  std::vector<LeaderWait> leader_waits_;  // await_leader's callers.
  // On the leader: large writes waiting for earlier ones to be answered, oldest first. None
  // of them is in the log, so none is in doubt. Handed to waiting_for_leader_ if this node
  // stops leading.
  std::deque<WaitingRequest> large_writes_waiting_;
  // Bytes of the large writes this leader proposed that are not yet answered.
  uint64_t large_write_bytes_in_flight_ = 0;
  std::map<uint64_t, PendingForward> forwards_;  // By forward id.
  // Forward ids. Drawn from the node's seed at start, not from 1: the leader may
  // answer a forward of this node's previous life after a quick restart, and that answer must
  // not match a new request that happens to reuse its id (it would answer the wrong request).
  uint64_t next_id_;
  uint64_t next_expiry_sweep_ms_ = 0;
  bool maintenance_in_flight_ = false;
};

}  // namespace raftkv::runtime
