#include "raft/progress.h"

#include <algorithm>

namespace raftkv::raft {

const char* progress_state_name(ProgressState state) {
  switch (state) {
    case ProgressState::Probe: return "probe";
    case ProgressState::Replicate: return "replicate";
    case ProgressState::Snapshot: return "snapshot";
  }
  return "unknown";
}

void Progress::become_probe() {
  stalled_ticks = 0;
  // Coming back from a snapshot, the follower has at least the snapshot's entries.
  if (state == ProgressState::Snapshot) {
    next_index = std::max(match_index + 1, pending_snapshot + 1);
  } else {
    next_index = match_index + 1;
  }
  state = ProgressState::Probe;
  probe_sent = false;
  pending_snapshot = Index{0};
  inflights.reset();
}

void Progress::become_replicate() {
  stalled_ticks = 0;
  state = ProgressState::Replicate;
  next_index = match_index + 1;
  probe_sent = false;
  pending_snapshot = Index{0};
  inflights.reset();
}

void Progress::become_snapshot(Index snapshot_index) {
  stalled_ticks = 0;
  RAFT_ASSERT(snapshot_index > match_index);
  state = ProgressState::Snapshot;
  pending_snapshot = snapshot_index;
  probe_sent = false;
  inflights.reset();
}

bool Progress::maybe_update(Index index) {
  bool updated = false;
  if (index > match_index) {
    match_index = index;
    updated = true;
    stalled_ticks = 0;
    probe_sent = false;  // The probe was answered; the next one may go.
  }
  next_index = std::max(next_index, index + 1);
  RAFT_ASSERT(match_index < next_index);
  return updated;
}

bool Progress::maybe_decrease_to(Index rejected, Index hint) {
  if (state == ProgressState::Replicate) {
    // In Replicate, a rejection at or below the match is a reply to an old message.
    if (rejected <= match_index) return false;
    next_index = match_index + 1;  // Fall back to the known match and probe from there.
    return true;
  }
  // In Probe (or Snapshot), only a rejection of the Append just sent counts.
  if (next_index - 1 != rejected) return false;
  next_index = std::max(std::min(rejected, hint + 1), match_index + 1);
  probe_sent = false;
  RAFT_ASSERT(match_index < next_index);
  return true;
}

bool Progress::is_paused() const {
  switch (state) {
    case ProgressState::Probe: return probe_sent;
    case ProgressState::Replicate: return inflights.full();
    case ProgressState::Snapshot: return true;
  }
  return true;
}

void Progress::sent_append(Index last_index, uint64_t bytes, bool has_entries) {
  if (state == ProgressState::Replicate) {
    if (!has_entries) return;
    RAFT_ASSERT(last_index >= next_index);
    next_index = last_index + 1;
    inflights.add(last_index, bytes);
  } else {
    probe_sent = true;
  }
}

}  // namespace raftkv::raft
