#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>

#include "common/logger.h"
#include "raft/raft.h"
#include "runtime/environment.h"
#include "runtime/membership.h"
#include "runtime/metrics.h"
#include "runtime/node_context.h"
#include "runtime/observer.h"
#include "runtime/options.h"
#include "runtime/request.h"
#include "runtime/requests.h"
#include "runtime/snapshots.h"
#include "runtime/state_machine.h"
#include "runtime/storage.h"
#include "runtime/transport.h"

// One replica: a Raft core, its storage, its transport and a state machine, driven by one
// loop. This is the only driver of the core in the tree: raftkv-server runs it with DiskStorage,
// the asio transport and threads; the simulator with DiskStorage over a simulated disk, a
// simulated network and one deterministic scheduler; an embedding application with its own
// state machine (examples/counter).
//
// The write path, all in node.cc:
//   submit() -> Requests: Raft::propose on the leader, or forward to the leader
//   -> drive(), posted to the end of the loop turn, so the writes read in one turn share a
//      Ready: take it; the leader's Appends leave at once (thesis §10.2.1)
//   -> Storage::write: entries + hard state, then wait_durable on the Sync lane: one fdatasync
//      shared by every writer (group commit: what was proposed during the previous sync goes
//      into this one)
//   -> committed entries already durable here are applied at once and their clients answered;
//      so are this Ready's entries that commit while it syncs (the followers stored them)
//   -> finish_ready(): send the other messages (votes, acknowledgements: only after the sync),
//      apply the rest of the committed entries that arrived in this Ready, release reads,
//      advance the core, and drive again.
// Only one Ready is in flight at a time, so everything proposed meanwhile is batched into the
// next append, the next fsync and one Append per follower. What may leave before a sync
// (heartbeats, a leader's appends to a follower that acked) is sent meanwhile all the same:
// a leader whose sync is slow must not look dead to its followers. A sync still running after
// a tick (a stalled disk) stops the batching: what was proposed and read meanwhile is
// replicated, committed on the followers' copies, applied and answered without this node's
// (within a byte budget); its own copy follows with the next Ready.
//
// Not thread-safe: every method runs on the environment's loop thread.
namespace raftkv::runtime {

// What INFO, /status and the logs show; a copy, safe to hand to other threads.
struct NodeStatus {
  raft::RaftStatus raft;
  std::string leader_client_addr;
  std::map<NodeId, std::string> client_addrs;
  std::string leader_client_tls_addr;             // "": unknown, or the leader has no TLS port.
  std::map<NodeId, std::string> client_tls_addrs;  // Members known to have a TLS client port.
  std::vector<Member> members;  // Voters and learners, by id.
  Index conf_index;             // The membership change applied last (0: bootstrap).
  bool removed = false;         // This node was removed from the cluster; it idles.
  size_t pending_requests = 0;
  // Large writes (NodeOptions::large_write_bytes_min and up): bytes proposed by this node as
  // leader and not yet answered, and how many wait for them to be. Both 0 on an idle node.
  uint64_t large_write_bytes_in_flight = 0;
  size_t large_writes_waiting = 0;
  Index snapshot_index;
  StorageStats storage;
};

class Node final : public PeerInbox {
 public:
  // Every reference must outlive the Node. `observer` may be null.
  Node(NodeOptions options, Environment& env, Storage& storage, StateMachine& state_machine,
       Transport& transport, Logger& logger, Metrics& metrics, Observer* observer = nullptr);
  ~Node() override;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Restores the state machine from the newest snapshot and starts the core over the stored
  // log. Corruption if the snapshot does not restore; InvalidArgument for a bad config.
  [[nodiscard]] Status start();
  // Stops taking input; callbacks still queued in the environment do nothing.
  void stop();
  [[nodiscard]] bool stopped() const { return stopped_; }

  // One logical tick (the environment calls it every options.tick_ms).
  void tick();

