#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "raft/messages.h"
#include "runtime/membership.h"
#include "runtime/node_context.h"
#include "runtime/snapshot_policy.h"
#include "runtime/snapshot_transfer.h"

// Everything about snapshots in one node:
//   - when to take one (SnapshotPolicy), writing it on the Snapshot lane from an O(1) image
//     while the node keeps applying, then compacting the log it covers;
//   - restoring the state machine from the newest snapshot file (at start, after an install);
//   - streaming our snapshot to followers that fell behind (SnapshotSender) and receiving the
//     leader's (SnapshotInbox), then installing it when the core's Ready says so.
// Not thread-safe: the loop thread only (the lane's job touches only storage and the image).
namespace raftkv::runtime {

class Snapshots {
 public:
  // `membership` is written into every snapshot and restored from it.
  Snapshots(NodeContext& node, Membership& membership);

  // Rebuilds the state machine and the membership from the newest snapshot file; its index
  // (0 if none: the membership is the bootstrap one). Corruption naming the file if it does
  // not restore.
  [[nodiscard]] Result<Index> restore_from_file();
  // After a batch of entries was applied.
  void on_applied(uint64_t entry_bytes) { policy_.on_applied(entry_bytes); }
  // If a snapshot is due, takes its O(1) image of the applied state now, to be written once
  // the storage holds the applied entry: for a node about to apply entries before it stores
  // them (Node::apply_committed_in_flight).
  void capture_if_due();
  // Starts writing the image taken, or one of the applied state if a snapshot is due, once the
  // storage holds its last entry with that entry's term; the storage refuses any other.
  void maybe_start();

  // The core sent InstallSnapshot to `peer`: stream the newest file to it.
  void send(NodeId peer, Term term);
  void on_chunk(NodeId from, const SnapshotChunk& chunk);
  void on_ack(NodeId from, const SnapshotAck& ack);
  void on_tick();
  // This node stopped leading: its transfers stop (the next leader streams its own).
  void on_leadership_lost() { sender_.stop_all(); }
  // The core's Ready carries the snapshot on_chunk() stepped in: make it durable and restore
  // the state machine from it. False after a fatal error (the node stopped).
  bool install(const raft::SnapshotMeta& meta);

  [[nodiscard]] Index last_index() const { return last_index_; }

 private:
  void written(const raft::SnapshotMeta& meta, const Result<uint64_t>& written,
               uint64_t started_us);

  NodeContext& node_;
  Membership& membership_;
  SnapshotPolicy policy_;
  SnapshotSender sender_;  // Leader: streams to lagging followers.
  SnapshotInbox inbox_;    // Follower: receives the leader's.
  // A received, verified snapshot file the core accepted; installed by its next Ready.
  std::unique_ptr<IncomingSnapshot> to_install_;
  Index last_index_;  // The newest snapshot's, written here or installed.
  bool writing_ = false;
  struct Captured {
    raft::SnapshotMeta meta;
    std::shared_ptr<SnapshotImage> image;
  };
  std::optional<Captured> captured_;  // Taken by capture_if_due(), not written yet.
};

}  // namespace raftkv::runtime
