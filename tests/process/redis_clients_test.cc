// Real Redis clients against real servers (issue 16): redis-py (Debian's python3-redis),
// ioredis (npm, pinned in clients/package.json) and hiredis (Debian's libhiredis-dev, in C),
// each against the leader and a follower of a five-node cluster: connect, pipelines, WATCH
// transactions, expiry, and the cluster-mode failover after kill -9 of the leader. redis-py
// and ioredis also prove that an INCR whose forward a follower lost is answered UNCERTAIN and
// not re-sent by the cluster client. The checks are in clients/; each prints what it measured.
//
// And protocol fixes on raw bytes: nothing pipelined after QUIT runs; a pipelined read sees
// exactly the writes before it.
#include <sys/stat.h>

#include "harness.h"

namespace raftkv::process_test {
namespace {

class RedisClients : public ClusterFixture {
 protected:
  // Five nodes: the UNCERTAIN check kills one, the failover check another.
  void start(int slot) {
    start_cluster(slot, /*nodes=*/5);
    ASSERT_FALSE(HasFatalFailure());
    leader_ = leader().node_id;
    ASSERT_NE(leader_, 0u);
  }

  // --node ID=HOST:PORT=PID for every node, then --leader ID.
  std::vector<std::string> node_args() const {
    std::vector<std::string> args;
    for (int id = 1; id <= cluster_->layout().nodes; ++id) {
      const client::Endpoint endpoint = cluster_->layout().client_endpoint(id);
      const std::optional<pid_t> pid = cluster_->pid(id);
      EXPECT_TRUE(pid.has_value()) << "node " << id;
      args.push_back("--node");
      args.push_back(std::to_string(id) + "=" + endpoint.host + ":" +
                     std::to_string(endpoint.port) + "=" + std::to_string(pid.value_or(0)));
    }
    args.push_back("--leader");
    args.push_back(std::to_string(leader_));
    return args;
  }

  // Runs a check to its end: it must exit 0 and say that all its checks passed.
  void expect_passes(const std::string& program, std::vector<std::string> args,
                     const std::string& done_line) {
    const std::vector<std::string> nodes = node_args();
    args.insert(args.end(), nodes.begin(), nodes.end());
    const ToolRun run = run_tool(program, args, dir_ + "/check.log");
    std::cout << run.output;  // The figures each check measured, for the test log.
    EXPECT_EQ(run.how, "exited with status 0") << run.output;
    EXPECT_NE(run.output.find(done_line), std::string::npos) << run.output;
  }

  uint64_t leader_ = 0;
};

TEST_F(RedisClients, RedisPy_LeaderFollowerUncertainAndFailover) {
  start(/*slot=*/28);
  expect_passes("/usr/bin/python3",
                {"-B", std::string(RAFTKV_CLIENT_CHECKS_DIR) + "/redis_py_check.py"},
                "redis-py: all checks passed");
}

TEST_F(RedisClients, Ioredis_LeaderFollowerUncertainAndFailover) {
  // ioredis comes from npm, pinned by clients/package-lock.json, into the build tree.
  const ToolRun install =
      run_tool("/bin/bash",
               {std::string(RAFTKV_CLIENT_CHECKS_DIR) + "/install_ioredis.sh", RAFTKV_IOREDIS_DIR},
               "/tmp/raftkv-ioredis-install.log");
  ASSERT_EQ(install.how, "exited with status 0") << install.output;
  start(/*slot=*/29);
  setenv("NODE_PATH", RAFTKV_IOREDIS_DIR "/node_modules", 1);
  expect_passes("/usr/bin/env",
                {"node", std::string(RAFTKV_CLIENT_CHECKS_DIR) + "/ioredis_check.js"},
                "ioredis: all checks passed");
}

TEST_F(RedisClients, Hiredis_LeaderFollowerAndFailover) {
#ifndef RAFTKV_HIREDIS_CHECK_PATH
  FAIL() << "hiredis_check was not built: libhiredis-dev is missing (scripts/setup.sh)";
#else
  start(/*slot=*/30);
  expect_passes(RAFTKV_HIREDIS_CHECK_PATH, {}, "hiredis: all checks passed");
#endif
}

// Regression (issue 16): commands pipelined after QUIT were executed and answered.
TEST_F(RedisClients, Quit_NothingPipelinedAfterItRuns) {
  start_cluster(/*slot=*/31);
  ASSERT_NE(leader().node_id, 0u);
  RawConnection connection(cluster_->layout().client_endpoint(1));
  ASSERT_TRUE(connection.connected());
  ASSERT_TRUE(connection.send("SET quit:k before\r\nQUIT\r\nSET quit:k after\r\nPING\r\n"));
  const std::vector<client::Reply> replies = connection.read_replies(4, milliseconds(10'000));
  ASSERT_EQ(replies.size(), 2u);  // SET's and QUIT's, then the connection closed.
  EXPECT_EQ(replies[0], client::Reply::status("OK"));
  EXPECT_EQ(replies[1], client::Reply::status("OK"));
  EXPECT_TRUE(connection.closed_within(milliseconds(5'000)));
  expect_everywhere({{"quit:k", "before"}});
}

// Regression: a pipelined read was served from whatever state the node had applied when its
// ReadIndex came back, so `SET k v1; GET k; SET k v2` could answer v2 to the GET. Redis runs a
// connection's commands in order: each read sees exactly the writes sent before it.
TEST_F(RedisClients, Pipeline_ReadsSeeExactlyTheEarlierWrites) {
  start_cluster(/*slot=*/33);
  const uint64_t leader_id = leader().node_id;
  ASSERT_NE(leader_id, 0u);
  const uint64_t follower_id = leader_id == 1 ? 2 : 1;
  for (const uint64_t id : {leader_id, follower_id}) {
    RawConnection connection(cluster_->layout().client_endpoint(static_cast<int>(id)));
    ASSERT_TRUE(connection.connected());
    std::string requests;
    std::vector<client::Reply> expected;
    for (int round = 0; round < 20; ++round) {
      const std::string k = "pipe:" + std::to_string(id) + ":" + std::to_string(round);
      requests += "SET " + k + " v1\r\nGET " + k + "\r\nSET " + k + " v2\r\nGET " + k +
                  "\r\nINCR " + k + ":n\r\nGET " + k + ":n\r\nDEL " + k + "\r\nEXISTS " +
                  k + "\r\n";
      const std::vector<client::Reply> replies = {
          client::Reply::status("OK"), client::Reply::bulk("v1"), client::Reply::status("OK"),
          client::Reply::bulk("v2"),   client::Reply::number(1),  client::Reply::bulk("1"),
          client::Reply::number(1),    client::Reply::number(0)};
      expected.insert(expected.end(), replies.begin(), replies.end());
    }
    ASSERT_TRUE(connection.send(requests));  // One write: the node reads them as a pipeline.
    const std::vector<client::Reply> replies =
        connection.read_replies(expected.size(), milliseconds(20'000));
    ASSERT_EQ(replies.size(), expected.size()) << "node " << id;
    for (size_t i = 0; i < expected.size(); ++i) {
      EXPECT_EQ(replies[i], expected[i]) << "node " << id << ", reply " << i;
    }
  }
}

}  // namespace
}  // namespace raftkv::process_test
