#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/logger.h"
#include "common/prng.h"
#include "common/status.h"
#include "common/types.h"
#include "kv/command.h"
#include "kv/reply.h"
#include "kv/state_machine.h"
#include "raft/memory_storage.h"
#include "raft/messages.h"
#include "raft/raft.h"
#include "sim/checkers.h"
#include "sim/network.h"
#include "sim/run.h"
#include "sim/state_machine.h"

// A deterministic cluster simulator: N Raft cores in one thread, driven by a discrete-event
// loop over simulated time. Everything random (network delays, drops, duplicates, disk latency,
// tick phases, each core's election jitter) is drawn from generators derived from Run::seed(),
// so a seed replays a run exactly.
//
// The driver loop per node follows raft.h's contract. A Ready is taken as soon as the core has
// one and none is outstanding; the leader's may_send_before_persist() messages leave at once
// (thesis §10.2.1); the rest of the Ready (persist snapshot, entries, hard state into the
// node's MemoryStorage, send the other messages, apply, advance) happens atomically after a
// random disk latency. A crash before that loses the whole Ready: only what was persisted
// survives, exactly as with an fsync that never returned.
//
// Checkers (checkers.h) run after every input. Not thread-safe.
namespace raftkv::sim {

struct SimOptions {
  uint32_t nodes = 3;
  uint32_t election_ticks = 10;
  uint32_t heartbeat_ticks = 1;
  bool pre_vote = true;
  bool check_quorum = true;
  uint64_t message_bytes_max = 1 << 20;
  uint32_t inflight_messages_max = 256;
  NetworkOptions network;
  // Latency of persisting one Ready, uniform in [min, max]; 0 persists within the same event.
  uint64_t disk_latency_us_min = 0;
  uint64_t disk_latency_us_max = 0;
  // Let the leader's replication messages leave before its Ready is persisted.
  bool send_before_persist = true;
  // Every `snapshot_every_entries` applied entries a node snapshots its state machine and
  // compacts its log, keeping `snapshot_keep_entries` entries behind the snapshot (0 = off).
  uint32_t snapshot_every_entries = 0;
  uint32_t snapshot_keep_entries = 0;
  // Log Matching runs over all live nodes every this many ticks (and at the end).
  uint32_t log_check_period_ticks = 10;
  // When set, every node also runs a kv::KvStateMachine with this config (issue 5): payloads
  // proposed with propose_kv() are applied to it, every other entry applies as empty, and the
  // node's snapshots carry the KV state (sessions included) next to the payload list.
  std::optional<kv::KvConfig> kv;
};

// Counters of everything sent, for the message-economy scenarios.
struct MessageCounts {
  uint64_t total = 0;
  std::array<uint64_t, 10> by_type{};  // Indexed by MessageType.
  uint64_t append_rejections = 0;      // AppendResponse with reject set.
  [[nodiscard]] uint64_t of(raft::MessageType type) const {
    return by_type[static_cast<size_t>(type)];
  }
};

// Optional hooks for narration (the demo) and measurements; every method defaults to nothing.
class SimObserver {
 public:
  virtual ~SimObserver() = default;
  virtual void on_send(const raft::Message& /*message*/, size_t /*copies*/) {}
  virtual void on_deliver(const raft::Message& /*message*/) {}
  virtual void on_persist(NodeId /*node*/, const raft::Ready& /*ready*/) {}
  virtual void on_apply(NodeId /*node*/, const raft::Entry& /*entry*/) {}
  // With SimOptions::kv: `entry` was applied to the node's KV state machine, now `kv`;
  // `reply` is the command's reply, or nullptr when the entry was no KV command.
  virtual void on_kv_apply(NodeId /*node*/, const raft::Entry& /*entry*/,
                           const kv::KvStateMachine& /*kv*/, const kv::Reply* /*reply*/) {}
  // With SimOptions::kv: the node's KV state was replaced by a snapshot's (restart or
  // InstallSnapshot).
  virtual void on_kv_restore(NodeId /*node*/, const kv::KvStateMachine& /*kv*/) {}
};

class Simulator {
 public:
  Simulator(Run& run, const SimOptions& options);
  ~Simulator();
  Simulator(const Simulator&) = delete;
  Simulator& operator=(const Simulator&) = delete;

