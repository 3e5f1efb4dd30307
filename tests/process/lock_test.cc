// The fenced lock example (examples/lock) on real servers: a holder paused past its lease
// wakes up believing it still holds the lock; by then another holder took it and wrote, and
// the stale holder's write, fenced by its older token, is refused. What keeps the resource
// safe is the fence, not the lease's timing.
#include <signal.h>

#include <fstream>
#include <sstream>

#include "harness.h"
#include "process.h"

namespace raftkv::process_test {
namespace {

class FencedLock : public ClusterFixture {
 protected:
  std::string endpoints() const {
    std::string out;
    for (int id = 1; id <= cluster_->layout().nodes; ++id) {
      const client::Endpoint endpoint = cluster_->layout().client_endpoint(id);
      out += (out.empty() ? "" : ",") + endpoint.host + ":" + std::to_string(endpoint.port);
    }
    return out;
  }
};

std::string read_file(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

TEST_F(FencedLock, HolderPausedPastItsLease_StaleWriteRefused) {
  start_cluster(/*slot=*/32);
  ASSERT_NE(leader().node_id, 0u);
  const std::string go = dir_ + "/go";
  const std::string first_log = dir_ + "/first.log";
  const int ttl_ms = 800;
  Result<tools::Spawned> first = tools::spawn(
      {RAFTKV_LOCK_PATH,
       {"-e", endpoints(), "hold", "--name", "report", "--ttl-ms", std::to_string(ttl_ms),
        "--data", "stale holder", "--go-file", go},
       first_log, false, false});
  ASSERT_TRUE(first.is_ok()) << first.status().message();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (read_file(first_log).find("acquired") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  ASSERT_NE(read_file(first_log).find("acquired report token=1"), std::string::npos)
      << read_file(first_log);
  // The pause: the holder is frozen for longer than its lease (on purpose, not a race).
  ASSERT_EQ(::kill(first.value().pid, SIGSTOP), 0);
  std::this_thread::sleep_for(milliseconds(ttl_ms + 400));
  const ToolRun second = run_tool(RAFTKV_LOCK_PATH,
                                  {"-e", endpoints(), "hold", "--name", "report", "--ttl-ms",
                                   std::to_string(ttl_ms), "--data", "new holder"},
                                  dir_ + "/second.log");
  EXPECT_EQ(second.how, "exited with status 0") << second.output;
  EXPECT_NE(second.output.find("acquired report token=2"), std::string::npos) << second.output;
  EXPECT_NE(second.output.find("written with token=2"), std::string::npos) << second.output;
  // The first holder wakes up and writes with its old token.
  std::ofstream(go).put('\n');
  ASSERT_EQ(::kill(first.value().pid, SIGCONT), 0);
  std::optional<std::string> how;
  while (!(how = tools::reap_if_exited(first.value().pid)) &&
         std::chrono::steady_clock::now() < deadline + std::chrono::seconds(30)) {
    std::this_thread::sleep_for(milliseconds(20));
  }
  if (!how) (void)tools::stop_process(first.value().pid, SIGKILL, milliseconds(3000));
  const std::string output = read_file(first_log);
  std::cout << output << second.output;
  EXPECT_EQ(how.value_or("still running"), "exited with status 3") << output;
  EXPECT_NE(output.find("write refused: token=1 < fence=2"), std::string::npos) << output;
  expect_everywhere({{"data:report", "new holder"}, {"fence:report", "2"}});
}

}  // namespace
}  // namespace raftkv::process_test
