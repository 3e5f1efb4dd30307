#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

// Counters and latency histograms the runtime updates on its loop thread and /metrics reads from
// the HTTP thread: every field is atomic, relaxed (a scrape needs no ordering). Rendered in the
// Prometheus text format by render_prometheus(). Each field says exactly what it counts.
namespace raftkv::runtime {

// Cumulative histogram with fixed exponential buckets (microseconds), Prometheus-style.
class LatencyHistogram {
 public:
  static constexpr std::array<uint64_t, 16> kBoundsUs = {
      50,     100,    250,     500,     1'000,   2'500,   5'000,     10'000,
      25'000, 50'000, 100'000, 250'000, 500'000, 1'000'000, 2'500'000, 10'000'000};

  void observe(uint64_t micros);
  // Appends the _bucket/_sum/_count lines for `name` (seconds, as Prometheus expects).
  void render(const std::string& name, const std::string& help, std::string* out) const;

 private:
  std::array<std::atomic<uint64_t>, kBoundsUs.size() + 1> buckets_{};  // Last: +Inf.
  std::atomic<uint64_t> sum_us_{0};
  std::atomic<uint64_t> count_{0};
};

struct Metrics {
  std::atomic<uint64_t> term{0};
  std::atomic<uint64_t> elections_started{0};  // Times this node became a candidate.
  std::atomic<uint64_t> elections_won{0};      // Times it became leader.
  // Times the leader this node knows became another node, the first one included (not every
  // role change: a follower that loses its leader and learns of the same one again does not
  // count).
  std::atomic<uint64_t> leader_changes{0};
  std::atomic<uint64_t> proposals{0};         // Client writes this node proposed as leader.
  std::atomic<uint64_t> proposals_failed{0};  // Writes answered NotApplied or MaybeApplied.
  std::atomic<uint64_t> entries_committed{0};  // Advances of the commit index, in entries.
  std::atomic<uint64_t> entries_applied{0};    // Entries applied (to the state machine or node).
  std::atomic<uint64_t> pending_requests{0};
  std::atomic<uint64_t> reads{0};  // Linearizable reads served.
  std::atomic<uint64_t> snapshots_taken{0};
  std::atomic<uint64_t> snapshots_installed{0};
  std::atomic<uint64_t> snapshot_bytes{0};  // Data bytes of the newest snapshot.
  // WAL write + sync of one Ready: from handing it to storage to durable (nothing else).
  LatencyHistogram sync_latency;
  LatencyHistogram apply_latency;     // One batch of committed entries into the state machine.
  LatencyHistogram commit_latency;    // Proposal to applied on the leader (a write's latency).
  LatencyHistogram snapshot_latency;  // Writing one snapshot file, image to durable.

  // Everything above, plus `extra` (per-peer lines rendered by the caller), as Prometheus text.
  [[nodiscard]] std::string render_prometheus(const std::string& extra) const;
};

}  // namespace raftkv::runtime
