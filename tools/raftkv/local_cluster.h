#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "client/connection.h"
#include "client/endpoint.h"
#include "client/info.h"
#include "client/reply.h"
#include "common/status.h"
#include "process.h"

// A cluster of raftkv-server processes on this machine, laid out under one directory:
//   DIR/cluster.conf      the layout below, so later commands (`stop`, `node restart`, a
//                         second `cluster start`) find it: `key=value` lines, one
//                         `server_arg=ARG` line per extra server argument, in order
//   DIR/nodeI/data/       node I's --data-dir
//   DIR/nodeI/server.log  its stdout and stderr (background mode)
//   DIR/nodeI/server.pid  its pid
// Node I (1-based) listens on base_peer_port+I-1 for peers, base_client_port+I-1 for clients
// (RESP; with `tls`, also base_client_port+10+I-1 over TLS) and base_http_port+I-1 for HTTP
// status, all on 127.0.0.1, except that with
// distinct_peer_hosts its peer address is 127.0.1.I: its peer traffic then carries its own
// source address, so a partition can cut it off by address (partition.h). Used by
// `raftkv cluster`, `raftkv node`, `raftkv demo` and tests/process. Not thread-safe.

namespace raftkv::tools {

// A local cluster has node ids 1..nodes, at most this many.
inline constexpr int kNodesMax = 9;

// Node I's TLS client port lies this far above its plaintext one.
inline constexpr uint16_t kTlsPortOffset = 10;

// AUTH [user] password sent first on a direct exchange; no AUTH when the password is empty.
// With `tls`, the exchange speaks TLS with that context.
struct Credentials {
  std::string user;
  std::string password;
  std::shared_ptr<const client::TlsContext> tls;
};

struct ClusterLayout {
  std::string dir;
  int nodes = 3;
  uint16_t base_peer_port = 7001;
  uint16_t base_client_port = 6381;
  uint16_t base_http_port = 8081;
  std::string server_path;         // raftkv-server executable.
  std::string log_level = "info";
  bool distinct_peer_hosts = false;  // Peer address 127.0.1.I instead of 127.0.0.1.
  uint32_t heartbeat_ms = 0;       // 0: the server's default.
  uint32_t election_ms = 0;        // 0: the server's default.
  // More raftkv-server argv elements, appended after the ones above on every node, in order
  // (`--server-arg`). Saved in cluster.conf; check_server_args() must accept them.
  std::vector<std::string> extra_args;
  // `cluster start --tls`: every node also serves clients over TLS on its tls_endpoint(), and
  // its peer links are mutual TLS, with the throwaway certificates of DIR/tls (tls_files.h);
  // clients must present client.crt. Its HTTP address speaks only HTTPS, with the same
  // certificate (no client certificate).
  bool tls = false;
  // Nodes 1..bootstrap_nodes form the cluster with --peers; the later ones join it (--join
  // node 1, as learners: an operator promotes them). 0: every node bootstraps.
  int bootstrap_nodes = 0;
  // Nodes removed from the cluster (`cluster remove-node`, `member remove --dir`), each in
  // 1..nodes: `cluster start` no longer runs them and clients no longer dial them. Their ids
  // are never reused (add-node takes nodes + 1), as the servers refuse a removed id.
  std::set<int> removed;

