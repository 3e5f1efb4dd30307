#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "client/endpoint.h"
#include "client/tls.h"
#include "common/status.h"

// raftkv-bench's command line: what to run against which servers. Parsing and validation only;
// no I/O beyond printing --help.

namespace raftkv::bench {

enum class Target { Raftkv, Etcd };
enum class ReadMode { Linearizable, Serializable };

[[nodiscard]] const char* target_name(Target target);
[[nodiscard]] const char* read_mode_name(ReadMode mode);

struct BenchOptions {
  Target target = Target::Raftkv;
  std::vector<client::Endpoint> endpoints;  // Connections start on endpoints[0].
  uint32_t clients = 1;      // Closed-loop clients, one request in flight each.
  uint32_t connections = 0;  // Shared by the clients round-robin; set to `clients` if 0.
  uint32_t threads = 0;      // Event-loop threads; 0 = min(connections, hardware threads).
  double duration_s = 10;    // Measured period after the warmup (unless ops_max > 0).
  uint64_t ops_max = 0;      // > 0: stop after this many measured ops (wins over duration).
  double warmup_s = 0;       // Ops started in the first warmup_s are not measured.
  double rate_ops_per_s = 0;  // 0 = closed loop; > 0 = open loop at this total rate.
  uint32_t key_size = 16;
  uint32_t value_size = 256;
  uint64_t keyspace = 0;     // 0 = each write a fresh key; K = keys drawn from [0, K).
  double read_ratio = 0;     // Fraction of ops that are reads, [0, 1].
  ReadMode read_mode = ReadMode::Linearizable;
  uint64_t prefill = 0;      // Keys [0, prefill) written before measuring.
  std::string label;
  std::string user;      // raftkv: AUTH as this user first on every connection...
  std::string password;  // ...with this password (empty: no AUTH).
  client::TlsOptions tls;  // raftkv: --tls --cacert --cert --key, as the raftkv CLI's.
  bool json = false;
  bool quiet = false;
  uint32_t timeout_ms = 10'000;  // No reply on a connection for this long: it moves on.
  uint64_t seed = 1;             // Key and read/write choices; client i uses seed + i.
};

// Outcome of parsing: run with `options`, or exit with `exit_code` (0 for --help) after
// `message` was printed.
struct ParsedOptions {
  bool run = false;
  int exit_code = 0;
  BenchOptions options;
};

// Parses argv; on a bad flag or value prints the reason (and a usage hint) to stderr.
[[nodiscard]] ParsedOptions parse_options(int argc, const char* const* argv);

// Checks ranges and combinations; InvalidArgument names the offending flag. Fills defaults
// that depend on other flags (connections, threads).
[[nodiscard]] Status validate_options(BenchOptions* options, unsigned hardware_threads);

// Exit codes.
inline constexpr int kExitOk = 0;
inline constexpr int kExitNoOps = 1;  // The run completed no op at all.
inline constexpr int kExitUsage = 2;  // Bad arguments, or a target this build lacks.

}  // namespace raftkv::bench
