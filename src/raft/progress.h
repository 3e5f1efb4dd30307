#pragma once

#include <cstdint>

#include "common/types.h"
#include "raft/inflights.h"

// The leader's view of one peer's log (Raft Figure 2's nextIndex/matchIndex, plus the flow
// control of etcd-io/raft). Owned by the leader's Raft; rebuilt on every election.
//
// States:
//   Probe     — next_index is a guess; at most one Append per heartbeat interval until the
//               follower confirms a match.
//   Replicate — the match is known; Appends are pipelined up to the in-flight window.
//   Snapshot  — entries the follower needs were compacted; a snapshot is on its way and
//               nothing else is sent until it is acknowledged or reported failed.
namespace raftkv::raft {

enum class ProgressState : uint8_t { Probe, Replicate, Snapshot };

const char* progress_state_name(ProgressState state);

struct Progress {
  Progress(Index next, uint32_t inflight_count_max, uint64_t inflight_bytes_max)
      : next_index(next), inflights(inflight_count_max, inflight_bytes_max) {}

  // Highest index known to be replicated on the peer. Invariant: match_index < next_index.
  Index match_index;
  // Next index to send.
  Index next_index;
  ProgressState state = ProgressState::Probe;
  // Probe state: an Append was sent this heartbeat interval; wait before sending another.
  bool probe_sent = false;
  // Snapshot state: the index of the snapshot being sent.
  Index pending_snapshot;
  // Heard from during the current CheckQuorum period (Raft thesis §6.2).
  bool recent_active = false;
  // A learner receives the log but never votes or counts toward a quorum.
  bool is_learner = false;
  // Highest ReadIndex round this peer acknowledged in the current term.
  uint64_t read_round_acked = 0;
  // Ticks since the peer was last heard from; reported by status().
  uint64_t ticks_since_contact = 0;
  // Ticks during which Appends (or a snapshot) were outstanding and none was acknowledged.
  // Over an election timeout they are presumed lost (dropped by the network, not only
  // delayed, or never persisted by a follower that crashed) and the leader probes again; TCP
  // transports also say so sooner through Raft::report_unreachable().
  uint64_t stalled_ticks = 0;
  Inflights inflights;

  void become_probe();
  void become_replicate();
  void become_snapshot(Index snapshot_index);
  // Records an acknowledged match; false when `index` is stale (not above match_index).
  bool maybe_update(Index index);
  // Handles a rejection of the Append at `rejected` with the follower's `hint`. Returns false
  // when the rejection is stale (a reply to an older message) and must be ignored.
  bool maybe_decrease_to(Index rejected, Index hint);
  // Whether the leader should hold off sending more Appends to this peer.
  [[nodiscard]] bool is_paused() const;
  // Records that an Append was just sent. In Replicate with entries, next_index moves past
  // `last_index` optimistically and the message joins the in-flight window; in Probe, further
  // Appends wait for the reply or the next heartbeat.
  void sent_append(Index last_index, uint64_t bytes, bool has_entries);
};

}  // namespace raftkv::raft
