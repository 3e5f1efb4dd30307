#include "runtime/node.h"

#include <algorithm>

namespace raftkv::runtime {

namespace {

// With bootstrap members given, the core's voters and learners are theirs: one list to set,
// not two to keep equal.
NodeOptions with_ids_of_members(NodeOptions options) {
  if (options.members.empty()) return options;
  options.raft.voters.clear();
  options.raft.learners.clear();
  for (const Member& member : options.members) {
    (member.learner ? options.raft.learners : options.raft.voters).push_back(member.id);
  }
  return options;
}

}  // namespace

Node::Node(NodeOptions options, Environment& env, Storage& storage, StateMachine& state_machine,
           Transport& transport, Logger& logger, Metrics& metrics, Observer* observer)
    : options_(with_ids_of_members(std::move(options))),
      node_{.options = options_,
            .env = env,
            .storage = storage,
            .state_machine = state_machine,
            .transport = transport,
            .logger = logger,
            .metrics = metrics,
            .observer = observer != nullptr ? observer : &no_observer_},
      requests_(node_),
      membership_(node_),
      snapshots_(node_, membership_),
      prng_(options_.seed) {
  node_.drive = [this] { drive(); };
  node_.drive_soon = [this] { drive_soon(); };
  node_.fail_stop = [this](const std::string& why) { fail_stop(why); };
}

Node::~Node() {
  stop();
  *node_.alive = false;
}

Status Node::start() {
  // The state machine restarts from the newest snapshot, streamed from its file; the core then
  // hands out the committed entries after it.
  Result<Index> snapshot_index = snapshots_.restore_from_file();
  if (!snapshot_index.is_ok()) return snapshot_index.status();
  raft::Config config = options_.raft;
  config.applied = snapshot_index.value();
  if (Status valid = config.validate(); !valid.is_ok()) return valid;
  node_.core = std::make_unique<raft::Raft>(config, node_.storage, prng_, node_.logger);
  persisted_term_ = node_.storage.hard_state().term;
  persisted_vote_ = node_.storage.hard_state().voted_for;
  persisted_commit_ = node_.storage.hard_state().commit;
  last_commit_ = node_.core->log().committed();
  const uint64_t replay_started_us = node_.env.now_us();
  drive();  // Applies the stored committed entries: the replay, before any peer or client.
  log_replay(snapshot_index.value(), node_.env.now_us() - replay_started_us);
  return Status::ok();
}

// How long a restart spends replaying the log is what the snapshot policy bounds: logged, so
// that an operator sees where a slow start went.
void Node::log_replay(Index snapshot_index, uint64_t took_us) {
  const Index applied = node_.state_machine.applied_index();
  RAFT_ASSERT(applied >= snapshot_index);
  const uint64_t entries = applied - snapshot_index;
  if (entries == 0) return;
  log_to(node_.logger, LogLevel::Info, "replayed ", entries, " log entries (", snapshot_index,
         ", ", applied, "] into the state machine in ", took_us / 1000, " ms");
}

void Node::stop() { stopped_ = true; }

void Node::fail_stop(const std::string& why) {
  if (stopped_) return;
  stop();
  node_.env.fatal(why);
}

void Node::tick() {
  if (stopped_) return;
  // A removed node's core may still count itself a voter (it missed the commit of its
  // removal): without ticks it never campaigns. It answers what it is sent, except vote
  // requests (on_message).
  if (!membership_.removed()) node_.core->tick();
  snapshots_.on_tick();
  requests_.expire();
  requests_.maybe_maintain();
  release_cached_entries();
  node_.observer->on_tick(*node_.core);
  drive();
}

// ---- Client requests ----

void Node::submit(Request request, Done done) {
  if (stopped_) return done(Response::not_applied("the node is stopping"));
  // Its idea of the leader is stale and its forwards go nowhere: send the client elsewhere.
  if (membership_.removed()) {
    return done(Response::not_applied("this node was removed from the cluster"));
  }
  requests_.submit(std::move(request), std::move(done));
}

void Node::await_leader(Done done) {
  if (stopped_ || membership_.removed() || node_.core->leader() != kNoNode) {
    return done(Response::ok(""));
  }
  const uint64_t election_timeout_ms =
      2ull * node_.options.raft.election_ticks * node_.options.tick_ms;
  requests_.await_leader(node_.now_ms() + election_timeout_ms, std::move(done));
}

void Node::submit_local_read(const Request& request, Done done) {
  requests_.submit_local_read(request, std::move(done));
}

Status Node::transfer_leadership(NodeId target) {
  if (stopped_) return Status(ErrorCode::Unavailable, "the node is stopping");
  Status status = node_.core->transfer_leadership(target);
  drive();
  return status;
}

void Node::change_membership(const MemberChange& change, std::function<void(Status)> done) {
  if (stopped_) return done(Status(ErrorCode::Unavailable, "the node is stopping"));
  raft::Raft& core = *node_.core;
  if (core.role() != raft::Role::Leader) {
    return done(Status(ErrorCode::NotLeader, "not the leader; the leader is node " +
                                                 std::to_string(core.leader().value())));
  }
  if (Status checked = membership_.check(change, core.status()); !checked.is_ok()) {
    return done(checked);
  }
  Result<raft::Proposal> proposal = core.propose_conf_change(membership_.to_conf_change(change));
  if (!proposal.is_ok()) return done(proposal.status());
  log_to(node_.logger, LogLevel::Info, "proposed a membership change at index ",
         proposal.value().index);
  requests_.track_write(proposal.value(), [done = std::move(done)](Response response) {
    switch (response.outcome) {
      case Outcome::Ok: return done(Status::ok());
      case Outcome::NotApplied: return done(Status(ErrorCode::Busy, response.reply));
      case Outcome::MaybeApplied: return done(Status(ErrorCode::Unavailable, response.reply));
    }
  });
}

void Node::set_client_addr(std::string client_addr, std::string client_tls_addr) {
  membership_.set_own_client_addr(std::move(client_addr), std::move(client_tls_addr));
}

// ---- Peers ----

void Node::on_message(NodeId from, raft::Message message) {
  if (stopped_) return;
  if (message.from != from) {
    log_to(node_.logger, LogLevel::Warn, "dropped a message claiming to be from node ",
           message.from, " on node ", from, "'s connection");
    return;
  }
  if (membership_.was_removed(from)) {
    // It may still believe it leads; the core would follow an unknown leader's replication.
    log_to(node_.logger, LogLevel::Debug, "dropped a message from removed node ", from);
    return;
  }
  const bool vote_request =
      message.type == raft::MessageType::Vote || message.type == raft::MessageType::PreVote;
  if (vote_request && membership_.removed()) {
    // Out of the cluster, its vote can only help a candidate that has not applied the removal
    // win a majority of the membership that the removal replaced.
    log_to(node_.logger, LogLevel::Debug, "removed from the cluster: no vote for node ", from);
    return;
  }
  if (message.type == raft::MessageType::InstallSnapshot) {
    // Snapshots arrive only as verified chunk streams (Snapshots::on_chunk).
    log_to(node_.logger, LogLevel::Warn, "dropped an InstallSnapshot message from node ", from,
           ": snapshots travel as chunks");
    return;
  }
  node_.observer->on_receive(message);
  (void)node_.core->step(message);  // A refusal is logged by the core and changes nothing.
}

void Node::on_forward_request(NodeId from, ForwardRequest request) {
  if (stopped_) return;
  requests_.on_forward_request(from, std::move(request));
}

void Node::on_forward_reply(NodeId /*from*/, ForwardReply reply) {
  if (stopped_) return;
  requests_.on_forward_reply(std::move(reply));
}

void Node::on_snapshot_chunk(NodeId from, SnapshotChunk chunk) {
  if (stopped_) return;
  snapshots_.on_chunk(from, chunk);
}

void Node::on_snapshot_ack(NodeId from, const SnapshotAck& ack) {
  if (stopped_) return;
  snapshots_.on_ack(from, ack);
}

void Node::on_batch_end() { drive(); }

void Node::on_peer_unreachable(NodeId peer) {
  if (stopped_) return;
  node_.core->report_unreachable(peer);
  drive();
}

void Node::on_peer_disconnected(NodeId peer) {
  if (stopped_) return;
  node_.core->report_peer_down(peer);  // A dead leader is replaced without a full timeout.
  requests_.on_peer_disconnected(peer);
  drive();
}

void Node::on_peer_hello(NodeId peer, const std::string& client_addr,
                         const std::string& client_tls_addr) {
  membership_.on_peer_hello(peer, client_addr, client_tls_addr);
}

void Node::on_removed_notice(NodeId peer) {
  if (stopped_) return;
  membership_.on_removed_notice(peer);
}

void Node::send(const raft::Message& message) {
  node_.observer->on_send(message);
  if (message.type == raft::MessageType::InstallSnapshot) {
    snapshots_.send(message.to, message.term);  // Streamed as chunks beside the core.
  } else {
    node_.transport.send(message);
  }
}

// ---- The Ready loop ----

// The core starts one heartbeat round per Ready for all the reads queued before it, so the
// Ready waits for this loop turn's other handlers: reads from many connections that arrived
// together then share one round instead of one round each.
void Node::drive_soon() {
  if (drive_posted_) return;
  drive_posted_ = true;
  node_.env.post(node_.guarded([this] {
    drive_posted_ = false;
    drive();
  }));
}

void Node::drive() {
  if (stopped_) return;
  // Here, not on the tick: an election won between ticks must show its term with its count.
  node_.metrics.term.store(node_.core->term().value(), std::memory_order_relaxed);
  if (in_flight_) {
    // A slow sync holds up neither the writes nor the reads that arrive meanwhile: they are
    // replicated, committed on the followers' copies and answered without this node's.
    const bool slow = disk_slow(*in_flight_);
    if (slow) requests_.on_read_states(node_.core->replicate_while_persisting());
    // Heartbeats and appends produced meanwhile leave now: a leader waiting for a long sync
    // (a slow disk, a 16 MiB entry) must not look dead to its followers.
    for (const raft::Message& message : node_.core->take_messages_before_persist()) {
      send(message);
    }
    apply_committed_in_flight(*in_flight_, slow);
    if (slow) requests_.serve_reads();
    return;
  }
  if (!node_.core->storage_error().is_ok()) {
    return fail_stop("the log could not be read back: " + node_.core->storage_error().to_string());
  }
  if (!node_.core->has_ready()) return;
  auto flight = std::make_shared<InFlight>(
      InFlight{.ready = node_.core->ready(), .taken_us = node_.env.now_us()});
  in_flight_ = flight;
  raft::Ready& ready = flight->ready;
  node_.observer->on_ready(ready);
  if (ready.soft_state) on_role_change(*ready.soft_state);
  // Thesis §10.2.1: the leader's replication leaves now, in parallel with its own sync.
  for (const raft::Message& message : ready.messages) {
    if (raft::may_send_before_persist(message)) send(message);
  }
  if (ready.snapshot && !snapshots_.install(ready.snapshot->meta)) return;
  // Committed entries this node already holds durably need not wait for this Ready's sync:
  // applying them now answers their clients one sync sooner.
  const Index first_new = ready.entries.empty() ? Index{UINT64_MAX} : ready.entries.front().index;
  size_t durable = 0;
  while (durable < ready.committed_entries.size() &&
         ready.committed_entries[durable].index < first_new) {
    ++durable;
  }
  apply_entries(std::span(ready.committed_entries).first(durable));
  persist(flight);
}

// Writes the Ready's entries and hard state and makes them durable: on the loop for a small
// follower Ready, on the Sync lane otherwise. finish_ready() follows once they are.
void Node::persist(const std::shared_ptr<InFlight>& flight) {
  const raft::Ready& ready = flight->ready;
  // The commit index alone is not worth a sync: it is volatile in Raft (Figure 2) and
  // relearned from the leader after a restart. It is written with the next entries or vote.
  const bool vote_changed = ready.hard_state && (ready.hard_state->term != persisted_term_ ||
                                                 ready.hard_state->voted_for != persisted_vote_);
  if (ready.entries.empty() && !vote_changed) return finish_ready(flight);
  if (ready.hard_state) {
    persisted_term_ = ready.hard_state->term;
    persisted_vote_ = ready.hard_state->voted_for;
    persisted_commit_ = ready.hard_state->commit;
  }
  flight->sync_started_us = node_.env.now_us();
  Result<SyncTicket> ticket = node_.storage.write(ready.entries, ready.hard_state);
  if (!ticket.is_ok()) return fail_stop("WAL write refused: " + ticket.status().to_string());
  Storage& storage = node_.storage;
  if (sync_on_loop(ready)) {
    node_.env.block_on_disk([&] { flight->saved = storage.wait_durable(ticket.value()); });
    return on_durable(flight);
  }
  node_.env.offload(
      Lane::Sync,
      [&storage, flight, t = ticket.value()] { flight->saved = storage.wait_durable(t); },
      node_.guarded([this, flight] { on_durable(flight); }));
}

// A follower's small Ready is made durable on the loop thread. With one or a few clients the
// follower's sync is on every write's critical path, and handing it to the Sync lane and back
// costs two thread wake-ups; while it syncs, the follower has nothing else to do: it appends
// nothing new before this Ready is done. Large Readies still go to the Sync lane, so under
// load the loop keeps decoding the next frames, and answering heartbeats, while the disk
// works. The leader always syncs on the lane: it keeps taking client requests and acks, and
// above all its ticks keep sending heartbeats. Synced on its loop, one stalled fdatasync
// silences it and the followers elect another (sim slow_leader_disk fails so), for a gain
// measured at about 4% with one client.
bool Node::sync_on_loop(const raft::Ready& ready) const {
  if (node_.core->leader() == node_.id()) return false;
  if (ready.entries.size() > options_.inline_sync_entries_max) return false;
  uint64_t bytes = 0;
  for (const raft::Entry& entry : ready.entries) bytes += entry.size_bytes();
  return bytes <= options_.inline_sync_bytes_max;
}

void Node::on_durable(const std::shared_ptr<InFlight>& flight) {
  if (stopped_) return;
  if (!flight->saved.is_ok()) return fail_stop("WAL write failed: " + flight->saved.to_string());
  node_.metrics.sync_latency.observe(node_.env.now_us() - flight->sync_started_us);
  node_.observer->on_durable(flight->ready);
  finish_ready(flight);
}

void Node::finish_ready(const std::shared_ptr<InFlight>& flight) {
  if (stopped_) return;
  raft::Ready& ready = flight->ready;
  // Votes and acknowledgements only now that what they promise is durable.
  for (const raft::Message& message : ready.messages) {
    if (!raft::may_send_before_persist(message)) send(message);
  }
  apply_entries(ready.committed_entries);
  requests_.on_read_states(ready.read_states);
  node_.core->advance(ready);
  in_flight_.reset();
  count_commits();
  requests_.serve_reads();
  snapshots_.maybe_start();
  drive();
}

// While a Ready syncs, entries may commit without this node's own copy: on a leader, once
// enough followers have stored them. Applying an entry needs its commit, which puts it on a
// majority, not a local copy (the state machine is rebuilt from snapshot and log after a
// crash in any case), so their clients are answered now rather than after this node's sync.
// Entries proposed after the flight left commit on the followers' acks too, once a slow sync
// (disk_slow) has the core send them at once (drive). They are applied as well then, rather
// than after this sync and the next. Not sooner: answered in one batch once the flight is
// durable, they cost less CPU per write (at 256 clients, applying them as they committed
// took 4-18% of the throughput and doubled the p99). Nor past options_.early_apply_bytes_max
// of them per flight (NodeOptions says why). A snapshot due meanwhile has its image taken
// first, to be written once the storage holds its last entry (Snapshots::capture_if_due):
// under a steady load the applied index would otherwise keep ahead of the stored log.
void Node::apply_committed_in_flight(InFlight& flight, bool slow) {
  const Index applied = node_.state_machine.applied_index();
  const std::vector<raft::Entry>& written = flight.ready.entries;
  const Index written_through = written.empty() ? applied : written.back().index;
  Index through = node_.core->log().committed();
  if (slow && flight.applied_after_bytes < options_.early_apply_bytes_max) {
    snapshots_.capture_if_due();
  } else {
    through = std::min(through, written_through);
  }
  if (through <= applied) return;
  Result<std::vector<raft::Entry>> committed =
      node_.core->log().slice(applied + 1, through + 1, options_.early_apply_bytes_max);
  // Not readable now: the next Ready reads them again, and stops the node if it cannot.
  if (!committed.is_ok()) return;
  // A membership change waits for this node's own copy, as before: a node that applied one it
  // does not hold would restart under the older membership.
  std::span<const raft::Entry> entries(committed.value());
  const auto change = std::ranges::find(entries, raft::EntryType::ConfChange, &raft::Entry::type);
  entries = entries.first(static_cast<size_t>(change - entries.begin()));
  for (const raft::Entry& entry : entries) {
    if (entry.index > written_through) flight.applied_after_bytes += entry.size_bytes();
  }
  apply_entries(entries);
}

// A sync still running after a tick: the disk is stalled or the Ready large. A normal one
// takes well under a millisecond.
bool Node::disk_slow(const InFlight& flight) const {
  return node_.env.now_us() - flight.taken_us >= uint64_t{options_.tick_ms} * 1000;
}

// Entries applied already (early, while their Ready synced) are skipped. Each is checked as
// it comes: a client answered below may drive the node again, which applies what it can.
void Node::apply_entries(std::span<const raft::Entry> entries) {
  const Index applied = node_.state_machine.applied_index();
  while (!entries.empty() && entries.front().index <= applied) entries = entries.subspan(1);
  if (entries.empty()) return;
  const uint64_t started_us = node_.env.now_us();
  std::vector<std::string_view> commands;
  commands.reserve(entries.size());
  for (const raft::Entry& entry : entries) {
    if (entry.type == raft::EntryType::Normal) commands.push_back(entry.data);
  }
  node_.state_machine.prefetch(commands);
  uint64_t count = 0;
  for (const raft::Entry& entry : entries) {
    if (entry.index <= node_.state_machine.applied_index()) continue;
    ++count;
    RAFT_ASSERT(entry.index == node_.state_machine.applied_index() + 1);
    snapshots_.on_applied(entry.data.size());
    std::string reply;
    if (entry.type == raft::EntryType::Normal) {
      reply = node_.state_machine.apply(entry.index, entry.data);
    } else {
      if (entry.type == raft::EntryType::ConfChange && !persist_commit_through(entry.index)) {
        return;
      }
      node_.state_machine.apply_empty(entry.index);
      if (entry.type == raft::EntryType::ConfChange) membership_.apply(entry);
    }
    node_.observer->on_apply(entry);
    requests_.on_applied(entry, std::move(reply));
  }
  node_.metrics.entries_applied.fetch_add(count, std::memory_order_relaxed);
  node_.metrics.apply_latency.observe(node_.env.now_us() - started_us);
}

// A membership change takes effect here, when applied, and the node acts under it from then
// on: it counts votes and commits by it. A restart must not bring back the membership before
// it, as it would if the commit index on disk were older than the change (it is written only
// with entries or a vote, so it lags): a node several changes behind could then win an
// election with a majority of an old membership that shares no node with the majority that
// committed newer entries (sim membership_churn: Leader Completeness and Election Safety
// violations, about 1 seed in 4,000). So the commit through the change is made durable
// first; changes are rare, and the sync is short. The entry itself is durable already:
// apply_committed_in_flight() leaves membership changes to the Ready that stores them.
bool Node::persist_commit_through(Index index) {
  if (index <= persisted_commit_) return true;
  Result<SyncTicket> ticket =
      node_.storage.write({}, raft::HardState{persisted_term_, persisted_vote_, index});
  Status saved = ticket.is_ok() ? Status::ok() : ticket.status();
  if (saved.is_ok()) {
    node_.env.block_on_disk([&] { saved = node_.storage.wait_durable(ticket.value()); });
  }
  if (!saved.is_ok()) {
    fail_stop("could not persist the commit index of a membership change: " + saved.to_string());
    return false;
  }
  persisted_commit_ = index;
  return true;
}

// The storage's entry cache serves the apply and the leader's appends to followers. Once an
// entry is applied here and, on a leader, stored by every follower, only a follower that falls
// back (a restart) reads it again, and it can be read from disk then: releasing it gives the
// cache's memory (64 MiB by default) back whenever nobody lags, and keeps it for a follower
// that does (issue 20).
void Node::release_cached_entries() {
  const raft::RaftStatus status = node_.core->status();
  Index needed_after = status.applied_index;
  for (const raft::PeerStatus& peer : status.peers) {
    needed_after = std::min(needed_after, peer.match_index);
  }
  RAFT_ASSERT(needed_after <= status.last_index);
  node_.storage.release_cached_through(needed_after);
}

void Node::count_commits() {
  const Index commit = node_.core->log().committed();
  if (commit <= last_commit_) return;
  node_.metrics.entries_committed.fetch_add(commit - last_commit_, std::memory_order_relaxed);
  last_commit_ = commit;
}

void Node::on_role_change(const raft::SoftState& soft) {
  if (soft.role == raft::Role::Candidate) {
    node_.metrics.elections_started.fetch_add(1, std::memory_order_relaxed);
  }
  if (soft.role == raft::Role::Leader) {
    node_.metrics.elections_won.fetch_add(1, std::memory_order_relaxed);
  }
  if (soft.leader != kNoNode && soft.leader != last_known_leader_) {
    node_.metrics.leader_changes.fetch_add(1, std::memory_order_relaxed);  // The first counts.
    last_known_leader_ = soft.leader;
  }
  if (soft.role != raft::Role::Leader) snapshots_.on_leadership_lost();
  node_.observer->on_role_change(soft.role, node_.core->term(), soft.leader);
  requests_.on_role_change(soft);
}

NodeStatus Node::status() const {
  NodeStatus status;
  status.raft = node_.core->status();
  // What clients see: while a slow sync runs, the state machine applies past the core's count,
  // which moves only with each Ready (apply_committed_in_flight).
  status.raft.applied_index = node_.state_machine.applied_index();
  status.client_addrs = membership_.client_addrs();
  status.members = membership_.members();
  status.conf_index = membership_.conf_index();
  status.removed = membership_.removed();
  status.client_tls_addrs = membership_.client_tls_addrs();
  if (auto it = status.client_addrs.find(status.raft.leader); it != status.client_addrs.end()) {
    status.leader_client_addr = it->second;
  }
  if (auto it = status.client_tls_addrs.find(status.raft.leader);
      it != status.client_tls_addrs.end()) {
    status.leader_client_tls_addr = it->second;
  }
  status.pending_requests = requests_.pending();
  status.large_write_bytes_in_flight = requests_.large_write_bytes_in_flight();
  status.large_writes_waiting = requests_.large_writes_waiting();
  status.snapshot_index = snapshots_.last_index();
  status.storage = node_.storage.stats();
  return status;
}

}  // namespace raftkv::runtime
