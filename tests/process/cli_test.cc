// The raftkv command line against real servers: a background cluster started, used, failed
// over, inspected and stopped through the CLI alone, with its exit codes and messages.

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "harness.h"

namespace raftkv::process_test {
namespace {

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    server_ = server_path(&why);
    ASSERT_FALSE(server_.empty()) << why;
    char pattern[] = "/tmp/raftkv-process-cli-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    // Whatever happened, no server may outlive the test.
    if (Result<tools::ClusterLayout> layout = tools::load_layout(dir_ + "/cluster");
        layout.is_ok()) {
      tools::LocalCluster(layout.value()).stop_all(milliseconds(3000));
    }
    std::error_code error;
    std::filesystem::remove_all(dir_, error);
  }

  // Runs `raftkv args...` to completion (bounded).
  ToolRun run(const std::vector<std::string>& args) {
    return run_tool(RAFTKV_CLI_PATH, args,
                    dir_ + "/cli-output-" + std::to_string(runs_++) + ".txt");
  }

  std::vector<std::string> data(std::vector<std::string> args) const {
    const int base = 21000 + 20 * 9;  // Port slot 9.
    std::string endpoints;
    for (int i = 0; i < 3; ++i) {
      endpoints += (i > 0 ? "," : "") + std::string("127.0.0.1:") + std::to_string(base + 5 + i);
    }
    args.insert(args.begin(), {"-e", endpoints});
    return args;
  }

  std::string server_;
  std::string dir_;
  int runs_ = 0;
};

const char* const kOk = "exited with status 0";

TEST_F(Cli, ClusterLifecycle_StartUseFailOverStop) {
  const int base = 21000 + 20 * 9;
  const std::string cluster_dir = dir_ + "/cluster";
  ToolRun started = run({"cluster", "start", "--dir", cluster_dir, "--server", server_,
                        "--base-peer-port", std::to_string(base), "--base-client-port",
                        std::to_string(base + 5), "--base-http-port", std::to_string(base + 10),
                        "--heartbeat-ms", "50", "--election-ms", "500"});
  ASSERT_EQ(started.how, kOk) << started.output;
  EXPECT_NE(started.output.find(" leads term "), std::string::npos) << started.output;

  ToolRun set = run(data({"set", "k", "v"}));
  EXPECT_EQ(set.how, kOk) << set.output;
  EXPECT_EQ(set.output, "OK\n");
  ToolRun get = run(data({"--raw", "get", "k"}));
  EXPECT_EQ(get.output, "v\n");
  ToolRun incr = run(data({"incr", "k"}));
  EXPECT_EQ(incr.how, "exited with status 1") << incr.output;  // Not an integer: an error.
  EXPECT_NE(incr.output.find("(error) ERR"), std::string::npos) << incr.output;

  ToolRun killed = run({"node", "kill", "1", "--dir", cluster_dir});
  EXPECT_EQ(killed.how, kOk) << killed.output;
  ToolRun after = run(data({"--semantics", "exactly-once", "set", "k2", "v2"}));
  EXPECT_EQ(after.how, kOk) << after.output;
  ToolRun leader = run(data({"leader"}));
  EXPECT_EQ(leader.how, kOk) << leader.output;
  ToolRun status = run({"cluster", "status", "--dir", cluster_dir});
  EXPECT_NE(status.output.find("leader"), std::string::npos) << status.output;
  EXPECT_NE(status.output.find("not running"), std::string::npos) << status.output;
  ToolRun restarted = run({"node", "restart", "1", "--dir", cluster_dir});
  EXPECT_EQ(restarted.how, kOk) << restarted.output;

  ToolRun stopped = run({"cluster", "stop", "--dir", cluster_dir});
  EXPECT_EQ(stopped.how, kOk) << stopped.output;
  EXPECT_NE(stopped.output.find("stopped 3 node(s)"), std::string::npos) << stopped.output;
  ToolRun unreachable = run(data({"get", "k"}));
  EXPECT_EQ(unreachable.how, "exited with status 4") << unreachable.output;
  EXPECT_NE(unreachable.output.find("no node reachable at"), std::string::npos)
      << unreachable.output;
}

TEST_F(Cli, ClusterStart_MissingServer_ClearError) {
  ToolRun started = run({"cluster", "start", "--dir", dir_ + "/cluster", "--server",
                        dir_ + "/no-such-server"});
  EXPECT_EQ(started.how, "exited with status 2") << started.output;
  EXPECT_NE(started.output.find("raftkv-server not found at"), std::string::npos)
      << started.output;
}

// The single-node clusters below use slot 9's ports +15..+17, which the three-node test above
// (+0..+14) leaves free: ctest -j may run them side by side.
constexpr int kSingleBase = 21000 + 20 * 9 + 15;

