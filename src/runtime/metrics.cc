#include "runtime/metrics.h"

namespace raftkv::runtime {
namespace {

void counter(std::string* out, const char* name, const char* help, const char* type,
             uint64_t value) {
  *out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
          name + " " + std::to_string(value) + "\n";
}

std::string seconds(uint64_t micros) {
  return std::to_string(micros / 1'000'000) + "." + [&] {
    std::string fraction = std::to_string(micros % 1'000'000);
    return std::string(6 - fraction.size(), '0') + fraction;
  }();
}

}  // namespace

void LatencyHistogram::observe(uint64_t micros) {
  size_t bucket = 0;
  while (bucket < kBoundsUs.size() && micros > kBoundsUs[bucket]) ++bucket;
  buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_us_.fetch_add(micros, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

void LatencyHistogram::render(const std::string& name, const std::string& help,
                              std::string* out) const {
  *out += "# HELP " + name + " " + help + "\n# TYPE " + name + " histogram\n";
  uint64_t cumulative = 0;
  for (size_t bucket = 0; bucket < kBoundsUs.size(); ++bucket) {
    cumulative += buckets_[bucket].load(std::memory_order_relaxed);
    *out += name + "_bucket{le=\"" + seconds(kBoundsUs[bucket]) + "\"} " +
            std::to_string(cumulative) + "\n";
  }
  cumulative += buckets_[kBoundsUs.size()].load(std::memory_order_relaxed);
  *out += name + "_bucket{le=\"+Inf\"} " + std::to_string(cumulative) + "\n";
  *out += name + "_sum " + seconds(sum_us_.load(std::memory_order_relaxed)) + "\n";
  *out += name + "_count " + std::to_string(count_.load(std::memory_order_relaxed)) + "\n";
}

std::string Metrics::render_prometheus(const std::string& extra) const {
  std::string out;
  auto load = [](const std::atomic<uint64_t>& value) {
    return value.load(std::memory_order_relaxed);
  };
  counter(&out, "raftkv_term", "Current Raft term.", "gauge", load(term));
  counter(&out, "raftkv_elections_started_total", "Elections this node started.", "counter",
          load(elections_started));
  counter(&out, "raftkv_elections_won_total", "Elections this node won.", "counter",
          load(elections_won));
  counter(&out, "raftkv_leader_changes_total", "Times the leader this node knows changed.",
          "counter", load(leader_changes));
  counter(&out, "raftkv_proposals_total", "Client writes proposed by this node as leader.",
          "counter", load(proposals));
  counter(&out, "raftkv_proposals_failed_total",
          "Writes answered with an error (not applied or outcome unknown).", "counter",
          load(proposals_failed));
  counter(&out, "raftkv_entries_committed_total", "Advances of this node's commit index.",
          "counter", load(entries_committed));
  counter(&out, "raftkv_entries_applied_total", "Log entries applied to the state machine.",
          "counter", load(entries_applied));
  counter(&out, "raftkv_pending_requests", "Client requests waiting for an answer.", "gauge",
          load(pending_requests));
  counter(&out, "raftkv_reads_total", "Linearizable reads served.", "counter", load(reads));
  counter(&out, "raftkv_snapshots_taken_total", "State machine snapshots written.", "counter",
          load(snapshots_taken));
  counter(&out, "raftkv_snapshots_installed_total", "Snapshots installed from a leader.",
          "counter", load(snapshots_installed));
  counter(&out, "raftkv_snapshot_bytes", "Data bytes of the newest snapshot.", "gauge",
          load(snapshot_bytes));
  sync_latency.render("raftkv_wal_sync_seconds", "One Ready's WAL write plus fdatasync.", &out);
  apply_latency.render("raftkv_apply_seconds", "Latency of applying one batch of entries.",
                       &out);
  commit_latency.render("raftkv_write_seconds", "Client write latency, proposal to applied.",
                        &out);
  snapshot_latency.render("raftkv_snapshot_write_seconds",
                          "Writing one snapshot file, from the image to durable.", &out);
  return out + extra;
}

}  // namespace raftkv::runtime
