#pragma once

#include <string>
#include <vector>

#include "client/client.h"
#include "local_cluster.h"

// The raftkv subcommands. Each returns the process exit code:
//   0 ok; 1 a definite error (an error reply, a failed check); 2 usage;
//   3 outcome unknown (the write may or may not have been applied);
//   4 unavailable (no node reachable or no leader in time; nothing was applied);
//   5 the exactly-once session expired.

namespace raftkv::tools {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitUnknown = 3;
inline constexpr int kExitUnavailable = 4;
inline constexpr int kExitSessionExpired = 5;

struct DataOptions {
  std::string endpoints = "127.0.0.1:6381,127.0.0.1:6382,127.0.0.1:6383";
  std::string semantics = "at-most-once";
  int timeout_ms = 10'000;
  bool raw = false;  // Print values plainly (for scripts) instead of redis-cli style.
  std::string user;      // AUTH user (empty: the default user).
  std::string password;  // AUTH password (empty: no AUTH).
  // --tls --cacert --cert --key, as redis-cli's: speak TLS to the nodes' TLS ports.
  client::TlsOptions tls;
};

// The client library's options for the command line's --endpoints, --semantics, --timeout-ms.
[[nodiscard]] Result<client::ClientOptions> client_options(const DataOptions& options);
// Prints an outcome as redis-cli would and returns its exit code.
int report(const client::Outcome& outcome, bool raw);

// A data command ("SET k v", "GET k", ...) through the leader-following client.
int run_data_command(const DataOptions& options, const std::vector<std::string>& args);
// INFO of the leader, as text.
int run_info(const DataOptions& options);
// One line per node: role, term, leader, commit and applied index.
int run_status(const DataOptions& options);
int run_leader(const DataOptions& options);
int run_members(const DataOptions& options);

// Membership (member_commands.cc), through the leader: RAFT.MEMBER and RAFT.TRANSFER.
int run_member_list(const DataOptions& options);
// `args`: ADD id peer client [LEARNER] | PROMOTE id | REMOVE id.
int run_member_change(const DataOptions& options, const std::vector<std::string>& args);
// Adds `new_id` as a learner, waits until it caught up, promotes it, removes `old_id`; prints
// each step with its time. The new node must be started (--join) before or meanwhile.
int run_member_replace(const DataOptions& options, uint64_t old_id, uint64_t new_id,
                       const std::string& peer_addr, const std::string& client_addr);
// Hands leadership to `id` (0: the voter furthest along) and waits until it leads.
int run_leader_transfer(const DataOptions& options, uint64_t id);

// The web control's port when none is given: the first after the nine HTTP ports a local
// cluster can use.
[[nodiscard]] uint16_t default_web_port(const ClusterLayout& layout);

struct ClusterOptions {
  ClusterLayout layout;
  bool foreground = false;
  // Serve the web view's controls (web_control.h) and stay in the foreground until Ctrl-C;
  // the nodes log to their files.
  bool web = false;
  uint16_t web_port = 0;  // 0: default_web_port().
};

int run_cluster_start(const ClusterOptions& options);
int run_cluster_stop(const std::string& dir);
int run_cluster_status(const std::string& dir);
// Starts one more node that joins the cluster under DIR (--join) and promotes it once it
// caught up; DIR/cluster.conf then counts it.
int run_cluster_add_node(const std::string& dir);
// Removes node `id` from the cluster's membership, then records it as removed in
// DIR/cluster.conf (no later `cluster start` runs it) and stops it.
int run_cluster_remove_node(const std::string& dir, int id);
// action: "kill" (SIGKILL, or `signal`) or "restart".
int run_node(const std::string& action, int id, const std::string& dir, int signal);

struct DemoOptions {
  ClusterLayout layout;
  bool keep = false;  // Leave the cluster running at the end.
  // Tell the story on the web view too: print its URL, show each step on the page, and wait
  // after each step (for Enter on a terminal, else step_pause_ms) so it can be watched.
  bool web = false;
  uint16_t web_port = 0;  // 0: default_web_port().
  int step_pause_ms = 3000;
};

int run_demo(const DemoOptions& options);

// Prints "raftkv: <message>" on stderr and returns `code`.
int fail(int code, const std::string& message);
// Whether stdout is a terminal (colours).
bool stdout_is_tty();

}  // namespace raftkv::tools
