#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "raft/raft.h"
#include "runtime/member.h"
#include "runtime/snapshot_policy.h"
#include "runtime/snapshot_transfer.h"

namespace raftkv::runtime {

struct NodeOptions {
  // The core's configuration: id, the bootstrap membership, election and heartbeat ticks,
  // message and in-flight limits. `applied` is filled in by Node::start().
  raft::Config raft;
  // The bootstrap members with their addresses; when given, the Node sets raft.voters and
  // raft.learners from them. Used only while no snapshot says otherwise: after that the
  // membership is the replicated one (membership.h). May be empty (the simulator sets
  // raft.voters alone): members without addresses.
  std::vector<Member> members;
  // A learner is promoted to voter only once it is at most this many entries behind the
  // leader: a voter far behind would leave the cluster one failure from unavailability while
  // it catches up.
  uint64_t promote_lag_entries_max = 1000;
  // What one tick is in wall time, for deadlines given in ms.
  uint32_t tick_ms = 10;
  // Seeds the core's election jitter and the snapshot policy's: random in the server, drawn
  // from the run's seed in the simulator.
  uint64_t seed = 1;
  // When the state machine is snapshotted (SnapshotPolicy); the log keeps
  // snapshot_keep_entries behind the snapshot for followers that are slightly behind, and
  // about snapshot_keep_bytes at most (SnapshotPolicy::entries_to_keep).
  SnapshotPolicyOptions snapshot_policy;
  uint64_t snapshot_keep_entries = 10'000;
  uint64_t snapshot_keep_bytes = 64ull << 20;
  SnapshotTransferOptions snapshot_transfer;  // InstallSnapshot chunk size and resend timing.
  // Client writes waiting for commit, at most; past it new writes are refused (NotApplied).
  size_t pending_requests_max = 50'000;
  // How long a request waits for a leader to appear, for the leader to answer a forward, or
  // for its entry to commit, before it is answered NotApplied or MaybeApplied.
  uint32_t request_timeout_ms = 2000;
  // Large writes (requests of at least large_write_bytes_min) go into the leader's log only
  // while those already there and not yet answered hold at most large_write_bytes_in_flight_max
  // (one is always let in): the others wait, not yet proposed, in arrival order. A large write
  // may wait request_timeout_ms plus large_write_timeout_ms_per_mib per MiB (then NotApplied),
  // and once proposed it has as long again to commit and apply in: a 16 MiB one 4 s rather
  // than 2, as the leader copies, logs and sends every byte, at a few tens of MiB/s on a
  // shared machine. Without both, four writers of 16 MiB values on a loaded
  // machine ran past their timeouts together (ambiguous replies): now each has its own
  // timeout, and what waits is not in doubt.
  uint64_t large_write_bytes_min = 1u << 20;
  uint64_t large_write_bytes_in_flight_max = 32u << 20;
  uint32_t large_write_timeout_ms_per_mib = 125;
  // Largest log entry a write may become; larger ones are refused (NotApplied) before they are
  // proposed. A WAL record holds at most 256 MiB, and an entry it refuses would stop every node
  // that tried to write it. The server refuses large requests earlier (--max-request-bytes).
  uint64_t entry_bytes_max = 192u << 20;
  // A follower syncs a Ready of at most this many entries and bytes on its loop thread instead
  // of handing it to the Sync lane (Node::sync_on_loop explains why). Bytes as well as
  // entries: one 16 MiB entry synced on the loop would hold up the node's ticks and replies.
  size_t inline_sync_entries_max = 4;
  uint64_t inline_sync_bytes_max = 64u << 10;
  // While a slow sync runs, entries proposed after its Ready may commit on the followers'
  // copies and are applied and answered then (Node::apply_committed_in_flight). At most about
  // this many bytes of them per Ready: their clients send more, which this node holds in memory
  // until its disk takes them, so a stalled disk must make its clients wait at some point.
  uint64_t early_apply_bytes_max = 64u << 20;
};

}  // namespace raftkv::runtime
