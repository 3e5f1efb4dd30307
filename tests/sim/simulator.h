#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/logger.h"
#include "common/prng.h"
#include "common/status.h"
#include "common/types.h"
#include "kv/state_machine.h"
#include "raft/messages.h"
#include "raft/raft.h"
#include "runtime/node.h"
#include "runtime/request.h"
#include "runtime/transport.h"
#include "sim/checkers.h"
#include "sim/network.h"
#include "sim/run.h"
#include "sim/sim_machine.h"

// A deterministic cluster simulator: N real runtimes (runtime::Node, the one Ready loop
// raftkv-server runs) in one thread, driven by a discrete-event loop over simulated time. Each
// node runs on:
//   - DiskStorage, the server's own storage, over SimFs: a crash keeps only what was synced (a
//     random prefix of the unsynced writes survives, the last one possibly torn); syncs may fail
//     (the node must stop without acknowledging), stall, and reads may return a flipped bit
//     (detected by checksums, never applied);
//   - a simulated network that drops, delays, reorders, duplicates and partitions every kind
//     of peer traffic: Raft messages, forwarded requests and replies, snapshot chunks and acks;
//   - a simulated environment: the loop's posted work and each lane's disk jobs are events at
//     simulated instants (a lane's job may also run at once, before the loop's next step, as
//     a thread can), and a sync run on the loop blocks the whole node for its latency (what
//     it sends meanwhile leaves when the sync is done); a node stopping itself (fatal) fails
//     the run unless its disk failed;
//   - a state machine: the payload list every scenario checks (SimMachine), with the real
//     key-value store (kv::RespStateMachine) beside it when SimOptions::kv is set.
// Everything random is drawn from generators derived from Run::seed(), so a seed replays a
// run exactly. Checkers (checkers.h) run after every event. Not thread-safe.
namespace raftkv::sim {

// Faults of each node's disk, per mille of operations.
struct DiskFaults {
  uint32_t sync_fail_per_mille = 0;  // An fdatasync fails: the node must stop, never ack.
  uint32_t read_flip_per_mille = 0;  // A read returns one bit flipped.
  uint32_t stall_per_mille = 0;      // A sync takes stall_us longer.
  uint64_t stall_us = 0;
};

struct SimOptions {
  uint32_t nodes = 3;
  // Nodes 1..voters form the bootstrap membership; the others start outside it, as empty
  // machines a scenario adds with change_membership() (0: every node is a voter).
  uint32_t voters = 0;
  uint32_t election_ticks = 10;
  uint32_t heartbeat_ticks = 1;
  bool pre_vote = true;
  bool check_quorum = true;
  uint64_t message_bytes_max = 1 << 20;
  uint64_t entry_bytes_max = runtime::NodeOptions{}.entry_bytes_max;  // Larger writes refused.
  // The leader's budget for large writes (runtime::NodeOptions says how it works). The
  // defaults start at 1 MiB, far above the scenarios' payloads, so only scenarios that lower
  // them reach it.
  uint64_t large_write_bytes_min = runtime::NodeOptions{}.large_write_bytes_min;
  uint64_t large_write_bytes_in_flight_max =
      runtime::NodeOptions{}.large_write_bytes_in_flight_max;
  uint32_t large_write_timeout_ms_per_mib =
      runtime::NodeOptions{}.large_write_timeout_ms_per_mib;
  uint32_t inflight_messages_max = 256;
  uint64_t early_apply_bytes_max = runtime::NodeOptions{}.early_apply_bytes_max;
  NetworkOptions network;
  // Latency of one sync (on the Sync lane or on the loop), uniform in [min, max].
  uint64_t disk_latency_us_min = 0;
  uint64_t disk_latency_us_max = 0;
  DiskFaults disk;
  // Each node snapshots its state machine every `snapshot_every_entries` applied entries and
  // keeps `snapshot_keep_entries` of log behind the snapshot (0 = never).
  uint32_t snapshot_every_entries = 0;
  uint32_t snapshot_keep_entries = 0;
  // WAL segment size: small, so that rotation and segment removal happen in short runs.
  uint64_t segment_bytes = 32u << 10;
  // Log Matching runs over all live nodes every this many ticks (and at the end).
  uint32_t log_check_period_ticks = 10;
  // When set, every node also runs the key-value store with this config (SimMachine).
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

// Faults the run injected, by kind, for reports.
struct FaultCounts {
  uint64_t crashes = 0;
  uint64_t pauses = 0;
  uint64_t fatal_stops = 0;      // Nodes that stopped themselves (a failed sync, a bad read).
  uint64_t refused_starts = 0;   // Restarts refused on damage (a flipped bit read at recovery).
  uint64_t syncs_failed = 0;
  uint64_t reads_flipped = 0;
  uint64_t syncs_stalled = 0;
  uint64_t messages_dropped = 0;
  uint64_t messages_duplicated = 0;
};

// Optional hooks for narration (the demo), measurements and scenario checks; every method
// defaults to nothing.
class SimObserver {
 public:
  virtual ~SimObserver() = default;
  virtual void on_send(const raft::Message& /*message*/, size_t /*copies*/) {}
  virtual void on_deliver(const raft::Message& /*message*/) {}
  virtual void on_durable(NodeId /*node*/, const raft::Ready& /*ready*/) {}
  virtual void on_apply(NodeId /*node*/, const raft::Entry& /*entry*/) {}
  // With SimOptions::kv: `entry` was applied to the node's KV store, now `kv`; `reply` is the
  // store's RESP reply, or nullptr when the entry held no KV command.
  virtual void on_kv_apply(NodeId /*node*/, const raft::Entry& /*entry*/,
                           const kv::KvStateMachine& /*kv*/, const std::string* /*reply*/) {}
  // The node's state machine was replaced by a snapshot's (restart or InstallSnapshot).
  virtual void on_restore(NodeId /*node*/, const SimMachine& /*machine*/) {}
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
  // Every node's wall clock (runtime::Environment::wall_ms): one clock, no skew.
  [[nodiscard]] uint64_t wall_ms() const;
  // Runs events until `ticks` ticks have passed (or a checker failed).
  void run_for_ticks(uint64_t ticks);
  void run_for_us(uint64_t us);
  // Runs until `done()` holds (checked after every event), at most `ticks_max` ticks. False on
  // timeout or checker failure.
  [[nodiscard]] bool run_until(const std::function<bool()>& done, uint64_t ticks_max);

