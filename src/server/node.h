#pragma once

#include <asio.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/logger.h"
#include "common/prng.h"
#include "kv/command.h"
#include "kv/reply.h"
#include "kv/state_machine.h"
#include "net/peer_transport.h"
#include "raft/raft.h"
#include "server/event_feed.h"
#include "server/metrics.h"
#include "server/snapshot_policy.h"
#include "server/snapshot_transfer.h"
#include "storage/disk_storage.h"

// The node runtime: one Raft core, its DiskStorage, the peer transport and the key-value state
// machine, driven from one asio thread. The whole write path is in this file's .cc:
//
//   client command -> submit() -> Raft::propose (the leader) or forward to the leader
//   -> drive(): take a Ready; the leader's Appends leave at once (thesis §10.2.1)
//   -> DiskStorage::save_async: entries + hard state, one fdatasync shared by every writer
//      (group commit: what was proposed during the previous sync goes into this one)
//   -> committed entries already durable here are applied at once and their clients answered
//   -> finish_ready(): send the other messages (votes, acknowledgements: only after the sync),
//      apply the committed entries that arrived in this Ready, release reads, advance the
//      core, and drive again.
//
// Only one Ready is in flight at a time, so everything proposed meanwhile is batched into the
// next append, the next fsync and one Append per follower.
//
// Not thread-safe: every method runs on the io_context's thread, except that DiskStorage calls
// back from its sync thread, which only posts to the io thread.
namespace raftkv::server {

struct NodeOptions {
  NodeId id;
  std::vector<net::PeerAddress> peers;  // Every voter, self included.
  uint64_t cluster_id = 0;
  std::string client_addr;
  uint32_t tick_ms = 10;
  uint32_t heartbeat_ms = 100;
  uint32_t election_ms = 1000;
  // When the state machine is snapshotted (see SnapshotPolicy); the log keeps
  // snapshot_keep_entries behind the snapshot for followers that are slightly behind.
  SnapshotPolicyOptions snapshot_policy;
  uint64_t snapshot_keep_entries = 10'000;
  SnapshotTransferOptions snapshot_transfer;  // InstallSnapshot chunk size and resend timing.
  // Client writes waiting for commit, at most; past it new writes get "-TRYAGAIN busy".
  size_t pending_requests_max = 50'000;
  // How long a request waits for a leader to appear, for the leader to answer a forward, or
  // for its entry to commit, before a retryable error.
  uint32_t request_timeout_ms = 2000;
  // Told what happens (the web view's EventFeed); outlives the Node. None if null.
  Observer* observer = nullptr;
};

// What INFO, /status and the logs show; a copy, safe to hand to other threads.
struct NodeStatus {
  raft::RaftStatus raft;
  std::string leader_client_addr;
  std::map<NodeId, std::string> client_addrs;
  std::map<NodeId, net::PeerCounters> peers;
  size_t pending_requests = 0;
};

class Node final : public net::TransportHandler {
 public:
  // The RESP-encoded reply to one client command.
  using Done = std::function<void(std::string reply)>;

  Node(asio::io_context& io, NodeOptions options, std::unique_ptr<storage::DiskStorage> storage,
       Logger& logger, Metrics& metrics);
  ~Node() override;

  // Restores the state machine from the newest snapshot, starts the core, the transport and the
  // tick timer. IoError if the peer port cannot be bound.
  [[nodiscard]] Status start();
  void stop();

  // Runs a key-value command with linearizable semantics: writes through the log, reads after
  // ReadIndex; on a follower, both are forwarded to the leader. `done` runs exactly once.
  void submit(kv::Command command, Done done);
  // Serves a read from this node's state machine without asking the leader (may be stale).
  void submit_stale_read(const kv::Command& command, Done done);

  [[nodiscard]] NodeStatus status() const;

  // net::TransportHandler.
  void on_peer_batch(NodeId from, pb::PeerBatch& batch) override;
  void on_peer_unreachable(NodeId peer) override;
  void on_peer_hello(NodeId peer, const std::string& client_addr) override;
  void on_peer_disconnected(NodeId peer) override;

 private:
  struct PendingWrite {
    Term term;
    Done done;
    uint64_t deadline_ms;
    uint64_t started_us;
  };
  struct PendingRead {
    kv::Command command;
    Done done;
    uint64_t deadline_ms;
  };
  struct WaitingRequest {  // Waiting for a leader to be known.
    kv::Command command;
    Done done;
    uint64_t deadline_ms;
  };
  struct PendingForward {
    NodeId leader;  // Where it was sent.
    Done done;
    uint64_t deadline_ms;
  };

