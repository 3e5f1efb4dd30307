// raftkv-server: one node of a replicated key-value store speaking the Redis protocol.
//   raftkv-server --id 1 --data-dir DIR --peers 1=127.0.0.1:7001,2=...,3=...
//                 --client-addr 127.0.0.1:6381 --http-addr 127.0.0.1:8081
// The same command restarts the node from its data dir. SIGTERM or SIGINT stops it cleanly;
// kill -9 loses nothing acknowledged (every acknowledged write is fsynced on a quorum).

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <map>
#include <optional>

#include "kv/resp_state_machine.h"
#include "net/asio_environment.h"
#include "net/peer_transport.h"
#include "runtime/node.h"
#include "server/certificates.h"
#include "server/client_server.h"
#include "server/config.h"
#include "server/event_feed.h"
#include "server/http_status.h"
#include "server/identity.h"
#include "server/join.h"
#include "server/log_sink.h"
#include "server/restore.h"
#include "storage/disk_storage.h"

// jemalloc's built-in options (MALLOC_CONF still overrides them).
// - Transparent huge pages stay at the system's default: `thp:always` made no difference to a
//   16 MiB write's leader CPU once its copies were gone, and cost 7% RSS at a million 256-byte
//   keys and 20-30% with eight 16 MiB values (bench/results/2026-12-07-memory-per-key.md).
// - Large buffers are reused, not returned to the kernel and faulted in again: every large
//   value passes through several transient buffers (the request, its entry, a received
//   frame), and with jemalloc's defaults (allocations over 8 MiB in a dedicated arena that
//   purges at once; freed pages purged soon after) each was fresh memory, zeroed by the
//   kernel page by page: 10-13 thousand page faults per 16 MiB write on every node, about a
//   third of its CPU. `oversize_threshold:0` keeps large allocations in the ordinary arenas
//   and `muzzy_decay_ms:-1` leaves freed pages lazily freed (MADV_FREE): the kernel takes
//   them back when it needs memory, and until then they are reused without a fault.
//   Measured: 40% less CPU per 16 MiB write on each node, 1.5x the throughput, the same RSS
//   at a million 256-byte keys (bench/results/2026-12-07-large-values-allocator.md).
extern "C" const char* malloc_conf;
const char* malloc_conf = "thp:default,oversize_threshold:0,muzzy_decay_ms:-1";

