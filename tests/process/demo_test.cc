// `raftkv demo` as a test: the whole story (election, write, kill -9 of the leader, new
// election, catch-up, the replacement of a dead node, reads from every node) checked by the
// demo itself; it exits non-zero if any step fails. The test checks that each step was told.

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "harness.h"

namespace raftkv::process_test {
namespace {

TEST(Demo, RaftkvDemo_EveryStepPasses) {
  std::string why;
  const std::string server = server_path(&why);
  ASSERT_FALSE(server.empty()) << why;
  ASSERT_EQ(::access(RAFTKV_CLI_PATH, X_OK), 0) << RAFTKV_CLI_PATH << " missing";
  char pattern[] = "/tmp/raftkv-process-demo-XXXXXX";
  ASSERT_NE(::mkdtemp(pattern), nullptr);
  const std::string dir = pattern;
  const std::string output_path = dir + "/demo-output.txt";
  const int base = 21000 + 20 * 0;  // Port slot 0.
  const std::vector<std::string> args = {
      "demo", "--dir", dir + "/cluster", "--server", server,
      "--base-peer-port", std::to_string(base), "--base-client-port", std::to_string(base + 5),
      "--base-http-port", std::to_string(base + 10), "--heartbeat-ms", "50",
      "--election-ms", "500"};
  Result<tools::Spawned> spawned = tools::spawn({RAFTKV_CLI_PATH, args, output_path, false, false});
  ASSERT_TRUE(spawned.is_ok()) << spawned.status().message();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  std::optional<std::string> how;
  while (!(how = tools::reap_if_exited(spawned.value().pid)) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (!how) (void)tools::stop_process(spawned.value().pid, SIGTERM, std::chrono::seconds(10));
  std::ifstream output_file(output_path);
  std::stringstream output;
  output << output_file.rdbuf();
  EXPECT_EQ(how.value_or("still running after 120 s"), "exited with status 0") << output.str();
  const std::string text = output.str();
  EXPECT_NE(text.find("demo passed"), std::string::npos) << text;
  // The replace story (issue 15): every step in order, then the new node 4 serves the data.
  size_t at = 0;
  for (const char* step : {"A follower's machine dies for good", "killed with SIGKILL",
                           "[1/4] node 4 started empty with --join", "added as a learner",
                           "[2/4] node 4 caught up", "[3/4] node 4 promoted to voter",
                           "[4/4] node ", "the voters are now ", "SET demo:replaced",
                           "node 4: demo:replaced = \"node "}) {
    const size_t found = text.find(step, at);
    EXPECT_NE(found, std::string::npos) << "missing, or out of order: " << step << "\n" << text;
    if (found != std::string::npos) at = found;
  }
  const std::string took = "replacing a dead node took ";
  const size_t figure = text.find(took);
  ASSERT_NE(figure, std::string::npos) << text;
  const long replace_ms = std::strtol(text.c_str() + figure + took.size(), nullptr, 10);
  std::cout << "replacing a dead node took " << replace_ms << " ms\n";
  EXPECT_GT(replace_ms, 0);
  EXPECT_LT(replace_ms, 30'000);  // Generous: a few hundred ms on an idle machine.
  std::error_code error;
  std::filesystem::remove_all(dir, error);
}

}  // namespace
}  // namespace raftkv::process_test
