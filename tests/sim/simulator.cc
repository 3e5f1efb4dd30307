#include "sim/simulator.h"

#include <algorithm>
#include <sstream>
#include <utility>

#include "common/assert.h"
#include "kv/command.h"
#include "sim_fs.h"
#include "storage/disk_storage.h"

namespace raftkv::sim {
namespace {

// The wall clock every node reads at simulated time 0 (2026-01-01), so that timestamps look
// real in logs; the sessions' log time is relative to it anyway.
constexpr uint64_t kEpochMs = 1'767'225'600'000;
// A restart refused on a damaged read is retried this many times: the damage was the read's,
// not the disk's, so a new read succeeds (a real disk error would refuse every time).
constexpr int kStartAttemptsMax = 8;
// Where each node's storage lives on its simulated disk.
constexpr const char* kDataDir = "/data";

}  // namespace

// Forwards a node's log lines (its core's and its runtime's) to the Run's sink, stamped with
// simulated time and node id.
class Simulator::NodeLogger final : public Logger {
 public:
  NodeLogger(const Simulator& sim, NodeId id) : sim_(sim), id_(id) {}
  [[nodiscard]] bool enabled(LogLevel level) const override {
    const SimLogSink* sink = sim_.run_.sink();
    return sink != nullptr && sink->enabled(level);
  }
  void write(LogLevel level, std::string_view line) override {
    SimLogSink* sink = sim_.run_.sink();
    if (sink != nullptr) sink->write(sim_.now_us_, id_, level, line);
  }

 private:
  const Simulator& sim_;
  NodeId id_;
};

// One simulated server. `fs` is its disk and survives crashes (as its crash image); everything
// else is the process and is rebuilt on restart.
struct Simulator::Node {
  explicit Node(NodeId node_id) : id(node_id) {}

  NodeId id;
  bool up = false;
  // Bumped on every start, so events addressed to a dead incarnation are recognised.
  uint64_t incarnation = 0;
  std::unique_ptr<storage::testing::SimFs> fs = std::make_unique<storage::testing::SimFs>();
  DiskFaults disk_faults;
  std::unique_ptr<NodeLogger> logger;
  std::unique_ptr<NodeEnvironment> env;
  std::unique_ptr<NodeTransport> transport;
  std::unique_ptr<NodeObserver> observer;
  std::unique_ptr<storage::DiskStorage> storage;
  std::unique_ptr<SimMachine> machine;
  std::unique_ptr<runtime::Metrics> metrics;
  std::unique_ptr<runtime::Node> runtime;
  // The loop is blocked on the disk until then: the node's events wait.
  uint64_t busy_until_us = 0;
  // When each lane finishes the jobs it has: a lane runs one job at a time.
  std::array<uint64_t, 2> lane_free_us{};
  // The node stopped itself (Environment::fatal); taken down at the next event.
  bool halting = false;
  // Client requests awaiting an answer, by token: what to tell the client if the node dies.
  std::map<uint64_t, std::function<void()>> lost_if_crash;
  // For Leader Append-Only: the term this node led in when it took its previous Ready.
  Term leader_term_at_last_ready;
};

// The environment of one incarnation of a node: simulated time, and every thread an event.
class Simulator::NodeEnvironment final : public runtime::Environment {
 public:
  NodeEnvironment(Simulator& sim, Node& node) : sim_(sim), node_(node) {}

  [[nodiscard]] uint64_t now_us() const override { return sim_.now_us_; }
  [[nodiscard]] uint64_t wall_ms() const override { return sim_.wall_ms(); }
  void post(std::function<void()> fn) override {
    sim_.schedule_callback(node_, sim_.now_us_, std::move(fn));
  }
  void offload(runtime::Lane lane, std::function<void()> job,
               std::function<void()> done) override {
    uint64_t& free_us = node_.lane_free_us[static_cast<size_t>(lane)];
    const uint64_t latency = sim_.disk_latency_us(node_);
    const uint64_t busy = lane == runtime::Lane::Sync ? latency : 4 * latency;
    free_us = std::max(free_us, sim_.now_us_) + busy;
    // The lane is a thread of its own: its job may run before the loop's next step (as if
    // scheduled at once) or only when its time is up, racing the loop's writes either way;
    // the seed draws which. The loop hears of it (done) only once its time is up.
    if (free_us == sim_.now_us_ + busy && sim_.prng_.chance(1, 2)) {
      job();
      sim_.schedule_callback(node_, free_us, std::move(done));
      return;
    }
    sim_.schedule_callback(node_, free_us, [job = std::move(job), done = std::move(done)] {
      job();
      done();
    });
  }
  void block_on_disk(const std::function<void()>& job) override {
    job();
    node_.busy_until_us =
        std::max(node_.busy_until_us, sim_.now_us_) + sim_.disk_latency_us(node_);
  }
  void fatal(const std::string& why) override {
    // Only a fault its disk suffered may stop a node: anything else means the node refused
    // its own state or its own storage's answer, a bug that a healed cluster would hide (the
    // node restarts and catches up).
    const storage::testing::SimFs::Injected injected = node_.fs->injected();
    if (injected.syncs_failed == 0 && injected.reads_flipped == 0) {
      sim_.fail("node " + std::to_string(node_.id.value()) +
                " stopped itself though its disk never failed: " + why);
    }
    // The runtime is on the stack: take the node down at the next event, not here.
    sim_.narrate("node " + std::to_string(node_.id.value()) + " stops: " + why);
    node_.halting = true;
    sim_.schedule_callback(node_, sim_.now_us_, [] {});
  }

