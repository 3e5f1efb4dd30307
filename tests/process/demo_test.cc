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

// Runs `raftkv demo` on the ports of `slot` (and `more` arguments) in a fresh temp dir, to
// completion (bounded: 120 s): what it printed. *dir is the temp dir, for the caller to remove.
std::string run_demo(int slot, const std::vector<std::string>& more, std::string* dir) {
  std::string why;
  const std::string server = server_path(&why);
  EXPECT_FALSE(server.empty()) << why;
  EXPECT_EQ(::access(RAFTKV_CLI_PATH, X_OK), 0) << RAFTKV_CLI_PATH << " missing";
  char pattern[] = "/tmp/raftkv-process-demo-XXXXXX";
  EXPECT_NE(::mkdtemp(pattern), nullptr);
  *dir = pattern;
  const std::string output_path = *dir + "/demo-output.txt";
  const int base = 21000 + 20 * slot;
  std::vector<std::string> args = {
      "demo", "--dir", *dir + "/cluster", "--server", server,
      "--base-peer-port", std::to_string(base), "--base-client-port", std::to_string(base + 5),
      "--base-http-port", std::to_string(base + 10), "--heartbeat-ms", "50",
      "--election-ms", "500"};
  args.insert(args.end(), more.begin(), more.end());
  Result<tools::Spawned> spawned = tools::spawn({RAFTKV_CLI_PATH, args, output_path, false, false});
  EXPECT_TRUE(spawned.is_ok()) << spawned.status().message();
  if (!spawned.is_ok()) return "";
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
  return output.str();
}

TEST(Demo, RaftkvDemo_EveryStepPasses) {
  std::string dir;
  const std::string text = run_demo(/*slot=*/0, {}, &dir);
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

TEST(Demo, RaftkvDemoTls_EveryStepPassesOverTls) {
  // demo --tls: the nodes run with --tls (client TLS port, mutual TLS between peers) and the
  // demo's writes and membership changes go over TLS, to the TLS ports (base + 15..).
  std::string dir;
  const std::string text = run_demo(/*slot=*/65, {"--tls"}, &dir);
  EXPECT_NE(text.find("demo passed"), std::string::npos) << text;
  EXPECT_NE(text.find("peers and clients over TLS"), std::string::npos) << text;
  const std::string tls_port = std::to_string(21000 + 20 * 65 + 15);
  EXPECT_NE(text.find("over TLS on 127.0.0.1:" + tls_port), std::string::npos) << text;
  // Every acknowledged write names the node that answered: a TLS port, never a plaintext one.
  size_t acknowledged = 0;
  for (size_t at = text.find("acknowledged by "); at != std::string::npos;
       at = text.find("acknowledged by ", at + 1)) {
    const std::string by = text.substr(at + 16, text.find(' ', at + 16) - at - 16);
    const long port = std::strtol(by.substr(by.find(':') + 1).c_str(), nullptr, 10);
    EXPECT_GE(port, 21000 + 20 * 65 + 15) << by;
    ++acknowledged;
  }
  std::cout << acknowledged << " writes acknowledged over TLS\n";
  EXPECT_GE(acknowledged, 4u) << text;
  // Node 4, the replacement, got a certificate from the same CA and joined over mutual TLS.
  EXPECT_TRUE(std::filesystem::exists(dir + "/cluster/tls/raftkv-node-4.crt"));
  EXPECT_NE(text.find("node 4: demo:replaced = \"node "), std::string::npos) << text;
  std::error_code error;
  std::filesystem::remove_all(dir, error);
}

}  // namespace
}  // namespace raftkv::process_test
