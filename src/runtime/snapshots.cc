#include "runtime/snapshots.h"

namespace raftkv::runtime {

Snapshots::Snapshots(NodeContext& node, Membership& membership)
    : node_(node),
      membership_(membership),
      policy_(node.options.snapshot_policy, node.options.seed ^ 0x5eed5eed5eedULL),
      sender_(
          node.storage, node.options.snapshot_transfer,
          [this](NodeId to, SnapshotChunk chunk) {
            node_.transport.send_snapshot_chunk(to, std::move(chunk));
          },
          [this](NodeId peer) { node_.core->report_snapshot_failed(peer); }, node.logger),
      inbox_(node.storage, node.logger) {}

Result<Index> Snapshots::restore_from_file() {
  const uint64_t started_us = node_.env.now_us();
  Result<std::unique_ptr<SnapshotFile>> file = node_.storage.open_snapshot();
  if (!file.is_ok()) {
    if (file.status().code() != ErrorCode::NotFound) return file.status();
    const raft::Config& core = node_.options.raft;
    Status bootstrap =
        membership_.restore(raft::SnapshotMeta{.conf_state = {core.voters, {}, core.learners}});
    if (!bootstrap.is_ok()) return bootstrap;
    return Index{0};
  }
  if (Status restored = node_.state_machine.restore(*file.value()); !restored.is_ok()) {
    return Status(ErrorCode::Corruption, "snapshot " + file.value()->path() +
                                             " does not restore: " + restored.message());
  }
  const raft::SnapshotMeta& meta = file.value()->meta();
  if (node_.state_machine.applied_index() != meta.index) {
    return Status(ErrorCode::Corruption,
                  "snapshot " + file.value()->path() + " restores the state at index " +
                      std::to_string(node_.state_machine.applied_index().value()) +
                      ", not the index its name gives");
  }
  if (Status members = membership_.restore(meta); !members.is_ok()) {
    return Status(ErrorCode::Corruption, file.value()->path() + ": " + members.message());
  }
  last_index_ = meta.index;
  policy_.on_snapshot_started();
  policy_.on_snapshot_stored(file.value()->data_bytes());
  node_.metrics.snapshot_bytes.store(file.value()->data_bytes(), std::memory_order_relaxed);
  node_.observer->on_restore(meta);
  log_to(node_.logger, LogLevel::Info, "restored the state machine from the snapshot at index ",
         meta.index, " (", file.value()->data_bytes(), " bytes) in ",
         (node_.env.now_us() - started_us) / 1000, " ms");
  return last_index_;
}

void Snapshots::capture_if_due() {
  const Index applied = node_.state_machine.applied_index();
  if (writing_ || captured_ || !policy_.due() || applied <= last_index_) return;
  Result<Term> term = node_.core->log().term(applied);
  if (!term.is_ok()) return;  // Only right after installing a leader's snapshot; try later.
  captured_ = Captured{.meta = raft::SnapshotMeta{applied, term.value(),
                                                  node_.core->status().conf_state,
                                                  membership_.encode()},
                       .image = std::shared_ptr<SnapshotImage>(node_.state_machine.snapshot())};
  policy_.on_snapshot_started();  // The log the image covers: the next one counts from here.
}

// Snapshots are written on the Snapshot lane from an O(1) image of the state machine, so the
// node keeps serving while the file is written and synced. Then the log prefix it covers is
// compacted on the loop thread.
void Snapshots::maybe_start() {
  if (writing_) return;
  // The leader's snapshot, installed since the image was taken, covers it.
  if (captured_ && captured_->meta.index <= last_index_) captured_.reset();
  capture_if_due();
  if (!captured_) return;
  // A deposed leader's storage holds the entries the new leader replaced until its next Ready
  // writes the replacements; a node that applied entries early (capture_if_due) may not hold
  // them yet at all.
  if (Result<Term> stored = node_.storage.term(captured_->meta.index);
      !stored.is_ok() || stored.value() != captured_->meta.term) {
    return;
  }
  const raft::SnapshotMeta meta = captured_->meta;
  std::shared_ptr<SnapshotImage> image = std::move(captured_->image);
  captured_.reset();
  writing_ = true;
  auto result = std::make_shared<Result<uint64_t>>(Status(ErrorCode::Unavailable, "not run"));
  const uint64_t started_us = node_.env.now_us();
  Storage& storage = node_.storage;
  node_.env.offload(
      Lane::Snapshot,
      [&storage, meta, image, result] { *result = storage.save_snapshot(meta, *image); },
      node_.guarded([this, meta, result, started_us] { written(meta, *result, started_us); }));
}

void Snapshots::written(const raft::SnapshotMeta& meta, const Result<uint64_t>& written,
                        uint64_t started_us) {
  writing_ = false;
  if (!written.is_ok() && last_index_ >= meta.index) {
    // A leader's newer snapshot was installed meanwhile; ours is obsolete, nothing is lost.
    log_to(node_.logger, LogLevel::Info, "dropped snapshot at index ", meta.index, ": ",
           written.status().message());
    return;
  }
  if (!written.is_ok()) {
    return node_.fail_stop("cannot write snapshot: " + written.status().to_string());
  }
  const uint64_t took_us = node_.env.now_us() - started_us;
  policy_.on_snapshot_stored(written.value());
  last_index_ = std::max(last_index_, meta.index);
  node_.metrics.snapshots_taken.fetch_add(1, std::memory_order_relaxed);
  node_.metrics.snapshot_bytes.store(written.value(), std::memory_order_relaxed);
  node_.metrics.snapshot_latency.observe(took_us);
  const uint64_t keep = policy_.entries_to_keep(node_.options.snapshot_keep_entries,
                                                node_.options.snapshot_keep_bytes);
  if (meta.index.value() > keep) {
    if (Status compacted = node_.storage.compact(meta.index - keep); !compacted.is_ok()) {
      return node_.fail_stop("cannot compact the log: " + compacted.to_string());
    }
  }
  log_to(node_.logger, LogLevel::Info, "snapshot at index ", meta.index, " (term ", meta.term,
         ", ", written.value(), " bytes) written in ", took_us / 1000,
         " ms; log compacted; the next after ", policy_.threshold_bytes() >> 20, " MiB of log");
}

void Snapshots::send(NodeId peer, Term term) { sender_.start(peer, term, node_.now_ms()); }

void Snapshots::on_chunk(NodeId from, const SnapshotChunk& chunk) {
  SnapshotInbox::ChunkResult result =
      inbox_.on_chunk(from, node_.core->term(), node_.id(), chunk);
  if (result.install) {
    (void)node_.core->step(*result.install);  // A refusal is logged by the core.
    std::unique_ptr<IncomingSnapshot> file = inbox_.take_verified();
    const std::optional<raft::Snapshot>& accepted = node_.core->log().unstable_snapshot();
    if (accepted && accepted->meta == result.install->snapshot->meta) {
      to_install_ = std::move(file);
    }  // Else the core was past it already; dropping the file removes it.
  }
  node_.transport.send_snapshot_ack(from, std::move(result.ack));
}

void Snapshots::on_ack(NodeId from, const SnapshotAck& ack) {
  sender_.on_ack(from, ack, node_.now_ms());
  // A long stream is alive while chunks are acknowledged: the core must not presume the
  // snapshot lost after an election timeout and start it again.
  node_.core->report_snapshot_progress(from);
}

void Snapshots::on_tick() { sender_.on_tick(node_.now_ms()); }

bool Snapshots::install(const raft::SnapshotMeta& meta) {
  if (!to_install_ || to_install_->meta() != meta) {
    node_.fail_stop("the core installs a snapshot at index " + std::to_string(meta.index.value()) +
                    " that was never received");
    return false;
  }
  log_to(node_.logger, LogLevel::Info, "installing the leader's snapshot at index ", meta.index);
  if (Status stored = node_.storage.install_received_snapshot(std::move(to_install_));
      !stored.is_ok()) {
    node_.fail_stop("cannot store the leader's snapshot: " + stored.to_string());
    return false;
  }
  if (Result<Index> restored = restore_from_file(); !restored.is_ok()) {
    // The file was verified end to end; failing here means our bug or memory.
    node_.fail_stop("the leader's snapshot does not restore: " + restored.status().to_string());
    return false;
  }
  node_.metrics.snapshots_installed.fetch_add(1, std::memory_order_relaxed);
  return true;
}

}  // namespace raftkv::runtime