  // Linearizable: writes through the log, reads after ReadIndex; on a follower, both are
  // forwarded to the leader. `done` runs exactly once.
  void submit(Request request, Done done);
  // Serves a read from this node's state machine without asking the leader (may be stale).
  void submit_local_read(const Request& request, Done done);
  // Runs `done` (Ok, no reply) once this node knows a leader: at once if it does, otherwise
  // when an election settles, or after a longest election timeout (2 × election_ticks)
  // without one. For a caller that describes the cluster (CLUSTER SLOTS) and would rather
  // wait out a short election than answer that no leader is known.
  void await_leader(Done done);
  // Hands leadership to `target` (thesis §3.10); NotLeader when this node does not lead,
  // InvalidArgument for a target that is not a voter, Busy while a transfer runs.
  [[nodiscard]] Status transfer_leadership(NodeId target);
  // Changes the membership (membership.h): on the leader, checks the request, proposes it and
  // calls `done` once it applied (ok). Errors: InvalidArgument (the request is wrong; nothing
  // changed), NotLeader, Busy (a change is pending, the leader has not yet committed an entry
  // of its term, or a learner is too far behind: retry), Unavailable (the change may or may
  // not have been applied: its leader lost office or it did not apply in time).
  void change_membership(const MemberChange& change, std::function<void(Status)> done);
  // Where this node serves clients, and over TLS ("": no TLS port), announced in status().
  void set_client_addr(std::string client_addr, std::string client_tls_addr = "");

  [[nodiscard]] NodeStatus status() const;
  // The core, read-only (tests, the simulator's checkers). Requires start().
  [[nodiscard]] const raft::Raft& core() const { return *node_.core; }

  // PeerInbox.
  void on_message(NodeId from, raft::Message message) override;
  void on_forward_request(NodeId from, ForwardRequest request) override;
  void on_forward_reply(NodeId from, ForwardReply reply) override;
  void on_snapshot_chunk(NodeId from, SnapshotChunk chunk) override;
  void on_snapshot_ack(NodeId from, const SnapshotAck& ack) override;
  void on_batch_end() override;
  void on_peer_unreachable(NodeId peer) override;
  void on_peer_disconnected(NodeId peer) override;
  void on_peer_hello(NodeId peer, const std::string& client_addr,
                     const std::string& client_tls_addr) override;
  void on_removed_notice(NodeId peer) override;

 private:
  // A Ready between drive() and finish_ready().
  struct InFlight {
    raft::Ready ready;
    Status saved;  // Set by the Sync lane's job.
    uint64_t taken_us = 0;  // When drive() took the Ready.
    uint64_t sync_started_us = 0;
    uint64_t applied_after_bytes = 0;  // Entries after ready.entries applied while it synced.
  };

  void drive();
  void drive_soon();
  void send(const raft::Message& message);
  void persist(const std::shared_ptr<InFlight>& flight);
  [[nodiscard]] bool sync_on_loop(const raft::Ready& ready) const;
  void on_durable(const std::shared_ptr<InFlight>& flight);
  void finish_ready(const std::shared_ptr<InFlight>& flight);
  void apply_committed_in_flight(InFlight& flight, bool slow);
  [[nodiscard]] bool disk_slow(const InFlight& flight) const;
  [[nodiscard]] bool persist_commit_through(Index index);
  void apply_entries(std::span<const raft::Entry> entries);
  void on_role_change(const raft::SoftState& soft);
  void count_commits();
  void log_replay(Index snapshot_index, uint64_t took_us);
  void release_cached_entries();
  void fail_stop(const std::string& why);

  const NodeOptions options_;
  Observer no_observer_;
  NodeContext node_;
  Requests requests_;
  Membership membership_;  // Before snapshots_, which holds a reference to it.
  Snapshots snapshots_;
  Prng prng_;  // The core's election jitter.
  bool stopped_ = false;
  std::shared_ptr<InFlight> in_flight_;  // Only one Ready is in flight at a time.
  bool drive_posted_ = false;
  // The hard state last handed to storage. A Ready whose hard state changes only the commit
  // index is not worth a sync of its own; a membership change's commit is
  // (persist_commit_through).
  Term persisted_term_;
  NodeId persisted_vote_ = kNoNode;
  Index persisted_commit_;
  NodeId last_known_leader_ = kNoNode;  // For Metrics::leader_changes.
  Index last_commit_;                   // For Metrics::entries_committed.
};

}  // namespace raftkv::runtime