 private:
  Simulator& sim_;
  Node& node_;
};

// A node's transport: everything goes through the simulated network.
class Simulator::NodeTransport final : public runtime::Transport {
 public:
  NodeTransport(Simulator& sim, NodeId id) : sim_(sim), id_(id) {}

  void send(const raft::Message& message) override { sim_.send(id_, message.to, message); }
  bool forward(NodeId to, runtime::ForwardRequest request) override {
    if (!sim_.node(to).up) return false;  // No connection to a dead process.
    if (sim_.forward_watcher_) sim_.forward_watcher_(id_, to, request);
    sim_.send(id_, to, std::move(request));
    return true;
  }
  void reply(NodeId to, runtime::ForwardReply reply) override {
    sim_.send(id_, to, std::move(reply));
  }
  void send_snapshot_chunk(NodeId to, runtime::SnapshotChunk chunk) override {
    sim_.send(id_, to, std::move(chunk));
  }
  void send_snapshot_ack(NodeId to, runtime::SnapshotAck ack) override {
    sim_.send(id_, to, std::move(ack));
  }

 private:
  Simulator& sim_;
  NodeId id_;
};

// What the checkers and the scenario's observer see of a node's runtime.
class Simulator::NodeObserver final : public runtime::Observer {
 public:
  NodeObserver(Simulator& sim, Node& node) : sim_(sim), node_(node) {}

  void on_role_change(raft::Role /*role*/, Term /*term*/, NodeId /*leader*/) override {
    ++sim_.soft_state_changes_;
  }
  void on_ready(const raft::Ready& ready) override {
    const raft::Raft& core = node_.runtime->core();
    const Term term = core.term();
    const bool leading = core.role() == raft::Role::Leader;
    const bool steady_leader = leading && node_.leader_term_at_last_ready == term;
    sim_.safety_.before_persist(node_.id, ready, node_.storage->last_index(), steady_leader,
                                term);
    node_.leader_term_at_last_ready = leading ? term : Term{0};
  }
  void on_durable(const raft::Ready& ready) override {
    if (sim_.observer_ != nullptr) sim_.observer_->on_durable(node_.id, ready);
  }
  void on_send(const raft::Message& message) override {
    // Snapshots are streamed beside the core's message, which never reaches the network.
    if (message.type != raft::MessageType::InstallSnapshot) return;
    sim_.count(message);
    if (sim_.observer_ != nullptr) sim_.observer_->on_send(message, 1);
  }
  void on_receive(const raft::Message& message) override {
    if (sim_.observer_ != nullptr) sim_.observer_->on_deliver(message);
  }
  void on_apply(const raft::Entry& entry) override {
    sim_.safety_.on_apply(node_.id, entry);
    sim_.history_.on_apply(entry, node_.machine->payloads().payloads().size() - 1);
    if (sim_.observer_ != nullptr) sim_.observer_->on_apply(node_.id, entry);
  }
  void on_restore(const raft::SnapshotMeta& meta) override {
    sim_.safety_.on_restore(node_.id, meta, node_.machine->payloads().payloads());
    if (sim_.observer_ != nullptr) sim_.observer_->on_restore(node_.id, *node_.machine);
  }