// The argv of the running raftkv-server of node `id` (its pid file, then /proc/PID/cmdline).
std::vector<std::string> node_cmdline(const std::string& cluster_dir, int id) {
  std::ifstream pid_file(cluster_dir + "/node" + std::to_string(id) + "/server.pid");
  std::string pid;
  pid_file >> pid;
  std::ifstream cmdline("/proc/" + pid + "/cmdline");
  std::vector<std::string> argv;
  for (std::string arg; std::getline(cmdline, arg, '\0');) argv.push_back(arg);
  return argv;
}

bool ends_with(const std::vector<std::string>& argv, const std::vector<std::string>& tail) {
  return argv.size() >= tail.size() &&
         std::equal(tail.begin(), tail.end(), argv.end() - static_cast<long>(tail.size()));
}

std::string joined(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& arg : argv) out += (out.empty() ? "" : " ") + arg;
  return out;
}

bool has_snapshot_file(const std::string& data_dir) {
  std::error_code error;
  for (auto it = std::filesystem::recursive_directory_iterator(data_dir, error);
       !error && it != std::filesystem::recursive_directory_iterator(); it.increment(error)) {
    if (it->path().extension() == ".snap") return true;
  }
  return false;
}

TEST_F(Cli, ServerArg_PassedToEveryStart_SavedAndReused) {
  // Goal: --server-arg values reach raftkv-server (a snapshot after 100 entries, not the
  // default 100,000), land in cluster.conf, and come back on `node restart` and on a second
  // `cluster start` of the same directory that does not repeat them.
  const std::string cluster_dir = dir_ + "/cluster";
  const std::vector<std::string> server_args = {"--snapshot-entries=100",
                                                "--snapshot-keep-entries", "10"};
  ToolRun started = run({"cluster", "start", "--dir", cluster_dir, "--nodes", "1", "--server",
                        server_, "--base-peer-port", std::to_string(kSingleBase),
                        "--base-client-port", std::to_string(kSingleBase + 1),
                        "--base-http-port", std::to_string(kSingleBase + 2), "--heartbeat-ms",
                        "50", "--election-ms", "500", "--server-arg=--snapshot-entries=100",
                        "--server-arg=--snapshot-keep-entries", "--server-arg=10"});
  ASSERT_EQ(started.how, kOk) << started.output;
  Result<tools::ClusterLayout> saved = tools::load_layout(cluster_dir);
  ASSERT_TRUE(saved.is_ok()) << saved.status().message();
  EXPECT_EQ(saved.value().extra_args, server_args);
  EXPECT_TRUE(ends_with(node_cmdline(cluster_dir, 1), server_args))
      << joined(node_cmdline(cluster_dir, 1));

  std::vector<std::vector<std::string>> sets;
  for (int i = 0; i < 150; ++i) sets.push_back({"SET", "k" + std::to_string(i), "v"});
  Result<std::vector<client::Reply>> replies =
      tools::node_exchange(saved.value().client_endpoint(1), sets, milliseconds(10'000));
  ASSERT_TRUE(replies.is_ok()) << replies.status().message();
  ASSERT_EQ(replies.value().size(), sets.size());
  const std::string data_dir = saved.value().data_dir(1);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!has_snapshot_file(data_dir) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(50));
  }
  EXPECT_TRUE(has_snapshot_file(data_dir)) << "no snapshot after 150 writes in " << data_dir;

  ToolRun restarted = run({"node", "restart", "1", "--dir", cluster_dir});
  ASSERT_EQ(restarted.how, kOk) << restarted.output;
  EXPECT_TRUE(ends_with(node_cmdline(cluster_dir, 1), server_args))
      << joined(node_cmdline(cluster_dir, 1));

  ToolRun stopped = run({"cluster", "stop", "--dir", cluster_dir});
  ASSERT_EQ(stopped.how, kOk) << stopped.output;
  ToolRun again = run({"cluster", "start", "--dir", cluster_dir});
  ASSERT_EQ(again.how, kOk) << again.output;
  EXPECT_NE(again.output.find("taken from " + cluster_dir + "/cluster.conf"), std::string::npos)
      << again.output;
  EXPECT_TRUE(ends_with(node_cmdline(cluster_dir, 1), server_args))
      << joined(node_cmdline(cluster_dir, 1));
}