namespace raftkv::server {
namespace {

int fail(const std::string& what) {
  std::fprintf(stderr, "raftkv-server: %s\n", what.c_str());
  return 1;
}

// File descriptors kept for what is not a client: peer links, WAL segments, snapshots, HTTP.
constexpr uint64_t kReservedFds = 128;

// Raises the open-file limit to fit --maxclients, or lowers maxclients to fit the limit (and
// says how to get more), as Redis does: running out of descriptors would refuse peers and WAL
// segments too, not only clients.
uint32_t fit_clients_to_open_files(uint32_t clients_max, Logger& logger) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return clients_max;
  const rlim_t wanted = clients_max + kReservedFds;
  if (limit.rlim_cur < wanted) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max == RLIM_INFINITY ? wanted : std::min(wanted, limit.rlim_max);
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  if (limit.rlim_cur >= wanted) return clients_max;
  const uint64_t fitting = limit.rlim_cur > kReservedFds + 1 ? limit.rlim_cur - kReservedFds : 1;
  log_to(logger, LogLevel::Warn, "--maxclients ", clients_max, " needs ", wanted,
         " open files, but the limit is ", limit.rlim_cur, ": serving at most ", fitting,
         " clients (raise it with `ulimit -n` or LimitNOFILE=)");
  return static_cast<uint32_t>(fitting);
}

// Publishes the server's status to the HTTP thread every 100 ms.
void publish_status(asio::steady_timer& timer, const std::function<ServerStatus()>& status,
                    HttpStatusServer& http, uint32_t tick_ms) {
  http.publish(status(), tick_ms);
  timer.expires_after(std::chrono::milliseconds(100));
  timer.async_wait([&timer, &status, &http, tick_ms](const asio::error_code& error) {
    if (!error) publish_status(timer, status, http, tick_ms);
  });
}

// Serves HTTP when --http-addr is given: the status published every 100 ms, the HTTPS context
// rebuilt on SIGHUP with the node's others (a failure is logged there; the old one stays).
Status start_http(const ServerConfig& config, HttpStatusServer& http, asio::steady_timer& timer,
                  Certificates& certificates, const std::function<ServerStatus()>& status) {
  if (config.http_port == 0) return Status::ok();
  if (Status started = http.start(config.http_host, config.http_port); !started.is_ok()) {
    return started;
  }
  publish_status(timer, status, http, config.tick_ms);
  if (!config.http.tls_enabled()) return Status::ok();
  return certificates.on_reload([&http] { (void)http.reload_tls(); });
}

runtime::NodeOptions node_options(const ServerConfig& config, const Identity& identity) {
  runtime::NodeOptions options;
  options.raft.id = config.id;
  // Where the membership starts; the snapshot and the log take it on from there.
  options.members = identity.members;  // The Node takes the core's voters and learners from them.
  options.raft.heartbeat_ticks = std::max<uint32_t>(1, config.heartbeat_ms / config.tick_ms);
  options.raft.election_ticks =
      std::max<uint32_t>(options.raft.heartbeat_ticks + 1, config.election_ms / config.tick_ms);
  options.tick_ms = config.tick_ms;
  // The election jitter differs per node and per start.
  options.seed = config.id.value() * 0x9e3779b97f4a7c15ULL ^
                 static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  options.snapshot_policy = {.min_log_bytes = config.snapshot_bytes,
                             .log_ratio = config.snapshot_log_ratio,
                             .max_entries = config.snapshot_entries};
  options.snapshot_keep_entries = config.snapshot_keep_entries;
  options.snapshot_keep_bytes = config.snapshot_keep_bytes;
  options.snapshot_transfer = {.chunk_bytes = config.snapshot_chunk_bytes};
  options.pending_requests_max = config.pending_requests_max;
  options.request_timeout_ms = 2 * config.election_ms;
  return options;
}

// Every member's HTTP address known from the flags, this node's own included.
std::map<NodeId, std::string> http_addrs(const ServerConfig& config) {
  std::map<NodeId, std::string> out;
  for (const net::PeerAddress& peer : config.peer_http_addrs) {
    out[peer.id] = peer.host + ":" + std::to_string(peer.port);
  }
  if (config.http_port != 0) {
    out[config.id] = config.http_host + ":" + std::to_string(config.http_port);
  }
  return out;
}

// The data dir's identity: written at the first start, from --peers or by joining through
// --join; read afterwards (a restart with --join checks that it is the same cluster).
Result<Identity> load_identity(const ServerConfig& config, Logger& logger) {
  if (config.join_addr.empty() || !has_identity(config)) {
    std::optional<Identity> joined;
    if (!config.join_addr.empty()) {
      Result<Identity> learned = join_cluster(config, logger);
      if (!learned.is_ok()) {
        return Status(learned.status().code(),
                      "cannot join through " + config.join_addr + ": " +
                          learned.status().message());
      }
      joined = std::move(learned).value();
    }
    return check_or_write_identity(config, joined ? &*joined : nullptr);
  }
  Result<Identity> stored = check_or_write_identity(config, nullptr);
  if (!stored.is_ok()) return stored;
  Result<uint64_t> theirs = cluster_id_at(config.join_addr);
  if (theirs.is_ok() && theirs.value() != stored.value().cluster_id) {
    return Status(ErrorCode::InvalidArgument,
                  "data dir " + config.data_dir + " belongs to cluster " +
                      std::to_string(stored.value().cluster_id) + ", but " + config.join_addr +
                      " serves cluster " + std::to_string(theirs.value()) +
                      "; refusing to start (wipe the dir to join that cluster as a new node)");
  }
  if (!theirs.is_ok()) {
    log_to(logger, LogLevel::Warn, "cannot check the cluster id at ", config.join_addr, " (",
           theirs.status().message(), "); starting from the data dir");
  }
  return stored;
}

// Mutual TLS on the peer links, with the contexts `certificates` holds at each new
// connection (so that SIGHUP reaches the next one).
void use_peer_tls(const Certificates& certificates, net::TransportOptions* options) {
  options->tls_listener_context = [&certificates] {
    return certificates.peer_listener_context();
  };
  options->tls_dialer_context = [&certificates] { return certificates.peer_dialer_context(); };
  RAFT_ASSERT(certificates.peer_dialer_context() != nullptr);
}

int run(ServerConfig config) {
  SpdLogger logger(parse_log_level(config.log_level));
  if (!config.restore_from.empty()) {
    // Before the identity is written: the new cluster's id depends on the file.
    Result<uint64_t> cluster_id = restore_from_snapshot_file(config, logger);
    if (!cluster_id.is_ok()) return fail(cluster_id.status().message());
    config.bootstrap_cluster_id = cluster_id.value();
  }
  Result<Identity> identity = load_identity(config, logger);
  if (!identity.is_ok()) return fail(identity.status().message());
  storage::DiskStorageOptions storage_options;
  storage_options.logger = &logger;
  Result<std::unique_ptr<storage::DiskStorage>> storage =
      storage::DiskStorage::open(config.data_dir + "/raft", storage_options);
  if (!storage.is_ok()) {
    return fail("refusing to start: " + storage.status().to_string());
  }
  // Declared in this order so that they are destroyed the other way round: the lanes'
  // threads (env) finish with the storage before it goes.
  asio::io_context io(1);
  net::AsioEnvironment env(io, logger);
  runtime::Metrics metrics;
  EventFeed feed({.id = config.id,
                  .tick_ms = config.tick_ms,
                  .heartbeat_ms = config.heartbeat_ms,
                  .election_ms = config.election_ms,
                  .http_addrs = http_addrs(config)});
  kv::RespStateMachine state_machine({}, config.bulk_bytes_max);
  net::TransportOptions transport_options{.cluster_id = identity.value().cluster_id,
                                          .client_addr = config.client_addr(),
                                          .client_tls_addr = config.client_tls_addr()};
  // A frame holds a lane's queue or one item larger than it: the largest entry, or a
  // forwarded request of that size, plus its envelope.
  transport_options.frame_bytes_max =
      std::max(transport_options.frame_bytes_max,
               std::max(transport_options.queue_bytes_max, config.request_bytes_max) + (1 << 20));
  // A peer silent this long is redialled: a healed link resumes within about an election
  // timeout instead of at TCP's next backed-off retransmission, minutes later.
  transport_options.stall_ms = std::max<uint32_t>(1000, 2 * config.election_ms);
  // Before the transport, whose first connections need the peer contexts.
  Certificates certificates(io, config.tls, logger);
  if (Status started = certificates.start(); !started.is_ok()) return fail(started.to_string());
  if (config.tls.peer_files.enabled()) use_peer_tls(certificates, &transport_options);
  // The runtime gives the transport its peers, from the replicated membership.
  net::PeerTransport transport(io, config.id, {config.self_peer}, transport_options, logger);
  runtime::Node node(node_options(config, identity.value()), env, *storage.value(), state_machine,
                     transport, logger, metrics, config.http_port != 0 ? &feed : nullptr);
  node.set_client_addr(config.client_addr(), config.client_tls_addr());
  if (Status status = node.start(); !status.is_ok()) return fail(status.to_string());
  if (Status status = transport.start(node); !status.is_ok()) return fail(status.to_string());
  env.tick_every(config.tick_ms, [&node] { node.tick(); });
  const std::function<ServerStatus()> status = [&node, &transport, &identity] {
    return ServerStatus{node.status(), transport.counters(), identity.value().cluster_id};
  };
  ClientServerOptions client_options{.host = config.client_host,
                                     .port = config.client_port,
                                     .bulk_bytes_max = config.bulk_bytes_max,
                                     .request_bytes_max = config.request_bytes_max,
                                     .clients_max = fit_clients_to_open_files(config.clients_max,
                                                                              logger),
                                     .auth = config.auth};
  client_options.tls_port = config.tls.client_port;
  client_options.tls_context = [&certificates] { return certificates.client_context(); };
  // One allowance per source for failed AUTH on the client ports and wrong HTTP tokens.
  AuthLimiter auth_limiter(config.auth.auth_failures_burst, config.auth.auth_failures_per_s);
  ClientServer clients(io, node, status, client_options, logger, auth_limiter);
  if (Status started = clients.start(); !started.is_ok()) return fail(started.to_string());
  HttpStatusServer http(metrics, logger, &feed, http_addrs(config), config.http, &auth_limiter);
  asio::steady_timer publish_timer(io);
  if (Status started = start_http(config, http, publish_timer, certificates, status);
      !started.is_ok()) {
    return fail(started.to_string());
  }
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const asio::error_code&, int signal) {
    log_to(logger, LogLevel::Info, "received signal ", signal, "; stopping");
    clients.stop();
    certificates.stop();
    node.stop();
    transport.stop();
    env.stop_ticks();
    publish_timer.cancel();
    io.stop();
  });
  log_to(logger, LogLevel::Info, "node ", config.id, " of cluster '", config.cluster_name,
         "' (id ", identity.value().cluster_id, ") serving clients on ", config.client_addr());
  io.run();
  http.stop();
  log_to(logger, LogLevel::Info, "stopped");
  return 0;
}

}  // namespace
}  // namespace raftkv::server

int main(int argc, char** argv) {
  int exit_code = 0;
  raftkv::Result<raftkv::server::ServerConfig> config =
      raftkv::server::parse_server_args(argc, argv, &exit_code);
  if (!config.is_ok()) {
    if (exit_code == 0) return 0;  // --help.
    return raftkv::server::fail(config.status().message()) + 1;
  }
  return raftkv::server::run(config.value());
}
