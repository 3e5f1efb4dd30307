#pragma once

#include <memory>
#include <vector>

#include "common/status.h"
#include "options.h"
#include "run.h"

// The etcd target (built with -DRAFTKV_ETCD_BENCH=ON): etcd's v3 KV service over gRPC, async
// API with one CompletionQueue per thread, so one thread drives many clients. Writes are Put,
// reads Range(key) with serializable = (--read-mode serializable).
//
// A "connection" is a gRPC channel of its own (no subchannel sharing), so --connections M opens
// M TCP connections; its clients' calls are multiplexed on it (HTTP/2 streams). Failures: a
// call ending UNAVAILABLE or DEADLINE_EXCEEDED moves its channel to the next endpoint,
// round-robin, and is retried there after a 1-10 ms backoff (a retry, not an op); any other
// status counts as an error.

namespace raftkv::bench {

[[nodiscard]] Result<std::unique_ptr<PhaseThreads>> make_etcd_phase(
    const BenchOptions& options, const WorkloadSpec& spec, RunControl& control,
    std::vector<ThreadStats>& stats);

}  // namespace raftkv::bench
