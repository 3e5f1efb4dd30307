#include <gtest/gtest.h>

#include "raft_fixture.h"

namespace raftkv::raft::testing {
namespace {

class RaftValidate : public ::testing::Test {
 protected:
  void SetUp() override { cluster.elect(1); }

  // Steps `message` into node 2 and expects it refused with nothing changed.
  void expect_refused(const Message& message) {
    const RaftStatus before = cluster.raft(2).status();
    const Status status = cluster.raft(2).step(message);
    EXPECT_EQ(status.code(), ErrorCode::InvalidArgument) << status.to_string();
    const RaftStatus after = cluster.raft(2).status();
    EXPECT_EQ(after.term, before.term);
    EXPECT_EQ(after.last_index, before.last_index);
    EXPECT_EQ(after.commit_index, before.commit_index);
    EXPECT_TRUE(cluster.take_messages().empty());
  }

  Message append() {
    return Message{.type = MessageType::Append, .from = n(1), .to = n(2), .term = t(1),
                   .log_term = t(1), .index = i(1)};
  }

  Cluster cluster{3};
};

TEST_F(RaftValidate, Step_UnknownSenderRefused) {
  Message message = append();
  message.from = n(99);
  for (MessageType type : {MessageType::PreVote, MessageType::Vote, MessageType::AppendResponse,
                           MessageType::HeartbeatResponse, MessageType::TimeoutNow}) {
    message.type = type;
    expect_refused(message);
  }
}

TEST_F(RaftValidate, Step_ReplicationFromALeaderNotYetKnownIsFollowed) {
  // Goal: a member that missed the change adding node 99 still follows 99 once it leads,
  // as its log is the only way to learn that change.
  Message message = append();
  message.from = n(99);
  message.term = t(5);
  ASSERT_TRUE(cluster.raft(2).step(message).is_ok());
  EXPECT_EQ(cluster.raft(2).leader(), n(99));
  EXPECT_EQ(cluster.raft(2).term(), t(5));
}

TEST_F(RaftValidate, Step_WrongRecipientRefused) {
  Message message = append();
  message.to = n(3);
  expect_refused(message);
}

TEST_F(RaftValidate, Step_NonContiguousEntriesRefused) {
  Message message = append();
  message.entries = {Entry{t(1), i(2), EntryType::Normal, "a"},
                     Entry{t(1), i(4), EntryType::Normal, "b"}};
  expect_refused(message);
}

TEST_F(RaftValidate, Step_EntryTermAboveMessageTermRefused) {
  Message message = append();
  message.entries = {Entry{t(9), i(2), EntryType::Normal, "a"}};
  expect_refused(message);
}

TEST_F(RaftValidate, Step_AbsurdIndexRefused) {
  Message message = append();
  message.index = Index{UINT64_MAX - 1};
  expect_refused(message);
}

TEST_F(RaftValidate, Step_AbsurdTermRefused) {
  // Regression (sim hostile_absurd_values): a term near 2^64 would leave no room for term+1.
  Message message{.type = MessageType::Heartbeat, .from = n(1), .to = n(2),
                  .term = Term{UINT64_MAX}};
  expect_refused(message);
}

TEST_F(RaftValidate, Step_UnknownTypeRefused) {
  Message message = append();
  message.type = static_cast<MessageType>(200);
  expect_refused(message);
}

TEST_F(RaftValidate, Step_SnapshotWithoutVotersRefused) {
  Message message{.type = MessageType::InstallSnapshot, .from = n(1), .to = n(2), .term = t(1)};
  message.snapshot = Snapshot{SnapshotMeta{i(5), t(1), ConfState{}}, "x"};
  expect_refused(message);
}

// A message of an older term is stale (Raft §5.1; etcd TestRejectStaleTermMessage): node 2, at
// term 2, neither appends the entry of term-1 leader node 1 nor takes it for its leader, and
// answers only with its own term, which deposes node 1.
// Catches: a core that handles messages of a lower term (no stale-term check in step()).
TEST_F(RaftValidate, Step_StaleTermIgnoredWithoutHarm) {
  // Node 2 moves to term 2 by granting node 3 a vote in a leadership transfer.
  ASSERT_TRUE(cluster.raft(2)
                  .step(Message{.type = MessageType::Vote, .from = n(3), .to = n(2), .term = t(2),
                                .log_term = t(1), .index = i(1), .leadership_transfer = true})
                  .is_ok());
  cluster.take_messages();
  const RaftStatus before = cluster.raft(2).status();
  ASSERT_EQ(before.term, t(2));
  ASSERT_EQ(before.leader, kNoNode);
  Message stale = append();  // Node 1 still leads term 1.
  stale.entries = {Entry{t(1), i(2), EntryType::Normal, "stale"}};
  ASSERT_TRUE(cluster.raft(2).step(stale).is_ok());
  const RaftStatus after = cluster.raft(2).status();
  EXPECT_EQ(after.term, t(2));
  EXPECT_EQ(after.leader, kNoNode);
  EXPECT_EQ(after.last_index, before.last_index);
  EXPECT_EQ(after.commit_index, before.commit_index);
  const std::vector<Message> out = cluster.take_messages();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type, MessageType::AppendResponse);
  EXPECT_EQ(out[0].to, n(1));
  EXPECT_EQ(out[0].term, t(2));
  ASSERT_TRUE(cluster.raft(1).step(out[0]).is_ok());
  EXPECT_EQ(cluster.raft(1).role(), Role::Follower);
  EXPECT_EQ(cluster.raft(1).term(), t(2));
}

}  // namespace
}  // namespace raftkv::raft::testing