 private:
  Simulator& sim_;
  Node& node_;
};

Simulator::Simulator(Run& run, const SimOptions& options)
    : run_(run),
      options_(options),
      prng_(run.seed()),
      network_(options.nodes, options.network),
      safety_(run, now_us_),
      history_(run, now_us_) {
  RAFT_ASSERT(options.nodes >= 1);
  RAFT_ASSERT(options.disk_latency_us_min <= options.disk_latency_us_max);
  next_log_check_us_ = options.log_check_period_ticks * kTickUs;
  network_.set_narrator([this](const std::string& line) { narrate(line); });
  for (uint32_t i = 1; i <= options.nodes; ++i) {
    nodes_.push_back(std::make_unique<Node>(NodeId{i}));
    nodes_.back()->disk_faults = options.disk;
  }
  for (auto& n : nodes_) start(*n);
}

Simulator::~Simulator() {
  // Runtimes first: their storage and environment go with the nodes.
  for (auto& n : nodes_) n->runtime.reset();
}

Simulator::Node& Simulator::node(NodeId id) {
  RAFT_ASSERT(id.value() >= 1 && id.value() <= nodes_.size());
  return *nodes_[id.value() - 1];
}

const Simulator::Node& Simulator::node(NodeId id) const {
  RAFT_ASSERT(id.value() >= 1 && id.value() <= nodes_.size());
  return *nodes_[id.value() - 1];
}

std::vector<NodeId> Simulator::ids() const {
  std::vector<NodeId> out;
  for (const auto& n : nodes_) out.push_back(n->id);
  return out;
}

bool Simulator::is_up(NodeId id) const { return node(id).up; }

const raft::Raft& Simulator::raft(NodeId id) const {
  const Node& n = node(id);
  RAFT_ASSERT(n.up);
  return n.runtime->core();
}

const SimMachine& Simulator::machine(NodeId id) const {
  const Node& n = node(id);
  RAFT_ASSERT(n.up);
  return *n.machine;
}

const kv::KvStateMachine* Simulator::kv(NodeId id) const {
  const Node& n = node(id);
  return n.up ? n.machine->kv() : nullptr;
}

runtime::NodeStatus Simulator::status(NodeId id) const {
  const Node& n = node(id);
  RAFT_ASSERT(n.up);
  return n.runtime->status();
}

// --- Node life cycle ---

runtime::NodeOptions Simulator::node_options(NodeId id, uint64_t seed) const {
  runtime::NodeOptions options;
  options.raft.id = id;
  options.raft.voters = ids();
  if (options_.voters != 0) options.raft.voters.resize(options_.voters);
  options.raft.election_ticks = options_.election_ticks;
  options.raft.heartbeat_ticks = options_.heartbeat_ticks;
  options.raft.pre_vote = options_.pre_vote;
  options.raft.check_quorum = options_.check_quorum;
  options.raft.message_bytes_max = options_.message_bytes_max;
  options.entry_bytes_max = options_.entry_bytes_max;
  options.large_write_bytes_min = options_.large_write_bytes_min;
  options.large_write_bytes_in_flight_max = options_.large_write_bytes_in_flight_max;
  options.large_write_timeout_ms_per_mib = options_.large_write_timeout_ms_per_mib;
  options.raft.inflight_messages_max = options_.inflight_messages_max;
  options.early_apply_bytes_max = options_.early_apply_bytes_max;
  options.tick_ms = kTickUs / 1000;
  options.seed = seed;
  const bool snapshots = options_.snapshot_every_entries > 0;
  options.snapshot_policy = {.min_log_bytes = UINT64_MAX / 4,
                             .log_ratio = 1,
                             .max_entries = snapshots ? options_.snapshot_every_entries : 0};
  options.snapshot_keep_entries = options_.snapshot_keep_entries;
  // A snapshot transfer resends after 3 ticks of silence and gives up after 30 election
  // timeouts: the network here loses whole messages, and partitions heal.
  options.snapshot_transfer = {.chunk_bytes = 4096,
                               .resend_ms = 3,
                               .give_up_ms = 30ull * options_.election_ticks};
  options.request_timeout_ms = request_timeout_ms();
  return options;
}

void Simulator::start(Node& n) {
  RAFT_ASSERT(!n.up);
  for (int attempt = 1; attempt <= kStartAttemptsMax; ++attempt) {
    ++n.incarnation;
    n.halting = false;
    n.busy_until_us = now_us_;
    n.lane_free_us = {now_us_, now_us_};
    n.logger = std::make_unique<NodeLogger>(*this, n.id);
    n.fs->set_faults(n.disk_faults.sync_fail_per_mille, n.disk_faults.read_flip_per_mille,
                     prng_.next());
    storage::DiskStorageOptions storage_options;
    storage_options.fs = n.fs.get();
    storage_options.logger = n.logger.get();
    storage_options.segment_bytes = options_.segment_bytes;
    storage_options.cache_bytes_max = 16u << 10;  // Small: entries are read back from disk.
    storage_options.background_threads = false;
    Result<std::unique_ptr<storage::DiskStorage>> opened =
        storage::DiskStorage::open(kDataDir, storage_options);
    Status started = opened.is_ok() ? Status::ok() : opened.status();
    if (opened.is_ok()) {
      n.storage = std::move(opened).value();
      n.env = std::make_unique<NodeEnvironment>(*this, n);
      n.transport = std::make_unique<NodeTransport>(*this, n.id);
      n.observer = std::make_unique<NodeObserver>(*this, n);
      n.machine = std::make_unique<SimMachine>(options_.kv);
      n.machine->set_kv_applied([this, &n](Index index, std::string_view entry,
                                           const std::string* reply) {
        if (observer_ == nullptr) return;
        const raft::Entry applied{Term{0}, index, raft::EntryType::Normal, std::string(entry)};
        observer_->on_kv_apply(n.id, applied, *n.machine->kv(), reply);
      });
      n.metrics = std::make_unique<runtime::Metrics>();
      n.runtime = std::make_unique<runtime::Node>(node_options(n.id, prng_.next()), *n.env,
                                                  *n.storage, *n.machine, *n.transport,
                                                  *n.logger, *n.metrics, n.observer.get());
      n.up = true;  // Before start(): its first Ready may already apply entries.
      started = n.runtime->start();
      if (started.is_ok()) break;
      n.up = false;
      n.runtime.reset();
      n.storage.reset();
    }
    ++faults_.refused_starts;
    narrate("node " + std::to_string(n.id.value()) + " refuses to start: " + started.to_string());
    if (n.disk_faults.read_flip_per_mille == 0 || attempt == kStartAttemptsMax) {
      return fail("node " + std::to_string(n.id.value()) +
                  " refuses to start on its own disk: " + started.to_string());
    }
  }
  // A random phase, so that nodes do not tick in lockstep.
  schedule_tick(n, now_us_ + prng_.uniform(1, kTickUs));
  after_event(n);
}

void Simulator::take_down(Node& n, const std::string& why) {
  narrate("node " + std::to_string(n.id.value()) + " " + why);
  const storage::testing::SimFs::Injected injected = n.fs->injected();
  faults_.syncs_failed += injected.syncs_failed;
  faults_.reads_flipped += injected.reads_flipped;
  n.up = false;
  n.runtime.reset();
  n.machine.reset();
  n.storage.reset();
  n.env.reset();
  n.transport.reset();
  n.observer.reset();
  // What its disk holds after the power is gone: the synced bytes, and at random part of the
  // rest, the last write possibly torn.
  n.fs = n.fs->crash_image(prng_.next());
  safety_.on_crash(n.id);
  std::map<uint64_t, std::function<void()>> lost = std::move(n.lost_if_crash);
  n.lost_if_crash.clear();
  for (auto& [token, tell] : lost) tell();
  // The dead process's sockets close: peers it can reach see their connections end one
  // network delay later (Raft::report_peer_down), as a real transport reports them.
  for (const std::unique_ptr<Node>& peer : nodes_) {
    if (peer->up && network_.link_up(n.id, peer->id)) connection_closed(peer->id, n.id);
  }
}

void Simulator::crash(NodeId id) {
  Node& n = node(id);
  if (!n.up) return;
  ++faults_.crashes;
  take_down(n, "crashes");
}

void Simulator::pause(NodeId id, uint64_t us) {
  Node& n = node(id);
  if (!n.up) return;
  ++faults_.pauses;
  narrate("node " + std::to_string(id.value()) + " is paused for " + std::to_string(us / kTickUs) +
          " ticks");
  // Every event of the node waits while its loop is blocked (handle()): a pause is one long
  // block, and the lanes' jobs finish in their callbacks, which wait too.
  n.busy_until_us = std::max(n.busy_until_us, now_us_) + us;
}

void Simulator::connection_closed(NodeId at, NodeId peer) {
  const Node& n = node(at);
  Event event;
  event.time_us = now_us_ + network_.options().delay_us_max;
  event.kind = EventKind::PeerDown;
  event.node = at;
  event.incarnation = n.incarnation;
  event.detail = peer.value();
  schedule(event);
}

void Simulator::restart(NodeId id) {
  Node& n = node(id);
  if (n.up) return;
  narrate("node " + std::to_string(id.value()) + " restarts");
  start(n);
}

void Simulator::set_disk_faults(NodeId id, const DiskFaults& faults) {
  Node& n = node(id);
  n.disk_faults = faults;
  n.fs->set_faults(faults.sync_fail_per_mille, faults.read_flip_per_mille, prng_.next());
}

FaultCounts Simulator::faults() const {
  FaultCounts counts = faults_;
  for (const auto& n : nodes_) {
    const storage::testing::SimFs::Injected injected = n->fs->injected();
    counts.syncs_failed += injected.syncs_failed;
    counts.reads_flipped += injected.reads_flipped;
  }
  return counts;
}

uint64_t Simulator::wall_ms() const { return kEpochMs + now_us_ / 1000; }

uint64_t Simulator::disk_latency_us(const Node& n) {
  uint64_t latency = prng_.uniform(options_.disk_latency_us_min, options_.disk_latency_us_max);
  // A stall is charged to whichever sync draws it, as a slow disk would. The node's own
  // faults (set_disk_faults), so that one node's disk can be slow, and converge() lifts
  // stalls with the other faults.
  const DiskFaults& disk = n.disk_faults;
  if (disk.stall_per_mille > 0 && prng_.uniform(1, 1000) <= disk.stall_per_mille) {
    ++faults_.syncs_stalled;
    latency += disk.stall_us;
  }
  return latency;
}

// --- Event loop ---

namespace {

bool later(const auto& a, const auto& b) {
  return a.time_us != b.time_us ? a.time_us > b.time_us : a.seq > b.seq;
}

}  // namespace

void Simulator::schedule(Event event) {
  RAFT_ASSERT(event.time_us >= now_us_);
  event.seq = next_seq_++;
  events_.push_back(event);
  std::push_heap(events_.begin(), events_.end(), [](const Event& a, const Event& b) {
    return later(a, b);
  });
}

void Simulator::schedule_callback(const Node& n, uint64_t time_us, std::function<void()> fn) {
  uint64_t slot = callbacks_.size();
  if (free_callbacks_.empty()) {
    callbacks_.push_back(std::move(fn));
  } else {
    slot = free_callbacks_.back();
    free_callbacks_.pop_back();
    callbacks_[slot] = std::move(fn);
  }
  schedule(Event{.time_us = time_us,
                 .kind = EventKind::Callback,
                 .node = n.id,
                 .incarnation = n.incarnation,
                 .detail = slot});
}

void Simulator::schedule_tick(const Node& n, uint64_t time_us) {
  schedule(Event{.time_us = time_us, .kind = EventKind::Tick, .node = n.id,
                 .incarnation = n.incarnation});
}

bool Simulator::step_one_event() {
  if (events_.empty()) return false;
  std::pop_heap(events_.begin(), events_.end(), [](const Event& a, const Event& b) {
    return later(a, b);
  });
  Event event = events_.back();
  events_.pop_back();
  RAFT_ASSERT(event.time_us >= now_us_);  // Time never goes back.
  now_us_ = event.time_us;
  handle(event);
  maybe_check_logs();
  return true;
}

void Simulator::handle(Event& event) {
  Node& n = node(event.node);
  if (event.kind == EventKind::Deliver) {
    // A process blocked on its disk reads its sockets once it is free again.
    if (n.up && n.busy_until_us > now_us_) {
      event.time_us = n.busy_until_us;
      return schedule(event);
    }
    Traffic traffic = std::move(*in_flight_[event.detail]);
    in_flight_[event.detail].reset();
    free_traffic_.push_back(event.detail);
    return deliver(std::move(traffic), event.incarnation);
  }
  const bool current = n.up && n.incarnation == event.incarnation;
  if (current && n.busy_until_us > now_us_) {
    event.time_us = n.busy_until_us;
    return schedule(event);
  }
  std::function<void()> callback;
  if (event.kind == EventKind::Callback) {
    callback = std::move(callbacks_[event.detail]);
    callbacks_[event.detail] = nullptr;
    free_callbacks_.push_back(event.detail);
  }
  if (!current) return;  // Addressed to a dead process.
  if (n.halting) {
    ++faults_.fatal_stops;
    return take_down(n, "is down: it stopped itself");
  }
  switch (event.kind) {
    case EventKind::Tick:
      n.runtime->tick();
      schedule_tick(n, now_us_ + kTickUs);
      break;
    case EventKind::Callback: callback(); break;
    case EventKind::PeerDown: n.runtime->on_peer_disconnected(NodeId{event.detail}); break;
    case EventKind::Deliver: break;
  }
  after_event(n);
}

void Simulator::send(NodeId from, NodeId to, Payload payload) {
  if (const auto* message = std::get_if<raft::Message>(&payload)) {
    if (message->from != from) {
      return fail("node " + std::to_string(from.value()) + " sent a message with from = " +
                  std::to_string(message->from.value()));
    }
    count(*message);
  }
  std::vector<uint64_t> delays = network_.plan_delivery(from, to, prng_);
  // A forwarded request travels over a TCP connection, which never delivers it twice: a copy
  // would be a second client request. (Raft's own messages may repeat: it tolerates that.)
  if (std::holds_alternative<runtime::ForwardRequest>(payload) && delays.size() > 1) {
    delays.resize(1);
  }
  if (const auto* message = std::get_if<raft::Message>(&payload); observer_ != nullptr && message) {
    observer_->on_send(*message, delays.size());
  }
  if (delays.empty()) ++faults_.messages_dropped;
  if (delays.size() > 1) faults_.messages_duplicated += delays.size() - 1;
  // A process blocked on its disk (block_on_disk: a follower's sync on its loop) sends what it
  // produced once the call returns: its acknowledgement leaves after its sync, as in the
  // server, where that sync is on every write's critical path.
  const uint64_t departs_us = std::max(now_us_, node(from).busy_until_us);
  for (uint64_t delay : delays) {
    uint64_t slot = in_flight_.size();
    if (free_traffic_.empty()) {
      in_flight_.emplace_back();
    } else {
      slot = free_traffic_.back();
      free_traffic_.pop_back();
    }
    in_flight_[slot] = Traffic{from, to, payload};
    schedule(Event{.time_us = departs_us + delay,
                   .kind = EventKind::Deliver,
                   .node = to,
                   .incarnation = node(from).incarnation,
                   .detail = slot});
  }
}

void Simulator::count(const raft::Message& message) {
  ++counts_.total;
  ++counts_.by_type[static_cast<size_t>(message.type)];
  if (message.type == raft::MessageType::AppendResponse && message.reject) {
    ++counts_.append_rejections;
  }
}

void Simulator::deliver(Traffic traffic, uint64_t /*sender_incarnation*/) {
  Node& to = node(traffic.to);
  // The link is checked again on arrival: a partition also catches traffic in flight.
  if (!to.up || to.halting || !network_.link_up(traffic.from, traffic.to)) return;
  runtime::Node& target = *to.runtime;
  std::visit(
      [&](auto& payload) {
        using T = std::decay_t<decltype(payload)>;
        if constexpr (std::is_same_v<T, raft::Message>) {
          target.on_message(traffic.from, std::move(payload));
        } else if constexpr (std::is_same_v<T, runtime::ForwardRequest>) {
          target.on_forward_request(traffic.from, std::move(payload));
        } else if constexpr (std::is_same_v<T, runtime::ForwardReply>) {
          target.on_forward_reply(traffic.from, std::move(payload));
        } else if constexpr (std::is_same_v<T, runtime::SnapshotChunk>) {
          target.on_snapshot_chunk(traffic.from, std::move(payload));
        } else {
          target.on_snapshot_ack(traffic.from, payload);
        }
      },
      traffic.payload);
  if (to.up) target.on_batch_end();
  after_event(to);
}

void Simulator::run_for_us(uint64_t us) {
  const uint64_t deadline = now_us_ + us;
  while (!failed() && !events_.empty() && events_.front().time_us <= deadline) {
    step_one_event();
  }
  if (!failed()) now_us_ = std::max(now_us_, deadline);
}

void Simulator::run_for_ticks(uint64_t ticks) { run_for_us(ticks * kTickUs); }

bool Simulator::run_until(const std::function<bool()>& done, uint64_t ticks_max) {
  const uint64_t deadline = now_us_ + ticks_max * kTickUs;
  if (done()) return true;
  while (!failed() && !events_.empty() && events_.front().time_us <= deadline) {
    step_one_event();
    if (!failed() && done()) return true;
  }
  if (failed()) return false;
  now_us_ = std::max(now_us_, deadline);
  return done();
}

// After every input to a node: the core's own invariants and the cluster-wide safety checks.
void Simulator::after_event(Node& n) {
  if (!n.up || n.halting) return;
  const raft::Raft& core = n.runtime->core();
  core.check_invariants();
  safety_.after_input(n.id, core, n.machine->applied_index());
}

// --- Clients ---

Status Simulator::submit(NodeId id, runtime::Request request, runtime::Done done,
                         std::function<void()> lost) {
  Node& n = node(id);
  if (!n.up || n.halting) return Status(ErrorCode::Unavailable, "node is down");
  const uint64_t token = ++next_request_;
  n.lost_if_crash.emplace(token, std::move(lost));
  const uint64_t incarnation = n.incarnation;
  auto run = [this, &n, token, incarnation, request = std::move(request),
              done = std::move(done)]() mutable {
    n.runtime->submit(std::move(request),
                      [&n, token, incarnation, done = std::move(done)](runtime::Response r) {
                        if (n.incarnation == incarnation) n.lost_if_crash.erase(token);
                        done(std::move(r));
                      });
    after_event(n);
  };
  // A blocked process (on its disk, or paused) reads the request once it is free again; if it
  // dies first, lost_if_crash tells the client.
  if (n.busy_until_us > now_us_) {
    schedule_callback(n, now_us_, std::move(run));
  } else {
    run();
  }
  return Status::ok();
}

runtime::Request Simulator::kv_request(const kv::Command& command) {
  RAFT_ASSERT(options_.kv.has_value());
  RAFT_ASSERT(kv::validate_command(command).is_ok());
  return runtime::Request{SimMachine::kv_request(++next_request_, kv::encode_command(command)),
                          kv::is_read_only(command)};
}

Status Simulator::propose(NodeId id, std::string* payload_out) {
  std::string payload = history_.new_payload();
  if (payload_out != nullptr) *payload_out = payload;
  return propose_payload(id, payload);
}

// A write to `id`'s core itself (its leader), as the Raft-level scenarios need: refused at once
// when it does not lead, as the core would; the answer the runtime gives at once, if any, is
// returned too.
Status Simulator::propose_payload(NodeId id, const std::string& payload) {
  Node& n = node(id);
  if (!n.up || n.halting) return Status(ErrorCode::Unavailable, "node is down");
  if (n.runtime->core().role() != raft::Role::Leader) {
    return Status(ErrorCode::NotLeader, "node " + std::to_string(id.value()) + " does not lead");
  }
  auto refused = std::make_shared<std::optional<std::string>>();
  auto submitting = std::make_shared<bool>(true);
  Status status =
      submit_write(id, payload, [refused, submitting](const runtime::Response& response) {
        if (*submitting && response.outcome == runtime::Outcome::NotApplied) {
          *refused = response.reply;
        }
      });
  *submitting = false;
  if (run_.sink() != nullptr) {
    narrate("client: propose '" + payload + "' to node " + std::to_string(id.value()) +
                (refused->has_value() ? ": refused: " + **refused : ""),
            LogLevel::Debug);
  }
  if (refused->has_value()) return Status(ErrorCode::Busy, **refused);
  return status;
}

Status Simulator::write(NodeId id, size_t bytes, runtime::Done done, std::string* payload_out) {
  const Node& n = node(id);
  if (!n.up || n.halting) return Status(ErrorCode::Unavailable, "node is down");
  std::string payload = history_.new_payload() + "/";  // The unique name, then padding.
  payload.resize(std::max(bytes, payload.size()), '.');
  if (payload_out != nullptr) *payload_out = payload;
  return submit_write(id, payload, std::move(done));
}

Status Simulator::submit_write(NodeId id, const std::string& payload, runtime::Done done) {
  history_.on_write_submitted(payload);
  return submit(
      id, runtime::Request{payload, false},
      [this, payload, done = std::move(done)](runtime::Response response) {
        history_.on_write_done(payload, response);
        done(std::move(response));
      },
      [this, payload] { history_.on_write_lost(payload); });
}

std::optional<std::string> Simulator::propose_to_leader() {
  const std::optional<NodeId> leader = stable_leader();
  if (!leader) return std::nullopt;
  std::string payload;
  if (!propose(*leader, &payload).is_ok()) return std::nullopt;
  return payload;
}

Status Simulator::read(NodeId id, runtime::Done done) {
  Node& n = node(id);
  if (!n.up || n.halting) return Status(ErrorCode::Unavailable, "node is down");
  if (n.runtime->core().role() != raft::Role::Leader) {
    return Status(ErrorCode::NotLeader, "node " + std::to_string(id.value()) + " does not lead");
  }
  const uint64_t read = history_.on_read_submitted(id);
  return submit(
      id, runtime::Request{"read", true},
      [this, read, done = std::move(done)](runtime::Response response) {
        history_.on_read_done(read, response);
        if (done) done(std::move(response));
      },
      [this, read] { history_.on_read_lost(read); });
}

Status Simulator::transfer_leadership(NodeId id, NodeId target) {
  Node& n = node(id);
  if (!n.up || n.halting) return Status(ErrorCode::Unavailable, "node is down");
  Status status = n.runtime->transfer_leadership(target);
  after_event(n);
  return status;
}

Status Simulator::change_membership(NodeId id, const runtime::MemberChange& change,
                                    std::function<void(Status)> done) {
  Node& n = node(id);
  if (!n.up || n.halting) return Status(ErrorCode::Unavailable, "node is down");
  n.runtime->change_membership(change, std::move(done));
  after_event(n);
  return Status::ok();
}

Status Simulator::await_leader(NodeId id, runtime::Done done) {
  Node& n = node(id);
  if (!n.up || n.halting) return Status(ErrorCode::Unavailable, "node is down");
  n.runtime->await_leader(std::move(done));
  after_event(n);
  return Status::ok();
}

Status Simulator::inject(NodeId id, const raft::Message& message) {
  Node& n = node(id);
  if (!n.up || n.halting) return Status(ErrorCode::Unavailable, "node is down");
  if (n.busy_until_us > now_us_) {
    return Status(ErrorCode::Busy, "node is blocked on its disk");
  }
  n.runtime->on_message(message.from, message);
  n.runtime->on_batch_end();
  after_event(n);
  return Status::ok();
}

Status Simulator::receive(NodeId id,
                          const std::function<void(runtime::PeerInbox& inbox)>& deliver) {
  Node& n = node(id);
  if (!n.up || n.halting) return Status(ErrorCode::Unavailable, "node is down");
  deliver(*n.runtime);
  after_event(n);
  return Status::ok();
}

bool Simulator::applied_everywhere(const std::string& payload) const {
  for (const auto& n : nodes_) {
    if (n->up && !n->machine->payloads().contains(payload)) return false;
  }
  return true;
}

bool Simulator::applied_anywhere(const std::string& payload) const {
  for (const auto& n : nodes_) {
    if (n->up && n->machine->payloads().contains(payload)) return true;
  }
  return false;
}

// --- Queries ---

std::vector<NodeId> Simulator::leaders() const {
  std::vector<NodeId> out;
  for (const auto& n : nodes_) {
    if (n->up && n->runtime->core().role() == raft::Role::Leader) out.push_back(n->id);
  }
  return out;
}

std::optional<NodeId> Simulator::stable_leader(const std::vector<NodeId>& among) const {
  std::vector<NodeId> members = among.empty() ? ids() : among;
  std::optional<NodeId> leader;
  for (NodeId id : members) {
    const Node& n = node(id);
    if (!n.up || n.runtime->core().role() != raft::Role::Leader) continue;
    if (leader) return std::nullopt;  // Two leaders (of different terms) among them.
    leader = id;
  }
  if (!leader) return std::nullopt;
  const Term term = node(*leader).runtime->core().term();
  for (NodeId id : members) {
    const Node& n = node(id);
    if (!n.up) continue;
    if (n.runtime->core().term() != term || n.runtime->core().leader() != *leader) {
      return std::nullopt;
    }
  }
  return leader;
}

std::optional<NodeId> Simulator::wait_for_leader(uint64_t ticks_max,
                                                 const std::vector<NodeId>& among) {
  std::optional<NodeId> leader;
  const bool found = run_until(
      [&] {
        leader = stable_leader(among);
        return leader.has_value();
      },
      ticks_max);
  return found ? leader : std::nullopt;
}

std::string Simulator::describe_cluster() const {
  std::ostringstream out;
  for (const auto& n : nodes_) {
    out << "  node " << n->id << ": ";
    if (!n->up) {
      out << "down\n";
      continue;
    }
    const raft::RaftStatus status = n->runtime->core().status();
    out << raft::role_name(status.role) << " term " << status.term << " leader "
        << status.leader << " commit " << status.commit_index << " applied "
        << n->machine->applied_index() << " log [" << status.first_index << ", "
        << status.last_index << "] last term " << status.last_term
        << (network_.is_isolated(n->id) ? " (isolated)" : "")
        << (n->busy_until_us > now_us_ ? " (blocked on its disk)" : "") << "\n";
    for (const raft::PeerStatus& peer : status.peers) {
      out << "    peer " << peer.id << ": " << raft::progress_state_name(peer.state) << " match "
          << peer.match_index << " next " << peer.next_index << " inflight "
          << peer.inflight_messages << " silent " << peer.ticks_since_contact << " ticks\n";
    }
  }
  return out.str();
}

void Simulator::fail(const std::string& what) {
  run_.fail(format_time(now_us_) + ": " + what + "\ncluster:\n" + describe_cluster());
}

void Simulator::narrate(const std::string& line, LogLevel level) {
  SimLogSink* sink = run_.sink();
  if (sink != nullptr && sink->enabled(level)) sink->write(now_us_, kNoNode, level, line);
}

// --- End-of-run checks ---

void Simulator::maybe_check_logs() {
  if (now_us_ < next_log_check_us_) return;
  next_log_check_us_ = now_us_ + options_.log_check_period_ticks * kTickUs;
  check_logs_now();
}

void Simulator::check_logs_now() {
  std::vector<SafetyChecker::LiveNode> live;
  for (const auto& n : nodes_) {
    if (n->up && !n->halting) {
      live.push_back({n->id, &n->runtime->core(), n->machine->applied_index()});
    }
  }
  safety_.check_logs(live);
}

bool Simulator::quiet() const {
  const std::optional<NodeId> leader = stable_leader();
  if (!leader) return false;
  const Index last = node(*leader).runtime->core().log().last_index();
  // A Ready may still be on its way to disk (a slow disk always has one): what counts is that
  // every node has committed and applied everything.
  for (const auto& n : nodes_) {
    if (!n->up) return false;
    if (n->runtime->core().log().committed() != last || n->machine->applied_index() != last) {
      return false;
    }
  }
  return true;
}

bool Simulator::converge(uint64_t ticks_max) {
  if (failed()) return false;
  network_.heal();
  network_.options().drop_per_mille = 0;
  network_.options().duplicate_per_mille = 0;
  for (const auto& n : nodes_) {
    if (n->halting) {
      ++faults_.fatal_stops;
      take_down(*n, "is down: it stopped itself");
    }
    set_disk_faults(n->id, DiskFaults{});
  }
  for (const auto& n : nodes_) {
    if (!n->up) restart(n->id);
  }
  if (!run_until([&] { return quiet(); }, ticks_max)) {
    if (!failed()) fail("the cluster did not converge within " + std::to_string(ticks_max) +
                        " ticks after every fault was healed");
    return false;
  }
  // Liveness, and it commits whatever earlier terms left behind: a new entry commits everywhere.
  // A leader deposed before it replicated the proposal takes it with it (a leadership
  // transfer the healing finished, say): then the next leader gets a new one.
  std::optional<std::string> payload;
  Term proposed_in;
  const bool committed = run_until(
      [&] {
        const std::optional<NodeId> leader = stable_leader();
        if (payload && leader && raft(*leader).term() != proposed_in &&
            !applied_anywhere(*payload)) {
          payload.reset();
        }
        if (!payload && leader) {
          payload = propose_to_leader();
          proposed_in = raft(*leader).term();
        }
        return payload && applied_everywhere(*payload) && quiet();
      },
      ticks_max);
  if (!committed) {
    if (!failed()) fail("a proposal after healing did not commit everywhere");
    return false;
  }
  final_checks();
  return !failed();
}

void Simulator::final_checks() {
  check_logs_now();
  if (failed()) return;
  std::vector<std::pair<NodeId, const SimStateMachine*>> states;
  for (const auto& n : nodes_) states.emplace_back(n->id, &n->machine->payloads());
  history_.check_final(states);
}

}  // namespace raftkv::sim
