// raftkv-bench against real servers (issue 6 §1): a short mixed read/write run on a 3-node
// cluster reports sane JSON, and bad arguments are refused with a message. Also
// replication_floor, the no-Raft floor bench/compare.sh runs beside fio.

#include <signal.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>

#include "harness.h"

namespace raftkv::process_test {
namespace {

constexpr int kSlot = 13;
constexpr int kTlsSlot = 64;

// Runs raftkv-bench to completion (bounded: 60 s), its output into `output_path`.
ToolRun run_bench(const std::vector<std::string>& args, const std::string& output_path) {
  return run_tool(RAFTKV_BENCH_PATH, args, output_path);
}

// The one line of the output that is a JSON object.
std::string json_line_of(const std::string& output) {
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty() && line.front() == '{') return line;
  }
  return "";
}

class BenchTool : public ClusterFixture {};

TEST_F(BenchTool, MixedRunAgainstLeader_ReportsSaneJson) {
  // Goal: 4 clients, half reads, ~1 s against a real leader: every op acknowledged, no error,
  // and the JSON line a script would read is well-formed and self-consistent.
  start_cluster(kSlot);
  const client::RaftInfo info = leader();
  ASSERT_NE(info.leader_id, 0u);
  const tools::ClusterLayout layout = layout_for(kSlot, 3);
  std::string endpoints = layout.client_endpoint(static_cast<int>(info.leader_id)).to_string();
  for (int id = 1; id <= 3; ++id) {
    if (id != static_cast<int>(info.leader_id)) {
      endpoints += "," + layout.client_endpoint(id).to_string();
    }
  }
  const ToolRun run = run_bench({"--target", "raftkv", "--endpoints", endpoints, "--clients",
                                  "4", "--duration", "1", "--read-ratio", "0.5", "--prefill",
                                  "100", "--json", "--quiet", "--label", "process-test"},
                                 dir_ + "/bench-output.txt");
  ASSERT_EQ(run.how, "exited with status 0") << run.output;
  const nlohmann::json result =
      nlohmann::json::parse(json_line_of(run.output), nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(result.is_discarded()) << run.output;
  ASSERT_TRUE(result.is_object()) << run.output;
  EXPECT_EQ(result.value("target", ""), "raftkv");
  EXPECT_EQ(result.value("label", ""), "process-test");
  EXPECT_EQ(result.value("clients", 0), 4);
  const auto ops = result.value("ops", uint64_t{0});
  EXPECT_GT(ops, 0u) << run.output;
  EXPECT_EQ(result.value("errors", uint64_t{1}), 0u) << run.output;
  EXPECT_EQ(result.value("reads", uint64_t{0}) + result.value("writes", uint64_t{0}), ops);
  EXPECT_GT(result.value("reads", uint64_t{0}), 0u);
  EXPECT_GT(result.value("writes", uint64_t{0}), 0u);
  const double p50 = result.value("p50_ms", -1.0);
  const double p99 = result.value("p99_ms", -1.0);
  const double max = result.value("max_ms", -1.0);
  EXPECT_GT(p50, 0.0) << run.output;
  EXPECT_LE(p50, p99) << run.output;
  EXPECT_LE(p99, max) << run.output;
  EXPECT_GT(result.value("throughput", 0.0), 0.0);
  EXPECT_GE(result.value("max_ack_gap_ms", -1.0), 0.0);
  for (const char* field : {"connections", "read_ratio", "read_mode", "value_size", "retries",
                            "duration_s", "p90_ms", "p999_ms", "first_error"}) {
    EXPECT_TRUE(result.contains(field)) << field;
  }
}

TEST_F(BenchTool, TlsRunAgainstLeader_AcknowledgedOverTlsPort) {
  // Goal: --tls --cacert --cert --key reach a --tls cluster's TLS port (which speaks nothing
  // else): ops acknowledged, no error. Without the CA the node's certificate is refused and
  // no op completes.
  start_tls_cluster(kTlsSlot);
  ASSERT_FALSE(HasFatalFailure());
  const client::RaftInfo info = leader();
  ASSERT_NE(info.leader_id, 0u);
  const std::string endpoint =
      cluster_->layout().tls_endpoint(static_cast<int>(info.leader_id)).to_string();
  const std::string& certs = tls_dir_;
  const std::vector<std::string> common = {
      "--target", "raftkv", "--endpoints", endpoint, "--clients", "4", "--duration", "1",
      "--json", "--quiet", "--tls", "--cert", certs + "/client.crt", "--key",
      certs + "/client.key"};
  std::vector<std::string> args = common;
  args.insert(args.end(), {"--cacert", certs + "/ca.crt", "--read-ratio", "0.5", "--prefill",
                           "50"});
  const ToolRun run = run_bench(args, dir_ + "/bench-tls.txt");
  ASSERT_EQ(run.how, "exited with status 0") << run.output;
  const nlohmann::json result =
      nlohmann::json::parse(json_line_of(run.output), nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(result.is_object()) << run.output;
  const auto ops = result.value("ops", uint64_t{0});
  std::cout << "over TLS: " << ops << " ops in 1 s, p50 " << result.value("p50_ms", -1.0)
            << " ms\n";
  EXPECT_GT(ops, 0u) << run.output;
  EXPECT_EQ(result.value("errors", uint64_t{1}), 0u) << run.output;
  EXPECT_GT(result.value("reads", uint64_t{0}), 0u);
  EXPECT_GT(result.value("writes", uint64_t{0}), 0u);
  // The system's trust store does not hold the throwaway CA.
  const ToolRun refused = run_bench(common, dir_ + "/bench-tls-no-ca.txt");
  EXPECT_NE(refused.how, "exited with status 0") << refused.output;
  EXPECT_NE(refused.output.find("certificate verify failed"), std::string::npos)
      << refused.output;
}

TEST_F(BenchTool, BadArguments_ExitNonZeroWithMessage) {
  // No cluster: the arguments are refused before any connection is made.
  char pattern[] = "/tmp/raftkv-process-bench-XXXXXX";
  ASSERT_NE(::mkdtemp(pattern), nullptr);
  const std::string dir = pattern;
  const ToolRun ratio = run_bench({"--target", "raftkv", "--endpoints", "127.0.0.1:1",
                                    "--read-ratio", "2"},
                                   dir + "/ratio.txt");
  EXPECT_EQ(ratio.how, "exited with status 2");
  EXPECT_NE(ratio.output.find("--read-ratio"), std::string::npos) << ratio.output;
  const ToolRun target = run_bench({"--target", "redis", "--endpoints", "127.0.0.1:1"},
                                    dir + "/target.txt");
  EXPECT_EQ(target.how, "exited with status 2");
  EXPECT_NE(target.output.find("--target"), std::string::npos) << target.output;
  const ToolRun missing = run_bench({"--target", "raftkv"}, dir + "/missing.txt");
  EXPECT_NE(missing.how, "exited with status 0");
  EXPECT_NE(missing.output.find("--endpoints"), std::string::npos) << missing.output;
  std::error_code error;
  std::filesystem::remove_all(dir, error);
}

// Built with bench/ (RAFTKV_BENCH), which the sanitizer build leaves out.
#ifdef REPLICATION_FLOOR_PATH
TEST(ReplicationFloor, ShortRun_ReportsSaneJsonAndRemovesItsFiles) {
  // The floor compare.sh sets beside raftkv's 1-client figures: four processes, bounded run.
  char pattern[] = "/tmp/raftkv-process-floor-XXXXXX";
  ASSERT_NE(::mkdtemp(pattern), nullptr);
  const std::string dir = pattern;
  const ToolRun run = run_tool(REPLICATION_FLOOR_PATH,
                               {"--dir", dir + "/data", "--seconds", "0.5", "--warmup", "0.1"},
                               dir + "/output.txt");
  ASSERT_EQ(run.how, "exited with status 0") << run.output;
  const nlohmann::json result =
      nlohmann::json::parse(json_line_of(run.output), nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(result.is_object()) << run.output;
  const auto writes = result.value("writes", uint64_t{0});
  EXPECT_GT(writes, 0u) << run.output;
  EXPECT_DOUBLE_EQ(result.value("throughput", 0.0), static_cast<double>(writes) / 0.5);
  const double p50 = result.value("p50_ms", -1.0);
  EXPECT_GT(p50, 0.0) << run.output;
  EXPECT_LE(p50, result.value("p90_ms", -1.0)) << run.output;
  EXPECT_LE(result.value("p90_ms", -1.0), result.value("p99_ms", -1.0)) << run.output;
  EXPECT_EQ(result.value("record_bytes", 0), 300);
  // The three nodes' 64 MiB files are gone; the directory stays.
  EXPECT_TRUE(std::filesystem::is_empty(dir + "/data"));
  const ToolRun missing = run_tool(REPLICATION_FLOOR_PATH, {"--seconds", "1"}, dir + "/bad.txt");
  EXPECT_NE(missing.how, "exited with status 0");
  EXPECT_NE(missing.output.find("--dir"), std::string::npos) << missing.output;
  std::error_code error;
  std::filesystem::remove_all(dir, error);
}
#endif

}  // namespace
}  // namespace raftkv::process_test
