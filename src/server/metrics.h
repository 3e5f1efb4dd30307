#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

// Counters and latency histograms the node updates on its loop thread and /metrics reads from
// the HTTP thread: every field is atomic, relaxed (a scrape needs no ordering). Rendered in the
// Prometheus text format by render_prometheus().
namespace raftkv::server {

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
  std::atomic<uint64_t> elections_started{0};
  std::atomic<uint64_t> elections_won{0};
  std::atomic<uint64_t> leader_changes{0};
  std::atomic<uint64_t> proposals{0};
  std::atomic<uint64_t> proposals_failed{0};
  std::atomic<uint64_t> entries_committed{0};
  std::atomic<uint64_t> entries_applied{0};
  std::atomic<uint64_t> pending_requests{0};
  std::atomic<uint64_t> reads{0};
  std::atomic<uint64_t> snapshots_taken{0};
  std::atomic<uint64_t> snapshots_installed{0};
  LatencyHistogram fsync_latency;       // One DiskStorage::save_async, submit to durable.
  LatencyHistogram apply_latency;       // One batch of committed entries into the state machine.
  LatencyHistogram commit_latency;      // Proposal to applied on the leader (a write's latency).

  // Everything above, plus `extra` (per-peer lines rendered by the caller), as Prometheus text.
  [[nodiscard]] std::string render_prometheus(const std::string& extra) const;
};

}  // namespace raftkv::server
