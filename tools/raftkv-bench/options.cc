#include "options.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <thread>

#include <CLI/CLI.hpp>

namespace raftkv::bench {
namespace {

// The text flags, converted by validate-time helpers below.
struct TextFlags {
  std::string target;
  std::string endpoints;
  std::string read_mode = "linearizable";
};

void add_flags(CLI::App& app, BenchOptions& o, TextFlags& text) {
  app.add_option("--target", text.target, "raftkv|etcd")->required();
  app.add_option("--endpoints", text.endpoints,
                 "host:port[,host:port...]; connections start on the first")
      ->required();
  app.add_option("--clients", o.clients, "Concurrent closed-loop clients")->capture_default_str();
  app.add_option("--connections", o.connections,
                 "Connections shared by the clients (default: one per client)");
  app.add_option("--threads", o.threads,
                 "Event-loop threads (default: min(connections, hardware threads))");
  app.add_option("--duration", o.duration_s, "Measured seconds after the warmup")
      ->capture_default_str();
  app.add_option("--ops", o.ops_max, "Stop after N measured ops (wins over --duration)");
  app.add_option("--warmup", o.warmup_s, "Seconds of unmeasured ops first")->capture_default_str();
  app.add_option("--rate", o.rate_ops_per_s,
                 "Total ops/s, open loop (0: closed loop); latency from the scheduled time")
      ->capture_default_str();
  app.add_option("--key-size", o.key_size, "Key bytes")->capture_default_str();
  app.add_option("--value-size", o.value_size, "Value bytes")->capture_default_str();
  app.add_option("--keyspace", o.keyspace, "0: every write a fresh key; K: keys uniform in [0,K)")
      ->capture_default_str();
  app.add_option("--read-ratio", o.read_ratio, "Fraction of reads, 0..1")->capture_default_str();
  app.add_option("--read-mode", text.read_mode, "linearizable|serializable")
      ->capture_default_str();
  app.add_option("--prefill", o.prefill, "Write keys 0..N-1 before measuring");
  app.add_option("--label", o.label, "Copied into the JSON line");
  app.add_option("--user", o.user, "raftkv: AUTH as this ACL user (default: the default user)");
  app.add_option("--pass", o.password, "raftkv: AUTH with this password (also $RAFTKV_PASSWORD)")
      ->envname("RAFTKV_PASSWORD");
  app.add_flag("--tls", o.tls.enabled,
               "Speak TLS to the nodes (raftkv: their --tls-port; etcd: https client URLs)");
  app.add_option("--cacert", o.tls.ca_file,
                 "PEM CA bundle the nodes' certificates must chain to (default: the system's)");
  app.add_option("--cert", o.tls.cert_file, "PEM client certificate to present");
  app.add_option("--key", o.tls.key_file, "Its private key");
  app.add_flag("--json", o.json, "Print one JSON line on stdout at the end");
  app.add_flag("--quiet", o.quiet, "No progress line");
  app.add_option("--timeout-ms", o.timeout_ms,
                 "A connection without a reply for this long moves to the next endpoint")
      ->capture_default_str();
  app.add_option("--seed", o.seed, "Seed of the key and read/write choices")
      ->capture_default_str();
}

Status invalid(const std::string& message) { return {ErrorCode::InvalidArgument, message}; }

Status convert_text(const TextFlags& text, BenchOptions* o) {
  if (text.target == "raftkv") {
    o->target = Target::Raftkv;
  } else if (text.target == "etcd") {
    o->target = Target::Etcd;
  } else {
    return invalid("--target must be raftkv or etcd, not '" + text.target + "'");
  }
  if (text.read_mode == "linearizable") {
    o->read_mode = ReadMode::Linearizable;
  } else if (text.read_mode == "serializable") {
    o->read_mode = ReadMode::Serializable;
  } else {
    return invalid("--read-mode must be linearizable or serializable, not '" + text.read_mode +
                   "'");
  }
  Result<std::vector<client::Endpoint>> endpoints = client::parse_endpoints(text.endpoints);
  if (!endpoints.is_ok()) return invalid("--endpoints: " + endpoints.status().message());
  o->endpoints = std::move(endpoints).value();
  return Status::ok();
}

// Decimal digits of n - 1 (the largest key index below n); at least 1.
uint32_t digits_below(uint64_t n) {
  uint32_t digits = 1;
  for (uint64_t v = n > 0 ? n - 1 : 0; v >= 10; v /= 10) ++digits;
  return digits;
}

}  // namespace

const char* target_name(Target target) {
  return target == Target::Raftkv ? "raftkv" : "etcd";
}

const char* read_mode_name(ReadMode mode) {
  return mode == ReadMode::Linearizable ? "linearizable" : "serializable";
}

Status validate_options(BenchOptions* o, unsigned hardware_threads) {
  RAFT_ASSERT(o != nullptr);
  if (o->endpoints.empty()) return invalid("--endpoints: at least one host:port");
  if (o->clients < 1 || o->clients > 100'000) return invalid("--clients must be in [1, 100000]");
  if (o->connections == 0) o->connections = o->clients;
  if (o->connections > o->clients) {
    return invalid("--connections (" + std::to_string(o->connections) +
                   ") must not exceed --clients (" + std::to_string(o->clients) + ")");
  }
  if (!std::isfinite(o->duration_s) || o->duration_s <= 0 || o->duration_s > 86'400) {
    return invalid("--duration must be in (0, 86400] seconds");
  }
  if (!std::isfinite(o->warmup_s) || o->warmup_s < 0 || o->warmup_s > 86'400) {
    return invalid("--warmup must be in [0, 86400] seconds");
  }
  if (!std::isfinite(o->rate_ops_per_s) || o->rate_ops_per_s < 0 || o->rate_ops_per_s > 1e8) {
    return invalid("--rate must be in [0, 1e8] ops/s");
  }
  if (!(o->read_ratio >= 0 && o->read_ratio <= 1)) {
    return invalid("--read-ratio must be in [0, 1]");
  }
  if (o->key_size < 4 || o->key_size > (1u << 20)) {
    return invalid("--key-size must be in [4, 1048576] bytes");
  }
  if (o->value_size < 1 || o->value_size > (64u << 20)) {
    return invalid("--value-size must be in [1, 67108864] bytes");
  }
  // Keys are "k" and zero-padded decimal digits: every index used must fit.
  const uint64_t keys_needed = std::max(o->keyspace, o->prefill);
  if (keys_needed > 0 && digits_below(keys_needed) > o->key_size - 1) {
    return invalid("--key-size " + std::to_string(o->key_size) + " is too small for " +
                   std::to_string(keys_needed) + " distinct keys");
  }
  if (o->timeout_ms < 10 || o->timeout_ms > 3'600'000) {
    return invalid("--timeout-ms must be in [10, 3600000]");
  }
  if (!o->tls.enabled && !(o->tls.ca_file + o->tls.cert_file + o->tls.key_file).empty()) {
    return invalid("--cacert, --cert and --key need --tls");
  }
  if (o->threads == 0) o->threads = std::min(o->connections, std::max(hardware_threads, 1u));
  o->threads = std::min(o->threads, o->connections);
  RAFT_ASSERT(o->threads >= 1);
  RAFT_ASSERT(o->connections >= 1 && o->connections <= o->clients);
  return Status::ok();
}

ParsedOptions parse_options(int argc, const char* const* argv) {
  CLI::App app{"raftkv-bench: load generator for raftkv-server and etcd"};
  ParsedOptions parsed;
  TextFlags text;
  add_flags(app, parsed.options, text);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& help) {
    parsed.exit_code = app.exit(help);
    return parsed;
  } catch (const CLI::ParseError& error) {
    (void)app.exit(error);  // Prints the reason and a hint to stderr.
    parsed.exit_code = kExitUsage;
    return parsed;
  }
  Status status = convert_text(text, &parsed.options);
  if (status.is_ok()) {
    status = validate_options(&parsed.options, std::thread::hardware_concurrency());
  }
  if (!status.is_ok()) {
    std::fprintf(stderr, "raftkv-bench: %s\n", status.message().c_str());
    parsed.exit_code = kExitUsage;
    return parsed;
  }
  parsed.run = true;
  return parsed;
}

}  // namespace raftkv::bench