  // --- The cluster ---
  [[nodiscard]] const SimOptions& options() const { return options_; }
  // Every node's runtime::NodeOptions::request_timeout_ms: four election timeouts (ticks are
  // 1 ms), long enough to outlast an election.
  [[nodiscard]] uint32_t request_timeout_ms() const { return 4 * options_.election_ticks; }
  [[nodiscard]] std::vector<NodeId> ids() const;
  [[nodiscard]] bool is_up(NodeId node) const;
  // Requires is_up(node).
  [[nodiscard]] const raft::Raft& raft(NodeId node) const;
  [[nodiscard]] const SimMachine& machine(NodeId node) const;
  // With SimOptions::kv: the node's KV store (volatile like machine()); else nullptr.
  [[nodiscard]] const kv::KvStateMachine* kv(NodeId node) const;
  [[nodiscard]] runtime::NodeStatus status(NodeId node) const;
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
  // The process dies: its runtime, state machine and requests are gone, and its disk keeps
  // only what was synced (plus, at random, part of the rest, possibly torn).
  void crash(NodeId node);
  // `at`'s transport sees its connection from `peer` close (one network delay from now), as
  // after a crash of `peer` or a dropped connection; see Raft::report_peer_down.
  void connection_closed(NodeId at, NodeId peer);
  // A new process over the node's disk: recovery, then the state machine from its snapshot.
  void restart(NodeId node);
  // SIGSTOP for `us`, then SIGCONT: the process does nothing meanwhile, with whatever it had
  // in flight (a Ready syncing, a snapshot streaming) held where it was; its ticks, disk
  // completions, messages and client requests wait and arrive together on resuming, as
  // queued in its sockets (tests/faults' pause).
  void pause(NodeId node, uint64_t us);
  // The node's disk faults from now on (SimOptions::disk at start).
  void set_disk_faults(NodeId node, const DiskFaults& faults);
  // Faults injected so far, by kind (disk faults counted by each node's disk).
  [[nodiscard]] FaultCounts faults() const;

