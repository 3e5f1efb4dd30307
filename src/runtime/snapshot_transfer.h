#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "common/logger.h"
#include "common/types.h"
#include "raft/messages.h"
#include "runtime/storage.h"
#include "runtime/transport.h"

// InstallSnapshot over the network (Raft §7), outside the core's messages.
//
// The core decides that a follower needs the snapshot and emits an InstallSnapshot message
// carrying only its metadata (Storage::snapshot() leaves the data out). The leader's
// SnapshotSender streams the snapshot file to that follower in chunks (1 MiB by default), one
// in flight at a time; the follower's SnapshotInbox writes each chunk straight into a
// temporary file and answers with the offset it wants next. So:
//   - memory stays bounded by one chunk on each side, whatever the snapshot's size;
//   - a lost chunk, ack or connection resumes from the last acknowledged offset (the sender
//     resends after `resend_ms` without an answer);
//   - a follower that restarted mid-install lost its temporary file (storage removes it on
//     open) and asks for offset 0: the transfer restarts cleanly;
//   - the whole file's checksum is verified on the follower (sender's disk to receiver's disk)
//     before the core sees anything.
// Once the file is complete and verified, the follower steps an InstallSnapshot message (the
// metadata read from the verified file) into its core, which decides as for any InstallSnapshot
// whether to install it; if it does, its Ready carries the snapshot and the runtime makes the
// verified file (take_verified()) durable and restores the state machine from it.
//
// Both classes run on the node's loop thread; not thread-safe.
namespace raftkv::runtime {

struct SnapshotTransferOptions {
  uint64_t chunk_bytes = 1 << 20;
  uint64_t resend_ms = 1000;   // No answer this long: resend from the acknowledged offset.
  uint64_t give_up_ms = 30'000;  // No progress this long: report the snapshot failed.
};

// The leader's side: one transfer per follower.
class SnapshotSender {
 public:
  using SendChunk = std::function<void(NodeId to, SnapshotChunk chunk)>;
  // The transfer to the peer failed for good; the core should probe it again.
  using Failed = std::function<void(NodeId peer)>;

  SnapshotSender(const Storage& storage, SnapshotTransferOptions options,
                 SendChunk send_chunk, Failed failed, Logger& logger);

  // The core sent an InstallSnapshot to `peer` in `term`: start streaming the newest snapshot
  // file, unless a transfer of that snapshot to the peer is already under way.
  void start(NodeId peer, Term term, uint64_t now_ms);
  void on_ack(NodeId peer, const SnapshotAck& ack, uint64_t now_ms);
  // Resends stalled chunks and gives up on transfers that made no progress for too long.
  void on_tick(uint64_t now_ms);
  // Leadership was lost: every transfer stops (a new leader sends its own).
  void stop_all();

  [[nodiscard]] size_t active() const { return transfers_.size(); }
  [[nodiscard]] uint64_t bytes_sent() const { return bytes_sent_; }

 private:
  struct Transfer {
    std::unique_ptr<SnapshotFile> file;
    Term term;
    uint64_t acked = 0;  // The offset the follower asked for last.
    uint64_t last_sent_ms = 0;
    uint64_t last_progress_ms = 0;
    uint64_t started_ms = 0;
  };

  void send_next(NodeId peer, Transfer& transfer, uint64_t now_ms);
  void fail(NodeId peer, const std::string& why);

  const Storage& storage_;
  const SnapshotTransferOptions options_;
  SendChunk send_chunk_;
  Failed failed_;
  Logger& logger_;
  std::map<NodeId, Transfer> transfers_;
  uint64_t bytes_sent_ = 0;
};

// The follower's side: at most one snapshot being received at a time.
class SnapshotInbox {
 public:
  SnapshotInbox(Storage& storage, Logger& logger);

  struct ChunkResult {
    SnapshotAck ack;  // Always sent back to the leader.
    // Set once the file is complete and verified: what to step into the core.
    std::optional<raft::Message> install;
  };
  // A chunk from `from`; `current_term` is this node's term (chunks of older terms are refused).
  ChunkResult on_chunk(NodeId from, Term current_term, NodeId self, const SnapshotChunk& chunk);
  // The verified file of the last ChunkResult::install, handed over right after that message
  // was stepped (the caller keeps it until the core's Ready installs it, or drops it).
  std::unique_ptr<IncomingSnapshot> take_verified();

 private:
  struct Incoming {
    NodeId leader;
    Index index;
    Term term;
    uint64_t file_bytes = 0;  // As the first chunk announced it.
    std::unique_ptr<IncomingSnapshot> receiver;
  };

  // The chunk of the transfer now in incoming_: written, and verified once complete.
  ChunkResult receive(NodeId from, NodeId self, const SnapshotChunk& chunk, ChunkResult result);

  Storage& storage_;
  Logger& logger_;
  std::optional<Incoming> incoming_;
  std::unique_ptr<IncomingSnapshot> verified_;  // Until take_verified().
};

}  // namespace raftkv::runtime
