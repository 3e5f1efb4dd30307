// The real binaries against bad input: a data dir from another node or cluster is refused
// with a clear error; malformed, oversized and unknown requests get error replies and the
// node keeps serving.

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <memory>
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

// Opens connections to `endpoint` until one is refused (or `most` are open): the count open,
// and the refused one's bytes. Each accepted one answers PING first, so the node counts it.
struct ClientsFilled {
  std::vector<std::unique_ptr<RawConnection>> open;
  std::string refusal;
  bool refused_closed = false;
};
ClientsFilled fill_clients(const client::Endpoint& endpoint, size_t most) {
  ClientsFilled filled;
  while (filled.open.size() < most) {
    auto connection = std::make_unique<RawConnection>(endpoint);
    if (!connection->connected() || !connection->send("PING\r\n")) break;
    const std::string reply = connection->read_some(milliseconds(3000));
    if (reply != "+PONG\r\n") {
      filled.refusal = reply;
      filled.refused_closed = connection->closed_within(milliseconds(3000));
      break;
    }
    filled.open.push_back(std::move(connection));
  }
  return filled;
}

// Past --maxclients a new client gets Redis' error and is closed; those already open keep
// working, INFO counts the refusal, and a closed connection frees its place.
TEST_F(Robustness, OverMaxClients_RefusedWithRedisErrorOthersKeepServing) {
  start_cluster(/*slot=*/70, 3, {"--maxclients", "5"});
  const client::Endpoint endpoint = cluster_->layout().client_endpoint(1);
  ClientsFilled filled = fill_clients(endpoint, 20);
  EXPECT_EQ(filled.refusal, "-ERR max number of clients reached\r\n");
  EXPECT_TRUE(filled.refused_closed);
  ASSERT_GE(filled.open.size(), 1u);  // The cluster's own probes may hold a place or two.
  EXPECT_LE(filled.open.size(), 5u);
  RawConnection& first = *filled.open.front();
  ASSERT_TRUE(first.send("INFO\r\n"));
  const std::string info = first.read_some(milliseconds(3000));
  EXPECT_NE(info.find("maxclients:5\r\n"), std::string::npos) << info;
  EXPECT_EQ(info.find("rejected_connections:0\r\n"), std::string::npos) << info;
  // A closed connection's place is free once the node has seen the close.
  const auto admitted_within_5s = [&] {
    for (int attempt = 0; attempt < 50; ++attempt) {
      RawConnection again(endpoint);
      if (again.send("PING\r\n") && again.read_some(milliseconds(3000)) == "+PONG\r\n") {
        return true;
      }
      std::this_thread::sleep_for(milliseconds(100));
    }
    return false;
  };
  filled.open.pop_back();
  EXPECT_TRUE(admitted_within_5s());
  filled.open.clear();
  ASSERT_TRUE(admitted_within_5s());
  Client client(client_options(Semantics::AtLeastOnce));
  expect_serving(*cluster_, client);
}

// Under an open-file limit too low for --maxclients, the node serves as many clients as fit
// (the limit less 128 kept for peers, WAL and HTTP), says so in its log, and refuses the rest
// with the error instead of running out of descriptors.
TEST_F(Robustness, OpenFileLimit_LowersMaxClientsAndSaysSo) {
  prepare_cluster(/*slot=*/71, /*nodes=*/1);
  ASSERT_FALSE(HasFatalFailure());
  tools::ClusterLayout layout = cluster_->layout();
  const std::string wrapper = dir_ + "/server-with-200-files.sh";
  {
    std::ofstream script(wrapper);
    script << "#!/bin/sh\nexec /usr/bin/prlimit --nofile=200:200 " << layout.server_path
           << " \"$@\"\n";
  }
  std::filesystem::permissions(wrapper, std::filesystem::perms::owner_all);
  layout.server_path = wrapper;
  cluster_ = std::make_unique<tools::LocalCluster>(layout);
  start_nodes();
  ASSERT_FALSE(HasFatalFailure());
  const std::string log = read_file(layout.log_path(1));
  EXPECT_NE(log.find("serving at most 72 clients"), std::string::npos) << log;
  ClientsFilled filled = fill_clients(layout.client_endpoint(1), 100);
  EXPECT_EQ(filled.refusal, "-ERR max number of clients reached\r\n");
  EXPECT_LE(filled.open.size(), 72u);
  EXPECT_GE(filled.open.size(), 70u);
  std::printf("node 1 under a 200-file limit accepted %zu clients\n", filled.open.size());
}

}  // namespace
}  // namespace raftkv::process_test