  // --- Clients ---
  // A write of a fresh unique payload to `node`, which must lead (NotLeader otherwise, or
  // whatever refusal its core gives at once); the history tracks its outcome.
  Status propose(NodeId node, std::string* payload_out = nullptr);
  // Proposes `payload`, which the caller guarantees was never proposed before (the demo).
  Status propose_payload(NodeId node, const std::string& payload);
  // A write of a fresh unique payload of `bytes` bytes (at least its unique name's) through
  // any node, as a client sends it (followers forward): the history tracks its outcome as for
  // propose(), and `done` gets the runtime's answer too. Unavailable if the node is down.
  Status write(NodeId node, size_t bytes, runtime::Done done, std::string* payload_out);
  // Proposes to the stable leader, if any.
  std::optional<std::string> propose_to_leader();
  // A linearizable read on `node`, which must lead; the history checks what it returns, and
  // `done`, if any, gets the runtime's answer too.
  Status read(NodeId node, runtime::Done done = {});
  // Any request, through any node (followers forward): how a real client talks to the
  // cluster. `done` gets the runtime's answer; if the node crashes first it never runs, and
  // `lost` is called instead (the client saw its connection drop). Unavailable if down.
  Status submit(NodeId node, runtime::Request request, runtime::Done done,
                std::function<void()> lost);
  // Wraps a KV command (SimOptions::kv) as a unique request the history can tell apart.
  [[nodiscard]] runtime::Request kv_request(const kv::Command& command);
  Status transfer_leadership(NodeId node, NodeId target);
  // An operator's membership change on `node` (runtime::Node::change_membership). `done` runs
  // with its outcome, unless the node crashes first. Unavailable when the node is down.
  Status change_membership(NodeId node, const runtime::MemberChange& change,
                           std::function<void(Status)> done);
  // runtime::Node::await_leader on `node`: `done` runs unless the node crashes first.
  // Unavailable when the node is down.
  Status await_leader(NodeId node, runtime::Done done);
  // Hands a message to a node's runtime as if a peer sent it (hostile input). Unavailable
  // when the node is down; otherwise ok, and the core's verdict shows in its log.
  Status inject(NodeId node, const raft::Message& message);
  // Gives `deliver` the node's runtime as the receiving end of a peer connection: the fuzzer
  // hands it what the transport's own decoder made of hostile bytes. Unavailable when down.
  Status receive(NodeId node, const std::function<void(runtime::PeerInbox& inbox)>& deliver);
  // True when the payload is applied on every up node / on any up node.
  [[nodiscard]] bool applied_everywhere(const std::string& payload) const;
  [[nodiscard]] bool applied_anywhere(const std::string& payload) const;

  // --- Checks ---
  // Heals the network, lifts disk faults, restarts crashed nodes, waits until every node
  // applied everything and a new proposal commits everywhere, then runs the end-of-run checks.
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
  // Called with every request a node forwards, as it leaves (scenarios that count hops).
  using ForwardWatcher =
      std::function<void(NodeId from, NodeId to, const runtime::ForwardRequest& request)>;
  void watch_forwards(ForwardWatcher watcher) { forward_watcher_ = std::move(watcher); }
  // Narration line through the Run's sink (the demo, --verbose replays); no-op without one.
  void narrate(const std::string& line, LogLevel level = LogLevel::Info);

 private:
  struct Node;
  class NodeLogger;
  class NodeEnvironment;
  class NodeTransport;
  class NodeObserver;
  // Peer traffic in flight: what one node's transport sent another.
  using Payload = std::variant<raft::Message, runtime::ForwardRequest, runtime::ForwardReply,
                               runtime::SnapshotChunk, runtime::SnapshotAck>;
  struct Traffic {
    NodeId from;
    NodeId to;
    Payload payload;
  };
  enum class EventKind : uint8_t { Deliver, Tick, Callback, PeerDown };
  struct Event {
    uint64_t time_us = 0;
    uint64_t seq = 0;
    EventKind kind = EventKind::Tick;
    NodeId node;  // The node the event is for (the receiver for Deliver).
    // The incarnation of `node` the event is for; for Deliver, the sender's at send time.
    uint64_t incarnation = 0;
    // Deliver: the traffic's slot in in_flight_; Callback: the closure's slot in callbacks_;
    // PeerDown: the node whose connection closed.
    uint64_t detail = 0;
  };

  Node& node(NodeId id);
  const Node& node(NodeId id) const;
  void start(Node& node);
  [[nodiscard]] runtime::NodeOptions node_options(NodeId id, uint64_t seed) const;
  void take_down(Node& node, const std::string& why);
  // Submits the write of `payload` to an up node, tracked by the history; `done` also gets
  // the answer.
  Status submit_write(NodeId node, const std::string& payload, runtime::Done done);
  void schedule(Event event);
  void schedule_callback(const Node& node, uint64_t time_us, std::function<void()> fn);
  void schedule_tick(const Node& node, uint64_t time_us);
  bool step_one_event();
  void handle(Event& event);
  void deliver(Traffic traffic, uint64_t sender_incarnation);
  void send(NodeId from, NodeId to, Payload payload);
  void count(const raft::Message& message);
  void after_event(Node& node);
  // One sync's latency on `node`'s disk, its stall included if it draws one.
  [[nodiscard]] uint64_t disk_latency_us(const Node& node);
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
  // Traffic and closures of pending events, out of the heap so that heap operations move
  // small events only; freed slots are reused.
  std::vector<std::optional<Traffic>> in_flight_;
  std::vector<uint64_t> free_traffic_;
  std::vector<std::function<void()>> callbacks_;
  std::vector<uint64_t> free_callbacks_;
  std::vector<std::unique_ptr<Node>> nodes_;
  SimNetwork network_;
  SafetyChecker safety_;
  ClientHistory history_;
  MessageCounts counts_;
  FaultCounts faults_;
  uint64_t soft_state_changes_ = 0;
  uint64_t next_request_ = 0;
  SimObserver* observer_ = nullptr;
  ForwardWatcher forward_watcher_;
};

}  // namespace raftkv::sim
