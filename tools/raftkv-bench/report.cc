#include "report.h"

#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "client/endpoint.h"

namespace raftkv::bench {
namespace {

// Nanoseconds as milliseconds rounded to the microsecond.
double ms(uint64_t ns) { return std::round(static_cast<double>(ns) / 1e3) / 1e3; }
double ms(int64_t ns) { return ms(static_cast<uint64_t>(std::max<int64_t>(ns, 0))); }

double seconds(int64_t ns) { return static_cast<double>(ns) / 1e9; }

double throughput(const PhaseResult& result) {
  if (result.measured_ns <= 0) return 0;
  return static_cast<double>(result.counters.ops) / seconds(result.measured_ns);
}

}  // namespace

std::string json_line(const BenchOptions& options, const PhaseResult& result) {
  const LatencyHistogram& latency = result.latency;
  nlohmann::ordered_json line;
  line["target"] = target_name(options.target);
  line["label"] = options.label;
  line["clients"] = options.clients;
  line["connections"] = options.connections;
  line["read_ratio"] = options.read_ratio;
  line["read_mode"] = read_mode_name(options.read_mode);
  line["value_size"] = options.value_size;
  line["ops"] = result.counters.ops;
  line["reads"] = result.counters.reads;
  line["writes"] = result.counters.writes;
  line["errors"] = result.counters.errors;
  line["retries"] = result.counters.retries;
  line["duration_s"] = std::round(seconds(result.measured_ns) * 1e6) / 1e6;
  line["throughput"] = std::round(throughput(result) * 10) / 10;
  line["p50_ms"] = ms(latency.value_at_percentile(50));
  line["p90_ms"] = ms(latency.value_at_percentile(90));
  line["p99_ms"] = ms(latency.value_at_percentile(99));
  line["p999_ms"] = ms(latency.value_at_percentile(99.9));
  line["max_ms"] = ms(latency.max());
  line["max_ack_gap_ms"] = ms(result.max_ack_gap_ns);
  line["first_error"] = result.first_error;
  // Error texts come from the server: replace bytes that are not UTF-8 instead of throwing.
  return line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string human_summary(const BenchOptions& options, const PhaseResult& result) {
  const LatencyHistogram& latency = result.latency;
  const Counters& c = result.counters;
  std::string out = fmt::format(
      "raftkv-bench: {} at {}: {} clients on {} connections, {} threads, read ratio {:.2f} "
      "({}), key {} B, value {} B{}\n",
      target_name(options.target), client::join_endpoints(options.endpoints), options.clients,
      options.connections, options.threads, options.read_ratio, read_mode_name(options.read_mode),
      options.key_size, options.value_size,
      options.rate_ops_per_s > 0 ? fmt::format(", open loop at {:.0f} ops/s",
                                               options.rate_ops_per_s)
                                 : std::string(", closed loop"));
  out += fmt::format("  {} ops ({} reads, {} writes) in {:.3f} s: {:.1f} ops/s\n", c.ops, c.reads,
                     c.writes, seconds(result.measured_ns), throughput(result));
  out += fmt::format(
      "  latency ms: p50 {:.3f}  p90 {:.3f}  p99 {:.3f}  p99.9 {:.3f}  max {:.3f}\n",
      ms(latency.value_at_percentile(50)), ms(latency.value_at_percentile(90)),
      ms(latency.value_at_percentile(99)), ms(latency.value_at_percentile(99.9)),
      ms(latency.max()));
  out += fmt::format("  errors {}  retries {}  connection failures {}  longest ack gap {:.3f} ms\n",
                     c.errors, c.retries, result.failures, ms(result.max_ack_gap_ns));
  if (!result.first_error.empty()) out += "  first error: " + result.first_error + "\n";
  if (!result.last_failure.empty()) out += "  last connection failure: " + result.last_failure +
                                           "\n";
  return out;
}

}  // namespace raftkv::bench
