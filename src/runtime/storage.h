#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/types.h"
#include "raft/log_storage.h"
#include "raft/messages.h"
#include "runtime/byte_stream.h"
#include "runtime/state_machine.h"

// What the runtime needs of durable storage. src/storage's DiskStorage implements it, over the
// real file system in the server and over a simulated one (with crashes, torn writes, failed
// syncs and flipped bits) in the simulator.
//
// Threads: every method may be called from any thread; the runtime calls wait_durable() and
// save_snapshot() away from its loop (Environment::offload), the rest on the loop.
namespace raftkv::runtime {

// A position in the write stream: durable once every byte before it is synced.
struct SyncTicket {
  uint64_t position = 0;
};

// The newest snapshot file, opened for reading: its data as a stream (the state machine
// restores from it; the whole-file checksum is verified when the stream ends) and its raw
// bytes by offset (what a leader streams to a follower).
class SnapshotFile : public ByteSource {
 public:
  [[nodiscard]] virtual const raft::SnapshotMeta& meta() const = 0;
  [[nodiscard]] virtual uint64_t data_bytes() const = 0;
  [[nodiscard]] virtual uint64_t file_bytes() const = 0;
  [[nodiscard]] virtual const std::string& path() const = 0;
  // Up to `bytes_max` raw file bytes at `offset` (empty at or past the end).
  [[nodiscard]] virtual Result<std::string> read_chunk(uint64_t offset,
                                                       uint64_t bytes_max) const = 0;
};

// A leader's snapshot file arriving in chunks, into a temporary file. Destroying it before
// Storage::install_received_snapshot removes the temporary file.
class IncomingSnapshot {
 public:
  virtual ~IncomingSnapshot() = default;
  // Writes the chunk at `offset`; bytes before received_bytes() are a retransmission and are
  // skipped. InvalidArgument for a gap (offset past received_bytes()).
  [[nodiscard]] virtual Status write_chunk(uint64_t offset, std::string_view bytes) = 0;
  [[nodiscard]] virtual uint64_t received_bytes() const = 0;
  // Syncs and checks the whole file (end to end: the sender's disk to ours). Corruption if it
  // is not a valid snapshot file.
  [[nodiscard]] virtual Status verify() = 0;
  [[nodiscard]] virtual const raft::SnapshotMeta& meta() const = 0;  // After verify().
};

// Counters for /metrics, INFO and the simulator's reports.
struct StorageStats {
  uint64_t syncs = 0;          // WAL fdatasyncs.
  uint64_t bytes_written = 0;  // WAL bytes written.
  uint64_t segments = 0;       // WAL segment files now.
  uint64_t rotations = 0;      // Segment rotations since open.
  uint64_t snapshots_written = 0;
  uint64_t snapshots_received = 0;
};

class Storage : public raft::LogStorage {
 public:
  // Writes `entries` (replacing stored entries at or after entries.front().index) and then
  // `hard_state`, if any; readable at once, durable once wait_durable(ticket) returns ok.
  // InvalidArgument (nothing written) for a gap, an append below the snapshot, or a hard state
  // committing past the last index.
  [[nodiscard]] virtual Result<SyncTicket> write(
      const std::vector<raft::Entry>& entries,
      const std::optional<raft::HardState>& hard_state) = 0;
  // Blocks until everything up to `ticket` is durable (group commit: one sync covers every
  // writer before it). IoError if the storage failed: the runtime must stop, since a retried
  // fsync can lose acknowledged data.
  [[nodiscard]] virtual Status wait_durable(SyncTicket ticket) = 0;
  // Drops entries up to and including `index`, which the newest snapshot covers.
  [[nodiscard]] virtual Status compact(Index index) = 0;
  // A hint: nobody needs entries up to and including `index` from memory any more (this node
  // applied them and, on a leader, every follower stores them). Storage may drop in-memory
  // copies of them; reading them later (a follower that falls back) may then cost I/O.
  virtual void release_cached_through(Index index) = 0;

  // Streams `image` into a snapshot file for `meta` (meta.index must be stored, with its
  // term, and newer than the current snapshot), makes it durable and the newest. Blocking.
  // Returns the snapshot's data bytes.
  [[nodiscard]] virtual Result<uint64_t> save_snapshot(const raft::SnapshotMeta& meta,
                                                       const SnapshotImage& image) = 0;
  // The newest snapshot file (NotFound when there is none).
  [[nodiscard]] virtual Result<std::unique_ptr<SnapshotFile>> open_snapshot() const = 0;
  // Starts receiving a leader's snapshot file.
  [[nodiscard]] virtual Result<std::unique_ptr<IncomingSnapshot>> begin_receive_snapshot() = 0;
  // Installs a verified received snapshot (from begin_receive_snapshot) as the newest,
  // durably, replacing the whole log.
  [[nodiscard]] virtual Status install_received_snapshot(
      std::unique_ptr<IncomingSnapshot> snapshot) = 0;

  [[nodiscard]] virtual StorageStats stats() const = 0;
};

}  // namespace raftkv::runtime