  // --- Time ---
  [[nodiscard]] uint64_t now_us() const { return now_us_; }
  [[nodiscard]] uint64_t now_ticks() const { return now_us_ / kTickUs; }
  // Runs events until `ticks` ticks have passed (or a checker failed).
  void run_for_ticks(uint64_t ticks);
  void run_for_us(uint64_t us);
  // Runs until `done()` holds (checked after every event), at most `ticks_max` ticks. False on
  // timeout or checker failure.
  [[nodiscard]] bool run_until(const std::function<bool()>& done, uint64_t ticks_max);

  // --- The cluster ---
  [[nodiscard]] const SimOptions& options() const { return options_; }
  [[nodiscard]] std::vector<NodeId> ids() const;
  [[nodiscard]] bool is_up(NodeId node) const;
  // Requires is_up(node).
  [[nodiscard]] const raft::Raft& raft(NodeId node) const;
  [[nodiscard]] const SimStateMachine& state_machine(NodeId node) const;
  [[nodiscard]] const raft::MemoryStorage& storage(NodeId node) const;
  // With SimOptions::kv: the node's KV state machine (volatile like state_machine()); else
  // nullptr.
  [[nodiscard]] const kv::KvStateMachine* kv(NodeId node) const;
  // Up nodes whose role is Leader (a partitioned old leader included).
  [[nodiscard]] std::vector<NodeId> leaders() const;
  // The one leader among `among` (all up nodes when empty), when exactly one of them leads and
  // all of them are in its term; otherwise nullopt.
  [[nodiscard]] std::optional<NodeId> stable_leader(const std::vector<NodeId>& among = {}) const;
  // Waits (at most ticks_max) for stable_leader(among).
  [[nodiscard]] std::optional<NodeId> wait_for_leader(uint64_t ticks_max,
                                                      const std::vector<NodeId>& among = {});
  [[nodiscard]] std::string describe_cluster() const;

  // --- Faults ---
  [[nodiscard]] SimNetwork& network() { return network_; }
  // The node loses its volatile state and its un-persisted Ready; its storage stays.
  void crash(NodeId node);
  // `at`'s transport sees its connection from `peer` close (one network delay from now), as
  // after a crash of `peer` or a dropped connection; see Raft::report_peer_down.
  void connection_closed(NodeId at, NodeId peer);
  // A new core over the node's storage, with the state machine rebuilt from its snapshot.
  void restart(NodeId node);

  // --- Clients ---
  // Proposes a fresh unique payload to `node`; the history tracks its outcome.
  Result<raft::Proposal> propose(NodeId node, std::string* payload_out = nullptr);
  // Proposes `payload`, which the caller guarantees was never proposed before (the demo).
  Result<raft::Proposal> propose_payload(NodeId node, const std::string& payload);
  // With SimOptions::kv: proposes `command` (stamped with the simulated time in ms as the
  // leader's timestamp when it is RegisterSession or Session) wrapped in a fresh unique
  // payload, so a retry of the same command is a distinct proposal to the history checker.
  Result<raft::Proposal> propose_kv(NodeId node, kv::Command command,
                                    std::string* payload_out = nullptr);
  // The encoded command inside a propose_kv() payload, or nullopt for any other payload.
  [[nodiscard]] static std::optional<std::string_view> kv_command_bytes(std::string_view payload);
  // Proposes to the stable leader, if any.
  std::optional<std::string> propose_to_leader();
  // Starts a ReadIndex read on `node`.
  Status read(NodeId node);
  Status transfer_leadership(NodeId node, NodeId target);
  // Hands a message straight to a core, bypassing the network (hostile input). The result is
  // the core's Status; the node is then driven and checked as after any input.
  Status inject(NodeId node, const raft::Message& message);
  // True when the payload is applied on every up node.
  [[nodiscard]] bool applied_everywhere(const std::string& payload) const;
  [[nodiscard]] bool applied_anywhere(const std::string& payload) const;