  // 1..nodes without the removed ones, ascending: the nodes `cluster start` runs.
  [[nodiscard]] std::vector<int> member_nodes() const;
  [[nodiscard]] std::string node_dir(int id) const;
  [[nodiscard]] std::string tls_dir() const { return dir + "/tls"; }
  // Node I's TLS client port: base_client_port + kTlsPortOffset + I - 1.
  [[nodiscard]] client::Endpoint tls_endpoint(int id) const;
  [[nodiscard]] std::string data_dir(int id) const;
  [[nodiscard]] std::string log_path(int id) const;
  [[nodiscard]] std::string pid_path(int id) const;
  [[nodiscard]] client::Endpoint client_endpoint(int id) const;
  [[nodiscard]] std::vector<client::Endpoint> client_endpoints() const;
  [[nodiscard]] std::string http_addr(int id) const;
  [[nodiscard]] std::string peer_host(int id) const;
  [[nodiscard]] std::string peer_addr(int id) const;  // peer_host(id):peer port.
  [[nodiscard]] bool joins(int id) const;              // Starts with --join.
  // One more node, nodes + 1, which starts with --join (the earlier ones keep starting as
  // they did): its id. Callers validate the layout afterwards.
  int add_joining_node();
  // Where node `id` joins: the client address of the first member node other than itself.
  [[nodiscard]] client::Endpoint join_endpoint(int id) const;
  // "1=127.0.0.1:7001,2=127.0.0.1:7002,..." for the bootstrap nodes.
  [[nodiscard]] std::string peers_flag() const;
  // "1=127.0.0.1:8081,2=127.0.0.1:8082,...": every member node's HTTP address, for the web view.
  [[nodiscard]] std::string http_addrs_flag() const;
  // The raftkv-server command line for node `id` (without the program).
  [[nodiscard]] std::vector<std::string> server_args(int id) const;
  // The default user's password when extra_args set one (--requirepass), for the cluster's
  // own probes (wait_up, info, stale_get) and the clients of tests.
  [[nodiscard]] Credentials credentials() const;
};

// Checks the numbers (1..9 nodes, ports that fit, removed ids in 1..nodes with one node left),
// the extra server arguments and that the server binary exists.
[[nodiscard]] Status validate_layout(const ClusterLayout& layout);
// Checks extra server arguments: at most 256, none empty, none holding a line break or NUL
// (cluster.conf could not store it), none a flag the layout itself sets per node (--id,
// --data-dir, --peers, --client-addr, --http-addr, --peer-http-addrs, --log-level,
// --heartbeat-ms, --election-ms, alone or as `--flag=value`), since the server refuses a flag
// given twice.
// The error names the argument and what to use instead.
[[nodiscard]] Status check_server_args(const std::vector<std::string>& args);
// Checks that no port of the layout is taken (by binding each on 127.0.0.1): otherwise
// another cluster would answer in our nodes' place.
[[nodiscard]] Status check_ports_free(const ClusterLayout& layout);
// Writes DIR/cluster.conf. InvalidArgument if the extra arguments fail check_server_args().
[[nodiscard]] Status save_layout(const ClusterLayout& layout);
// Reads DIR/cluster.conf. NotFound if it is missing; InvalidArgument, naming the file and
// line, if it is damaged: a line that is not key=value, an unknown or repeated key, a missing
// or out-of-range number (a removed id included), no server path, or a server_arg that
// check_server_args() refuses.
[[nodiscard]] Result<ClusterLayout> load_layout(const std::string& dir);

// The last `count` lines of a text file, each indented, for explaining why a node died.
[[nodiscard]] std::string tail_lines(const std::string& path, size_t count);

// raftkv-server next to this executable's build tree (../../src/server/raftkv-server from
// tools/raftkv), else next to it, else "raftkv-server" in the same directory anyway (the
// error then names that path).
[[nodiscard]] std::string default_server_path();

// A direct exchange with one node (not through the leader-following client): connect, send
// the commands pipelined (after AUTH with `credentials`), read the replies. Unavailable on
// any failure, naming the node; InvalidArgument with the node's error when AUTH is refused.
[[nodiscard]] Result<std::vector<client::Reply>> node_exchange(
    const client::Endpoint& endpoint, const std::vector<std::vector<std::string>>& commands,
    std::chrono::milliseconds timeout, const Credentials& credentials = {});
// INFO's Raft section from one node.
[[nodiscard]] Result<client::RaftInfo> node_info(const client::Endpoint& endpoint,
                                                 std::chrono::milliseconds timeout,
                                                 const Credentials& credentials = {});

class LocalCluster {
 public:
  explicit LocalCluster(ClusterLayout layout) : layout_(std::move(layout)) {}
  // Reaps nodes that have exited; running ones are left running (background clusters).
  ~LocalCluster();
  LocalCluster(const LocalCluster&) = delete;
  LocalCluster& operator=(const LocalCluster&) = delete;

  // Starts node `id` unless it already runs. detach: outlives this process (background
  // cluster); otherwise a child stopped when this process exits. capture: output to a pipe
  // (*output_fd) instead of the log file.
  [[nodiscard]] Status start_node(int id, bool detach, bool capture = false,
                                  int* output_fd = nullptr);
  // Sends `signal` (SIGKILL for a crash); for SIGTERM waits for a clean exit, then SIGKILLs.
  [[nodiscard]] Status stop_node(int id, int signal, std::chrono::milliseconds wait);
  void stop_all(std::chrono::milliseconds wait);

  [[nodiscard]] std::optional<pid_t> pid(int id) const;
  [[nodiscard]] bool running(int id) const;
  // For a child of this process that exited: how ("exited with status 1"); else nullopt.
  [[nodiscard]] std::optional<std::string> exit_description(int id);

  [[nodiscard]] Result<client::RaftInfo> info(int id, std::chrono::milliseconds timeout) const;
  // Waits until node `id` answers INFO; fails early, quoting its last log lines, if it exits.
  [[nodiscard]] Status wait_up(int id, std::chrono::milliseconds timeout);
  // Polls until one running node is leader and a majority of all nodes agree on its term and
  // id. Nodes in `ignore` are not asked (a node just killed).
  [[nodiscard]] Result<client::RaftInfo> wait_for_leader(std::chrono::milliseconds timeout,
                                                         const std::vector<int>& ignore = {});
  // Polls until node `id` has applied at least `index`.
  [[nodiscard]] Result<client::RaftInfo> wait_applied(int id, uint64_t index,
                                                      std::chrono::milliseconds timeout);
  // GET on node `id` in stale-read mode (READONLY): what that node's own state machine holds.
  [[nodiscard]] Result<client::Reply> stale_get(int id, const std::string& key) const;

  [[nodiscard]] const ClusterLayout& layout() const { return layout_; }
  // For a membership change while the nodes run (a node added, one removed).
  [[nodiscard]] ClusterLayout& mutable_layout() { return layout_; }

 private:
  ClusterLayout layout_;
  std::vector<std::pair<int, pid_t>> children_;  // Nodes this process started (node, pid).
};

}  // namespace raftkv::tools
