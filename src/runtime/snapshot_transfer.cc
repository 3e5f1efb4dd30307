#include "runtime/snapshot_transfer.h"

namespace raftkv::runtime {

// ---- SnapshotSender ----

SnapshotSender::SnapshotSender(const Storage& storage, SnapshotTransferOptions options,
                               SendChunk send_chunk, Failed failed, Logger& logger)
    : storage_(storage),
      options_(options),
      send_chunk_(std::move(send_chunk)),
      failed_(std::move(failed)),
      logger_(logger) {}

void SnapshotSender::start(NodeId peer, Term term, uint64_t now_ms) {
  auto existing = transfers_.find(peer);
  if (existing != transfers_.end() && existing->second.term == term) return;  // Under way.
  // The newest file: a snapshot finished since the core chose is newer still, and as good.
  Result<std::unique_ptr<SnapshotFile>> file = storage_.open_snapshot();
  if (!file.is_ok()) {
    log_to(logger_, LogLevel::Warn, "cannot open the snapshot for node ", peer, ": ",
           file.status().message());
    failed_(peer);
    return;
  }
  const raft::SnapshotMeta meta = file.value()->meta();
  log_to(logger_, LogLevel::Info, "streaming snapshot at index ", meta.index, " (term ",
         meta.term, ", ", file.value()->file_bytes(), " bytes) to node ", peer);
  Transfer& transfer = transfers_[peer];
  transfer = Transfer{std::move(file).value(), term, 0, 0, now_ms, now_ms};
  send_next(peer, transfer, now_ms);
}

void SnapshotSender::send_next(NodeId peer, Transfer& transfer, uint64_t now_ms) {
  Result<std::string> bytes = transfer.file->read_chunk(transfer.acked, options_.chunk_bytes);
  if (!bytes.is_ok()) {
    fail(peer, "cannot read " + transfer.file->path() + ": " + bytes.status().message());
    return;
  }
  SnapshotChunk chunk{.term = transfer.term,
                      .snapshot_index = transfer.file->meta().index,
                      .snapshot_term = transfer.file->meta().term,
                      .offset = transfer.acked,
                      .file_bytes = transfer.file->file_bytes(),
                      .data = std::move(bytes).value()};
  bytes_sent_ += chunk.data.size();
  transfer.last_sent_ms = now_ms;
  send_chunk_(peer, std::move(chunk));
}

void SnapshotSender::on_ack(NodeId peer, const SnapshotAck& ack, uint64_t now_ms) {
  auto it = transfers_.find(peer);
  if (it == transfers_.end()) return;  // Finished, failed or stopped already.
  Transfer& transfer = it->second;
  const raft::SnapshotMeta& meta = transfer.file->meta();
  if (ack.snapshot_index != meta.index || ack.snapshot_term != meta.term) {
    return;  // About an earlier transfer.
  }
  if (!ack.error.empty()) {
    fail(peer, "node " + std::to_string(peer.value()) + " refused it: " + ack.error);
    return;
  }
  if (ack.done) {
    log_to(logger_, LogLevel::Info, "snapshot at index ", meta.index, " delivered to node ",
           peer, " in ", now_ms - transfer.started_ms, " ms");
    transfers_.erase(it);
    return;
  }
  if (ack.received_bytes > transfer.file->file_bytes()) {
    fail(peer, "node " + std::to_string(peer.value()) + " claims more bytes than the file has");
    return;
  }
  // The same offset again answers a resent chunk whose original was acknowledged too: the
  // next chunk is already on its way, and sending it twice would keep two in flight.
  if (ack.received_bytes == transfer.acked) return;
  transfer.acked = ack.received_bytes;  // Back to 0 after a follower restart.
  transfer.last_progress_ms = now_ms;
  send_next(peer, transfer, now_ms);
}

void SnapshotSender::on_tick(uint64_t now_ms) {
  for (auto it = transfers_.begin(); it != transfers_.end();) {
    const NodeId peer = it->first;
    Transfer& transfer = it->second;
    ++it;  // fail() erases the current transfer.
    if (now_ms - transfer.last_progress_ms >= options_.give_up_ms) {
      fail(peer, "no progress for " + std::to_string(options_.give_up_ms) + " ms");
    } else if (now_ms - transfer.last_sent_ms >= options_.resend_ms) {
      send_next(peer, transfer, now_ms);  // The chunk or its ack was lost: resume.
    }
  }
}

void SnapshotSender::stop_all() { transfers_.clear(); }

void SnapshotSender::fail(NodeId peer, const std::string& why) {
  log_to(logger_, LogLevel::Warn, "snapshot transfer to node ", peer, " failed: ", why);
  transfers_.erase(peer);
  failed_(peer);
}

// ---- SnapshotInbox ----

SnapshotInbox::SnapshotInbox(Storage& storage, Logger& logger)
    : storage_(storage), logger_(logger) {}

SnapshotInbox::ChunkResult SnapshotInbox::on_chunk(NodeId from, Term current_term, NodeId self,
                                               const SnapshotChunk& chunk) {
  ChunkResult result;
  SnapshotAck& ack = result.ack;
  ack.snapshot_index = chunk.snapshot_index;
  ack.snapshot_term = chunk.snapshot_term;
  if (chunk.term < current_term) {
    ack.error = "stale leader term " + std::to_string(chunk.term.value());
    return result;
  }
  const bool same = incoming_ && incoming_->leader == from &&
                    incoming_->index == chunk.snapshot_index &&
                    incoming_->term == chunk.snapshot_term;
  if (!same) {
    // Another snapshot (or leader) supersedes whatever was arriving; it must start at 0.
    incoming_.reset();
    if (chunk.offset != 0) {
      ack.received_bytes = 0;
      return result;
    }
    Result<std::unique_ptr<IncomingSnapshot>> receiver = storage_.begin_receive_snapshot();
    if (!receiver.is_ok()) {
      ack.error = "cannot store the snapshot: " + receiver.status().message();
      return result;
    }
    log_to(logger_, LogLevel::Info, "receiving snapshot at index ", chunk.snapshot_index,
           " (term ", chunk.snapshot_term, ", ", chunk.file_bytes, " bytes) from node ", from);
    incoming_ = Incoming{from, chunk.snapshot_index, chunk.snapshot_term, chunk.file_bytes,
                         std::move(receiver).value()};
  }
  return receive(from, self, chunk, std::move(result));
}

SnapshotInbox::ChunkResult SnapshotInbox::receive(NodeId from, NodeId self,
                                              const SnapshotChunk& chunk, ChunkResult result) {
  Incoming& incoming = *incoming_;
  SnapshotAck& ack = result.ack;
  auto give_up = [&](const std::string& why) {
    log_to(logger_, LogLevel::Warn, "snapshot at index ", incoming.index, " from node ", from,
           " refused: ", why);
    ack.error = why;
    incoming_.reset();  // Removes the temporary file.
    return std::move(result);
  };
  if (chunk.file_bytes != incoming.file_bytes ||
      chunk.offset + chunk.data.size() > incoming.file_bytes) {
    return give_up("chunk outside the announced file size");
  }
  if (chunk.offset <= incoming.receiver->received_bytes()) {
    if (Status written = incoming.receiver->write_chunk(chunk.offset, chunk.data);
        !written.is_ok()) {
      return give_up("cannot write it: " + written.message());
    }
  }
  // Past a gap (a chunk was lost) nothing is written: the ack asks for the missing offset.
  ack.received_bytes = incoming.receiver->received_bytes();
  if (incoming.receiver->received_bytes() < incoming.file_bytes) return result;

  if (Status verified = incoming.receiver->verify(); !verified.is_ok()) {
    return give_up(verified.message());
  }
  const raft::SnapshotMeta& meta = incoming.receiver->meta();
  if (meta.index != incoming.index || meta.term != incoming.term) {
    return give_up("the file holds another snapshot than announced");
  }
  ack.done = true;
  result.install = raft::Message{.type = raft::MessageType::InstallSnapshot,
                                  .from = from,
                                  .to = self,
                                  .term = chunk.term,
                                  .snapshot = raft::Snapshot{meta, {}}};
  verified_ = std::move(incoming.receiver);
  incoming_.reset();
  return result;
}

std::unique_ptr<IncomingSnapshot> SnapshotInbox::take_verified() { return std::move(verified_); }

}  // namespace raftkv::runtime