  // --- Checks ---
  // Heals the network, restarts crashed nodes, waits until every node applied everything and
  // a new proposal commits everywhere, then runs the end-of-run checks. False on failure.
  bool converge(uint64_t ticks_max);
  void check_logs_now();
  [[nodiscard]] const MessageCounts& counts() const { return counts_; }
  // Readies that reported a role or known-leader change (SoftState), on any node.
  [[nodiscard]] uint64_t soft_state_changes() const { return soft_state_changes_; }
  [[nodiscard]] const ClientHistory& history() const { return history_; }
  [[nodiscard]] const SafetyChecker& safety() const { return safety_; }
  [[nodiscard]] Run& run() { return run_; }
  [[nodiscard]] bool failed() const { return run_.failed(); }
  // Records a scenario-level failure with time and cluster state.
  void fail(const std::string& what);
  void set_observer(SimObserver* observer) { observer_ = observer; }
  // Narration line through the Run's sink (the demo, --verbose replays); no-op without one.
  void narrate(const std::string& line, LogLevel level = LogLevel::Info);

 private:
  struct Node;
  class NodeLogger;
  enum class EventKind : uint8_t { Deliver, Tick, Persist, SnapshotFailed, PeerDown };
  struct Event {
    uint64_t time_us = 0;
    uint64_t seq = 0;
    EventKind kind = EventKind::Tick;
    // The node the event is for (Tick, Persist, PeerDown), the snapshot's sender
    // (SnapshotFailed).
    NodeId node;
    // The incarnation of `node` the event is for; for Deliver, the sender's at send time.
    uint64_t incarnation = 0;
    // Deliver: the message's slot in messages_; SnapshotFailed: the snapshot's receiver;
    // PeerDown: the node that crashed.
    uint64_t detail = 0;
  };

  Node& node(NodeId id);
  const Node& node(NodeId id) const;
  void start(Node& node);
  void schedule(Event event);
  void schedule_node_event(EventKind kind, const Node& node, uint64_t time_us);
  bool step_one_event();
  void handle(Event& event);
  void deliver(const raft::Message& message, uint64_t sender_incarnation);
  void report_snapshot_lost(const raft::Message& message, uint64_t sender_incarnation,
                            uint64_t delay_us);
  void after_input(Node& node);
  void drive(Node& node);
  void take_ready(Node& node);
  void complete_ready(Node& node);
  void persist(Node& node, const raft::Ready& ready);
  void send(Node& node, const raft::Message& message);
  void apply(Node& node, const std::vector<raft::Entry>& entries);
  void serve_reads(Node& node);
  void maybe_snapshot(Node& node);
  void restore_from_storage(Node& node);
  [[nodiscard]] std::string encode_snapshot(const Node& node) const;
  // Splits snapshot data into the payload list and (with SimOptions::kv) the KV bytes.
  [[nodiscard]] bool decode_snapshot(std::string_view data, std::vector<std::string>* payloads,
                                     std::string_view* kv_bytes) const;
  [[nodiscard]] bool restore_kv(Node& node, std::string_view kv_bytes);
  void apply_kv(Node& node, const raft::Entry& entry);
  void maybe_check_logs();
  [[nodiscard]] bool quiet() const;
  void final_checks();

  Run& run_;
  const SimOptions options_;
  Prng prng_;  // The simulator's own draws: network, disk, tick phases, node seeds.
  uint64_t now_us_ = 0;
  uint64_t next_seq_ = 0;
  uint64_t next_log_check_us_ = 0;
  std::vector<Event> events_;  // A min-heap on (time_us, seq).
  // Messages in flight, out of the heap so that heap operations move small events only.
  std::vector<raft::Message> in_flight_;
  std::vector<uint64_t> free_slots_;
  std::vector<std::unique_ptr<Node>> nodes_;
  SimNetwork network_;
  SafetyChecker safety_;
  ClientHistory history_;
  MessageCounts counts_;
  uint64_t soft_state_changes_ = 0;
  SimObserver* observer_ = nullptr;
};

}  // namespace raftkv::sim
