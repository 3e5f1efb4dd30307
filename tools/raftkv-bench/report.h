#pragma once

#include <string>

#include "options.h"
#include "run.h"

// The end-of-run outputs: one JSON line for scripts (stdout) and a human summary (stderr).

namespace raftkv::bench {

// {"target","label","clients","connections","read_ratio","read_mode","value_size","ops",
//  "reads","writes","errors","retries","duration_s","throughput","p50_ms","p90_ms","p99_ms",
//  "p999_ms","max_ms","max_ack_gap_ms","first_error"} on one line, no trailing newline.
// Latencies in milliseconds to the microsecond; first_error "" if there was none.
[[nodiscard]] std::string json_line(const BenchOptions& options, const PhaseResult& result);

// A few lines ending in a newline: what ran, throughput, percentiles, errors and retries.
[[nodiscard]] std::string human_summary(const BenchOptions& options, const PhaseResult& result);

}  // namespace raftkv::bench
