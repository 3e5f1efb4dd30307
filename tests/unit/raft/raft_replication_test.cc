#include <gtest/gtest.h>

#include "raft_fixture.h"

namespace raftkv::raft::testing {
namespace {

TEST(RaftReplication, Propose_CommitsOnQuorumAndAppliesEverywhere) {
  Cluster cluster(3);
  cluster.elect(1);
  Result<Proposal> proposal = cluster.raft(1).propose("hello");
  ASSERT_TRUE(proposal.is_ok());
  cluster.deliver_all();
  EXPECT_EQ(cluster.raft(1).log().committed(), proposal.value().index);
  // Followers learn the commit index with the next heartbeat.
  cluster.raft(1).tick();
  cluster.deliver_all();
  for (uint64_t id = 1; id <= 3; ++id) {
    ASSERT_EQ(cluster.node(id).applied.size(), 2u) << "node " << id;
    EXPECT_EQ(cluster.node(id).applied[1].data, "hello");
  }
}

TEST(RaftReplication, Propose_NotLeaderRefused) {
  Cluster cluster(3);
  cluster.elect(1);
  Result<Proposal> proposal = cluster.raft(2).propose("x");
  ASSERT_FALSE(proposal.is_ok());
  EXPECT_EQ(proposal.status().code(), ErrorCode::NotLeader);
}

TEST(RaftReplication, LeaderCountsItselfOnlyOnceSynced) {
  Cluster cluster(3);
  cluster.elect(1);
  ASSERT_TRUE(cluster.raft(1).propose("x").is_ok());  // Index 2.
  Ready ready = cluster.raft(1).ready();
  // The Appends may leave before the leader's own fsync (thesis 10.2.1)...
  ASSERT_EQ(ready.messages.size(), 2u);
  for (const Message& message : ready.messages) EXPECT_TRUE(may_send_before_persist(message));
  Message ack{.type = MessageType::AppendResponse, .from = n(2), .to = n(1), .term = t(1),
              .index = i(2)};
  ASSERT_TRUE(cluster.raft(1).step(ack).is_ok());
  // ...but node 2 alone is not a quorum while node 1's copy is not yet synced.
  EXPECT_EQ(cluster.raft(1).log().committed(), Index{1});
  ASSERT_TRUE(cluster.node(1).storage.append(ready.entries).is_ok());
  cluster.raft(1).advance(ready);
  EXPECT_EQ(cluster.raft(1).log().committed(), Index{2});
}

TEST(RaftReplication, FigureEight_PriorTermEntryNotCommittedByCounting) {
  Cluster cluster(3);
  cluster.elect(1);
  cluster.isolate(2);
  cluster.isolate(3);
  ASSERT_TRUE(cluster.raft(1).propose("old").is_ok());  // Index 2, term 1, only on node 1.
  for (int tick = 0; tick < 30 && cluster.raft(1).role() == Role::Leader; ++tick) {
    cluster.raft(1).tick();
    cluster.deliver_all();
  }
  ASSERT_EQ(cluster.raft(1).role(), Role::Follower);
  cluster.heal();
  cluster.isolate(3);
  // Node 1 wins term 2 with node 2's vote.
  ASSERT_TRUE(cluster.raft(1)
                  .step(Message{.type = MessageType::TimeoutNow, .from = n(2), .to = n(1),
                                .term = t(1)})
                  .is_ok());
  for (const Message& message : cluster.take_messages()) {
    if (message.to == n(2)) {
      ASSERT_TRUE(cluster.raft(2).step(message).is_ok());
    }
  }
  for (const Message& message : cluster.take_messages()) {
    ASSERT_TRUE(cluster.raft(1).step(message).is_ok());
  }
  ASSERT_EQ(cluster.raft(1).role(), Role::Leader);
  ASSERT_EQ(cluster.raft(1).term(), t(2));
  cluster.take_messages();  // Node 1 syncs its no-op (index 3); its Appends are dropped.
  // Node 2 now holds index 2 (term 1): a majority has it, yet Figure 8 forbids committing it.
  Message ack{.type = MessageType::AppendResponse, .from = n(2), .to = n(1), .term = t(2),
              .index = i(2)};
  ASSERT_TRUE(cluster.raft(1).step(ack).is_ok());
  EXPECT_EQ(cluster.raft(1).log().committed(), Index{1});
  ack.index = i(3);  // Once the term-2 no-op is on a majority, both commit.
  ASSERT_TRUE(cluster.raft(1).step(ack).is_ok());
  EXPECT_EQ(cluster.raft(1).log().committed(), Index{3});
}

TEST(RaftReplication, FastBacktracking_RepairsFiftyConflictsInFewRoundTrips) {
  Cluster cluster(3);
  cluster.elect(1);
  cluster.isolate(2);
  cluster.isolate(3);
  for (int k = 0; k < 50; ++k) ASSERT_TRUE(cluster.raft(1).propose("lost").is_ok());
  cluster.deliver_all();
  // Node 2 or 3 wins term 2 and commits 50 other entries.
  cluster.heal();
  cluster.isolate(1);
  const uint64_t leader = cluster.tick_until_leader();
  ASSERT_NE(leader, 0u);
  for (int k = 0; k < 50; ++k) ASSERT_TRUE(cluster.raft(leader).propose("kept").is_ok());
  cluster.deliver_all();
  cluster.heal();
  size_t rejections = 0;
  for (int tick = 0; tick < 5; ++tick) {
    cluster.raft(leader).tick();
    for (const Message& message : cluster.take_messages()) {
      if (message.type == MessageType::AppendResponse && message.reject) ++rejections;
      ASSERT_TRUE(cluster.raft(message.to.value()).step(message).is_ok());
    }
    cluster.deliver_all();
  }
  EXPECT_LE(rejections, 3u);
  EXPECT_EQ(cluster.raft(1).log().last_index(), cluster.raft(leader).log().last_index());
  EXPECT_EQ(cluster.raft(1).log().last_term(), t(2));
}

TEST(RaftReplication, Pipelining_BoundedByInflightWindow) {
  Config config;
  config.inflight_messages_max = 2;
  Cluster cluster(3, config);
  cluster.elect(1);
  cluster.isolate(2);
  cluster.isolate(3);
  size_t appends_to_2 = 0;
  for (int k = 0; k < 10; ++k) {
    ASSERT_TRUE(cluster.raft(1).propose("p").is_ok());
    for (const Message& message : cluster.take_messages()) {
      if (message.type == MessageType::Append && message.to == n(2)) ++appends_to_2;
    }
  }
  EXPECT_EQ(appends_to_2, 2u);  // The window of 2 closed; the rest waits for acks.
}

TEST(RaftReplication, Batching_ProposalsBetweenReadiesShareOneMessage) {
  Cluster cluster(3);
  cluster.elect(1);
  for (int k = 0; k < 20; ++k) ASSERT_TRUE(cluster.raft(1).propose("b").is_ok());
  std::vector<Message> out = cluster.take_messages();
  ASSERT_EQ(out.size(), 2u);  // One Append per follower.
  EXPECT_EQ(out[0].entries.size(), 20u);
}

TEST(RaftReplication, Batching_EntriesPerMessageBoundedByBytes) {
  Config config;
  config.message_bytes_max = 1000;
  Cluster cluster(3, config);
  cluster.elect(1);
  for (int k = 0; k < 20; ++k) ASSERT_TRUE(cluster.raft(1).propose(std::string(200, 'x')).is_ok());
  std::vector<Message> out = cluster.take_messages();
  ASSERT_FALSE(out.empty());
  for (const Message& message : out) {
    uint64_t bytes = 0;
    for (const Entry& entry : message.entries) bytes += entry.size_bytes();
    EXPECT_LE(bytes, 1000u);
    ASSERT_TRUE(cluster.raft(message.to.value()).step(message).is_ok());
  }
  cluster.deliver_all();
  EXPECT_EQ(cluster.raft(1).log().committed(), Index{21});
}

TEST(RaftReplication, Batching_ProposalsWhileWindowClosedShareOneMessage) {
  Config config;
  config.inflight_messages_max = 1;
  Cluster cluster(3, config);
  cluster.elect(1);
  ASSERT_TRUE(cluster.raft(1).propose("first").is_ok());
  std::vector<Message> first = cluster.take_messages();
  ASSERT_EQ(first.size(), 2u);  // One Append per follower; then the window of 1 is closed.
  for (int k = 0; k < 19; ++k) ASSERT_TRUE(cluster.raft(1).propose("b").is_ok());
  EXPECT_TRUE(cluster.take_messages().empty());
  for (const Message& message : first) {
    ASSERT_TRUE(cluster.raft(message.to.value()).step(message).is_ok());
  }
  for (const Message& ack : cluster.take_messages()) {
    ASSERT_TRUE(cluster.raft(1).step(ack).is_ok());
  }
  std::vector<Message> second = cluster.take_messages();
  ASSERT_EQ(second.size(), 2u);
  EXPECT_EQ(second[0].entries.size(), 19u);  // Everything proposed meanwhile, in one message.
}

TEST(RaftReplication, UncommittedBacklog_ProposalsGetBusy) {
  Config config;
  config.uncommitted_bytes_max = 100;
  Cluster cluster(3, config);
  cluster.elect(1);
  cluster.isolate(2);
  cluster.isolate(3);
  ASSERT_TRUE(cluster.raft(1).propose(std::string(60, 'a')).is_ok());
  Result<Proposal> second = cluster.raft(1).propose(std::string(60, 'b'));
  ASSERT_FALSE(second.is_ok());
  EXPECT_EQ(second.status().code(), ErrorCode::Busy);
}

}  // namespace
}  // namespace raftkv::raft::testing
