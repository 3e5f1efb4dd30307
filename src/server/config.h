#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "net/peer_transport.h"
#include "server/auth.h"
#include "server/http_options.h"
#include "server/tls_options.h"

// raftkv-server's command line (and the equivalent config file, --config FILE, one
// `name = value` per line in CLI11's INI/TOML form). Tests and scripts depend on these names.
namespace raftkv::server {

inline constexpr uint64_t kDefaultBulkBytesMax = 16ull << 20;
// A request counts every argument (command name and keys too): room for a maximum-size value
// and its key.
inline constexpr uint64_t kRequestBytesOverBulk = 1ull << 20;
// The most either limit may be set to: a request becomes one log entry, which the runtime
// caps at 192 MiB (runtime::NodeOptions::entry_bytes_max) to fit a 256 MiB WAL record.
inline constexpr uint64_t kRequestBytesMaxMax = 128ull << 20;

struct ServerConfig {
  NodeId id;
  std::string data_dir;
  // The bootstrap membership: every voter, this node included, sorted by id. Only the first
  // start reads it (identity.h); later the membership is replicated state. Empty with --join.
  std::vector<net::PeerAddress> peers;
  // --join: any member's client address. The node asks it for the cluster (identity.h) and
  // starts as a learner; ignored once the data dir holds an identity.
  std::string join_addr;
  // This node's own peer address: its entry in --peers, or --peer-addr with --join.
  net::PeerAddress self_peer;
  // --cluster-id: the id a new cluster bootstraps with (the local-cluster tool draws a random
  // one and gives it to every first member); 0: derived from the name and --peers.
  uint64_t bootstrap_cluster_id = 0;
  // --restore-from: a snapshot file the new cluster starts from (server/restore.h); empty:
  // none. First start only, with --peers.
  std::string restore_from;
  std::string client_host = "127.0.0.1";
  uint16_t client_port = 6379;
  std::string http_host = "127.0.0.1";
  uint16_t http_port = 0;  // 0: no HTTP status server.
  // Every member's HTTP address, this node's included (--peer-http-addrs), so the web view
  // served by one node can read all of them; empty when not given.
  std::vector<net::PeerAddress> peer_http_addrs;
  uint32_t heartbeat_ms = 100;
  uint32_t election_ms = 1000;
  uint32_t tick_ms = 10;
  std::string log_level = "info";
  std::string cluster_name = "raftkv";
  uint64_t snapshot_bytes = 64ull << 20;
  double snapshot_log_ratio = 2;  // runtime/snapshot_policy.h says why.
  uint64_t snapshot_entries = 0;  // 0: no entry-count trigger.
  uint64_t snapshot_keep_entries = 10'000;
  uint64_t snapshot_keep_bytes = 64ull << 20;
  uint64_t snapshot_chunk_bytes = 1 << 20;
  // Largest value (bulk string) a client may send, and most bulk bytes in one command: the
  // largest Raft entry. Larger ones are refused with Redis' error text (README's "Sizes" says
  // why the defaults are what they are). Set the same on every node.
  uint64_t bulk_bytes_max = kDefaultBulkBytesMax;
  uint64_t request_bytes_max = kDefaultBulkBytesMax + kRequestBytesOverBulk;
  uint64_t pending_requests_max = 50'000;
  // Open client connections at most (Redis' maxclients); more get Redis' error and are closed.
  // main() lowers it to what the open-file limit allows, and says so.
  uint32_t clients_max = 10'000;
  // --requirepass, --protected-mode, --auth-failures-burst, --auth-failures-per-s.
  AuthOptions auth;
  // --tls-port, --tls-cert-file, --tls-key-file, --tls-ca-cert-file, --tls-auth-clients;
  // --peer-tls-cert-file, --peer-tls-key-file, --peer-tls-ca-cert-file.
  TlsOptions tls;
  // --http-tls, --http-tls-cert-file, --http-tls-key-file, --http-tls-ca-cert-file,
  // --http-tls-auth-clients, --http-token ($RAFTKV_HTTP_TOKEN): resolved, so that a non-empty
  // http.tls.cert_file means HTTPS.
  HttpSecurity http;

  // The id a cluster bootstrapped from these flags gets: --cluster-id, or a hash of the cluster
  // name and --peers (so that the first members agree without talking). Stored in the
  // identity file at the first start, which alone counts afterwards.
  [[nodiscard]] uint64_t cluster_id() const;
  // The id of a cluster bootstrapped from a snapshot file: --cluster-id, or a hash of the
  // name, --peers and the file's `fingerprint`, so that first members given the same file
  // agree without talking and the id differs from that of the cluster the file came from.
  [[nodiscard]] uint64_t restored_cluster_id(const std::string& fingerprint) const;
  // "1=127.0.0.1:7001,2=..." in id order: the canonical form of the member list.
  [[nodiscard]] std::string peers_string() const;
  [[nodiscard]] std::string client_addr() const;
  // "host:tls_port" on the client host; "" without a TLS client port.
  [[nodiscard]] std::string client_tls_addr() const;
};

// Parses argv. On --help, *exit_code is 0 and the usage was printed; on a bad flag the Status
// names it and *exit_code is not 0. Never throws.
[[nodiscard]] Result<ServerConfig> parse_server_args(int argc, char** argv, int* exit_code);

// "1=127.0.0.1:7001,2=127.0.0.1:7002" -> peers (InvalidArgument naming the bad item).
[[nodiscard]] Result<std::vector<net::PeerAddress>> parse_peers(const std::string& text);
// "127.0.0.1:6381" -> host and port.
[[nodiscard]] Status parse_host_port(const std::string& text, std::string* host, uint16_t* port);

}  // namespace raftkv::server
