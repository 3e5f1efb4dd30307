#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <thread>

#include "commands.h"
#include "tls_files.h"
#include "web_control.h"

namespace raftkv::tools {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kStopWait{5000};
// How long a starting node may take to answer: it serves clients only once it has loaded its
// snapshot and replayed its log, about a minute at 10M keys. A node that exits is reported at
// once (wait_up watches the process), so only one that hangs alive waits this long.
constexpr milliseconds kUpWait{300'000};

Status refuse_if_running(const ClusterLayout& layout) {
  Result<ClusterLayout> existing = load_layout(layout.dir);
  if (!existing.is_ok()) return Status::ok();
  LocalCluster cluster(existing.value());
  for (int id = 1; id <= existing.value().nodes; ++id) {
    if (std::optional<pid_t> pid = cluster.pid(id)) {
      return Status(ErrorCode::InvalidArgument,
                    "a cluster already runs under " + layout.dir + " (node " +
                        std::to_string(id) + " is pid " + std::to_string(*pid) +
                        "); stop it with `raftkv cluster stop --dir " + layout.dir + "`");
    }
  }
  return Status::ok();
}

int start_background(const ClusterLayout& layout) {
  LocalCluster cluster(layout);
  for (int id : layout.member_nodes()) {
    if (Status started = cluster.start_node(id, /*detach=*/true); !started.is_ok()) {
      cluster.stop_all(kStopWait);
      return fail(kExitError, started.message());
    }
  }
  for (int id : layout.member_nodes()) {
    if (Status up = cluster.wait_up(id, kUpWait); !up.is_ok()) {
      cluster.stop_all(kStopWait);
      return fail(kExitError, up.message());
    }
    std::cout << "node " << id << " up: pid " << cluster.pid(id).value_or(0) << ", clients "
              << layout.client_endpoint(id).to_string() << ", http " << layout.http_addr(id)
              << ", log " << layout.log_path(id) << "\n";
  }
  Result<client::RaftInfo> leader = cluster.wait_for_leader(milliseconds(15'000));
  if (!leader.is_ok()) return fail(kExitUnavailable, leader.status().message());
  std::cout << "node " << leader.value().node_id << " leads term " << leader.value().term
            << "\n\ntry:  raftkv -e " << client::join_endpoints(layout.client_endpoints())
            << " set greeting hello\n      raftkv cluster status --dir " << layout.dir
            << "\nstop: raftkv cluster stop --dir " << layout.dir << "\n";
  if (layout.tls) {
    const std::string certs = layout.tls_dir();
    std::cout << "TLS:  redis-cli --tls --cacert " << certs << "/ca.crt --cert " << certs
              << "/client.crt --key " << certs << "/client.key -p "
              << layout.tls_endpoint(1).port << " PING\n";
  }
  return kExitOk;
}

// Self-pipe for SIGINT/SIGTERM: the handler only writes a byte; the poll loop reacts.
int g_signal_pipe[2] = {-1, -1};

void on_stop_signal(int) {
  const char byte = 1;
  (void)!::write(g_signal_pipe[1], &byte, 1);
}

// From here on SIGINT and SIGTERM only make g_signal_pipe readable.
bool catch_stop_signals() {
  if (::pipe2(g_signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0) return false;
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
  return true;
}

const char* colour_for(int id) {
  static const char* const kColours[] = {"\033[36m", "\033[33m", "\033[35m", "\033[32m",
                                         "\033[34m", "\033[31m", "\033[96m", "\033[93m",
                                         "\033[95m"};
  return kColours[static_cast<size_t>(id - 1) % 9];
}

// One node's output stream in foreground mode: split into lines, prefixed, coloured.
struct NodeStream {
  int id = 0;
  int fd = -1;
  std::string partial;
  std::ofstream log;
};

void print_line(const NodeStream& stream, const std::string& line, bool colour) {
  if (colour) {
    std::printf("%snode %d |\033[0m %s\n", colour_for(stream.id), stream.id, line.c_str());
  } else {
    std::printf("node %d | %s\n", stream.id, line.c_str());
  }
}

// Reads what is available; false at EOF.
bool pump(NodeStream& stream, bool colour) {
  char buffer[8192];
  const ssize_t n = ::read(stream.fd, buffer, sizeof buffer);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
  if (n <= 0) {
    if (!stream.partial.empty()) print_line(stream, stream.partial, colour);
    stream.partial.clear();
    return false;
  }
  stream.partial.append(buffer, static_cast<size_t>(n));
  stream.log.write(buffer, n);
  size_t newline;
  while ((newline = stream.partial.find('\n')) != std::string::npos) {
    print_line(stream, stream.partial.substr(0, newline), colour);
    stream.partial.erase(0, newline + 1);
  }
  std::fflush(stdout);
  return true;
}

// Polls the nodes' outputs and the signal pipe until every stream ends or, once stopping,
// the grace period passes.
void stream_until_stopped(LocalCluster& cluster, std::vector<NodeStream>& streams) {
  const bool colour = stdout_is_tty();
  bool stopping = false;
  auto stop_deadline = std::chrono::steady_clock::now();
  size_t open = streams.size();
  while (open > 0) {
    std::vector<pollfd> fds = {{g_signal_pipe[0], POLLIN, 0}};
    for (const NodeStream& stream : streams) fds.push_back({stream.fd, POLLIN, 0});
    (void)::poll(fds.data(), fds.size(), 200);
    if (!stopping && (fds[0].revents & POLLIN) != 0) {
      std::printf("\nstopping %zu nodes (SIGTERM)...\n", streams.size());
      for (int id = 1; id <= cluster.layout().nodes; ++id) {
        if (auto pid = cluster.pid(id)) (void)::kill(*pid, SIGTERM);
      }
      stopping = true;
      stop_deadline = std::chrono::steady_clock::now() + kStopWait;
    }
    for (size_t i = 0; i < streams.size(); ++i) {
      NodeStream& stream = streams[i];
      if (stream.fd < 0 || (fds[i + 1].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      if (pump(stream, colour)) continue;
      ::close(stream.fd);
      stream.fd = -1;
      --open;
      // The pipe closes a moment before the process can be reaped.
      std::optional<std::string> how;
      for (int wait = 0; wait < 50 && !how; ++wait) {
        how = cluster.exit_description(stream.id);
        if (!how) std::this_thread::sleep_for(milliseconds(10));
      }
      print_line(stream, "*** exited" + (how ? " (" + *how + ")" : std::string()), colour);
    }
    if (stopping && std::chrono::steady_clock::now() > stop_deadline) break;
  }
  cluster.stop_all(kStopWait);  // SIGKILLs whatever ignored SIGTERM.
}

int start_foreground(const ClusterLayout& layout) {
  if (!catch_stop_signals()) return fail(kExitError, "pipe");
  LocalCluster cluster(layout);
  const std::vector<int> members = layout.member_nodes();
  std::vector<NodeStream> streams(members.size());
  for (size_t i = 0; i < members.size(); ++i) {
    const int id = members[i];
    NodeStream& stream = streams[i];
    stream.id = id;
    Status started = cluster.start_node(id, /*detach=*/false, /*capture=*/true, &stream.fd);
    if (!started.is_ok()) {
      cluster.stop_all(kStopWait);
      return fail(kExitError, started.message());
    }
    stream.log.open(layout.log_path(id), std::ios::app);
  }
  std::printf("started %zu nodes under %s; clients: raftkv -e %s ...; Ctrl-C stops them\n",
              members.size(), layout.dir.c_str(),
              client::join_endpoints(layout.client_endpoints()).c_str());
  stream_until_stopped(cluster, streams);
  return kExitOk;
}

// The nodes run as our children (they stop if we die), logging to their files; the web
// control serves the page's actions until SIGINT or SIGTERM.
int start_web(const ClusterOptions& options) {
  const ClusterLayout& layout = options.layout;
  if (!catch_stop_signals()) return fail(kExitError, "pipe");
  LocalCluster cluster(layout);
  for (int id : layout.member_nodes()) {
    Status started = cluster.start_node(id, /*detach=*/false);
    if (started.is_ok()) started = cluster.wait_up(id, kUpWait);
    if (!started.is_ok()) {
      cluster.stop_all(kStopWait);
      return fail(kExitError, started.message());
    }
    std::cout << "node " << id << " up: pid " << cluster.pid(id).value_or(0) << ", clients "
              << layout.client_endpoint(id).to_string() << ", log " << layout.log_path(id)
              << "\n";
  }
  WebControl control(cluster, {.port = options.web_port != 0 ? options.web_port
                                                              : default_web_port(layout),
                               .controls = true,
                               .token = random_token()});
  if (Status served = control.start(); !served.is_ok()) {
    cluster.stop_all(kStopWait);
    return fail(kExitError, served.message());
  }
  std::cout << "\nweb view (any node's page works; this one can act on the cluster):\n  "
            << control.page_url(1) << "\n";
  if (layout.tls) {
    std::cout << "  (HTTPS with the throwaway CA " << layout.tls_dir() << "/ca.crt: import it "
              << "into the browser, or accept its warning once per node)\n";
  }
  // The token is not printed: the page asks for it, or takes it from the URL's #token=.
  if (std::getenv("RAFTKV_HTTP_TOKEN") != nullptr) {
    std::cout << "  (the nodes want $RAFTKV_HTTP_TOKEN: the page asks for it once, or add "
              << "#token=... to the URL)\n";
  }
  std::cout << "Ctrl-C stops the cluster" << std::endl;
  pollfd signalled = {g_signal_pipe[0], POLLIN, 0};
  while (::poll(&signalled, 1, -1) <= 0 || (signalled.revents & POLLIN) == 0) {
  }
  std::cout << "\nstopping " << layout.member_nodes().size() << " nodes..." << std::endl;
  control.stop();  // Heals every partition, and the cluster is ours again.
  cluster.stop_all(kStopWait);
  return kExitOk;
}

// Records in DIR/cluster.conf that node `id` left the membership, so that no later command
// starts it, and stops it.
int forget_removed_node(const std::string& dir, int id) {
  Result<ClusterLayout> loaded = load_layout(dir);
  if (!loaded.is_ok()) return fail(kExitError, loaded.status().message());
  ClusterLayout layout = loaded.value();
  if (id < 1 || id > layout.nodes) {
    return fail(kExitUsage, "node " + std::to_string(id) + " was removed from the cluster, but " +
                                dir + " has no node " + std::to_string(id));
  }
  layout.removed.insert(id);
  // Only the file changes: the node's directory stays, with its data and log, for a look.
  if (Status saved = save_layout(layout); !saved.is_ok()) return fail(kExitError, saved.message());
  LocalCluster cluster(layout);
  (void)cluster.stop_node(id, SIGTERM, kStopWait);
  std::cout << "node " << id << " removed from the cluster and stopped; " << dir
            << "/cluster.conf no longer starts it\n";
  return kExitOk;
}

}  // namespace

uint16_t default_web_port(const ClusterLayout& layout) {
  return static_cast<uint16_t>(layout.base_http_port + 9);
}

int run_cluster_start(const ClusterOptions& options) {
  const ClusterLayout& layout = options.layout;
  if (Status valid = validate_layout(layout); !valid.is_ok()) {
    return fail(kExitUsage, valid.message());
  }
  if (Status free = refuse_if_running(layout); !free.is_ok()) {
    return fail(kExitError, free.message());
  }
  if (Status free = check_ports_free(layout); !free.is_ok()) {
    return fail(kExitError, free.message());
  }
  if (Status saved = save_layout(layout); !saved.is_ok()) return fail(kExitError, saved.message());
  if (layout.tls) {
    if (Status made = make_tls_files(layout.tls_dir(), layout.nodes); !made.is_ok()) {
      return fail(kExitError, made.message());
    }
  }
  if (options.web) return start_web(options);
  return options.foreground ? start_foreground(layout) : start_background(layout);
}

int run_cluster_stop(const std::string& dir) {
  Result<ClusterLayout> layout = load_layout(dir);
  if (!layout.is_ok()) return fail(kExitError, layout.status().message());
  LocalCluster cluster(layout.value());
  int stopped = 0;
  for (int id = 1; id <= layout.value().nodes; ++id) stopped += cluster.running(id) ? 1 : 0;
  cluster.stop_all(kStopWait);
  std::cout << "stopped " << stopped << " node(s) under " << dir << "\n";
  return kExitOk;
}

int run_cluster_status(const std::string& dir) {
  Result<ClusterLayout> layout = load_layout(dir);
  if (!layout.is_ok()) return fail(kExitError, layout.status().message());
  LocalCluster cluster(layout.value());
  std::printf("%-5s %-8s %-22s %-14s %-6s %-7s %-8s %-8s\n", "NODE", "PID", "CLIENT", "ROLE",
              "TERM", "LEADER", "COMMIT", "APPLIED");
  for (int id = 1; id <= layout.value().nodes; ++id) {
    const std::optional<pid_t> pid = cluster.pid(id);
    const std::string endpoint = layout.value().client_endpoint(id).to_string();
    if (layout.value().removed.contains(id) && !pid) {
      std::printf("%-5d %-8s %-22s %s\n", id, "-", endpoint.c_str(), "removed");
      continue;
    }
    Result<client::RaftInfo> info = pid ? cluster.info(id, milliseconds(1000))
                                        : Result<client::RaftInfo>(Status(
                                              ErrorCode::Unavailable, "not running"));
    if (!info.is_ok()) {
      std::printf("%-5d %-8s %-22s %s\n", id, pid ? std::to_string(*pid).c_str() : "-",
                  endpoint.c_str(), info.status().message().c_str());
      continue;
    }
    const client::RaftInfo& i = info.value();
    std::printf("%-5d %-8d %-22s %-14s %-6llu %-7s %-8llu %-8llu\n", id, *pid, endpoint.c_str(),
                i.role.c_str(), static_cast<unsigned long long>(i.term),
                i.leader_id == 0 ? "-" : std::to_string(i.leader_id).c_str(),
                static_cast<unsigned long long>(i.commit_index),
                static_cast<unsigned long long>(i.applied_index));
  }
  return kExitOk;
}

int run_node(const std::string& action, int id, const std::string& dir, int signal) {
  Result<ClusterLayout> layout = load_layout(dir);
  if (!layout.is_ok()) return fail(kExitError, layout.status().message());
  if (id < 1 || id > layout.value().nodes) {
    return fail(kExitUsage, "no node " + std::to_string(id) + " in a cluster of " +
                                std::to_string(layout.value().nodes));
  }
  if (action == "restart" && layout.value().removed.contains(id)) {
    return fail(kExitUsage, "node " + std::to_string(id) + " was removed from the cluster; "
                            "add a new node with `raftkv cluster add-node`");
  }
  LocalCluster cluster(layout.value());
  if (action == "kill") {
    const std::optional<pid_t> pid = cluster.pid(id);
    if (!pid) return fail(kExitError, "node " + std::to_string(id) + " is not running");
    if (Status killed = cluster.stop_node(id, signal, kStopWait); !killed.is_ok()) {
      return fail(kExitError, killed.message());
    }
    std::cout << "node " << id << " (pid " << *pid << ") killed with signal " << signal << "\n";
    return kExitOk;
  }
  (void)cluster.stop_node(id, SIGTERM, kStopWait);
  if (Status started = cluster.start_node(id, /*detach=*/true); !started.is_ok()) {
    return fail(kExitError, started.message());
  }
  if (Status up = cluster.wait_up(id, kUpWait); !up.is_ok()) {
    return fail(kExitError, up.message());
  }
  std::cout << "node " << id << " restarted: pid " << cluster.pid(id).value_or(0) << "\n";
  return kExitOk;
}

int run_cluster_add_node(const std::string& dir) {
  Result<ClusterLayout> loaded = load_layout(dir);
  if (!loaded.is_ok()) return fail(kExitError, loaded.status().message());
  ClusterLayout layout = loaded.value();
  const int id = layout.add_joining_node();
  if (Status valid = validate_layout(layout); !valid.is_ok()) {
    return fail(kExitError, "cannot add node " + std::to_string(id) + ": " + valid.message());
  }
  if (Status saved = save_layout(layout); !saved.is_ok()) return fail(kExitError, saved.message());
  if (layout.tls) {  // The new node's certificate, from the cluster's CA.
    if (Status made = make_tls_files(layout.tls_dir(), layout.nodes); !made.is_ok()) {
      return fail(kExitError, made.message());
    }
  }
  LocalCluster cluster(layout);
  if (Status started = cluster.start_node(id, /*detach=*/true); !started.is_ok()) {
    return fail(kExitError, started.message());
  }
  if (Status up = cluster.wait_up(id, milliseconds(30'000)); !up.is_ok()) {
    return fail(kExitError, up.message());
  }
  std::cout << "node " << id << " joined as a learner (pid " << cluster.pid(id).value_or(0)
            << "); promoting it once it has caught up\n";
  DataOptions options;
  options.endpoints = client::join_endpoints(layout.client_endpoints());
  options.timeout_ms = 120'000;
  return run_member_change(options, {"PROMOTE", std::to_string(id)});
}

int run_cluster_remove_node(const std::string& dir, int id) {
  Result<ClusterLayout> layout = load_layout(dir);
  if (!layout.is_ok()) return fail(kExitError, layout.status().message());
  if (id < 1 || id > layout.value().nodes) {
    return fail(kExitUsage, "no node " + std::to_string(id) + " in a cluster of " +
                                std::to_string(layout.value().nodes));
  }
  if (layout.value().removed.contains(id)) {
    return fail(kExitUsage, "node " + std::to_string(id) + " was removed already");
  }
  DataOptions options;
  options.endpoints = client::join_endpoints(layout.value().client_endpoints());
  if (int code = run_member_change(options, {"REMOVE", std::to_string(id)}); code != kExitOk) {
    return code;
  }
  return forget_removed_node(dir, id);
}


}  // namespace raftkv::tools
