#include <gtest/gtest.h>

#include "raft_fixture.h"

namespace raftkv::raft::testing {
namespace {

TEST(RaftReadIndex, ReadIndex_ReleasedAfterQuorumRound) {
  Cluster cluster(3);
  cluster.elect(1);
  ASSERT_TRUE(cluster.raft(1).propose("w").is_ok());
  cluster.deliver_all();
  ASSERT_TRUE(cluster.raft(1).read_index(42).is_ok());
  EXPECT_TRUE(cluster.node(1).read_states.empty());
  cluster.deliver_all();
  ASSERT_EQ(cluster.node(1).read_states.size(), 1u);
  EXPECT_EQ(cluster.node(1).read_states[0].request_id, 42u);
  EXPECT_EQ(cluster.node(1).read_states[0].index, Index{2});
}

TEST(RaftReadIndex, ReadIndex_NotReleasedWithoutQuorum) {
  Cluster cluster(3);
  cluster.elect(1);
  cluster.isolate(2);
  cluster.isolate(3);
  ASSERT_TRUE(cluster.raft(1).read_index(7).is_ok());
  for (int tick = 0; tick < 30; ++tick) {
    cluster.raft(1).tick();
    cluster.deliver_all();
  }
  EXPECT_TRUE(cluster.node(1).read_states.empty());
  EXPECT_NE(cluster.raft(1).role(), Role::Leader);  // CheckQuorum deposed it; the read died.
}

TEST(RaftReadIndex, ReadIndex_BatchesReadsIntoOneRound) {
  Cluster cluster(3);
  cluster.elect(1);
  for (uint64_t id = 1; id <= 100; ++id) ASSERT_TRUE(cluster.raft(1).read_index(id).is_ok());
  std::vector<Message> out = cluster.take_messages();
  EXPECT_EQ(out.size(), 2u);  // One heartbeat per follower for all 100 reads.
  for (const Message& message : out) {
    ASSERT_TRUE(cluster.raft(message.to.value()).step(message).is_ok());
  }
  cluster.deliver_all();
  EXPECT_EQ(cluster.node(1).read_states.size(), 100u);
}

// Hands `messages` to their nodes, then delivers whatever follows.
void deliver(Cluster& cluster, const std::vector<Message>& messages) {
  for (const Message& message : messages) {
    ASSERT_TRUE(cluster.raft(message.to.value()).step(message).is_ok());
  }
  cluster.deliver_all();
}

// While a round is unacknowledged, new reads start none: they share the next, which leaves
// once the first is acknowledged and is itself started after they arrived.
TEST(RaftReadIndex, ReadIndex_OneRoundInFlight) {
  Cluster cluster(3);
  cluster.elect(1);
  ASSERT_TRUE(cluster.raft(1).read_index(1).is_ok());
  const std::vector<Message> first = cluster.take_messages();
  ASSERT_EQ(first.size(), 2u);
  for (uint64_t id = 2; id <= 50; ++id) ASSERT_TRUE(cluster.raft(1).read_index(id).is_ok());
  EXPECT_TRUE(cluster.take_messages().empty());  // Round 1 is still in flight.
  for (const Message& message : first) {
    ASSERT_TRUE(cluster.raft(message.to.value()).step(message).is_ok());
  }
  // The acknowledgements release read 1 and start round 2 for the other 49.
  std::vector<Message> acks = cluster.take_messages();
  for (const Message& ack : acks) ASSERT_TRUE(cluster.raft(1).step(ack).is_ok());
  const std::vector<Message> second = cluster.take_messages();
  ASSERT_EQ(cluster.node(1).read_states.size(), 1u);
  EXPECT_EQ(cluster.node(1).read_states[0].request_id, 1u);
  ASSERT_EQ(second.size(), 2u);
  for (const Message& message : second) EXPECT_EQ(message.read_round, first[0].read_round + 1);
  deliver(cluster, second);
  EXPECT_EQ(cluster.node(1).read_states.size(), 50u);
}

// A round whose heartbeats were lost is resent with the next heartbeat: the reads behind it
// are not stranded.
TEST(RaftReadIndex, ReadIndex_LostRoundResentByHeartbeat) {
  Cluster cluster(3);
  cluster.elect(1);
  ASSERT_TRUE(cluster.raft(1).read_index(1).is_ok());
  ASSERT_EQ(cluster.take_messages().size(), 2u);  // Lost.
  ASSERT_TRUE(cluster.raft(1).read_index(2).is_ok());
  for (int tick = 0; tick < 20 && cluster.node(1).read_states.size() < 2; ++tick) {
    cluster.raft(1).tick();
    cluster.deliver_all();
  }
  EXPECT_EQ(cluster.node(1).read_states.size(), 2u);
}

TEST(RaftReadIndex, ReadIndex_WaitsForFirstCommitOfTerm) {
  Cluster cluster(3);
  Raft& raft = cluster.raft(1);
  while (raft.role() != Role::Leader) {
    raft.tick();
    for (const Message& message : cluster.take_messages()) {
      // Deliver only the election, not the no-op's Appends.
      if (message.type == MessageType::Append) continue;
      ASSERT_TRUE(cluster.raft(message.to.value()).step(message).is_ok());
    }
  }
  ASSERT_EQ(raft.log().committed(), Index{0});
  ASSERT_TRUE(raft.read_index(1).is_ok());
  cluster.take_messages();
  EXPECT_TRUE(cluster.node(1).read_states.empty());
  raft.tick();
  cluster.deliver_all();
  ASSERT_EQ(cluster.node(1).read_states.size(), 1u);
  EXPECT_EQ(cluster.node(1).read_states[0].index, Index{1});  // After the no-op.
}

TEST(RaftReadIndex, ReadIndex_FollowerRefuses) {
  Cluster cluster(3);
  cluster.elect(1);
  EXPECT_EQ(cluster.raft(2).read_index(1).code(), ErrorCode::NotLeader);
}

}  // namespace
}  // namespace raftkv::raft::testing
