#include "sim/simulator.h"

#include <algorithm>
#include <sstream>
#include <utility>

#include "common/assert.h"

namespace raftkv::sim {

// Forwards a core's log lines to the Run's sink, stamped with simulated time and node id.
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

// One simulated server. `storage` is its disk and survives crashes; everything else is the
// volatile process and is rebuilt on restart.
struct Simulator::Node {
  explicit Node(NodeId node_id) : id(node_id) {}

  NodeId id;
  bool up = false;
  // Bumped on every start, so events addressed to a crashed incarnation are recognised.
  uint64_t incarnation = 0;
  raft::MemoryStorage storage;
  std::unique_ptr<Prng> prng;
  std::unique_ptr<NodeLogger> logger;
  std::unique_ptr<raft::Raft> raft;
  SimStateMachine state_machine;
  // With SimOptions::kv: the KV state machine, volatile like state_machine.
  std::optional<kv::KvStateMachine> kv;
  // A Ready taken from the core whose persist has not happened yet (the disk is busy).
  std::optional<raft::Ready> pending;
  bool pending_steady_leader = false;
  Term pending_term;
  // The term in which the node was leader when its last Ready finished (0 if it was not).
  Term leader_term_at_advance;
  // Released reads waiting for the state machine to reach their index.
  std::vector<raft::ReadState> reads_waiting;
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
  }
  for (auto& node : nodes_) start(*node);
}

Simulator::~Simulator() = default;

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
  for (const auto& node : nodes_) out.push_back(node->id);
  return out;
}

bool Simulator::is_up(NodeId id) const { return node(id).up; }

const raft::Raft& Simulator::raft(NodeId id) const {
  const Node& n = node(id);
  RAFT_ASSERT(n.up);
  return *n.raft;
}

const SimStateMachine& Simulator::state_machine(NodeId id) const {
  return node(id).state_machine;
}

const raft::MemoryStorage& Simulator::storage(NodeId id) const { return node(id).storage; }

const kv::KvStateMachine* Simulator::kv(NodeId id) const {
  const Node& n = node(id);
  return n.kv ? &*n.kv : nullptr;
}

// --- Node life cycle ---

void Simulator::start(Node& n) {
  RAFT_ASSERT(!n.up);
  ++n.incarnation;
  // Each incarnation draws its own seed from the run's generator: deterministic per seed.
  n.prng = std::make_unique<Prng>(prng_.next());
  n.logger = std::make_unique<NodeLogger>(*this, n.id);
  raft::Config config;
  config.id = n.id;
  config.voters = ids();
  config.election_ticks = options_.election_ticks;
  config.heartbeat_ticks = options_.heartbeat_ticks;
  config.pre_vote = options_.pre_vote;
  config.check_quorum = options_.check_quorum;
  config.message_bytes_max = options_.message_bytes_max;
  config.inflight_messages_max = options_.inflight_messages_max;
  // The state machine is volatile: it restarts from the node's own snapshot (or empty) and
  // re-applies the log after it. Config::applied says where it stands: the snapshot's index.
  // Not 0: MemoryStorage keeps entries below its snapshot when compaction keeps a tail, and
  // the core would hand those out again (first_index() - 1 is then below the snapshot).
  restore_from_storage(n);
  config.applied = n.state_machine.applied();
  n.raft = std::make_unique<raft::Raft>(config, n.storage, *n.prng, *n.logger);
  n.up = true;
  n.pending.reset();
  n.leader_term_at_advance = Term{0};
  n.reads_waiting.clear();
  // A random phase, so that nodes do not tick in lockstep.
  schedule_node_event(EventKind::Tick, n, now_us_ + prng_.uniform(1, kTickUs));
  after_input(n);
}

void Simulator::restore_from_storage(Node& n) {
  n.state_machine.clear();
  if (options_.kv) n.kv.emplace(*options_.kv);
  Result<raft::Snapshot> snapshot = n.storage.snapshot();
  RAFT_ASSERT(snapshot.is_ok());  // MemoryStorage always answers.
  if (snapshot.value().is_empty()) return;
  std::vector<std::string> payloads;
  std::string_view kv_bytes;
  if (!decode_snapshot(snapshot.value().data, &payloads, &kv_bytes)) {
    return fail("node " + std::to_string(n.id.value()) + " holds an undecodable snapshot");
  }
  safety_.on_restore(n.id, snapshot.value().meta, payloads);
  n.state_machine.restore(snapshot.value().meta.index, std::move(payloads));
  (void)restore_kv(n, kv_bytes);  // A failure is recorded in the Run.
}

