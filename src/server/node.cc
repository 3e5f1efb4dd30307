#include "server/node.h"

#include <chrono>

#include "proto/peer.pb.h"
#include "net/resp_reply.h"
#include "proto/peer_codec.h"
#include "server/snapshot_stream.h"

namespace raftkv::server {
namespace {

std::string encode(const kv::Reply& reply) {
  std::string out;
  net::resp_append_reply(&out, reply);
  return out;
}

std::string error_reply(const std::string& text) { return encode(kv::Reply::error(text)); }

const char* const kNoLeader = "TRYAGAIN no leader";
const char* const kBusy = "TRYAGAIN busy: too many requests in flight";
const char* const kNotApplied = "TRYAGAIN leadership changed before the write committed; "
                                "it was not applied";
const char* const kUnknown = "TRYAGAIN timed out; the write may or may not have been applied";
const char* const kReadAborted = "TRYAGAIN leadership changed during the read";

}  // namespace

Node::Node(asio::io_context& io, NodeOptions options,
           std::unique_ptr<storage::DiskStorage> storage, Logger& logger, Metrics& metrics)
    : io_(io),
      options_(std::move(options)),
      storage_(std::move(storage)),
      logger_(logger),
      metrics_(metrics),
      observer_(options_.observer != nullptr ? options_.observer : &no_observer_),
      prng_(options_.id.value() * 0x9e3779b97f4a7c15ULL ^ now_us()),
      tick_timer_(io),
      snapshot_policy_(options_.snapshot_policy, prng_.next()) {}

Node::~Node() {
  stop();
  snapshot_pool_.join();  // A snapshot being written finishes first; its completion is dropped.
}

uint64_t Node::now_us() const {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

uint64_t Node::now_ms() const { return now_us() / 1000; }

void Node::fatal(const std::string& what) {
  // Storage failures cannot be retried safely (a failed fsync may have dropped dirty pages):
  // stop here and let recovery from disk sort out what is durable.
  log_to(logger_, LogLevel::Error, "fatal: ", what);
  std::_Exit(70);
}

Result<Index> Node::restore_from_snapshot_file() {
  Result<std::unique_ptr<storage::SnapshotReader>> file = storage_->open_snapshot();
  if (!file.is_ok()) {
    if (file.status().code() == ErrorCode::NotFound) return Index{0};
    return file.status();
  }
  SnapshotFileSource source(*file.value());
  if (Status restored = state_machine_.restore(source); !restored.is_ok()) {
    return Status(ErrorCode::Corruption, "snapshot " + file.value()->path() +
                                             " does not restore: " + restored.message());
  }
  last_snapshot_index_ = file.value()->meta().index;
  snapshot_policy_.on_snapshot_started();
  snapshot_policy_.on_snapshot_stored(file.value()->data_bytes());
  return last_snapshot_index_;
}

Status Node::start() {
  // The state machine restarts from the newest snapshot, streamed from its file; the core then
  // hands out the committed entries after it.
  Result<Index> snapshot_index = restore_from_snapshot_file();
  if (!snapshot_index.is_ok()) return snapshot_index.status();
  raft::Config config;
  config.id = options_.id;
  for (const net::PeerAddress& peer : options_.peers) config.voters.push_back(peer.id);
  config.heartbeat_ticks = std::max<uint32_t>(1, options_.heartbeat_ms / options_.tick_ms);
  config.election_ticks = std::max<uint32_t>(config.heartbeat_ticks + 1,
                                             options_.election_ms / options_.tick_ms);
  config.applied = snapshot_index.value();
  if (Status valid = config.validate(); !valid.is_ok()) return valid;
  raft_ = std::make_unique<raft::Raft>(config, *storage_, prng_, logger_);
  persisted_term_ = storage_->hard_state().term;
  persisted_vote_ = storage_->hard_state().voted_for;
  net::TransportOptions transport_options;
  transport_options.cluster_id = options_.cluster_id;
  transport_options.client_addr = options_.client_addr;
  transport_ = std::make_unique<net::PeerTransport>(io_, options_.id, options_.peers,
                                                    transport_options, *this, logger_);
  snapshot_sender_ = std::make_unique<SnapshotSender>(
      *storage_, options_.snapshot_transfer,
      [this](NodeId to, pb::SnapshotChunk chunk) {
        transport_->send_snapshot_chunk(to, std::move(chunk));
      },
      [this](NodeId peer) { raft_->report_snapshot_failed(peer); }, logger_);
  snapshot_inbox_ = std::make_unique<SnapshotInbox>(*storage_, logger_);
  if (Status started = transport_->start(); !started.is_ok()) return started;
  schedule_tick();
  drive();
  return Status::ok();
}

void Node::stop() {
  if (stopped_) return;
  stopped_ = true;
  tick_timer_.cancel();
  if (transport_) transport_->stop();
}

// ---- Time ----

void Node::schedule_tick() {
  tick_timer_.expires_after(std::chrono::milliseconds(options_.tick_ms));
  tick_timer_.async_wait([this](const asio::error_code& error) {
    if (error || stopped_) return;
    on_tick();
    schedule_tick();
  });
}

void Node::on_tick() {
  raft_->tick();
  snapshot_sender_->on_tick(now_ms());
  expire_requests();
  metrics_.term.store(raft_->term().value(), std::memory_order_relaxed);
  observer_->on_tick(raft_->status());
  drive();
}

void Node::expire_requests() {
  // Every tick would rescan tens of thousands of pending requests under load for deadlines
  // measured in seconds; every 100 ms is precise enough.
  const uint64_t now = now_ms();
  if (now < next_expiry_sweep_ms_) return;
  next_expiry_sweep_ms_ = now + 100;
  for (auto it = pending_writes_.begin(); it != pending_writes_.end();) {
    if (it->second.deadline_ms > now) {
      ++it;
      continue;
    }
    metrics_.proposals_failed.fetch_add(1, std::memory_order_relaxed);
    it->second.done(error_reply(kUnknown));
    it = pending_writes_.erase(it);
  }
  std::erase_if(pending_forwards_, [&](auto& item) {
    if (item.second.deadline_ms > now) return false;
    item.second.done(error_reply("TRYAGAIN the leader did not answer in time; a write may or "
                                 "may not have been applied"));
    return true;
  });
  std::erase_if(waiting_for_leader_, [&](WaitingRequest& request) {
    if (request.deadline_ms > now) return false;
    request.done(error_reply(kNoLeader));
    return true;
  });
  metrics_.pending_requests.store(pending_writes_.size() + pending_reads_.size() +
                                      pending_forwards_.size() + waiting_for_leader_.size(),
                                  std::memory_order_relaxed);
}

// ---- Client requests ----

void Node::submit(kv::Command command, Done done) {
  dispatch(std::move(command), std::move(done), now_ms() + options_.request_timeout_ms);
}

void Node::submit_stale_read(const kv::Command& command, Done done) {
  done(encode(state_machine_.query(command)));
}

void Node::dispatch(kv::Command command, Done done, uint64_t deadline_ms) {
  const NodeId leader = raft_->leader();
  if (leader == options_.id) {
    if (kv::is_read_only(command)) {
      read(std::move(command), std::move(done), deadline_ms);
    } else {
      propose(std::move(command), std::move(done), deadline_ms);
    }
  } else if (leader != kNoNode) {
    forward(leader, std::move(command), std::move(done), deadline_ms);
  } else {
    // No leader now: wait (bounded) for one, rather than fail during a short election.
    waiting_for_leader_.push_back({std::move(command), std::move(done), deadline_ms});
  }
}

void Node::propose(kv::Command command, Done done, uint64_t deadline_ms) {
  if (pending_writes_.size() >= options_.pending_requests_max) {
    done(error_reply(kBusy));
    return;
  }
  if (command.type == kv::CommandType::Session ||
      command.type == kv::CommandType::RegisterSession) {
    // Session expiry runs on time the leader writes into the log, never a replica's clock.
    const auto wall = std::chrono::system_clock::now().time_since_epoch();
    command.timestamp_ms =
        static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(wall).count());
  }
  Result<raft::Proposal> proposal = raft_->propose(kv::encode_command(command));
  if (!proposal.is_ok()) {
    done(error_reply(proposal.status().code() == ErrorCode::Busy
                         ? std::string("TRYAGAIN busy: ") + proposal.status().message()
                         : std::string(kNoLeader)));
    return;
  }
  metrics_.proposals.fetch_add(1, std::memory_order_relaxed);
  pending_writes_.emplace(proposal.value().index,
                          PendingWrite{proposal.value().term, std::move(done), deadline_ms,
                                       now_us()});
  drive();
}

void Node::read(kv::Command command, Done done, uint64_t deadline_ms) {
  const uint64_t request_id = next_request_id_++;
  if (Status status = raft_->read_index(request_id); !status.is_ok()) {
    done(error_reply(kNoLeader));
    return;
  }
  pending_reads_.emplace(request_id, PendingRead{std::move(command), std::move(done),
                                                 deadline_ms});
  drive_soon();
}

void Node::forward(NodeId leader, kv::Command command, Done done, uint64_t deadline_ms) {
  const uint64_t request_id = next_request_id_++;
  if (!transport_->send_forward_request(leader, request_id, kv::encode_command(command))) {
    // Not sent, so not ambiguous: wait for a leader we can reach (on_role_change).
    waiting_for_leader_.push_back({std::move(command), std::move(done), deadline_ms});
    return;
  }
  pending_forwards_.emplace(request_id, PendingForward{leader, std::move(done), deadline_ms});
}

void Node::abandon_forwards(const std::function<bool(NodeId leader)>& gone,
                            const std::string& why) {
  std::erase_if(pending_forwards_, [&](auto& item) {
    if (!gone(item.second.leader)) return false;
    item.second.done(error_reply("TRYAGAIN " + why + "; a write may or may not have been applied"));
    return true;
  });
}

void Node::on_forward_request(NodeId from, uint64_t request_id, const std::string& bytes) {
  Result<kv::Command> command = kv::decode_command(bytes);
  if (!command.is_ok()) {
    log_to(logger_, LogLevel::Warn, "malformed forwarded request from node ", from, ": ",
           command.status().message());
    transport_->send_forward_reply(from, request_id, error_reply("ERR malformed request"));
    return;
  }
  // The leader answers; if leadership moved on meanwhile, the requester gets a retryable
  // error rather than a second hop (its own view of the leader will catch up).
  auto reply = [this, from, request_id](std::string answer) {
    transport_->send_forward_reply(from, request_id, std::move(answer));
  };
  if (raft_->leader() != options_.id) {
    reply(error_reply("TRYAGAIN leadership moved; retry"));
    return;
  }
  dispatch(std::move(command).value(), std::move(reply), now_ms() + options_.request_timeout_ms);
}

// ---- Peers ----

void Node::on_peer_batch(NodeId from, pb::PeerBatch& batch) {
  raft::Message message;
  for (pb::RaftMessage& encoded : *batch.mutable_messages()) {
    // Moves the payloads out: the transport clears the batch after this call.
    if (Status decoded = proto::from_proto(std::move(encoded), &message); !decoded.is_ok()) {
      log_to(logger_, LogLevel::Warn, "dropped a malformed message from node ", from, ": ",
             decoded.message());
      continue;
    }
    if (message.from != from) {
      log_to(logger_, LogLevel::Warn, "dropped a message claiming to be from node ",
             message.from, " on node ", from, "'s connection");
      continue;
    }
    if (message.type == raft::MessageType::InstallSnapshot) {
      // Snapshots arrive only as verified chunk streams (on_snapshot_chunk).
      log_to(logger_, LogLevel::Warn, "dropped an InstallSnapshot message from node ", from,
             ": snapshots travel as chunks");
      continue;
    }
    observer_->on_receive(message);
    (void)raft_->step(message);  // A refusal is logged by the core and changes nothing.
  }
  for (const pb::SnapshotChunk& chunk : batch.snapshot_chunks()) on_snapshot_chunk(from, chunk);
  for (const pb::SnapshotAck& ack : batch.snapshot_acks()) {
    snapshot_sender_->on_ack(from, ack, now_ms());
    // A long stream is alive while chunks are acknowledged: the core must not presume the
    // snapshot lost after an election timeout and start it again.
    raft_->report_snapshot_progress(from);
  }
  for (const pb::ForwardRequest& request : batch.forward_requests()) {
    on_forward_request(from, request.request_id(), request.command());
  }
  for (pb::ForwardReply& reply : *batch.mutable_forward_replies()) {
    auto it = pending_forwards_.find(reply.request_id());
    if (it == pending_forwards_.end()) continue;  // Timed out already.
    Done done = std::move(it->second.done);
    pending_forwards_.erase(it);
    done(std::move(*reply.mutable_reply()));
  }
  drive();
}

void Node::on_snapshot_chunk(NodeId from, const pb::SnapshotChunk& chunk) {
  SnapshotInbox::Outcome outcome =
      snapshot_inbox_->on_chunk(from, raft_->term(), options_.id, chunk);
  if (outcome.install) {
    (void)raft_->step(*outcome.install);  // A refusal is logged by the core.
    std::unique_ptr<storage::SnapshotReceiver> file = snapshot_inbox_->take_verified();
    const std::optional<raft::Snapshot>& accepted = raft_->log().unstable_snapshot();
    if (accepted && accepted->meta == outcome.install->snapshot->meta) {
      snapshot_to_install_ = std::move(file);
    }  // Else the core was past it already; dropping the file removes it.
  }
  transport_->send_snapshot_ack(from, std::move(outcome.ack));
}

void Node::send(const raft::Message& message) {
  observer_->on_send(message);
  if (message.type == raft::MessageType::InstallSnapshot) {
    snapshot_sender_->start(message.to, message.term, now_ms());
  } else {
    transport_->send(message);
  }
}

void Node::on_peer_unreachable(NodeId peer) {
  raft_->report_unreachable(peer);
  drive();
}

void Node::on_peer_disconnected(NodeId peer) {
  raft_->report_peer_down(peer);  // A dead leader is replaced without a full election timeout.
  abandon_forwards([peer](NodeId leader) { return leader == peer; },
                   "the leader's connection closed");
  drive();
}

void Node::on_peer_hello(NodeId peer, const std::string& client_addr) {
  client_addrs_[peer] = client_addr;
}

// ---- The Ready loop ----

// The core starts one heartbeat round per Ready for all the reads queued before it, so the
// Ready waits for this event-loop turn's other handlers: reads from many connections that
// arrived together then share one round instead of one round each.
void Node::drive_soon() {
  if (drive_posted_) return;
  drive_posted_ = true;
  asio::post(io_, [this] {
    drive_posted_ = false;
    drive();
  });
}

void Node::drive() {
  if (stopped_ || ready_in_flight_ || !raft_->has_ready()) return;
  ready_in_flight_ = true;
  auto flight = std::make_shared<InFlight>(InFlight{raft_->ready(), 0, now_us()});
  raft::Ready& ready = flight->ready;
  if (ready.hard_state) observer_->on_commit(ready.hard_state->commit);
  if (ready.soft_state) on_role_change(*ready.soft_state);
  // Thesis §10.2.1: the leader's replication leaves now, in parallel with its own fsync.
  for (const raft::Message& message : ready.messages) {
    if (raft::may_send_before_persist(message)) send(message);
  }
  if (ready.snapshot) install_snapshot(ready.snapshot->meta);
  // Committed entries this node already holds durably need not wait for this Ready's sync:
  // applying them now answers their clients one fsync sooner.
  const Index first_new = ready.entries.empty() ? Index{UINT64_MAX} : ready.entries.front().index;
  while (flight->applied_early < ready.committed_entries.size() &&
         ready.committed_entries[flight->applied_early].index < first_new) {
    ++flight->applied_early;
  }
  apply_entries(std::span(ready.committed_entries).first(flight->applied_early));
  // The commit index alone is not worth an fsync: it is volatile in Raft (Figure 2) and
  // relearned from the leader after a restart. It is written with the next entries or vote.
  const bool vote_changed = ready.hard_state && (ready.hard_state->term != persisted_term_ ||
                                                 ready.hard_state->voted_for != persisted_vote_);
  if (ready.entries.empty() && !vote_changed) {
    finish_ready(flight);
    return;
  }
  if (ready.hard_state) {
    persisted_term_ = ready.hard_state->term;
    persisted_vote_ = ready.hard_state->voted_for;
  }
  if (sync_inline(ready)) {
    on_durable(flight, storage_->save(ready.entries, ready.hard_state));
    return;
  }
  Status queued = storage_->save_async(
      ready.entries, ready.hard_state, [this, flight](const Status& status) {
        // On the sync thread: hop back to the loop thread.
        asio::post(io_, [this, flight, status] { on_durable(flight, status); });
      });
  if (!queued.is_ok()) fatal("WAL write refused: " + queued.to_string());
}

void Node::on_durable(const std::shared_ptr<InFlight>& flight, const Status& saved) {
  if (!saved.is_ok()) fatal("WAL write failed: " + saved.to_string());
  metrics_.fsync_latency.observe(now_us() - flight->started_us);
  finish_ready(flight);
}

// A follower's small Ready is made durable on the loop thread. With one or a few clients the
// follower's fsync is on every write's critical path, and handing it to the sync thread and
// back costs two thread wake-ups; while it syncs, the follower has nothing else to do: it
// appends nothing new before this Ready is done. Large batches still go to the sync thread,
// so under load the loop keeps decoding the next frames while the disk works. The leader
// always syncs on the sync thread: it keeps taking client requests and acks meanwhile.
bool Node::sync_inline(const raft::Ready& ready) const {
  return raft_->leader() != options_.id && ready.entries.size() <= kInlineSyncEntriesMax;
}

void Node::finish_ready(const std::shared_ptr<InFlight>& flight) {
  if (stopped_) return;
  raft::Ready& ready = flight->ready;
  report_append(*observer_, ready.entries);
  // Votes and acknowledgements only now that what they promise is durable.
  for (const raft::Message& message : ready.messages) {
    if (!raft::may_send_before_persist(message)) send(message);
  }
  apply_entries(std::span(ready.committed_entries).subspan(flight->applied_early));
  for (const raft::ReadState& read_state : ready.read_states) {
    reads_waiting_apply_.emplace(read_state.index, read_state.request_id);
  }
  raft_->advance(ready);
  ready_in_flight_ = false;
  serve_reads();
  maybe_snapshot();
  drive();
}

// The core accepted a snapshot that on_snapshot_chunk received and verified: make it durable
// (it replaces the whole log) and rebuild the state machine from the file.
void Node::install_snapshot(const raft::SnapshotMeta& meta) {
  if (!snapshot_to_install_ || snapshot_to_install_->meta() != meta) {
    fatal("the core installs a snapshot at index " + std::to_string(meta.index.value()) +
          " that was never received");
  }
  log_to(logger_, LogLevel::Info, "installing the leader's snapshot at index ", meta.index);
  if (Status stored = storage_->finish_received_snapshot(std::move(snapshot_to_install_));
      !stored.is_ok()) {
    fatal("cannot store the leader's snapshot: " + stored.to_string());
  }
  if (Result<Index> restored = restore_from_snapshot_file(); !restored.is_ok()) {
    // The file was verified end to end; failing here means our bug or memory.
    fatal("the leader's snapshot does not restore: " + restored.status().to_string());
  }
  metrics_.snapshots_installed.fetch_add(1, std::memory_order_relaxed);
}

void Node::apply_entries(std::span<const raft::Entry> entries) {
  if (entries.empty()) return;
  const uint64_t started_us = now_us();
  for (const raft::Entry& entry : entries) {
    kv::Reply reply;
    snapshot_policy_.on_applied(entry.data.size());
    if (entry.type == raft::EntryType::Normal) {
      reply = state_machine_.apply(entry.index, entry.data);
    } else {
      state_machine_.apply_empty(entry.index);
      raft::ConfChange change;
      if (entry.type == raft::EntryType::ConfChange &&
          raft::decode_conf_change(entry.data, &change)) {
        raft_->apply_conf_change(change);
      }
    }
    auto pending = pending_writes_.find(entry.index);
    if (pending == pending_writes_.end()) continue;
    PendingWrite write = std::move(pending->second);
    pending_writes_.erase(pending);
    if (write.term == entry.term) {
      metrics_.commit_latency.observe(now_us() - write.started_us);
      write.done(encode(reply));
    } else {
      // Another leader's entry took this index: ours was overwritten and is gone for good.
      metrics_.proposals_failed.fetch_add(1, std::memory_order_relaxed);
      write.done(error_reply(kNotApplied));
    }
  }
  observer_->on_apply(entries.back().index);
  metrics_.entries_applied.fetch_add(entries.size(), std::memory_order_relaxed);
  metrics_.entries_committed.fetch_add(entries.size(), std::memory_order_relaxed);
  metrics_.apply_latency.observe(now_us() - started_us);
}

void Node::serve_reads() {
  const Index applied = raft_->log().applied();
  while (!reads_waiting_apply_.empty() && reads_waiting_apply_.begin()->first <= applied) {
    const uint64_t request_id = reads_waiting_apply_.begin()->second;
    reads_waiting_apply_.erase(reads_waiting_apply_.begin());
    auto it = pending_reads_.find(request_id);
    if (it == pending_reads_.end()) continue;
    PendingRead read = std::move(it->second);
    pending_reads_.erase(it);
    metrics_.reads.fetch_add(1, std::memory_order_relaxed);
    read.done(encode(state_machine_.query(read.command)));
  }
}

void Node::on_role_change(const raft::SoftState& soft) {
  observer_->on_role_change(soft.role, raft_->term(), soft.leader);
  if (soft.role == raft::Role::Candidate) {
    metrics_.elections_started.fetch_add(1, std::memory_order_relaxed);
  }
  if (soft.role == raft::Role::Leader) {
    metrics_.elections_won.fetch_add(1, std::memory_order_relaxed);
  }
  metrics_.leader_changes.fetch_add(1, std::memory_order_relaxed);
  if (soft.role != raft::Role::Leader) {
    snapshot_sender_->stop_all();  // The next leader streams its own.
    // Reads in flight cannot be confirmed by a deposed leader; they are safe to retry.
    for (auto& [id, read] : pending_reads_) read.done(error_reply(kReadAborted));
    pending_reads_.clear();
    reads_waiting_apply_.clear();
    // Writes stay pending: they may still commit under the new leader, and the entry applied
    // at their index tells which (apply_entries).
  }
  abandon_forwards([&soft](NodeId leader) { return leader != soft.leader; }, "leadership moved");
  if (soft.leader == kNoNode) return;
  std::vector<WaitingRequest> waiting = std::move(waiting_for_leader_);
  waiting_for_leader_.clear();
  for (WaitingRequest& request : waiting) {
    dispatch(std::move(request.command), std::move(request.done), request.deadline_ms);
  }
}

// Snapshots run on a background thread from an O(1) image of the state machine (a persistent
// map: later writes copy only the tree paths they touch), so the node keeps serving while the
// file is written and fsynced. Then the log prefix it covers is compacted on the loop thread.
void Node::maybe_snapshot() {
  const Index applied = raft_->log().applied();
  if (snapshot_running_ || !snapshot_policy_.due() || applied <= last_snapshot_index_) return;
  Result<Term> term = raft_->log().term(applied);
  if (!term.is_ok()) return;  // Only right after installing a leader's snapshot; try later.
  snapshot_running_ = true;
  snapshot_policy_.on_snapshot_started();
  const raft::SnapshotMeta meta{applied, term.value(), raft_->status().conf_state};
  snapshot_started_us_ = now_us();
  asio::post(snapshot_pool_, [this, meta, view = state_machine_.snapshot_view()] {
    Result<uint64_t> written = write_snapshot(meta, view);
    asio::post(io_, [this, meta, written] { snapshot_done(meta, written); });
  });
}

Result<uint64_t> Node::write_snapshot(const raft::SnapshotMeta& meta,
                                      const kv::KvSnapshotView& view) {
  Result<std::unique_ptr<storage::SnapshotWriter>> file = storage_->begin_snapshot(meta);
  if (!file.is_ok()) return file.status();
  SnapshotFileSink sink(*file.value());
  if (Status saved = view.save(sink); !saved.is_ok()) return saved;
  const uint64_t data_bytes = file.value()->data_bytes();
  if (Status stored = storage_->finish_local_snapshot(std::move(file).value()); !stored.is_ok()) {
    return stored;
  }
  return data_bytes;
}

void Node::snapshot_done(const raft::SnapshotMeta& meta, const Result<uint64_t>& written) {
  snapshot_running_ = false;
  if (stopped_) return;
  if (!written.is_ok() && last_snapshot_index_ >= meta.index) {
    // A leader's newer snapshot was installed meanwhile; ours is obsolete, nothing is lost.
    log_to(logger_, LogLevel::Info, "dropped snapshot at index ", meta.index, ": ",
           written.status().message());
    return;
  }
  if (!written.is_ok()) fatal("cannot write snapshot: " + written.status().to_string());
  snapshot_policy_.on_snapshot_stored(written.value());
  last_snapshot_index_ = std::max(last_snapshot_index_, meta.index);
  metrics_.snapshots_taken.fetch_add(1, std::memory_order_relaxed);
  if (meta.index.value() > options_.snapshot_keep_entries) {
    const Index compact_to = meta.index - options_.snapshot_keep_entries;
    if (Status compacted = storage_->compact(compact_to); !compacted.is_ok()) {
      fatal("cannot compact the log: " + compacted.to_string());
    }
  }
  log_to(logger_, LogLevel::Info, "snapshot at index ", meta.index, " (term ", meta.term, ", ",
         written.value(), " bytes) written in ", (now_us() - snapshot_started_us_) / 1000,
         " ms; log compacted; the next after ",
         snapshot_policy_.threshold_bytes() >> 20, " MiB of log");
}

NodeStatus Node::status() const {
  NodeStatus status;
  status.raft = raft_->status();
  status.client_addrs = client_addrs_;
  status.client_addrs[options_.id] = options_.client_addr;
  if (auto it = status.client_addrs.find(status.raft.leader); it != status.client_addrs.end()) {
    status.leader_client_addr = it->second;
  }
  status.peers = transport_->counters();
  status.pending_requests = pending_writes_.size() + pending_reads_.size() +
                            pending_forwards_.size() + waiting_for_leader_.size();
  return status;
}

}  // namespace raftkv::server
