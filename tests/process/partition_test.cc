// Every node restarted while a partition is still up (issue 22, J5): the old leader, cut off
// alone, takes writes it can never commit; the whole cluster is killed with kill -9 and
// started again with the partition in place; the majority goes on taking writes; then the
// partition heals. No acknowledged write may be lost, no write the old leader called not
// applied may appear, and the cluster serves. Links are cut with iptables (root only).

#include <algorithm>
#include <iostream>

#include "harness.h"
#include "ledger.h"
#include "loopback_partition.h"

namespace raftkv::process_test {
namespace {

using client::Client;
using client::Outcome;
using client::Semantics;
using KeyValues = std::vector<std::pair<std::string, std::string>>;

class Partition : public ClusterFixture {
 protected:
  // The rules go before the nodes stop and the temp dir (iptables' log) is removed.
  void TearDown() override {
    partition_.reset();
    ClusterFixture::TearDown();
  }

  // A cluster whose links partition_ can cut: node k's peer address is 127.0.0.k.
  void start_partitionable_cluster(int slot) {
    prepare_cluster(slot);
    ASSERT_FALSE(HasFatalFailure());
    Result<tools::ClusterLayout> layout =
        LoopbackPartition::with_peer_addresses(cluster_->layout(), dir_ + "/server-wrapper.sh");
    ASSERT_TRUE(layout.is_ok()) << layout.status().message();
    cluster_ = std::make_unique<tools::LocalCluster>(layout.value());
    partition_ = std::make_unique<LoopbackPartition>(
        "raftkv-process-" + std::to_string(slot), layout.value(), dir_ + "/iptables.log");
    const Status started = partition_->start();
    ASSERT_TRUE(started.is_ok()) << started.message();
    start_nodes();
  }

  // Writes `count` keys straight to the leader the nodes outside `cut_off` agree on, each
  // retried (a SET may be repeated) until acknowledged, for at most 20 s.
  void write_acked(int count, const std::string& prefix, const std::vector<int>& cut_off) {
    for (int i = 0; i < count; ++i) {
      const std::string key = prefix + std::to_string(i);
      const std::string value = "v" + std::to_string(i);
      const auto deadline = std::chrono::steady_clock::now() + milliseconds(20'000);
      std::string last = "no leader";
      while (std::chrono::steady_clock::now() < deadline) {
        Result<client::RaftInfo> found = cluster_->wait_for_leader(milliseconds(5000), cut_off);
        if (!found.is_ok()) {
          last = found.status().message();
          continue;
        }
        const int id = static_cast<int>(found.value().node_id);
        Result<std::vector<client::Reply>> reply = tools::node_exchange(
            cluster_->layout().client_endpoint(id), {{"SET", key, value}}, milliseconds(5000));
        if (fate_of(reply) == WriteFate::Acknowledged) break;
        last = reply.is_ok() ? client::format_reply(reply.value().front())
                             : reply.status().message();
      }
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << key << ": " << last;
      acked_.emplace_back(key, value);
    }
  }

  KeyValues acked_;
  std::unique_ptr<LoopbackPartition> partition_;
};

TEST_F(Partition, WholeClusterRestartedWhilePartitioned_NothingAckedLost_ServesAfterHeal) {
  if (const std::string why = LoopbackPartition::unavailable_reason(); !why.empty()) {
    FAIL() << "this test needs real partitions (root and iptables): " << why;
  }
  start_partitionable_cluster(/*slot=*/23);
  ASSERT_FALSE(HasFatalFailure());
  const int old_leader = static_cast<int>(leader().node_id);
  ASSERT_NE(old_leader, 0);
  write_acked(30, "before:", {});

  ASSERT_TRUE(partition_->isolate({old_leader}).is_ok());
  // Pipelined straight to the cut-off leader: appended to its log, never committable there.
  const std::vector<std::string> stranded = {"stranded:0", "stranded:1", "stranded:2"};
  Result<std::vector<client::Reply>> replies = tools::node_exchange(
      cluster_->layout().client_endpoint(old_leader),
      {{"SET", stranded[0], "x"}, {"SET", stranded[1], "x"}, {"SET", stranded[2], "x"}},
      milliseconds(15'000));
  std::vector<WriteFate> stranded_fates;
  for (size_t i = 0; i < stranded.size(); ++i) {
    stranded_fates.push_back(replies.is_ok() ? fate_of(replies.value()[i]) : WriteFate::Unknown);
    EXPECT_NE(stranded_fates.back(), WriteFate::Acknowledged) << "acknowledged by a minority";
  }
  write_acked(30, "majority:", {old_leader});

  kill_and_restart_all();  // The partition stays up.
  ASSERT_FALSE(HasFatalFailure());
  const client::RaftInfo majority_leader = leader(milliseconds(15'000), {old_leader});
  EXPECT_NE(static_cast<int>(majority_leader.node_id), old_leader);
  write_acked(30, "restarted:", {old_leader});

  const auto healed = std::chrono::steady_clock::now();
  ASSERT_TRUE(partition_->heal().is_ok());
  expect_everywhere(acked_);  // The old leader too, once it has applied the commit index.
  std::cout << "every node held all " << acked_.size() << " acknowledged writes "
            << std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() -
                                                        healed)
                   .count()
            << " ms after the heal\n";
  Client client(client_options(Semantics::AtLeastOnce));
  for (size_t i = 0; i < stranded.size(); ++i) {
    const Outcome got = client.call({"GET", stranded[i]});
    ASSERT_TRUE(got.ok()) << got.detail;
    std::cout << stranded[i] << ": " << write_fate_name(stranded_fates[i]) << ", now "
              << client::format_reply(got.reply) << "\n";
    if (stranded_fates[i] == WriteFate::NotApplied) {
      EXPECT_EQ(got.reply, client::Reply::nil()) << stranded[i] << " was called not applied";
    }
  }
  write_acked(5, "after-heal:", {});
  expect_everywhere(acked_);
}

// Regression: the client once reconnected to the same node after "TRYAGAIN no leader", so a
// client whose first endpoint was cut off in a minority retried there until its deadline while
// the majority served. A not-applied answer now moves it to the next endpoint.
TEST_F(Partition, ClientFirstReachingCutOffNode_WritesThroughTheMajority) {
  if (const std::string why = LoopbackPartition::unavailable_reason(); !why.empty()) {
    FAIL() << "this test needs real partitions (root and iptables): " << why;
  }
  start_partitionable_cluster(/*slot=*/27);
  ASSERT_FALSE(HasFatalFailure());
  const int old_leader = static_cast<int>(leader().node_id);
  ASSERT_NE(old_leader, 0);
  ASSERT_TRUE(partition_->isolate({old_leader}).is_ok());
  ASSERT_NE(leader(milliseconds(15'000), {old_leader}).node_id, 0u);
  client::ClientOptions options = client_options(Semantics::AtLeastOnce);
  std::rotate(options.endpoints.begin(),
              options.endpoints.begin() + static_cast<ptrdiff_t>(old_leader - 1),
              options.endpoints.end());  // The cut-off node first.
  Client client(options);
  const auto start = std::chrono::steady_clock::now();
  const Outcome written = client.call({"SET", "reached", "majority"});
  std::cout << "the write ended " << client::outcome_kind_name(written.kind) << " after "
            << std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() -
                                                        start)
                   .count()
            << " ms: " << written.detail << "\n";
  EXPECT_TRUE(written.ok()) << "a majority serves, yet the client never reached it";
}

}  // namespace
}  // namespace raftkv::process_test
