// The raftkv command line against real servers: a background cluster started, used, failed
// over, inspected and stopped through the CLI alone, with its exit codes and messages.

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "harness.h"

namespace raftkv::process_test {
namespace {

struct CliRun {
  std::string how;     // "exited with status 0", ...
  std::string output;  // stdout and stderr together.
};

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
  CliRun run(const std::vector<std::string>& args) {
    const std::string output_path = dir_ + "/cli-output-" + std::to_string(runs_++) + ".txt";
    Result<tools::Spawned> spawned =
        tools::spawn({RAFTKV_CLI_PATH, args, output_path, false, false});
    EXPECT_TRUE(spawned.is_ok());
    if (!spawned.is_ok()) return {"not started", ""};
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    std::optional<std::string> how;
    while (!(how = tools::reap_if_exited(spawned.value().pid)) &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(20));
    }
    if (!how) (void)tools::stop_process(spawned.value().pid, SIGKILL, milliseconds(3000));
    std::ifstream file(output_path);
    std::stringstream text;
    text << file.rdbuf();
    return {how.value_or("timed out"), text.str()};
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
  CliRun started = run({"cluster", "start", "--dir", cluster_dir, "--server", server_,
                        "--base-peer-port", std::to_string(base), "--base-client-port",
                        std::to_string(base + 5), "--base-http-port", std::to_string(base + 10),
                        "--heartbeat-ms", "50", "--election-ms", "500"});
  ASSERT_EQ(started.how, kOk) << started.output;
  EXPECT_NE(started.output.find(" leads term "), std::string::npos) << started.output;

  CliRun set = run(data({"set", "k", "v"}));
  EXPECT_EQ(set.how, kOk) << set.output;
  EXPECT_EQ(set.output, "OK\n");
  CliRun get = run(data({"--raw", "get", "k"}));
  EXPECT_EQ(get.output, "v\n");
  CliRun incr = run(data({"incr", "k"}));
  EXPECT_EQ(incr.how, "exited with status 1") << incr.output;  // Not an integer: an error.
  EXPECT_NE(incr.output.find("(error) ERR"), std::string::npos) << incr.output;

  CliRun killed = run({"node", "kill", "1", "--dir", cluster_dir});
  EXPECT_EQ(killed.how, kOk) << killed.output;
  CliRun after = run(data({"--semantics", "exactly-once", "set", "k2", "v2"}));
  EXPECT_EQ(after.how, kOk) << after.output;
  CliRun leader = run(data({"leader"}));
  EXPECT_EQ(leader.how, kOk) << leader.output;
  CliRun status = run({"cluster", "status", "--dir", cluster_dir});
  EXPECT_NE(status.output.find("leader"), std::string::npos) << status.output;
  EXPECT_NE(status.output.find("not running"), std::string::npos) << status.output;
  CliRun restarted = run({"node", "restart", "1", "--dir", cluster_dir});
  EXPECT_EQ(restarted.how, kOk) << restarted.output;

  CliRun stopped = run({"cluster", "stop", "--dir", cluster_dir});
  EXPECT_EQ(stopped.how, kOk) << stopped.output;
  EXPECT_NE(stopped.output.find("stopped 3 node(s)"), std::string::npos) << stopped.output;
  CliRun unreachable = run(data({"get", "k"}));
  EXPECT_EQ(unreachable.how, "exited with status 4") << unreachable.output;
  EXPECT_NE(unreachable.output.find("no node reachable at"), std::string::npos)
      << unreachable.output;
}

TEST_F(Cli, ClusterStart_MissingServer_ClearError) {
  CliRun started = run({"cluster", "start", "--dir", dir_ + "/cluster", "--server",
                        dir_ + "/no-such-server"});
  EXPECT_EQ(started.how, "exited with status 2") << started.output;
  EXPECT_NE(started.output.find("raftkv-server not found at"), std::string::npos)
      << started.output;
}

}  // namespace
}  // namespace raftkv::process_test