  void dispatch(kv::Command command, Done done, uint64_t deadline_ms);
  void propose(kv::Command command, Done done, uint64_t deadline_ms);
  void read(kv::Command command, Done done, uint64_t deadline_ms);
  void forward(NodeId leader, kv::Command command, Done done, uint64_t deadline_ms);
  void on_forward_request(NodeId from, uint64_t request_id, const std::string& bytes);
  // Answers the forwards sent to the leaders `gone` picks at once (ambiguous: they may have
  // applied them) rather than at their deadline: those leaders died or were deposed.
  void abandon_forwards(const std::function<bool(NodeId leader)>& gone, const std::string& why);
  // Every message of the core leaves here: InstallSnapshot is streamed, the rest queued.
  void send(const raft::Message& message);
  void on_snapshot_chunk(NodeId from, const pb::SnapshotChunk& chunk);

  void schedule_tick();
  void on_tick();
  void expire_requests();
  void drive();
  void drive_soon();  // drive() once the handlers ready now have run.
  // A Ready between drive() and finish_ready(): its first `applied_early` committed entries
  // were applied before its sync (they were durable already).
  struct InFlight {
    raft::Ready ready;
    size_t applied_early = 0;
    uint64_t started_us = 0;
  };
  static constexpr size_t kInlineSyncEntriesMax = 4;
  [[nodiscard]] bool sync_inline(const raft::Ready& ready) const;
  // The Ready's entries and hard state were saved (`saved` ok) or the WAL failed.
  void on_durable(const std::shared_ptr<InFlight>& flight, const Status& saved);
  void finish_ready(const std::shared_ptr<InFlight>& flight);
  void install_snapshot(const raft::SnapshotMeta& meta);
  // Rebuilds the state machine from the newest snapshot file; its index (0 if none).
  [[nodiscard]] Result<Index> restore_from_snapshot_file();
  void apply_entries(std::span<const raft::Entry> entries);
  void serve_reads();
  void on_role_change(const raft::SoftState& soft);
  void maybe_snapshot();
  // The snapshot's data bytes once it is durable and installed in storage.
  [[nodiscard]] Result<uint64_t> write_snapshot(const raft::SnapshotMeta& meta,
                                                const kv::KvSnapshotView& view);
  void snapshot_done(const raft::SnapshotMeta& meta, const Result<uint64_t>& written);
  [[nodiscard]] uint64_t now_ms() const;
  [[nodiscard]] uint64_t now_us() const;
  [[noreturn]] void fatal(const std::string& what);

  asio::io_context& io_;
  const NodeOptions options_;
  std::unique_ptr<storage::DiskStorage> storage_;
  Logger& logger_;
  Metrics& metrics_;
  Observer no_observer_;
  Observer* const observer_;  // options_.observer, or no_observer_.
  Prng prng_;
  kv::KvStateMachine state_machine_;
  std::unique_ptr<raft::Raft> raft_;
  std::unique_ptr<net::PeerTransport> transport_;
  asio::steady_timer tick_timer_;
  bool stopped_ = false;
  bool ready_in_flight_ = false;
  bool drive_posted_ = false;
  // Term and vote last handed to storage: a Ready whose hard state changes only the commit
  // index is not worth a sync of its own.
  Term persisted_term_;
  NodeId persisted_vote_ = kNoNode;
  Index last_snapshot_index_;
  bool snapshot_running_ = false;
  uint64_t snapshot_started_us_ = 0;  // For the log line that reports how long it took.
  SnapshotPolicy snapshot_policy_;
  // Writes snapshot files off the loop thread (one at a time).
  asio::thread_pool snapshot_pool_{1};
  std::unique_ptr<SnapshotSender> snapshot_sender_;  // Leader: streams to lagging followers.
  std::unique_ptr<SnapshotInbox> snapshot_inbox_;    // Follower: receives the leader's.
  // A received, verified snapshot file the core accepted; installed by its next Ready.
  std::unique_ptr<storage::SnapshotReceiver> snapshot_to_install_;

  std::map<Index, PendingWrite> pending_writes_;        // By log index.
  std::map<uint64_t, PendingRead> pending_reads_;       // By ReadIndex request id.
  std::multimap<Index, uint64_t> reads_waiting_apply_;  // Released; wait for apply.
  std::vector<WaitingRequest> waiting_for_leader_;
  std::map<uint64_t, PendingForward> pending_forwards_;  // By forward request id.
  std::map<NodeId, std::string> client_addrs_;           // Learned from Hellos.
  uint64_t next_request_id_ = 1;
  uint64_t next_expiry_sweep_ms_ = 0;  // expire_requests() runs at most every 100 ms.
};

}  // namespace raftkv::server