// Without SimOptions::kv: the payload list alone (SimStateMachine::encode). With it:
// u64 little-endian length of that list's encoding, the encoding, then the KV snapshot bytes.
std::string Simulator::encode_snapshot(const Node& n) const {
  std::string list = n.state_machine.encode();
  if (!options_.kv) return list;
  RAFT_ASSERT(n.kv.has_value());
  RAFT_ASSERT(n.kv->applied_index() == n.state_machine.applied());
  std::string out;
  for (int shift = 0; shift < 64; shift += 8) {
    out.push_back(static_cast<char>(static_cast<uint64_t>(list.size()) >> shift));
  }
  out += list;
  kv::StringSnapshotWriter writer;
  Status saved = n.kv->save(writer);
  RAFT_ASSERT(saved.is_ok());  // A string writer never fails.
  out += writer.data();
  return out;
}

bool Simulator::decode_snapshot(std::string_view data, std::vector<std::string>* payloads,
                                std::string_view* kv_bytes) const {
  RAFT_ASSERT(payloads != nullptr);
  RAFT_ASSERT(kv_bytes != nullptr);
  *kv_bytes = {};
  if (!options_.kv) return SimStateMachine::decode(data, payloads);
  if (data.size() < 8) return false;
  uint64_t list_size = 0;
  for (uint32_t i = 0; i < 8; ++i) {
    list_size |= static_cast<uint64_t>(static_cast<uint8_t>(data[i])) << (8 * i);
  }
  if (data.size() - 8 < list_size) return false;
  *kv_bytes = data.substr(8 + list_size);
  return SimStateMachine::decode(data.substr(8, list_size), payloads);
}

bool Simulator::restore_kv(Node& n, std::string_view kv_bytes) {
  if (!options_.kv) return true;
  n.kv.emplace(*options_.kv);
  kv::StringSnapshotReader reader(kv_bytes);
  Status restored = n.kv->restore(reader);
  if (!restored.is_ok()) {
    fail("node " + std::to_string(n.id.value()) + " cannot restore its KV snapshot: " +
         restored.to_string());
    return false;
  }
  if (n.kv->applied_index() != n.state_machine.applied()) {
    fail("node " + std::to_string(n.id.value()) + " restored a KV snapshot at a different index");
    return false;
  }
  if (observer_ != nullptr) observer_->on_kv_restore(n.id, *n.kv);
  return true;
}

