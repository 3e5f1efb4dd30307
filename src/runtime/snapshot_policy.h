#pragma once

#include <cstdint>

#include "common/prng.h"

// When a node snapshots its state machine (Node::maybe_snapshot).
//
// A snapshot rewrites the whole state, so taking one every fixed number of writes costs
// O(state) each time: once the state is large, snapshots would take most of the disk. Instead
// the log may grow to log_ratio times the last snapshot's size (and at least min_log_bytes)
// before the next one, as LogCabin does: snapshot work stays a fixed fraction of the write
// work, and the log on disk stays within a constant factor of the state. Each threshold gets
// up to a quarter more at random, so the nodes of a cluster, which apply the same entries, do
// not write their snapshots at the same moment and stall each other's fsyncs on a shared disk.
//
// The ratio also bounds a restart, which serves only after replaying the log written since
// the last snapshot, and replay is the dear part: on 2 cores (bench/results/
// 2026-12-07-restart.md) a log byte replays at about 50 MB/s, the state machine's apply, where
// a snapshot writes at about 300 MB/s and loads at about 290 MB/s. With ratio r a restart
// replays up to 1.25 r S of log after loading a snapshot of S. The default is 2: under a
// saturating write load on 2 cores it wrote level with ratio 4 (0.97-1.21x the writes/s in
// alternated turns), for half its worst replay; ratio 1 (Redis' AOF rule) halves that again
// but cost a median 0.95x the writes/s with a higher p99, and 0.5 cost 0.63-0.92x, because
// three nodes' snapshots then compete with their applies for the same cores. Operators who
// want shorter restarts set a lower ratio, a fraction included.

namespace raftkv::runtime {

struct SnapshotPolicyOptions {
  uint64_t min_log_bytes = 64ull << 20;
  double log_ratio = 2;  // Of the log since the last snapshot to that snapshot's size; > 0.
  uint64_t max_entries = 0;  // Also snapshot after this many entries; 0: no such limit.
};

class SnapshotPolicy {
 public:
  // Entries are counted as their command plus this much: the WAL record's framing, index and
  // term, and the storage's index of it. Empty entries then count too.
  static constexpr uint64_t kEntryOverheadBytes = 32;

  SnapshotPolicy(SnapshotPolicyOptions options, uint64_t seed);

  void on_applied(uint64_t command_bytes);
  [[nodiscard]] bool due() const;
  // A snapshot now covers everything applied so far: the log counts again from zero.
  void on_snapshot_started();
  // Entries the log keeps behind the snapshot last started, for followers slightly behind:
  // `keep_entries`, but no more than `keep_bytes` worth at the mean size of the entries that
  // snapshot covers. The mean stands in for the tail's own sizes, which only the log knows;
  // without the byte bound, 10,000 entries of 16 MiB values would keep 160 GB of log.
  [[nodiscard]] uint64_t entries_to_keep(uint64_t keep_entries, uint64_t keep_bytes) const;
  // The newest snapshot (written here or installed from the leader) holds `data_bytes`: the
  // next one is due once the log reaches the threshold that size sets.
  void on_snapshot_stored(uint64_t data_bytes);

  [[nodiscard]] uint64_t threshold_bytes() const { return threshold_bytes_; }

 private:
  const SnapshotPolicyOptions options_;
  Prng prng_;
  uint64_t threshold_bytes_ = 0;
  uint64_t log_bytes_ = 0;  // Since the last snapshot started.
  uint64_t entries_ = 0;
  uint64_t covered_log_bytes_ = 0;  // What log_bytes_ and entries_ were when it started.
  uint64_t covered_entries_ = 0;
};

}  // namespace raftkv::runtime
