// Membership changes on the real binaries (issue 15): nodes join with --join as learners, are
// promoted and removed through the raftkv CLI (RAFT.MEMBER on the leader) while clients
// write, and nothing acknowledged is lost; a removed node restarted on its old data stays out.

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include "client/admin.h"
#include "harness.h"

namespace raftkv::process_test {
namespace {

using client::Client;
using client::Outcome;
using client::Semantics;

class Membership : public ClusterFixture {
 protected:
  // A cluster of `nodes` whose first `bootstrap` form it; the others start later with --join.
  void start_growing_cluster(int slot, int nodes, int bootstrap) {
    prepare_cluster(slot, nodes);
    if (HasFatalFailure()) return;
    tools::ClusterLayout layout = cluster_->layout();
    layout.bootstrap_nodes = bootstrap;
    cluster_ = std::make_unique<tools::LocalCluster>(layout);
    for (int id = 1; id <= bootstrap; ++id) ASSERT_TRUE(cluster_->start_node(id, false).is_ok());
    for (int id = 1; id <= bootstrap; ++id) {
      const Status up = cluster_->wait_up(id, milliseconds(10'000));
      ASSERT_TRUE(up.is_ok()) << up.message();
    }
  }

  // `raftkv -e <every node> ARGS`; fails the test unless it exits 0.
  std::string cli(std::vector<std::string> args) {
    std::string endpoints;
    for (const client::Endpoint& endpoint : cluster_->layout().client_endpoints()) {
      endpoints += (endpoints.empty() ? "" : ",") + endpoint.to_string();
    }
    args.insert(args.begin(), {"-e", endpoints, "--timeout-ms", "30000"});
    const ToolRun run = run_tool(RAFTKV_CLI_PATH, args, dir_ + "/cli.out");
    EXPECT_EQ(run.how, "exited with status 0") << run.output;
    return run.output;
  }

  // Starts node `id` (it joins through node 1) and waits until it answers.
  void join(int id) {
    ASSERT_TRUE(cluster_->start_node(id, false).is_ok());
    const Status up = cluster_->wait_up(id, milliseconds(30'000));
    ASSERT_TRUE(up.is_ok()) << up.message();
  }

  // RAFT.MEMBER LIST as the leader among `endpoints_of` answers it.
  std::vector<client::MemberRecord> members(const std::vector<int>& ids) {
    client::ClientOptions options = client_options(Semantics::AtLeastOnce);
    options.endpoints.clear();
    for (int id : ids) options.endpoints.push_back(cluster_->layout().client_endpoint(id));
    Client cluster(options);
    const Outcome listed = cluster.call({"RAFT.MEMBER", "LIST"});
    EXPECT_TRUE(listed.ok()) << listed.detail << listed.reply.text;
    Result<std::vector<client::MemberRecord>> parsed = client::parse_member_list(listed.reply);
    EXPECT_TRUE(parsed.is_ok()) << parsed.status().message();
    return parsed.is_ok() ? parsed.value() : std::vector<client::MemberRecord>{};
  }

  // Every acknowledged write reads back (linearizably) through the nodes `ids`.
  void expect_acked(const std::vector<std::pair<std::string, std::string>>& acked,
                    const std::vector<int>& ids) {
    client::ClientOptions options = client_options(Semantics::AtLeastOnce);
    options.endpoints.clear();
    for (int id : ids) options.endpoints.push_back(cluster_->layout().client_endpoint(id));
    Client reader(options);
    int lost = 0;
    for (const auto& [key, value] : acked) {
      const Outcome read = reader.call({"GET", key});
      if (!read.ok() || read.reply.text != value) ++lost;
    }
    std::cout << acked.size() << " acknowledged writes, " << lost << " lost\n";
    EXPECT_EQ(lost, 0);
  }

  // Waits until node `id` says it was removed (INFO removed:1).
  bool says_removed(int id, milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      Result<std::vector<client::Reply>> info = tools::node_exchange(
          cluster_->layout().client_endpoint(id), {{"INFO", "raft"}}, milliseconds(1000));
      if (info.is_ok() && info.value().front().text.find("removed:1") != std::string::npos) {
        return true;
      }
      std::this_thread::sleep_for(milliseconds(100));
    }
    return false;
  }
};

int voters(const std::vector<client::MemberRecord>& members) {
  return static_cast<int>(std::count_if(members.begin(), members.end(),
                                        [](const auto& member) { return !member.learner; }));
}

TEST_F(Membership, GrowThreeToFiveAndShrinkBackUnderLoad_LosesNothing) {
  start_growing_cluster(/*slot=*/37, /*nodes=*/5, /*bootstrap=*/3);
  if (HasFatalFailure()) return;
  BackgroundWriter writer(client_options(Semantics::AtLeastOnce), "grow");
  ASSERT_TRUE(wait_for_acks({&writer}, 50, milliseconds(20'000)));
  for (int id : {4, 5}) {
    join(id);
    if (HasFatalFailure()) return;
    const std::string out = cli({"member", "promote", std::to_string(id)});
    EXPECT_NE(out.find("OK"), std::string::npos) << out;
  }
  EXPECT_EQ(voters(members({1, 2, 3, 4, 5})), 5);
  const int after_grow = writer.acked_count();
  // Shrink by removing two of the original nodes, one of which may lead.
  for (int id : {1, 2}) {
    const std::string out = cli({"member", "remove", std::to_string(id)});
    EXPECT_NE(out.find("OK"), std::string::npos) << out;
  }
  ASSERT_TRUE(wait_for_acks({&writer}, after_grow + 50, milliseconds(30'000)));
  const auto acked = writer.finish();
  const std::vector<client::MemberRecord> left = members({3, 4, 5});
  EXPECT_EQ(voters(left), 3);
  for (const client::MemberRecord& member : left) EXPECT_GE(member.id, 3u);
  for (int id : {1, 2}) EXPECT_TRUE(says_removed(id, milliseconds(10'000))) << "node " << id;
  expect_acked(acked, {3, 4, 5});
}

TEST_F(Membership, ReplaceANodeKilledWithSigkill_KeepsServing) {
  start_growing_cluster(/*slot=*/38, /*nodes=*/4, /*bootstrap=*/3);
  if (HasFatalFailure()) return;
  BackgroundWriter writer(client_options(Semantics::AtLeastOnce), "replace");
  ASSERT_TRUE(wait_for_acks({&writer}, 50, milliseconds(20'000)));
  const client::RaftInfo leader = this->leader();
  const int dead = leader.node_id == 3 ? 2 : 3;
  ASSERT_TRUE(cluster_->stop_node(dead, SIGKILL, milliseconds(5000)).is_ok());
  join(4);
  if (HasFatalFailure()) return;
  const std::string out =
      cli({"member", "replace", std::to_string(dead), "4", cluster_->layout().peer_addr(4),
           cluster_->layout().client_endpoint(4).to_string()});
  std::cout << out;
  EXPECT_NE(out.find("[3/4] promoted node 4"), std::string::npos) << out;
  EXPECT_NE(out.find("[4/4] removed node " + std::to_string(dead)), std::string::npos) << out;
  std::vector<int> alive;
  for (int id = 1; id <= 4; ++id) {
    if (id != dead) alive.push_back(id);
  }
  EXPECT_EQ(voters(members(alive)), 3);
  // The new membership has a quorum without any one more node: kill another, writes go on.
  const int also_lost = alive.front();
  ASSERT_TRUE(cluster_->stop_node(also_lost, SIGKILL, milliseconds(5000)).is_ok());
  const int before = writer.acked_count();
  EXPECT_TRUE(wait_for_acks({&writer}, before + 30, milliseconds(30'000)));
  const auto acked = writer.finish();
  alive.erase(alive.begin());
  expect_acked(acked, alive);
}

TEST_F(Membership, RemovedNodeRestartedOnOldData_StaysOutAndQuiet) {
  start_cluster(/*slot=*/39);
  if (HasFatalFailure()) return;
  const client::RaftInfo leader = this->leader();
  const int removed = leader.node_id == 3 ? 2 : 3;
  const std::string out = cli({"member", "remove", std::to_string(removed)});
  EXPECT_NE(out.find("OK"), std::string::npos) << out;
  ASSERT_TRUE(cluster_->stop_node(removed, SIGKILL, milliseconds(5000)).is_ok());
  ASSERT_TRUE(cluster_->start_node(removed, false).is_ok());
  EXPECT_TRUE(says_removed(removed, milliseconds(10'000)));
  const client::RaftInfo before = this->leader(milliseconds(15'000), {removed});
  std::this_thread::sleep_for(milliseconds(3000));  // Ten election timeouts of chances.
  const client::RaftInfo after = this->leader(milliseconds(15'000), {removed});
  EXPECT_EQ(after.node_id, before.node_id);
  EXPECT_EQ(after.term, before.term) << "the removed node disturbed the cluster";
  Client client(client_options(Semantics::AtLeastOnce));
  EXPECT_TRUE(client.call({"SET", "after", "removal"}).ok());
}

TEST_F(Membership, RebuildANodeWithACorruptedWal_RemoveWipeAddBackUnderANewId) {
  start_growing_cluster(/*slot=*/40, /*nodes=*/4, /*bootstrap=*/3);
  if (HasFatalFailure()) return;
  Client client(client_options(Semantics::AtLeastOnce));
  std::vector<std::pair<std::string, std::string>> acked;
  for (int i = 0; i < 300; ++i) {
    const std::string key = "rebuild" + std::to_string(i);
    const std::string value = "v" + std::to_string(i);
    if (client.call({"SET", key, value}).ok()) acked.emplace_back(key, value);
  }
  const client::RaftInfo leader = this->leader();
  const int bad = leader.node_id == 3 ? 2 : 3;
  ASSERT_TRUE(cluster_->stop_node(bad, SIGTERM, milliseconds(5000)).is_ok());
  // Flip a byte early in its first WAL segment: a bad checksum before the tail.
  const std::string wal = cluster_->layout().data_dir(bad) + "/raft/00000000000000000001.wal";
  {
    std::fstream file(wal, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(file.is_open()) << wal;
    file.seekg(200);
    char byte = 0;
    file.read(&byte, 1);
    file.seekp(200);
    byte = static_cast<char>(byte ^ 0x5a);
    file.write(&byte, 1);
  }
  ASSERT_TRUE(cluster_->start_node(bad, false).is_ok());
  const auto deadline = std::chrono::steady_clock::now() + milliseconds(10'000);
  std::optional<std::string> how;
  while (!(how = cluster_->exit_description(bad)) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(20));
  }
  ASSERT_TRUE(how.has_value()) << "the node started on a corrupted WAL";
  EXPECT_NE(*how, "exited with status 0");
  const std::string log = tools::tail_lines(cluster_->layout().log_path(bad), 5);
  EXPECT_NE(log.find("refusing to start"), std::string::npos) << log;
  // The documented rebuild: remove it, wipe it, add the machine back under a new id.
  const std::string removed = cli({"member", "remove", std::to_string(bad)});
  EXPECT_NE(removed.find("OK"), std::string::npos) << removed;
  std::filesystem::remove_all(cluster_->layout().node_dir(bad));
  join(4);
  if (HasFatalFailure()) return;
  const std::string promoted = cli({"member", "promote", "4"});
  EXPECT_NE(promoted.find("OK"), std::string::npos) << promoted;
  std::vector<int> members_now;
  for (int id = 1; id <= 4; ++id) {
    if (id != bad) members_now.push_back(id);
  }
  EXPECT_EQ(voters(members(members_now)), 3);
  // Node 4 serves every acknowledged write from its own state once caught up.
  const client::RaftInfo caught_up = this->leader(milliseconds(15'000), {bad});
  ASSERT_TRUE(cluster_->wait_applied(4, caught_up.commit_index, milliseconds(15'000)).is_ok());
  int lost = 0;
  for (const auto& [key, value] : acked) {
    Result<client::Reply> got = cluster_->stale_get(4, key);
    if (!got.is_ok() || got.value().text != value) ++lost;
  }
  std::cout << acked.size() << " acknowledged writes, " << lost << " missing on the rebuilt node\n";
  EXPECT_EQ(lost, 0);
}

}  // namespace
}  // namespace raftkv::process_test
