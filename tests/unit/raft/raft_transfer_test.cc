#include <gtest/gtest.h>

#include "raft_fixture.h"

namespace raftkv::raft::testing {
namespace {

TEST(RaftTransfer, TransferLeadership_ToCaughtUpFollower) {
  Cluster cluster(3);
  cluster.elect(1);
  ASSERT_TRUE(cluster.raft(1).transfer_leadership(n(2)).is_ok());
  cluster.deliver_all();
  EXPECT_EQ(cluster.raft(2).role(), Role::Leader);
  EXPECT_EQ(cluster.raft(2).term(), t(2));
  EXPECT_EQ(cluster.raft(1).leader(), n(2));
}

TEST(RaftTransfer, TransferLeadership_CatchesUpLaggingFollowerFirst) {
  Cluster cluster(3);
  cluster.elect(1);
  cluster.isolate(3);
  for (int k = 0; k < 5; ++k) ASSERT_TRUE(cluster.raft(1).propose("x").is_ok());
  cluster.deliver_all();
  cluster.heal();
  ASSERT_TRUE(cluster.raft(1).transfer_leadership(n(3)).is_ok());
  EXPECT_EQ(cluster.raft(1).propose("blocked").status().code(), ErrorCode::Busy);
  for (int tick = 0; tick < 5 && cluster.raft(3).role() != Role::Leader; ++tick) {
    cluster.deliver_all();
    cluster.raft(1).tick();
  }
  EXPECT_EQ(cluster.raft(3).role(), Role::Leader);
  EXPECT_EQ(cluster.raft(3).log().last_index(), Index{7});  // 1 + 5 + its own no-op.
}

TEST(RaftTransfer, TransferLeadership_AbandonedAfterElectionTimeout) {
  Cluster cluster(3);
  cluster.elect(1);
  cluster.isolate(3);
  ASSERT_TRUE(cluster.raft(1).propose("x").is_ok());
  cluster.deliver_all();
  ASSERT_TRUE(cluster.raft(1).transfer_leadership(n(3)).is_ok());
  for (int tick = 0; tick < 10; ++tick) {
    cluster.raft(1).tick();
    cluster.deliver_all();
  }
  EXPECT_EQ(cluster.raft(1).role(), Role::Leader);
  EXPECT_EQ(cluster.raft(1).status().transfer_target, kNoNode);
  EXPECT_TRUE(cluster.raft(1).propose("y").is_ok());
}

TEST(RaftTransfer, TransferLeadership_NonVoterRefused) {
  Cluster cluster(3);
  cluster.elect(1);
  EXPECT_EQ(cluster.raft(1).transfer_leadership(n(9)).code(), ErrorCode::InvalidArgument);
}

}  // namespace
}  // namespace raftkv::raft::testing
