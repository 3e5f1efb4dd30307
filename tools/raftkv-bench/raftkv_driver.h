#pragma once

#include <memory>
#include <vector>

#include "common/status.h"
#include "options.h"
#include "run.h"

// The raftkv target: RESP2 over TCP with asio (standalone). Each event-loop thread owns some
// connections and the clients spread over them; a connection carries its clients' requests
// pipelined (replies come back in order), so one write and one read serve many requests.
// With --tls each connection speaks TLS (client::TlsOptions: the node's certificate checked
// against the CA and the host dialled), handshaking before its first request.
//
// Failures: a refused, reset or closed connection (or one silent for --timeout-ms) moves to
// the next endpoint, round-robin, and its in-flight requests are sent again there, first and in
// order. A "-TRYAGAIN ..." or "-MOVED ..." reply is sent again after a 1-10 ms backoff; both
// count as retries, not ops. Any other error reply counts as an error.

namespace raftkv::bench {

// The threads of one phase, connections and clients built but not yet connected.
// InvalidArgument if an endpoint does not resolve.
[[nodiscard]] Result<std::unique_ptr<PhaseThreads>> make_raftkv_phase(
    const BenchOptions& options, const WorkloadSpec& spec, RunControl& control,
    std::vector<ThreadStats>& stats);

}  // namespace raftkv::bench
