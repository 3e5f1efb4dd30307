#pragma once

#include <cstdint>
#include <vector>

#include "common/status.h"
#include "common/types.h"
#include "raft/messages.h"

// The core's read-only view of the durable log. The runtime writes to storage (appending the
// entries and hard state of each Ready, installing snapshots, compacting); the core only reads,
// for entries it no longer holds in memory (a lagging follower) and for terms at positions.
// src/storage implements it on disk; MemoryStorage implements it for tests and the simulator.
//
// Positions: the storage holds entries [first_index(), last_index()]; the term of the entry at
// first_index() - 1 (the compaction point) is still answerable. The newest snapshot covers at
// least everything before first_index(): first_index() - 1 <= snapshot().meta.index. Entries
// after the compaction point but covered by the snapshot may be kept (for lagging followers).

namespace raftkv::raft {

class LogStorage {
 public:
  virtual ~LogStorage() = default;

  // The hard state persisted last (zero on a fresh node).
  [[nodiscard]] virtual HardState hard_state() const = 0;
  // The first stored entry; compaction point + 1.
  [[nodiscard]] virtual Index first_index() const = 0;
  // The last stored index; snapshot().meta.index when no entries follow the snapshot.
  [[nodiscard]] virtual Index last_index() const = 0;
  // Term of the entry at `index` in [first_index() - 1, last_index()]; NotFound when the index
  // was compacted away or lies past the end.
  [[nodiscard]] virtual Result<Term> term(Index index) const = 0;
  // Entries [lo, hi), stopping once `bytes_max` is exceeded but always returning at least one.
  // Preconditions: first_index() <= lo < hi <= last_index() + 1. NotFound if compacted.
  [[nodiscard]] virtual Result<std::vector<Entry>> entries(Index lo, Index hi,
                                                           uint64_t bytes_max) const = 0;
  // The newest snapshot (empty, index 0, when there is none). The core never reads its data,
  // only passes it on in InstallSnapshot: storage whose runtime streams snapshot files itself
  // (DiskStorage) returns the metadata alone.
  [[nodiscard]] virtual Result<Snapshot> snapshot() const = 0;
};

}  // namespace raftkv::raft
