// Tools nobody here wrote must work unchanged (issue 4 §4): redis-cli against the leader and a
// follower, redis-benchmark plain and pipelined; and the HTTP /status and /metrics endpoints.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "harness.h"

namespace raftkv::process_test {
namespace {

constexpr int kSlot = 19;  // And 20, 21 (see harness.h).

// Runs a shell command line; returns its stdout+stderr and sets *status to the exit status.
std::string run(const std::string& command, int* status) {
  std::string output;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) {
    *status = -1;
    return output;
  }
  char buffer[4096];
  size_t read = 0;
  while ((read = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) output.append(buffer, read);
  *status = ::pclose(pipe);
  return output;
}

// True once `response` holds the headers and the Content-Length bytes of body they announce.
bool complete(const std::string& response) {
  const size_t end = response.find("\r\n\r\n");
  if (end == std::string::npos) return false;
  const size_t field = response.find("Content-Length: ");
  if (field == std::string::npos || field > end) return false;
  const size_t length = std::stoul(response.substr(field + 16));
  return response.size() >= end + 4 + length;
}

// A bare HTTP GET on 127.0.0.1:port; returns the whole response (headers and body). The client
// resets the connection once the body is in, so no TIME_WAIT is left on the server's port
// (a rerun of the test within a minute would otherwise find the port taken).
std::string http_get(uint16_t port, const std::string& path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return {};
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) {
    const std::string request = "GET " + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n";
    if (::write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
      char buffer[4096];
      ssize_t got = 0;
      while (!complete(response) && (got = ::read(fd, buffer, sizeof(buffer))) > 0) {
        response.append(buffer, static_cast<size_t>(got));
      }
    }
  }
  const linger reset{1, 0};
  (void)::setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
  ::close(fd);
  return response;
}

class Tools : public ClusterFixture {};

TEST_F(Tools, RedisCliAndRedisBenchmark_WorkUnchanged) {
  start_cluster(kSlot);
  const client::RaftInfo info = leader();
  const tools::ClusterLayout layout = layout_for(kSlot, 3);
  const int leader_port = layout.client_endpoint(static_cast<int>(info.leader_id)).port;
  const int follower_id = info.leader_id == 1 ? 2 : 1;
  const int follower_port = layout.client_endpoint(follower_id).port;
  int status = 0;
  EXPECT_EQ(run("redis-cli -p " + std::to_string(leader_port) + " SET tool-key tool-value",
                &status),
            "OK\n");
  EXPECT_EQ(status, 0);
  EXPECT_EQ(run("redis-cli -p " + std::to_string(follower_port) + " GET tool-key", &status),
            "tool-value\n");
  // The running server names its malloc, and it is the one this build linked (CMakeLists.txt).
  // Redis reports it in INFO's memory section.
  const std::string server_info =
      run("redis-cli -p " + std::to_string(leader_port) + " INFO memory", &status);
  EXPECT_NE(server_info.find("mem_allocator:" RAFTKV_SERVER_ALLOCATOR), std::string::npos)
      << server_info;
  const std::string bench = "redis-benchmark -p " + std::to_string(leader_port) +
                            " -t set,get -n 2000 -c 20 -d 256 -q";
  std::string output = run(bench, &status);
  EXPECT_EQ(status, 0) << output;
  EXPECT_NE(output.find("SET: "), std::string::npos) << output;
  EXPECT_NE(output.find("GET: "), std::string::npos) << output;
  output = run(bench + " -P 16", &status);
  EXPECT_EQ(status, 0) << output;
  EXPECT_NE(output.find("requests per second"), std::string::npos) << output;
  std::printf("redis-benchmark -P 16 (2000 requests, informational): %s\n", output.c_str());
  // Every SET the benchmark acknowledged went through the log: the key it writes is there.
  EXPECT_EQ(run("redis-cli -p " + std::to_string(follower_port) + " EXISTS key:__rand_int__",
                &status),
            "1\n");  // redis-cli prints bare values when stdout is not a tty.
}

// Reads that arrive together share one ReadIndex heartbeat round: 2,000 GETs pipelined 50 at
// a time start about 40 rounds, not 2,000.
TEST_F(Tools, PipelinedReads_ShareHeartbeatRounds) {
  start_cluster(kSlot + 2);
  const client::RaftInfo info = leader();
  const tools::ClusterLayout layout = layout_for(kSlot + 2, 3);
  const std::string port =
      std::to_string(layout.client_endpoint(static_cast<int>(info.leader_id)).port);
  auto read_rounds = [&] {
    int status = 0;
    const std::string info_text = run("redis-cli -p " + port + " INFO raft", &status);
    const size_t at = info_text.find("read_rounds:");
    return at == std::string::npos ? uint64_t{0} : std::stoull(info_text.substr(at + 12));
  };
  int status = 0;
  ASSERT_EQ(run("redis-cli -p " + port + " SET key:__rand_int__ v", &status), "OK\n");
  const uint64_t before = read_rounds();
  const std::string output =
      run("redis-benchmark -p " + port + " -t get -n 2000 -c 1 -P 50 -q", &status);
  ASSERT_EQ(status, 0) << output;
  const uint64_t rounds = read_rounds() - before;
  std::printf("2000 pipelined GETs used %llu read rounds\n",
              static_cast<unsigned long long>(rounds));
  EXPECT_GE(rounds, 1u);
  EXPECT_LE(rounds, 200u);
}

TEST_F(Tools, HttpStatusAndMetrics_Served) {
  start_cluster(kSlot + 1);
  const client::RaftInfo info = leader();
  const tools::ClusterLayout layout = layout_for(kSlot + 1, 3);
  const auto http_port = static_cast<uint16_t>(layout.base_http_port + info.leader_id - 1);
  std::string status;
  // The status copy is refreshed every 100 ms; wait (bounded) until it shows the leader.
  for (int attempt = 0; attempt < 50; ++attempt) {
    status = http_get(http_port, "/status");
    if (status.find("\"role\":\"leader\"") != std::string::npos) break;
    ::usleep(100'000);
  }
  EXPECT_NE(status.find("200 OK"), std::string::npos) << status;
  EXPECT_NE(status.find("\"role\":\"leader\""), std::string::npos) << status;
  EXPECT_NE(status.find("\"term\":" + std::to_string(info.term)), std::string::npos) << status;
  EXPECT_NE(status.find("\"match_index\""), std::string::npos) << status;
  const std::string metrics = http_get(http_port, "/metrics");
  EXPECT_NE(metrics.find("raftkv_term " + std::to_string(info.term)), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("raftkv_elections_won_total 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("raftkv_wal_sync_seconds_bucket{le=\"+Inf\"}"), std::string::npos);
  EXPECT_NE(metrics.find("raftkv_leader_changes_total 1\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("raftkv_wal_syncs_total "), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("raftkv_snapshot_write_seconds_count 0"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("raftkv_peer_messages_sent_total{peer="), std::string::npos);
}

}  // namespace
}  // namespace raftkv::process_test