TEST_F(Cli, ServerArg_ReservedFlagOrDamagedConf_ClearError) {
  const std::string cluster_dir = dir_ + "/cluster";
  ToolRun reserved = run({"cluster", "start", "--dir", cluster_dir, "--server", server_,
                         "--server-arg=--data-dir=/elsewhere"});
  EXPECT_EQ(reserved.how, "exited with status 2") << reserved.output;
  EXPECT_NE(reserved.output.find("--server-arg \"--data-dir=/elsewhere\": raftkv sets "
                                 "--data-dir"),
            std::string::npos)
      << reserved.output;

  // A saved layout whose line 12 (after 9 values, a comment and one argument) is empty.
  tools::ClusterLayout layout;
  layout.dir = cluster_dir;
  layout.server_path = server_;
  layout.extra_args = {"--snapshot-entries=100"};
  ASSERT_TRUE(tools::save_layout(layout).is_ok());
  std::ofstream(cluster_dir + "/cluster.conf", std::ios::app) << "server_arg=\n";
  const std::string why = cluster_dir + "/cluster.conf:12: server_arg \"\": an empty argument";
  ToolRun restart = run({"node", "restart", "1", "--dir", cluster_dir});
  EXPECT_EQ(restart.how, "exited with status 1") << restart.output;
  EXPECT_NE(restart.output.find(why), std::string::npos) << restart.output;
  ToolRun start = run({"cluster", "start", "--dir", cluster_dir});
  EXPECT_EQ(start.how, "exited with status 1") << start.output;
  EXPECT_NE(start.output.find(why + "; fix or delete it"), std::string::npos) << start.output;
}

TEST_F(Cli, RemovedNodes_LeaveClusterConf_AndAreNotStartedAgain) {
  // Goal (issue 15): a node removed with `cluster remove-node`, or with `member remove --dir`,
  // is recorded in cluster.conf, so that the next `cluster start` runs only the members left,
  // `node restart` refuses it, and `cluster status` shows it removed.
  const int base = 21000 + 20 * 48;  // Port slot 48.
  const std::string cluster_dir = dir_ + "/cluster";
  ToolRun started = run({"cluster", "start", "--dir", cluster_dir, "--server", server_,
                        "--base-peer-port", std::to_string(base), "--base-client-port",
                        std::to_string(base + 5), "--base-http-port", std::to_string(base + 10),
                        "--heartbeat-ms", "50", "--election-ms", "500"});
  ASSERT_EQ(started.how, kOk) << started.output;
  ToolRun added = run({"cluster", "add-node", "--dir", cluster_dir});
  ASSERT_EQ(added.how, kOk) << added.output;
  ToolRun removed = run({"cluster", "remove-node", "2", "--dir", cluster_dir});
  ASSERT_EQ(removed.how, kOk) << removed.output;
  EXPECT_NE(removed.output.find("cluster.conf no longer starts it"), std::string::npos)
      << removed.output;
  const std::string endpoints = "127.0.0.1:" + std::to_string(base + 5);
  ToolRun by_member = run({"-e", endpoints, "member", "remove", "4", "--dir", cluster_dir});
  ASSERT_EQ(by_member.how, kOk) << by_member.output;
  Result<tools::ClusterLayout> saved = tools::load_layout(cluster_dir);
  ASSERT_TRUE(saved.is_ok()) << saved.status().message();
  EXPECT_EQ(saved.value().nodes, 4);
  EXPECT_EQ(saved.value().removed, (std::set<int>{2, 4}));
  EXPECT_EQ(saved.value().member_nodes(), (std::vector<int>{1, 3}));

  ToolRun stopped = run({"cluster", "stop", "--dir", cluster_dir});
  ASSERT_EQ(stopped.how, kOk) << stopped.output;
  ToolRun again = run({"cluster", "start", "--dir", cluster_dir});
  ASSERT_EQ(again.how, kOk) << again.output;
  EXPECT_NE(again.output.find("node 1 up"), std::string::npos) << again.output;
  EXPECT_NE(again.output.find("node 3 up"), std::string::npos) << again.output;
  EXPECT_EQ(again.output.find("node 2 up"), std::string::npos) << again.output;
  EXPECT_EQ(again.output.find("node 4 up"), std::string::npos) << again.output;
  tools::LocalCluster cluster(saved.value());
  EXPECT_FALSE(cluster.running(2));
  EXPECT_FALSE(cluster.running(4));
  ToolRun set = run({"-e", endpoints, "set", "after", "restart"});
  EXPECT_EQ(set.how, kOk) << set.output;
  ToolRun status = run({"cluster", "status", "--dir", cluster_dir});
  EXPECT_NE(status.output.find("removed"), std::string::npos) << status.output;
  ToolRun restart = run({"node", "restart", "2", "--dir", cluster_dir});
  EXPECT_EQ(restart.how, "exited with status 2") << restart.output;
  EXPECT_NE(restart.output.find("node 2 was removed from the cluster"), std::string::npos)
      << restart.output;
}

}  // namespace
}  // namespace raftkv::process_test
