#include "server/config.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <asio/ip/address.hpp>
#include <iostream>
#include <map>
#include <set>

namespace raftkv::server {
namespace {

Status invalid(const std::string& what) { return Status(ErrorCode::InvalidArgument, what); }

// FNV-1a: stable across builds and platforms, which std::hash is not.
uint64_t fnv1a(const std::string& text) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (char c : text) {
    hash ^= static_cast<uint8_t>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

// Client authentication (docs/security.md). A password on the command line shows in `ps`:
// production nodes put `requirepass` in their --config file.
void add_auth_options(CLI::App& app, AuthOptions& auth) {
  app.add_option("--requirepass", auth.requirepass,
                 "Password of the default user (AUTH); empty: none (then see --protected-mode)");
  app.add_option("--protected-mode", auth.protected_mode,
                 "yes|no: with no --requirepass, refuse clients from outside the loopback "
                 "interface (default yes)");
  app.add_option("--auth-failures-burst", auth.auth_failures_burst,
                 "Failed AUTH attempts a client address may make at once...")
      ->check(CLI::Range(1, 1'000'000));
  app.add_option("--auth-failures-per-s", auth.auth_failures_per_s,
                 "...and how many more per second it earns back")
      ->check(CLI::Range(1, 1000));
}

// TLS, under Redis' names (docs/security.md).
// --tls-auth-clients and --http-tls-auth-clients: no|optional|yes, in any case.
CLI::CheckedTransformer client_certificates_names() {
  return CLI::CheckedTransformer(
      std::map<std::string, net::ClientCertificates>{
          {"no", net::ClientCertificates::No},
          {"optional", net::ClientCertificates::Optional},
          {"yes", net::ClientCertificates::Yes}},
      CLI::ignore_case);
}

void add_tls_options(CLI::App& app, TlsOptions& tls) {
  app.add_option("--tls-port", tls.client_port,
                 "Also serve clients over TLS on this port, beside the plaintext one");
  app.add_option("--tls-cert-file", tls.files.cert_file, "PEM certificate (chain) of this node");
  app.add_option("--tls-key-file", tls.files.key_file, "PEM private key of that certificate");
  app.add_option("--tls-ca-cert-file", tls.files.ca_file,
                 "PEM CA bundle that clients' certificates must chain to");
  app.add_option("--tls-auth-clients", tls.client_certificates,
                 "no|optional|yes: whether TLS clients must present a certificate (default yes)")
      ->transform(client_certificates_names());
  app.add_option("--peer-tls-cert-file", tls.peer_files.cert_file,
                 "Mutual TLS between nodes: PEM certificate (chain) naming raftkv-node-<id>");
  app.add_option("--peer-tls-key-file", tls.peer_files.key_file,
                 "PEM private key of the peer certificate");
  app.add_option("--peer-tls-ca-cert-file", tls.peer_files.ca_file,
                 "PEM CA bundle that the other nodes' certificates must chain to");
}

Status check_tls(const TlsOptions& tls) {
  const net::TlsFiles& peer = tls.peer_files;
  if (!peer.cert_file.empty() || !peer.key_file.empty() || !peer.ca_file.empty()) {
    if (peer.cert_file.empty() || peer.key_file.empty() || peer.ca_file.empty()) {
      return invalid("--peer-tls-cert-file, --peer-tls-key-file and --peer-tls-ca-cert-file "
                     "go together");
    }
  }
  if (tls.client_port != 0 && (tls.files.cert_file.empty() || tls.files.key_file.empty())) {
    return invalid("--tls-port needs --tls-cert-file and --tls-key-file");
  }
  if (tls.files.cert_file.empty() != tls.files.key_file.empty()) {
    return invalid("--tls-cert-file and --tls-key-file go together");
  }
  if (tls.client_port != 0 && tls.client_certificates != net::ClientCertificates::No &&
      tls.files.ca_file.empty()) {
    return invalid("--tls-auth-clients " +
                   std::string(tls.client_certificates == net::ClientCertificates::Yes
                                   ? "yes"
                                   : "optional") +
                   " needs --tls-ca-cert-file (or --tls-auth-clients no)");
  }
  return Status::ok();
}

// The HTTP listener's TLS and token (docs/security.md). `--http-tls` alone reuses the node's
// --tls-* certificate; the token is best given by $RAFTKV_HTTP_TOKEN or the config file, where
// `ps` does not show it.
struct HttpFlags {
  bool tls = false;
  HttpSecurity security;
};

void add_http_options(CLI::App& app, HttpFlags& http) {
  app.add_flag("--http-tls", http.tls,
               "Serve HTTP over TLS, with --tls-cert-file/--tls-key-file unless "
               "--http-tls-cert-file is given");
  app.add_option("--http-tls-cert-file", http.security.tls.cert_file,
                 "PEM certificate for HTTPS (implies --http-tls)");
  app.add_option("--http-tls-key-file", http.security.tls.key_file, "PEM key of that certificate");
  app.add_option("--http-tls-ca-cert-file", http.security.tls.ca_file,
                 "PEM CA bundle for HTTP client certificates (default: --tls-ca-cert-file)");
  app.add_option("--http-tls-auth-clients", http.security.client_certificates,
                 "no|optional|yes: whether HTTPS clients must present a certificate (default no)")
      ->transform(client_certificates_names());
  app.add_option("--http-token", http.security.token,
                 "Every HTTP request must carry 'Authorization: Bearer TOKEN'")
      ->envname("RAFTKV_HTTP_TOKEN");
}

Result<HttpSecurity> resolve_http(const HttpFlags& flags, const TlsOptions& tls) {
  HttpSecurity http = flags.security;
  if (http.tls.cert_file.empty() != http.tls.key_file.empty()) {
    return invalid("--http-tls-cert-file and --http-tls-key-file go together");
  }
  if (http.tls.cert_file.empty() && flags.tls) {
    if (!tls.files.enabled()) {
      return invalid("--http-tls needs --tls-cert-file and --tls-key-file, or "
                     "--http-tls-cert-file and --http-tls-key-file");
    }
    http.tls.cert_file = tls.files.cert_file;
    http.tls.key_file = tls.files.key_file;
  }
  if (http.tls.ca_file.empty()) http.tls.ca_file = tls.files.ca_file;
  if (!http.tls.enabled()) {
    if (http.client_certificates != net::ClientCertificates::No) {
      return invalid("--http-tls-auth-clients needs --http-tls");
    }
    http.tls.ca_file.clear();
  } else if (http.client_certificates != net::ClientCertificates::No && http.tls.ca_file.empty()) {
    return invalid("--http-tls-auth-clients needs a CA: --http-tls-ca-cert-file or "
                   "--tls-ca-cert-file");
  }
  RAFT_ASSERT(http.tls.enabled() || http.client_certificates == net::ClientCertificates::No);
  return http;
}

// --peers (bootstrap) or --join with --peer-addr: exactly one of the two.
Status parse_membership(const std::string& peers, const std::string& peer_addr,
                        ServerConfig* config) {
  const std::string id = std::to_string(config->id.value());
  if (config->join_addr.empty() == peers.empty()) {
    return invalid("give --peers to bootstrap a cluster (and to restart its first members), or "
                   "--join ADDR with --peer-addr to add this node to a running one; not both");
  }
  if (!config->join_addr.empty()) {
    if (!config->restore_from.empty()) {
      return invalid("--restore-from starts a new cluster with --peers; a node that joins "
                     "receives the state from the cluster");
    }
    if (peer_addr.empty()) return invalid("--join needs --peer-addr HOST:PORT");
    std::string join_host;
    uint16_t join_port = 0;
    if (Status status = parse_host_port(config->join_addr, &join_host, &join_port);
        !status.is_ok()) {
      return invalid("--join: " + status.message());
    }
    config->self_peer.id = config->id;
    return parse_host_port(peer_addr, &config->self_peer.host, &config->self_peer.port);
  }
  Result<std::vector<net::PeerAddress>> parsed = parse_peers(peers);
  if (!parsed.is_ok()) return parsed.status();
  config->peers = std::move(parsed).value();
  for (const net::PeerAddress& peer : config->peers) {
    if (peer.id == config->id) config->self_peer = peer;
  }
  if (config->self_peer.id != config->id) {
    return invalid("--id " + id + " is not among --peers " + peers);
  }
  if (!peer_addr.empty()) return invalid("--peer-addr goes with --join; --peers names ours");
  return Status::ok();
}

}  // namespace

Status parse_host_port(const std::string& text, std::string* host, uint16_t* port) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return invalid("'" + text + "' is not host:port");
  *host = text.substr(0, colon);
  asio::error_code error;
  asio::ip::make_address(*host, error);
  if (error) return invalid("'" + *host + "' is not an IP address (in '" + text + "')");
  const std::string digits = text.substr(colon + 1);
  if (digits.empty() || digits.size() > 5 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return invalid("'" + digits + "' is not a port (in '" + text + "')");
  }
  const unsigned long value = std::stoul(digits);
  if (value == 0 || value > 65535) return invalid("port out of range in '" + text + "'");
  *port = static_cast<uint16_t>(value);
  return Status::ok();
}

Result<std::vector<net::PeerAddress>> parse_peers(const std::string& text) {
  std::vector<net::PeerAddress> peers;
  std::set<uint64_t> ids;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, comma - start);
    start = comma + 1;
    const size_t equals = item.find('=');
    if (equals == std::string::npos || equals == 0) {
      return invalid("peer '" + item + "' is not id=host:port");
    }
    const std::string id_text = item.substr(0, equals);
    if (!std::all_of(id_text.begin(), id_text.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        id_text.size() > 18) {
      return invalid("peer id '" + id_text + "' is not a positive number");
    }
    net::PeerAddress peer{NodeId{std::stoull(id_text)}, {}, 0};
    if (peer.id == kNoNode) return invalid("peer id 0 is reserved");
    if (!ids.insert(peer.id.value()).second) return invalid("peer id " + id_text + " repeated");
    if (Status parsed = parse_host_port(item.substr(equals + 1), &peer.host, &peer.port);
        !parsed.is_ok()) {
      return parsed;
    }
    peers.push_back(std::move(peer));
  }
  std::sort(peers.begin(), peers.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return peers;
}

std::string ServerConfig::peers_string() const {
  std::string out;
  for (const net::PeerAddress& peer : peers) {
    if (!out.empty()) out += ",";
    out += std::to_string(peer.id.value()) + "=" + peer.host + ":" + std::to_string(peer.port);
  }
  return out;
}

uint64_t ServerConfig::cluster_id() const {
  if (bootstrap_cluster_id != 0) return bootstrap_cluster_id;
  return fnv1a(cluster_name + "|" + peers_string());
}

uint64_t ServerConfig::restored_cluster_id(const std::string& fingerprint) const {
  if (bootstrap_cluster_id != 0) return bootstrap_cluster_id;
  return fnv1a(cluster_name + "|" + peers_string() + "|restored from " + fingerprint);
}

std::string ServerConfig::client_addr() const {
  return client_host + ":" + std::to_string(client_port);
}

std::string ServerConfig::client_tls_addr() const {
  if (tls.client_port == 0) return "";
  return client_host + ":" + std::to_string(tls.client_port);
}

Result<ServerConfig> parse_server_args(int argc, char** argv, int* exit_code) {
  ServerConfig config;
  CLI::App app{"raftkv-server: a replicated key-value server speaking the Redis protocol"};
  uint64_t id = 0;
  std::string peers;
  std::string client_addr = "127.0.0.1:6379";
  std::string http_addr;
  std::string peer_http_addrs;
  app.set_config("--config", "", "Read flags from this file (name = value per line)");
  std::string peer_addr;
  app.add_option("--id", id, "This node's id (one of the ids in --peers)")->required();
  app.add_option("--data-dir", config.data_dir, "Directory for the log and snapshots")
      ->required();
  app.add_option("--peers", peers,
                 "Bootstrap a new cluster of these members: 1=127.0.0.1:7001,2=...");
  app.add_option("--join", config.join_addr,
                 "Join the cluster this member serves clients at (an empty data dir)");
  app.add_option("--peer-addr", peer_addr, "With --join: where this node listens for peers");
  app.add_option("--cluster-id", config.bootstrap_cluster_id,
                 "With --peers: the new cluster's id (default: hashed from name and --peers)");
  app.add_option("--restore-from", config.restore_from,
                 "With --peers, on an empty data dir: start a NEW cluster from this snapshot "
                 "file (raftkv-wal export); give every first member the same file");
  app.add_option("--client-addr", client_addr, "Where to serve Redis-protocol clients");
  app.add_option("--http-addr", http_addr, "Where to serve /status and /metrics (off if empty)");
  app.add_option("--peer-http-addrs", peer_http_addrs,
                 "Every member's HTTP address, for the web view: 1=127.0.0.1:8081,2=...");
  app.add_option("--heartbeat-ms", config.heartbeat_ms, "Leader heartbeat interval")
      ->check(CLI::Range(1, 60'000));
  app.add_option("--election-ms", config.election_ms, "Election timeout (randomized up to 2x)")
      ->check(CLI::Range(2, 600'000));
  app.add_option("--tick-ms", config.tick_ms, "Granularity of Raft's logical clock")
      ->check(CLI::Range(1, 1000));
  app.add_option("--log-level", config.log_level, "debug (shows heartbeats), info, warn, error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  app.add_option("--cluster-name", config.cluster_name, "Name hashed into the cluster id");
  app.add_option("--snapshot-bytes", config.snapshot_bytes,
                 "Snapshot the state machine once the log since the last one holds this many "
                 "bytes...")
      ->check(CLI::Range(uint64_t{1} << 10, uint64_t{1} << 50));
  app.add_option("--snapshot-log-ratio", config.snapshot_log_ratio,
                 "...and this many times the last snapshot's size (a fraction is allowed)")
      ->check(CLI::Range(0.01, 1000.0));
  app.add_option("--snapshot-entries", config.snapshot_entries,
                 "Also snapshot after this many applied entries (0: off, else at least 100)")
      ->check(CLI::Range(uint64_t{0}, uint64_t{1} << 40));
  app.add_option("--snapshot-keep-entries", config.snapshot_keep_entries,
                 "Entries the log keeps behind a snapshot for followers slightly behind...")
      ->check(CLI::Range(uint64_t{0}, uint64_t{1} << 40));
  app.add_option("--snapshot-keep-bytes", config.snapshot_keep_bytes,
                 "...but about this many bytes of them at most (at their mean size)")
      ->check(CLI::Range(uint64_t{0}, uint64_t{1} << 50));
  app.add_option("--snapshot-chunk-bytes", config.snapshot_chunk_bytes,
                 "Chunk size when streaming a snapshot to a follower")
      ->check(CLI::Range(uint64_t{4} << 10, uint64_t{64} << 20));
  app.add_option("--max-bulk-bytes", config.bulk_bytes_max,
                 "Largest value a client may send (CONFIG GET proto-max-bulk-len)")
      ->check(CLI::Range(uint64_t{1}, kRequestBytesMaxMax));
  CLI::Option* request_max =
      app.add_option("--max-request-bytes", config.request_bytes_max,
                     "Most bytes of arguments in one command, about the largest Raft entry "
                     "(default: --max-bulk-bytes + 1 MiB)")
          ->check(CLI::Range(uint64_t{1}, kRequestBytesMaxMax));
  app.add_option("--maxclients", config.clients_max,
                 "Open client connections at most; more are refused with Redis' error")
      ->check(CLI::Range(1, 1'000'000));
  app.add_option("--max-pending", config.pending_requests_max,
                 "Writes waiting for commit before new ones get TRYAGAIN busy")
      ->check(CLI::Range(uint64_t{1}, uint64_t{10'000'000}));
  add_auth_options(app, config.auth);
  add_tls_options(app, config.tls);
  HttpFlags http_flags;
  add_http_options(app, http_flags);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    *exit_code = app.exit(error, std::cout, std::cerr);
    if (*exit_code == 0) return Status(ErrorCode::Unavailable, "help printed");
    return invalid(error.what());
  }
  // Non-zero until every check below passes: main() takes 0 with an error for --help.
  *exit_code = 1;
  config.id = NodeId{id};
  if (Status membership = parse_membership(peers, peer_addr, &config); !membership.is_ok()) {
    return membership;
  }
  if (Status status = parse_host_port(client_addr, &config.client_host, &config.client_port);
      !status.is_ok()) {
    return status;
  }
  if (!http_addr.empty()) {
    if (Status status = parse_host_port(http_addr, &config.http_host, &config.http_port);
        !status.is_ok()) {
      return status;
    }
  }
  if (!peer_http_addrs.empty()) {
    Result<std::vector<net::PeerAddress>> http = parse_peers(peer_http_addrs);
    if (!http.is_ok()) return invalid("--peer-http-addrs: " + http.status().message());
    config.peer_http_addrs = std::move(http).value();
  }
  if (config.election_ms <= config.heartbeat_ms) {
    return invalid("--election-ms must be greater than --heartbeat-ms");
  }
  if (config.heartbeat_ms < config.tick_ms) return invalid("--heartbeat-ms below --tick-ms");
  if (request_max->count() == 0) {
    config.request_bytes_max =
        std::min(config.bulk_bytes_max + kRequestBytesOverBulk, kRequestBytesMaxMax);
  } else if (config.request_bytes_max < config.bulk_bytes_max) {
    return invalid("--max-request-bytes must be at least --max-bulk-bytes");
  }
  if (config.snapshot_entries != 0 && config.snapshot_entries < 100) {
    return invalid("--snapshot-entries must be 0 (off) or at least 100");
  }
  if (Status status = check_tls(config.tls); !status.is_ok()) return status;
  Result<HttpSecurity> http = resolve_http(http_flags, config.tls);
  if (!http.is_ok()) return http.status();
  config.http = std::move(http).value();
  *exit_code = 0;
  return config;
}

}  // namespace raftkv::server
