// `raftkv demo` as a test: the whole story (election, write, kill -9 of the leader, new
// election, catch-up, reads from every node) checked by the demo itself; it exits non-zero if
// any step fails.

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
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
  EXPECT_NE(output.str().find("demo passed"), std::string::npos) << output.str();
  std::error_code error;
  std::filesystem::remove_all(dir, error);
}

}  // namespace
}  // namespace raftkv::process_test
