// raftkv: the command-line client and local-cluster tool. See `raftkv --help`.

#include <signal.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>

#include "commands.h"

namespace raftkv::tools {
namespace {

// Everything the command line can set, and the subcommands to tell which one ran.
struct Cli {
  DataOptions data;
  std::vector<std::string> args;
  std::string key;
  std::string value;
  std::string expected;
  bool nx = false;
  bool xx = false;
  ClusterOptions cluster;
  std::string dir;
  std::string node_action;
  int node_id = 0;
  int signal_number = SIGKILL;
  DemoOptions demo;
  CLI::App* get = nullptr;
  CLI::App* set = nullptr;
  CLI::App* del = nullptr;
  CLI::App* cas = nullptr;
  CLI::App* incr = nullptr;
  CLI::App* call = nullptr;
  CLI::App* info = nullptr;
  CLI::App* status = nullptr;
  CLI::App* leader = nullptr;
  CLI::App* members = nullptr;
  CLI::App* start = nullptr;
  CLI::App* stop = nullptr;
  CLI::App* cluster_status = nullptr;
  CLI::App* node = nullptr;
  CLI::App* demo_command = nullptr;
  // raftkv member ..., raftkv leader transfer.
  uint64_t member_id = 0;
  uint64_t new_id = 0;
  std::string peer_addr;
  std::string client_addr;
  bool learner = false;
  CLI::App* member_list = nullptr;
  CLI::App* member_add = nullptr;
  CLI::App* member_promote = nullptr;
  CLI::App* member_remove = nullptr;
  CLI::App* member_replace = nullptr;
  CLI::App* leader_transfer = nullptr;
  CLI::App* add_node = nullptr;
  CLI::App* remove_node = nullptr;
};

void add_layout_options(CLI::App* command, ClusterLayout* layout, bool with_nodes) {
  if (with_nodes) command->add_option("--nodes", layout->nodes, "Number of nodes (1-9)");
  command->add_option("--base-peer-port", layout->base_peer_port,
                      "Peer port of node 1; node I uses base+I-1");
  command->add_option("--base-client-port", layout->base_client_port,
                      "Client (RESP) port of node 1");
  command->add_option("--base-http-port", layout->base_http_port, "HTTP status port of node 1");
  command->add_option("--server", layout->server_path, "Path of raftkv-server");
  command->add_option("--log-level", layout->log_level, "Server log level: debug|info|warn|error");
  command->add_option("--heartbeat-ms", layout->heartbeat_ms, "Server heartbeat interval");
  command->add_option("--election-ms", layout->election_ms, "Server election timeout");
  // One argv element per occurrence; `=` lets the value itself start with "--".
  command
      ->add_option("--server-arg", layout->extra_args,
                   "One more raftkv-server argument for every node, repeatable, in order; "
                   "write it with '=': --server-arg=--snapshot-entries=20000 (saved in "
                   "DIR/cluster.conf, so `node restart` passes it too)")
      ->type_name("ARG")
      ->expected(1)
      ->allow_extra_args(false)  // `--server-arg=A B` is an error, not two arguments.
      ->take_all();
}

// `cluster start` on a directory that already holds a cluster: every layout option the
// command line leaves out comes from DIR/cluster.conf, so a restart keeps its ports, timings
// and --server-arg values (the nodes' data only fits the same peers). Given --server-arg
// values replace the saved ones. A damaged file is an error, never silently a fresh layout.
Status merge_saved_layout(const CLI::App& start, ClusterLayout* layout) {
  Result<ClusterLayout> loaded = load_layout(layout->dir);
  if (!loaded.is_ok()) {
    if (loaded.status().code() == ErrorCode::NotFound) return Status::ok();  // A new cluster.
    return Status(loaded.status().code(),
                  loaded.status().message() + "; fix or delete it, or use another --dir");
  }
  const ClusterLayout& saved = loaded.value();
  const auto given = [&](const char* name) { return start.count(name) > 0; };
  if (!given("--nodes")) layout->nodes = saved.nodes;
  if (!given("--base-peer-port")) layout->base_peer_port = saved.base_peer_port;
  if (!given("--base-client-port")) layout->base_client_port = saved.base_client_port;
  if (!given("--base-http-port")) layout->base_http_port = saved.base_http_port;
  if (!given("--server")) layout->server_path = saved.server_path;
  if (!given("--log-level")) layout->log_level = saved.log_level;
  if (!given("--heartbeat-ms")) layout->heartbeat_ms = saved.heartbeat_ms;
  if (!given("--election-ms")) layout->election_ms = saved.election_ms;
  if (!given("--server-arg")) layout->extra_args = saved.extra_args;
  if (!given("--tls")) layout->tls = saved.tls;
  // Peer addresses are part of the nodes' identity: they stay as the cluster was created.
  layout->distinct_peer_hosts = saved.distinct_peer_hosts;
  // So do the membership's history: which nodes joined and which left (never restarted).
  layout->bootstrap_nodes = std::min(saved.bootstrap_nodes, layout->nodes);
  for (int id : saved.removed) {
    if (id <= layout->nodes) layout->removed.insert(id);
  }
  std::cout << "options not given are taken from " << layout->dir << "/cluster.conf\n";
  return Status::ok();
}

void add_member_commands(CLI::App& app, Cli& cli) {
  auto* member = app.add_subcommand("member", "Change the cluster's membership (via the leader)");
  member->require_subcommand(1);
  cli.member_list = member->add_subcommand("list", "Every member: id, addresses, role");
  cli.member_add = member->add_subcommand("add", "Add a node (start it with --join)");
  cli.member_promote = member->add_subcommand("promote", "Make a caught-up learner a voter");
  cli.member_remove = member->add_subcommand("remove", "Remove a node (it then idles)");
  cli.member_replace = member->add_subcommand(
      "replace", "Add NEW as a learner, wait until it caught up, promote it, remove OLD");
  for (CLI::App* command : {cli.member_add, cli.member_promote, cli.member_remove,
                            cli.member_replace}) {
    command->add_option("id", cli.member_id, "Node id")->required();
  }
  cli.member_replace->add_option("new_id", cli.new_id, "The new node's id")->required();
  for (CLI::App* command : {cli.member_add, cli.member_replace}) {
    command->add_option("peer_addr", cli.peer_addr, "host:port it listens on for peers")
        ->required();
    command->add_option("client_addr", cli.client_addr, "host:port it serves clients on")
        ->required();
  }
  cli.member_add->add_flag("--learner", cli.learner, "Add as a learner (no vote until promoted)");
  cli.member_remove->add_option("--dir", cli.dir,
                                "A local cluster's directory: remove the node from its "
                                "cluster.conf too and stop it (as `cluster remove-node`)");
}

int dispatch_member(Cli& cli) {
  const std::string id = std::to_string(cli.member_id);
  if (*cli.member_list) return run_member_list(cli.data);
  if (*cli.member_add) {
    std::vector<std::string> args = {"ADD", id, cli.peer_addr, cli.client_addr};
    if (cli.learner) args.push_back("LEARNER");
    return run_member_change(cli.data, args);
  }
  if (*cli.member_promote) return run_member_change(cli.data, {"PROMOTE", id});
  if (*cli.member_remove && !cli.dir.empty()) {
    const uint64_t node = std::min<uint64_t>(cli.member_id, kNodesMax + 1);  // Refused there.
    return run_cluster_remove_node(cli.dir, static_cast<int>(node));
  }
  if (*cli.member_remove) return run_member_change(cli.data, {"REMOVE", id});
  if (*cli.member_replace) {
    return run_member_replace(cli.data, cli.member_id, cli.new_id, cli.peer_addr,
                              cli.client_addr);
  }
  if (*cli.leader_transfer) return run_leader_transfer(cli.data, cli.member_id);
  return -1;
}

void add_data_commands(CLI::App& app, Cli& cli) {
  app.add_option("-e,--endpoints", cli.data.endpoints, "Nodes to contact, host:port,...")
      ->capture_default_str();
  app.add_option("--semantics", cli.data.semantics,
                 "Delivery for writes: at-most-once|at-least-once|exactly-once")
      ->capture_default_str();
  app.add_option("--timeout-ms", cli.data.timeout_ms, "Deadline per command, retries included")
      ->capture_default_str();
  app.add_flag("--raw", cli.data.raw, "Print values without quoting or type prefixes");
  app.add_option("--user", cli.data.user, "AUTH as this ACL user (default: the default user)");
  app.add_option("--pass", cli.data.password, "AUTH with this password (also $RAFTKV_PASSWORD)")
      ->envname("RAFTKV_PASSWORD");
  // redis-cli's names. --endpoints then names the nodes' TLS ports.
  app.add_flag("--tls", cli.data.tls.enabled, "Speak TLS to the nodes (their --tls-port)");
  app.add_option("--cacert", cli.data.tls.ca_file,
                 "PEM CA bundle the nodes' certificates must chain to (default: the system's)");
  app.add_option("--cert", cli.data.tls.cert_file, "PEM client certificate to present");
  app.add_option("--key", cli.data.tls.key_file, "Its private key");
  cli.get = app.add_subcommand("get", "Read a key (linearizable)");
  cli.get->add_option("key", cli.key)->required();
  cli.set = app.add_subcommand("set", "Write a key");
  cli.set->add_option("key", cli.key)->required();
  cli.set->add_option("value", cli.value)->required();
  cli.set->add_flag("--nx", cli.nx, "Only if the key does not exist");
  cli.set->add_flag("--xx", cli.xx, "Only if the key exists");
  cli.del = app.add_subcommand("del", "Delete keys");
  cli.del->add_option("keys", cli.args)->required();
  cli.cas = app.add_subcommand("cas", "Compare-and-set: KEY becomes NEW if it holds EXPECTED");
  cli.cas->add_option("key", cli.key)->required();
  cli.cas->add_option("expected", cli.expected)->required();
  cli.cas->add_option("new", cli.value)->required();
  cli.incr = app.add_subcommand("incr", "Increment an integer key");
  cli.incr->add_option("key", cli.key)->required();
  cli.call = app.add_subcommand("call", "Any command, e.g. `raftkv call MGET a b`");
  cli.call->add_option("args", cli.args)->required();
  cli.info = app.add_subcommand("info", "INFO from the leader");
  cli.status = app.add_subcommand("status", "Every node's role, term, leader and indexes");
  cli.leader = app.add_subcommand("leader", "Which node leads, in which term");
  cli.members = app.add_subcommand("members", "The cluster's members and their addresses");
  cli.leader_transfer = cli.leader->add_subcommand("transfer", "Hand leadership to node ID");
  cli.leader_transfer->add_option("id", cli.member_id, "Target (default: the best voter)");
  add_member_commands(app, cli);
}

void add_cluster_commands(CLI::App& app, Cli& cli) {
  auto* cluster = app.add_subcommand("cluster", "Run a local cluster of raftkv-server");
  cluster->require_subcommand(1);
  cli.start = cluster->add_subcommand("start", "Start N nodes under DIR");
  cli.start->add_option("--dir", cli.cluster.layout.dir, "Cluster directory")->required();
  cli.start->add_flag("--foreground", cli.cluster.foreground,
                      "Stream every node's log, prefixed and coloured, until Ctrl-C");
  cli.start
      ->add_flag("--web", cli.cluster.web,
                 "Serve the web view's controls (kill, restart, pause, partition, write) and "
                 "print its URL; runs until Ctrl-C")
      ->excludes("--foreground");
  cli.start->add_flag("--tls", cli.cluster.layout.tls,
                      "Also serve clients over TLS (ports base+10) and use mutual TLS between "
                      "nodes, with a throwaway CA and certificates made by openssl under DIR/tls");
  cli.start->add_option("--web-port", cli.cluster.web_port,
                        "Port of the web controls (default: base HTTP port + 9)");
  add_layout_options(cli.start, &cli.cluster.layout, true);
  cli.stop = cluster->add_subcommand("stop", "Stop the cluster under DIR");
  cli.cluster_status = cluster->add_subcommand("status", "Show the cluster under DIR");
  for (CLI::App* command : {cli.stop, cli.cluster_status}) {
    command->add_option("--dir", cli.dir, "Cluster directory")->required();
    command->add_option("--nodes", cli.cluster.layout.nodes, "(read from DIR/cluster.conf)");
  }
  cli.add_node = cluster->add_subcommand("add-node", "Start one more node; it joins, then "
                                                     "is promoted once caught up");
  cli.remove_node = cluster->add_subcommand("remove-node", "Remove node ID and stop it");
  cli.remove_node->add_option("id", cli.node_id, "Node id (1-based)")->required();
  for (CLI::App* command : {cli.add_node, cli.remove_node}) {
    command->add_option("--dir", cli.dir, "Cluster directory")->required();
  }
  cli.node = app.add_subcommand("node", "Kill or restart one node of a local cluster");
  cli.node->add_option("action", cli.node_action, "kill|restart")
      ->required()
      ->check(CLI::IsMember({"kill", "restart"}));
  cli.node->add_option("id", cli.node_id, "Node id (1-based)")->required();
  cli.node->add_option("--dir", cli.dir, "Cluster directory")->required();
  cli.node->add_option("--signal", cli.signal_number, "Signal for kill (default 9)");
  cli.demo_command = app.add_subcommand("demo", "Tell (and check) the story of a Raft cluster");
  cli.demo_command->add_option("--dir", cli.demo.layout.dir, "Directory for the demo (new)");
  cli.demo_command->add_flag("--keep", cli.demo.keep, "Leave the cluster running at the end");
  cli.demo_command->add_flag("--tls", cli.demo.layout.tls,
                             "Run the cluster with --tls (as `cluster start --tls`) and talk to "
                             "it over TLS");
  cli.demo_command->add_flag("--web", cli.demo.web,
                             "Also tell the story on the web view: print its URL, pause after "
                             "each step (Enter on a terminal)");
  cli.demo_command->add_option("--web-port", cli.demo.web_port,
                               "Port the page reads the demo's steps from (default: base HTTP "
                               "port + 9)");
  cli.demo_command
      ->add_option("--step-pause-ms", cli.demo.step_pause_ms,
                   "With --web and no terminal: how long each step stays on the page")
      ->check(CLI::Range(0, 600'000));
  add_layout_options(cli.demo_command, &cli.demo.layout, false);
}

int dispatch_data(Cli& cli) {
  if (const int code = dispatch_member(cli); code >= 0) return code;
  if (*cli.get) return run_data_command(cli.data, {"GET", cli.key});
  if (*cli.set) {
    std::vector<std::string> command = {"SET", cli.key, cli.value};
    if (cli.nx) command.push_back("NX");
    if (cli.xx) command.push_back("XX");
    return run_data_command(cli.data, command);
  }
  if (*cli.del) {
    cli.args.insert(cli.args.begin(), "DEL");
    return run_data_command(cli.data, cli.args);
  }
  if (*cli.cas) return run_data_command(cli.data, {"CAS", cli.key, cli.expected, cli.value});
  if (*cli.incr) return run_data_command(cli.data, {"INCR", cli.key});
  if (*cli.call) return run_data_command(cli.data, cli.args);
  if (*cli.info) return run_info(cli.data);
  if (*cli.status) return run_status(cli.data);
  if (*cli.leader) return run_leader(cli.data);
  if (*cli.members) return run_members(cli.data);
  return -1;
}

int dispatch(Cli& cli) {
  if (const int code = dispatch_data(cli); code >= 0) return code;
  if (*cli.start) {
    // A new cluster started for the web view gets addresses a partition can cut by.
    cli.cluster.layout.distinct_peer_hosts = cli.cluster.web;
    if (Status merged = merge_saved_layout(*cli.start, &cli.cluster.layout); !merged.is_ok()) {
      return fail(kExitError, merged.message());
    }
    if (cli.cluster.layout.server_path.empty()) {
      cli.cluster.layout.server_path = default_server_path();
    }
    return run_cluster_start(cli.cluster);
  }
  if (*cli.stop) return run_cluster_stop(cli.dir);
  if (*cli.cluster_status) return run_cluster_status(cli.dir);
  if (*cli.add_node) return run_cluster_add_node(cli.dir);
  if (*cli.remove_node) return run_cluster_remove_node(cli.dir, cli.node_id);
  if (*cli.node) return run_node(cli.node_action, cli.node_id, cli.dir, cli.signal_number);
  if (*cli.demo_command) {
    if (cli.demo.layout.server_path.empty()) cli.demo.layout.server_path = default_server_path();
    return run_demo(cli.demo);
  }
  return kExitUsage;
}

}  // namespace
}  // namespace raftkv::tools

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"raftkv: client and local-cluster tool for raftkv-server"};
  app.require_subcommand(1);
  raftkv::tools::Cli cli;
  raftkv::tools::add_data_commands(app, cli);
  raftkv::tools::add_cluster_commands(app, cli);
  CLI11_PARSE(app, argc, argv);  // CLI11 throws on bad flags; the macro catches and reports.
  return raftkv::tools::dispatch(cli);
}
