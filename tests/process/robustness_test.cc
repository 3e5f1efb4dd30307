// The real binaries against bad input: a data dir from another node or cluster is refused
// with a clear error; malformed, oversized and unknown requests get error replies and the
// node keeps serving.

#include <signal.h>

#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "harness.h"

namespace raftkv::process_test {
namespace {

class Robustness : public ClusterFixture {};

using client::Client;
using client::Outcome;
using client::Semantics;

std::string read_file(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// Runs the server with `args`, expecting it to refuse: it exits non-zero within 10 s and
// says "refusing to start". Returns its output.
std::string expect_refusal(const std::string& server, const std::vector<std::string>& args,
                           const std::string& log_path) {
  Result<tools::Spawned> spawned = tools::spawn({server, args, log_path, false, false});
  EXPECT_TRUE(spawned.is_ok());
  if (!spawned.is_ok()) return "";
  const auto deadline = std::chrono::steady_clock::now() + milliseconds(10'000);
  std::optional<std::string> how;
  while (!(how = tools::reap_if_exited(spawned.value().pid)) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(20));
  }
  if (!how) (void)tools::stop_process(spawned.value().pid, SIGKILL, milliseconds(3000));
  const std::string output = read_file(log_path);
  EXPECT_TRUE(how.has_value()) << "the server kept running: " << output;
  EXPECT_NE(how.value_or(""), "exited with status 0") << output;
  EXPECT_NE(output.find("refusing to start"), std::string::npos) << output;
  return output;
}

std::vector<std::string> replace_flag(std::vector<std::string> args, const std::string& flag,
                                      const std::string& value) {
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == flag) args[i + 1] = value;
  }
  return args;
}

TEST_F(Robustness, StartWithForeignDataDir_RefusesWithClearError) {
  start_cluster(/*slot=*/3);
  Client client(client_options(Semantics::AtLeastOnce));
  ASSERT_TRUE(client.call({"SET", "identity", "kept"}).ok());
  ASSERT_TRUE(cluster_->stop_node(3, SIGTERM, milliseconds(5000)).is_ok());
  const tools::ClusterLayout& layout = cluster_->layout();
  const std::vector<std::string> good = layout.server_args(3);
  std::string why;
  const std::string server = server_path(&why);
  // Node 3's data dir under another node's id.
  expect_refusal(server, replace_flag(good, "--id", "2"), dir_ + "/wrong-id.log");
  // (Another --peers list is no mistake: it only bootstraps, and a restart takes the
  // replicated membership from the data dir; membership_test.cc.)
  // Another cluster's data dir: same ids and addresses, another cluster name.
  std::vector<std::string> other = good;
  other.insert(other.end(), {"--cluster-name", "some-other-cluster"});
  expect_refusal(server, other, dir_ + "/other-cluster.log");
  // The refusals left the data dir intact: the right flags still start it, data included.
  ASSERT_TRUE(cluster_->start_node(3, false).is_ok());
  ASSERT_TRUE(cluster_->wait_up(3, milliseconds(10'000)).is_ok());
  expect_everywhere({{"identity", "kept"}});
}

// Every node still answers PING and the cluster still takes writes.
void expect_serving(tools::LocalCluster& cluster, Client& client) {
  for (int id = 1; id <= cluster.layout().nodes; ++id) {
    EXPECT_TRUE(cluster.running(id)) << "node " << id << " died";
    Result<std::vector<client::Reply>> pong =
        tools::node_exchange(cluster.layout().client_endpoint(id), {{"PING"}}, milliseconds(3000));
    ASSERT_TRUE(pong.is_ok()) << pong.status().message();
    EXPECT_EQ(pong.value().front(), client::Reply::status("PONG"));
  }
  const Outcome outcome = client.call({"SET", "still", "serving"});
  EXPECT_TRUE(outcome.ok()) << outcome.detail;
}

struct BadRequest {
  const char* name;
  std::string bytes;
};

// (A well-formed command over the size limits is refused and the connection goes on:
// large_values_test.cc.)
TEST_F(Robustness, MalformedAndOversizedRequests_ErrorReplyAndNodeKeepsServing) {
  start_cluster(/*slot=*/4);
  const std::vector<BadRequest> cases = {
      {"bad bulk length", "*1\r\n$x\r\n"},
      {"bulk header without $", "*1\r\n:12\r\n"},
      {"inline command over 64 KiB", std::string(70'000, 'a')},
      {"array header over 64 KiB", "*" + std::string(70'000, '9')},
  };
  const client::Endpoint endpoint = cluster_->layout().client_endpoint(1);
  for (const BadRequest& test : cases) {
    RawConnection connection(endpoint);
    ASSERT_TRUE(connection.connected());
    (void)connection.send(test.bytes);
    const std::string reply = connection.read_some(milliseconds(3000));
    EXPECT_EQ(reply.rfind("-ERR", 0), 0u) << test.name << ": got '" << reply.substr(0, 80) << "'";
    EXPECT_TRUE(connection.closed_within(milliseconds(3000))) << test.name;
  }
  // Like Redis, a negative or zero array length is skipped silently; the stream goes on.
  RawConnection skipped(endpoint);
  ASSERT_TRUE(skipped.send("*-7\r\n*0\r\n*1\r\n$4\r\nPING\r\n"));
  EXPECT_EQ(skipped.read_some(milliseconds(3000)), "+PONG\r\n");
  Client client(client_options(Semantics::AtLeastOnce));
  expect_serving(*cluster_, client);
}

TEST_F(Robustness, UnknownCommand_ErrorReplyAndConnectionStaysUsable) {
  start_cluster(/*slot=*/8);
  RawConnection connection(cluster_->layout().client_endpoint(2));
  ASSERT_TRUE(connection.connected());
  ASSERT_TRUE(connection.send("*2\r\n$7\r\nFOOBARZ\r\n$1\r\nx\r\n"));
  const std::string reply = connection.read_some(milliseconds(3000));
  EXPECT_EQ(reply.rfind("-ERR unknown command", 0), 0u) << reply;
  ASSERT_TRUE(connection.send("*1\r\n$4\r\nPING\r\n"));
  EXPECT_EQ(connection.read_some(milliseconds(3000)), "+PONG\r\n");
  // Random garbage from a seeded generator: the node answers or closes, and survives.
  std::mt19937 random(12345);
  for (int round = 0; round < 20; ++round) {
    RawConnection fuzz(cluster_->layout().client_endpoint(2));
    ASSERT_TRUE(fuzz.connected());
    std::string bytes(static_cast<size_t>(1 + random() % 512), '\0');
    for (char& c : bytes) c = static_cast<char>(random() % 256);
    (void)fuzz.send(bytes);
    (void)fuzz.read_some(milliseconds(100));
  }
  Client client(client_options(Semantics::AtLeastOnce));
  expect_serving(*cluster_, client);
}

// A client that pipelines and then half-closes (`nc -N`, shutdown(SHUT_WR)) gets every reply,
// then the close: the end of its input is not the end of its requests. Through the leader and
// a follower, with a WATCH first so that later requests wait for it across the end of input.
// Regression: the node closed at end of input, after applying the INCR but before answering it.
TEST_F(Robustness, HalfClosedPipeline_EveryReplyArrivesThenClose) {
  start_cluster(/*slot=*/47);
  const client::RaftInfo leader_info = leader();
  ASSERT_NE(leader_info.node_id, 0u);
  const int follower = leader_info.node_id == 1 ? 2 : 1;
  for (int node : {static_cast<int>(leader_info.node_id), follower}) {
    RawConnection connection(cluster_->layout().client_endpoint(node));
    ASSERT_TRUE(connection.connected());
    const std::string key = "half:" + std::to_string(node);
    ASSERT_TRUE(connection.send(client::encode_command({"WATCH", key}) +
                                client::encode_command({"SET", key, "1"}) +
                                client::encode_command({"INCR", key}) +
                                client::encode_command({"GET", key})));
    connection.end_input();
    const std::vector<client::Reply> replies = connection.read_replies(4, milliseconds(10'000));
    ASSERT_EQ(replies.size(), 4u) << "through node " << node;
    EXPECT_EQ(replies[0], client::Reply::status("OK"));
    EXPECT_EQ(replies[1], client::Reply::status("OK"));
    EXPECT_EQ(replies[2], client::Reply::number(2));
    EXPECT_EQ(replies[3], client::Reply::bulk("2"));
    EXPECT_TRUE(connection.closed_within(milliseconds(5000))) << "through node " << node;
  }
}

}  // namespace
}  // namespace raftkv::process_test