void Simulator::crash(NodeId id) {
  Node& n = node(id);
  if (!n.up) return;
  narrate("node " + std::to_string(id.value()) + " crashes");
  n.up = false;
  n.raft.reset();
  n.pending.reset();  // Its persist never happened: lost, like an fsync that never returned.
  n.reads_waiting.clear();
  n.state_machine.clear();
  n.kv.reset();
  safety_.on_crash(id);
  history_.on_crash(id);
  // The dead process's sockets close: peers it can reach see their connections end one
  // network delay later (Raft::report_peer_down), as a real transport reports them.
  for (const std::unique_ptr<Node>& peer : nodes_) {
    if (peer->up && network_.link_up(id, peer->id)) connection_closed(peer->id, id);
  }
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

// --- Event loop ---

namespace {

bool later(const auto& a, const auto& b) {
  return a.time_us != b.time_us ? a.time_us > b.time_us : a.seq > b.seq;
}

}  // namespace

void Simulator::schedule(Event event) {
  RAFT_ASSERT(event.time_us >= now_us_);
  event.seq = next_seq_++;
  events_.push_back(std::move(event));
  std::push_heap(events_.begin(), events_.end(), [](const Event& a, const Event& b) {
    return later(a, b);
  });
}

void Simulator::schedule_node_event(EventKind kind, const Node& n, uint64_t time_us) {
  Event event;
  event.time_us = time_us;
  event.kind = kind;
  event.node = n.id;
  event.incarnation = n.incarnation;
  schedule(event);
}

bool Simulator::step_one_event() {
  if (events_.empty()) return false;
  std::pop_heap(events_.begin(), events_.end(), [](const Event& a, const Event& b) {
    return later(a, b);
  });
  Event event = std::move(events_.back());
  events_.pop_back();
  RAFT_ASSERT(event.time_us >= now_us_);  // Time never goes back.
  now_us_ = event.time_us;
  handle(event);
  maybe_check_logs();
  return true;
}

void Simulator::handle(Event& event) {
  if (event.kind == EventKind::Deliver) {
    const raft::Message message = std::move(in_flight_[event.detail]);
    free_slots_.push_back(event.detail);
    return deliver(message, event.incarnation);
  }
  Node& n = node(event.node);
  if (!n.up || n.incarnation != event.incarnation) return;  // Addressed to a dead process.
  if (event.kind == EventKind::Tick) {
    n.raft->tick();
    schedule_node_event(EventKind::Tick, n, now_us_ + kTickUs);
    return after_input(n);
  }
  if (event.kind == EventKind::SnapshotFailed) {
    n.raft->report_snapshot_failed(NodeId{event.detail});
    return after_input(n);
  }
  if (event.kind == EventKind::PeerDown) {
    n.raft->report_peer_down(NodeId{event.detail});
    return after_input(n);
  }
  RAFT_ASSERT(event.kind == EventKind::Persist);
  RAFT_ASSERT(n.pending.has_value());
  complete_ready(n);
  after_input(n);
}

void Simulator::deliver(const raft::Message& message, uint64_t sender_incarnation) {
  Node& to = node(message.to);
  // The link is checked again on arrival: a partition also catches messages in flight.
  if (!to.up || !network_.link_up(message.from, message.to)) {
    return report_snapshot_lost(message, sender_incarnation, 0);
  }
  if (observer_ != nullptr) observer_->on_deliver(message);
  Status status = to.raft->step(message);
  if (!status.is_ok()) {
    std::ostringstream out;
    out << "node " << to.id << " rejected a " << raft::message_type_name(message.type)
        << " (term " << message.term << ", index " << message.index << ") that node "
        << message.from << "'s core produced: " << status.to_string();
    fail(out.str());
  }
  after_input(to);
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

// --- Driving one node through raft.h's Ready contract ---

void Simulator::after_input(Node& n) {
  if (!n.up) return;
  n.raft->check_invariants();
  safety_.after_input(n.id, *n.raft, n.state_machine.applied());
  drive(n);
}

void Simulator::drive(Node& n) {
  // Bounded: a core that never stops producing Readies without any input is livelocked.
  for (int rounds = 0; n.up && !n.pending && n.raft->has_ready(); ++rounds) {
    if (failed()) return;
    if (rounds == 1000) return fail("node keeps producing Readies without input (livelock)");
    take_ready(n);
  }
}

void Simulator::take_ready(Node& n) {
  raft::Ready ready = n.raft->ready();
  if (ready.soft_state) ++soft_state_changes_;
  n.pending_term = n.raft->term();
  n.pending_steady_leader =
      n.raft->role() == raft::Role::Leader && n.leader_term_at_advance == n.pending_term;
  if (options_.send_before_persist) {
    // Raft thesis §10.2.1: replication may overlap the leader's own disk write.
    for (const raft::Message& message : ready.messages) {
      if (raft::may_send_before_persist(message)) send(n, message);
    }
  }
  n.pending = std::move(ready);
  const uint64_t latency =
      prng_.uniform(options_.disk_latency_us_min, options_.disk_latency_us_max);
  if (latency == 0) return complete_ready(n);
  schedule_node_event(EventKind::Persist, n, now_us_ + latency);
}

void Simulator::complete_ready(Node& n) {
  RAFT_ASSERT(n.pending.has_value());
  raft::Ready ready = std::move(*n.pending);
  n.pending.reset();
  safety_.before_persist(n.id, ready, n.storage.last_index(), n.pending_steady_leader,
                         n.pending_term);
  persist(n, ready);
  if (failed()) return;
  if (observer_ != nullptr) observer_->on_persist(n.id, ready);
  for (const raft::Message& message : ready.messages) {
    if (!options_.send_before_persist || !raft::may_send_before_persist(message)) {
      send(n, message);
    }
  }
  apply(n, ready.committed_entries);
  for (const raft::ReadState& read_state : ready.read_states) {
    history_.on_read_released(n.id, read_state);
    n.reads_waiting.push_back(read_state);
  }
  serve_reads(n);
  n.raft->advance(ready);
  n.leader_term_at_advance =
      n.raft->role() == raft::Role::Leader ? n.raft->term() : Term{0};
  maybe_snapshot(n);
  n.raft->check_invariants();
  safety_.after_input(n.id, *n.raft, n.state_machine.applied());
}

// Snapshot, then entries, then hard state: the order a real disk must make durable.
void Simulator::persist(Node& n, const raft::Ready& ready) {
  const std::string who = "node " + std::to_string(n.id.value());
  if (ready.snapshot) {
    Status status = n.storage.apply_snapshot(*ready.snapshot);
    if (!status.is_ok()) return fail(who + " cannot persist its Ready's snapshot: " +
                                     status.to_string());
    std::vector<std::string> payloads;
    std::string_view kv_bytes;
    if (!decode_snapshot(ready.snapshot->data, &payloads, &kv_bytes)) {
      return fail(who + " received an undecodable snapshot");
    }
    safety_.on_restore(n.id, ready.snapshot->meta, payloads);
    history_.on_restore(n.id, ready.snapshot->meta.index);
    n.state_machine.restore(ready.snapshot->meta.index, std::move(payloads));
    if (!restore_kv(n, kv_bytes)) return;
  }
  Status appended = n.storage.append(ready.entries);
  if (!appended.is_ok()) {
    return fail(who + " cannot persist its Ready's entries: " + appended.to_string());
  }
  if (ready.hard_state) n.storage.set_hard_state(*ready.hard_state);
}

void Simulator::send(Node& n, const raft::Message& message) {
  ++counts_.total;
  ++counts_.by_type[static_cast<size_t>(message.type)];
  if (message.type == raft::MessageType::AppendResponse && message.reject) {
    ++counts_.append_rejections;
  }
  if (message.from != n.id) {
    return fail("node " + std::to_string(n.id.value()) + " sent a message with from = " +
                std::to_string(message.from.value()));
  }
  const std::vector<uint64_t> delays = network_.plan_delivery(message.from, message.to, prng_);
  if (observer_ != nullptr) observer_->on_send(message, delays.size());
  for (uint64_t delay : delays) {
    uint64_t slot = in_flight_.size();
    if (free_slots_.empty()) {
      in_flight_.push_back(message);
    } else {
      slot = free_slots_.back();
      free_slots_.pop_back();
      in_flight_[slot] = message;
    }
    Event event;
    event.time_us = now_us_ + delay;
    event.kind = EventKind::Deliver;
    event.incarnation = n.incarnation;
    event.detail = slot;
    schedule(event);
  }
  if (delays.empty()) report_snapshot_lost(message, n.incarnation, network_.options().delay_us_max);
}

// A transport streams a snapshot over a connection and learns when that fails; it then tells
// the core (Raft::report_snapshot_failed), which probes the follower again. Other message
// types are fire-and-forget.
void Simulator::report_snapshot_lost(const raft::Message& message, uint64_t sender_incarnation,
                                     uint64_t delay_us) {
  if (message.type != raft::MessageType::InstallSnapshot) return;
  Event event;
  event.time_us = now_us_ + delay_us;
  event.kind = EventKind::SnapshotFailed;
  event.node = message.from;
  event.incarnation = sender_incarnation;
  event.detail = message.to.value();
  schedule(event);
}

void Simulator::apply(Node& n, const std::vector<raft::Entry>& entries) {
  for (const raft::Entry& entry : entries) {
    if (entry.index != n.state_machine.applied() + 1) {
      std::ostringstream out;
      out << "node " << n.id << " was handed entry " << entry.index << " to apply after "
          << n.state_machine.applied() << " (a gap or a repeat)";
      return fail(out.str());
    }
    safety_.on_apply(n.id, entry);
    history_.on_apply(n.id, entry);
    n.state_machine.apply(entry);
    if (n.kv) apply_kv(n, entry);
    if (observer_ != nullptr) observer_->on_apply(n.id, entry);
    if (entry.type == raft::EntryType::ConfChange) {
      raft::ConfChange change;
      if (!raft::decode_conf_change(entry.data, &change)) {
        return fail("node " + std::to_string(n.id.value()) + " applied a malformed ConfChange");
      }
      n.raft->apply_conf_change(change);
    }
  }
}

void Simulator::apply_kv(Node& n, const raft::Entry& entry) {
  RAFT_ASSERT(n.kv.has_value());
  RAFT_ASSERT(entry.index == n.kv->applied_index() + 1);
  const std::optional<std::string_view> command =
      entry.type == raft::EntryType::Normal ? kv_command_bytes(entry.data) : std::nullopt;
  if (!command) {
    n.kv->apply_empty(entry.index);
    if (observer_ != nullptr) observer_->on_kv_apply(n.id, entry, *n.kv, nullptr);
    return;
  }
  const kv::Reply reply = n.kv->apply(entry.index, *command);
  if (observer_ != nullptr) observer_->on_kv_apply(n.id, entry, *n.kv, &reply);
}

void Simulator::serve_reads(Node& n) {
  // The read observes the state machine once it reached the read's index.
  std::erase_if(n.reads_waiting, [&](const raft::ReadState& read_state) {
    if (read_state.index > n.state_machine.applied()) return false;
    history_.on_read_served(n.id, read_state.request_id, n.state_machine);
    return true;
  });
}

void Simulator::maybe_snapshot(Node& n) {
  const uint32_t every = options_.snapshot_every_entries;
  if (every == 0) return;
  const Index applied = n.state_machine.applied();
  const Index snapshot_index = n.storage.first_index() - 1;
  if (applied < snapshot_index + every) return;
  // applied <= the node's durable last index: entries are persisted before they are applied.
  Status created =
      n.storage.create_snapshot(applied, n.raft->status().conf_state, encode_snapshot(n));
  if (!created.is_ok()) return fail("create_snapshot failed: " + created.to_string());
  if (applied.value() <= options_.snapshot_keep_entries) return;
  Status compacted = n.storage.compact(applied - options_.snapshot_keep_entries);
  if (!compacted.is_ok()) return fail("compact failed: " + compacted.to_string());
}

// --- Clients ---

Result<raft::Proposal> Simulator::propose(NodeId id, std::string* payload_out) {
  std::string payload = history_.new_payload();
  if (payload_out != nullptr) *payload_out = payload;
  return propose_payload(id, payload);
}

Result<raft::Proposal> Simulator::propose_payload(NodeId id, const std::string& payload) {
  Node& n = node(id);
  if (!n.up) return Status(ErrorCode::Unavailable, "node is down");
  Result<raft::Proposal> proposal = n.raft->propose(payload);
  if (proposal.is_ok()) history_.on_proposed(id, proposal.value(), payload);
  if (run_.sink() != nullptr) {
    narrate("client: propose '" + payload + "' to node " + std::to_string(id.value()) + ": " +
                (proposal.is_ok() ? "index " + std::to_string(proposal.value().index.value())
                                  : proposal.status().to_string()),
            LogLevel::Debug);
  }
  after_input(n);
  return proposal;
}

namespace {

// Marks a propose_kv() payload: "kv/" + a unique payload id + "/" + the encoded command.
constexpr std::string_view kKvPayloadPrefix = "kv/";

}  // namespace

Result<raft::Proposal> Simulator::propose_kv(NodeId id, kv::Command command,
                                             std::string* payload_out) {
  RAFT_ASSERT(options_.kv.has_value());
  // The leader stamps session commands with its clock (kv/state_machine.h): here, sim time.
  if (command.type == kv::CommandType::RegisterSession ||
      command.type == kv::CommandType::Session) {
    command.timestamp_ms = now_us_ / 1000;
  }
  RAFT_ASSERT(kv::validate_command(command).is_ok());
  const std::string payload = std::string(kKvPayloadPrefix) + history_.new_payload() + "/" +
                              kv::encode_command(command);
  if (payload_out != nullptr) *payload_out = payload;
  return propose_payload(id, payload);
}

std::optional<std::string_view> Simulator::kv_command_bytes(std::string_view payload) {
  if (!payload.starts_with(kKvPayloadPrefix)) return std::nullopt;
  const size_t slash = payload.find('/', kKvPayloadPrefix.size());
  if (slash == std::string_view::npos) return std::nullopt;
  return payload.substr(slash + 1);
}

std::optional<std::string> Simulator::propose_to_leader() {
  const std::optional<NodeId> leader = stable_leader();
  if (!leader) return std::nullopt;
  std::string payload;
  if (!propose(*leader, &payload).is_ok()) return std::nullopt;
  return payload;
}

Status Simulator::read(NodeId id) {
  Node& n = node(id);
  if (!n.up) return Status(ErrorCode::Unavailable, "node is down");
  const uint64_t request_id = history_.new_request_id();
  Status status = n.raft->read_index(request_id);
  if (status.is_ok()) history_.on_read_issued(id, request_id);
  after_input(n);
  return status;
}

Status Simulator::transfer_leadership(NodeId id, NodeId target) {
  Node& n = node(id);
  if (!n.up) return Status(ErrorCode::Unavailable, "node is down");
  Status status = n.raft->transfer_leadership(target);
  after_input(n);
  return status;
}

Status Simulator::inject(NodeId id, const raft::Message& message) {
  Node& n = node(id);
  if (!n.up) return Status(ErrorCode::Unavailable, "node is down");
  Status status = n.raft->step(message);
  after_input(n);
  return status;
}

bool Simulator::applied_everywhere(const std::string& payload) const {
  for (const auto& n : nodes_) {
    if (n->up && !n->state_machine.contains(payload)) return false;
  }
  return true;
}

bool Simulator::applied_anywhere(const std::string& payload) const {
  for (const auto& n : nodes_) {
    if (n->up && n->state_machine.contains(payload)) return true;
  }
  return false;
}

// --- Queries ---

std::vector<NodeId> Simulator::leaders() const {
  std::vector<NodeId> out;
  for (const auto& n : nodes_) {
    if (n->up && n->raft->role() == raft::Role::Leader) out.push_back(n->id);
  }
  return out;
}

std::optional<NodeId> Simulator::stable_leader(const std::vector<NodeId>& among) const {
  std::vector<NodeId> members = among.empty() ? ids() : among;
  std::optional<NodeId> leader;
  for (NodeId id : members) {
    const Node& n = node(id);
    if (!n.up || n.raft->role() != raft::Role::Leader) continue;
    if (leader) return std::nullopt;  // Two leaders (of different terms) among them.
    leader = id;
  }
  if (!leader) return std::nullopt;
  const Term term = node(*leader).raft->term();
  for (NodeId id : members) {
    const Node& n = node(id);
    if (!n.up) continue;
    if (n.raft->term() != term || n.raft->leader() != *leader) return std::nullopt;
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
      out << "down (durable: term " << n->storage.hard_state().term << ", last index "
          << n->storage.last_index() << ")\n";
      continue;
    }
    const raft::RaftStatus status = n->raft->status();
    out << raft::role_name(status.role) << " term " << status.term << " leader "
        << status.leader << " commit " << status.commit_index << " applied "
        << n->state_machine.applied() << " log [" << status.first_index << ", "
        << status.last_index << "] last term " << status.last_term
        << (network_.is_isolated(n->id) ? " (isolated)" : "") << "\n";
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
    if (n->up) live.push_back({n->id, n->raft.get(), n->state_machine.applied()});
  }
  safety_.check_logs(live);
}

bool Simulator::quiet() const {
  const std::optional<NodeId> leader = stable_leader();
  if (!leader) return false;
  const Index last = node(*leader).raft->log().last_index();
  // A Ready may still be on its way to disk (a slow disk always has one): what counts is that
  // every node has committed and applied everything.
  for (const auto& n : nodes_) {
    if (!n->up) return false;
    if (n->raft->log().committed() != last || n->state_machine.applied() != last) return false;
  }
  return true;
}

bool Simulator::converge(uint64_t ticks_max) {
  if (failed()) return false;
  network_.heal();
  network_.options().drop_per_mille = 0;
  network_.options().duplicate_per_mille = 0;
  for (const auto& n : nodes_) {
    if (!n->up) restart(n->id);
  }
  if (!run_until([&] { return quiet(); }, ticks_max)) {
    if (!failed()) fail("the cluster did not converge within " + std::to_string(ticks_max) +
                        " ticks after every fault was healed");
    return false;
  }
  // Liveness, and it commits whatever earlier terms left behind: a new entry commits everywhere.
  std::optional<std::string> payload;
  const bool committed = run_until(
      [&] {
        if (!payload) payload = propose_to_leader();
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
  for (const auto& n : nodes_) states.emplace_back(n->id, &n->state_machine);
  history_.check_final(states);
}

}  // namespace raftkv::sim
