#include <gtest/gtest.h>

#include "raft_fixture.h"

namespace raftkv::raft::testing {
namespace {

// Snapshots node `id` at its applied index and drops the log before it.
void snapshot_and_compact(Cluster& cluster, uint64_t id) {
  TestNode& node = cluster.node(id);
  const Index applied = node.raft.log().applied();
  ASSERT_TRUE(node.storage.create_snapshot(applied, node.raft.status().conf_state, "state")
                  .is_ok());
  ASSERT_TRUE(node.storage.compact(applied).is_ok());
}

// Leader 1 commits `entries` while node 3 is away, then compacts them: node 3 can only catch up
// by a snapshot (at index entries + 1, after the no-op). Node 3 stays isolated.
void leave_node_3_behind_a_snapshot(Cluster& cluster, int entries) {
  cluster.elect(1);
  cluster.isolate(3);
  for (int k = 0; k < entries; ++k) ASSERT_TRUE(cluster.raft(1).propose("x").is_ok());
  cluster.deliver_all();
  cluster.raft(1).report_unreachable(n(3));  // As the transport would on a lost connection.
  snapshot_and_compact(cluster, 1);
}

// One tick of leader 1, then every message delivered until the cluster is quiet, except those
// for which `lose(message)` is true: they are dropped, as a network or a crash would.
template <typename Lose>
void tick_leader_and_deliver(Cluster& cluster, Lose lose) {
  cluster.raft(1).tick();
  for (int round = 0; round < 20; ++round) {
    std::vector<Message> batch = cluster.take_messages();
    if (batch.empty()) return;
    for (const Message& message : batch) {
      if (lose(message)) continue;
      ASSERT_TRUE(cluster.raft(message.to.value()).step(message).is_ok());
    }
  }
}

TEST(RaftSnapshot, LaggingFollower_CatchesUpByInstallSnapshot) {
  Cluster cluster(3);
  leave_node_3_behind_a_snapshot(cluster, 10);
  cluster.heal();
  for (int tick = 0; tick < 5; ++tick) {
    cluster.raft(1).tick();
    cluster.deliver_all();
  }
  EXPECT_EQ(cluster.node(3).storage.snapshot().value().meta.index, Index{11});
  EXPECT_EQ(cluster.raft(3).log().last_index(), Index{11});
  EXPECT_EQ(cluster.raft(3).log().applied(), Index{11});
  for (const PeerStatus& peer : cluster.raft(1).status().peers) {
    EXPECT_EQ(peer.state, ProgressState::Replicate) << "node " << peer.id;
    EXPECT_EQ(peer.match_index, Index{11});
  }
}

TEST(RaftSnapshot, LostSnapshotAck_RecoveredByHeartbeatResponse) {
  // Regression (sim unreliable_churn seed 93): the follower installed the snapshot but its
  // acknowledgement was lost; the leader must not wait in Snapshot state forever.
  Cluster cluster(3);
  leave_node_3_behind_a_snapshot(cluster, 10);
  cluster.heal();
  bool dropped_ack = false;
  for (int tick = 0; tick < 10; ++tick) {
    tick_leader_and_deliver(cluster, [&](const Message& message) {
      const bool snapshot_ack = message.from == n(3) &&
                                message.type == MessageType::AppendResponse && !dropped_ack;
      if (snapshot_ack) dropped_ack = true;
      return snapshot_ack;
    });
  }
  ASSERT_TRUE(dropped_ack);
  for (const PeerStatus& peer : cluster.raft(1).status().peers) {
    EXPECT_EQ(peer.state, ProgressState::Replicate) << "node " << peer.id;
    EXPECT_EQ(peer.match_index, Index{11}) << "node " << peer.id;
  }
}

TEST(RaftSnapshot, SnapshotLostWithoutReport_ResentAfterStall) {
  // Regression (sim crash_restart seed 1153): the follower received the snapshot but crashed
  // before persisting it, so no transport reported a failure.
  Cluster cluster(3);
  leave_node_3_behind_a_snapshot(cluster, 10);
  cluster.heal();
  int snapshots_sent = 0;
  for (int tick = 0; tick < 40; ++tick) {
    tick_leader_and_deliver(cluster, [&](const Message& message) {
      return message.type == MessageType::InstallSnapshot && ++snapshots_sent == 1;
    });
  }
  EXPECT_EQ(snapshots_sent, 2);
  EXPECT_EQ(cluster.raft(3).log().applied(), Index{11});
}

TEST(RaftSnapshot, SnapshotStreamMakingProgress_NotResentUntilItStalls) {
  Cluster cluster(3);
  leave_node_3_behind_a_snapshot(cluster, 10);
  cluster.heal();
  int snapshots_sent = 0;
  // The driver streams the snapshot outside the core (so the message is never delivered
  // here) and reports progress every tick for 3 election timeouts, then stops reporting.
  for (int tick = 0; tick < 60; ++tick) {
    if (tick < 30) cluster.raft(1).report_snapshot_progress(n(3));
    tick_leader_and_deliver(cluster, [&](const Message& message) {
      if (message.type != MessageType::InstallSnapshot) return false;
      ++snapshots_sent;
      EXPECT_TRUE(tick >= 30 || snapshots_sent == 1) << "resent at tick " << tick;
      return true;
    });
  }
  EXPECT_GE(snapshots_sent, 2);  // Once the reports stopped, the stall timeout probed again.
}

TEST(RaftSnapshot, ReportSnapshotFailed_ReturnsPeerToProbe) {
  Cluster cluster(3);
  leave_node_3_behind_a_snapshot(cluster, 3);
  // Node 3 stays away but looks recently active, so the leader sends it the snapshot.
  ASSERT_TRUE(cluster.raft(1)
                  .step(Message{.type = MessageType::HeartbeatResponse, .from = n(3),
                                .to = n(1), .term = t(1)})
                  .is_ok());
  cluster.take_messages();
  bool in_snapshot = false;
  for (const PeerStatus& peer : cluster.raft(1).status().peers) {
    if (peer.id == n(3)) in_snapshot = peer.state == ProgressState::Snapshot;
  }
  ASSERT_TRUE(in_snapshot);
  cluster.raft(1).report_snapshot_failed(n(3));
  for (const PeerStatus& peer : cluster.raft(1).status().peers) {
    if (peer.id == n(3)) {
      EXPECT_EQ(peer.state, ProgressState::Probe);
    }
  }
}

TEST(RaftMembership, AddLearner_ReplicatesButDoesNotVote) {
  Config config;
  Cluster cluster(3, config);
  cluster.elect(1);
  Result<Proposal> change =
      cluster.raft(1).propose_conf_change(ConfChange{ConfChangeType::AddLearner, n(3)});
  ASSERT_TRUE(change.is_ok());
  cluster.deliver_all();
  const ConfState state =
      cluster.raft(1).apply_conf_change(ConfChange{ConfChangeType::AddLearner, n(3)});
  EXPECT_EQ(state.voters, (std::vector<NodeId>{n(1), n(2)}));
  EXPECT_EQ(state.learners, (std::vector<NodeId>{n(3)}));
  // With node 2 gone, the two-voter cluster cannot commit even though the learner acks.
  cluster.isolate(2);
  ASSERT_TRUE(cluster.raft(1).propose("x").is_ok());
  cluster.deliver_all();
  EXPECT_LT(cluster.raft(1).log().committed(), cluster.raft(1).log().last_index());
}

TEST(RaftMembership, ProposeConfChange_OneAtATime) {
  Cluster cluster(3);
  cluster.elect(1);
  ASSERT_TRUE(
      cluster.raft(1).propose_conf_change(ConfChange{ConfChangeType::RemoveNode, n(3)}).is_ok());
  Result<Proposal> second =
      cluster.raft(1).propose_conf_change(ConfChange{ConfChangeType::RemoveNode, n(2)});
  ASSERT_FALSE(second.is_ok());
  EXPECT_EQ(second.status().code(), ErrorCode::Busy);
}

TEST(RaftMembership, RemoveLeader_StepsDown) {
  Cluster cluster(3);
  cluster.elect(1);
  cluster.raft(1).apply_conf_change(ConfChange{ConfChangeType::RemoveNode, n(1)});
  EXPECT_EQ(cluster.raft(1).role(), Role::Follower);
}

TEST(RaftMembership, NewLeader_RefusesConfChangeUntilItsFirstEntryApplies) {
  // Goal: the single-server pitfall; a new leader changes the membership only after an entry
  // of its own term is committed and applied.
  Cluster cluster(3);
  cluster.win_election(1);
  ASSERT_EQ(cluster.raft(1).role(), Role::Leader);
  const Index no_op = cluster.raft(1).log().last_index();
  ASSERT_LT(cluster.raft(1).log().applied(), no_op);
  Result<Proposal> early =
      cluster.raft(1).propose_conf_change(ConfChange{ConfChangeType::AddLearner, n(4), "x"});
  ASSERT_FALSE(early.is_ok());
  EXPECT_EQ(early.status().code(), ErrorCode::Busy);
  EXPECT_TRUE(cluster.raft(1).status().conf_change_pending);
  cluster.deliver_all();
  ASSERT_GE(cluster.raft(1).log().applied(), no_op);
  EXPECT_FALSE(cluster.raft(1).status().conf_change_pending);
  EXPECT_TRUE(
      cluster.raft(1).propose_conf_change(ConfChange{ConfChangeType::AddLearner, n(4), "x"})
          .is_ok());
}

TEST(RaftMembership, RemovedPeer_LearnsItsRemovalFromTheLastHeartbeat) {
  // Goal: a removed follower is told the commit index that covers its removal, so it can
  // apply it, even though the leader stops replicating to it at that moment.
  Cluster cluster(3);
  cluster.elect(1);
  const ConfChange removal{ConfChangeType::RemoveNode, n(3), ""};
  Result<Proposal> change = cluster.raft(1).propose_conf_change(removal);
  ASSERT_TRUE(change.is_ok());
  // The removal reaches every log and commits on the leader; node 3 has not heard it commit.
  cluster.deliver_all_if([](const Message& m) { return m.type != MessageType::Heartbeat; });
  ASSERT_GE(cluster.raft(1).log().committed(), change.value().index);
  ASSERT_LT(cluster.raft(3).log().committed(), change.value().index);
  cluster.raft(1).apply_conf_change(removal);
  // Node 3's answer goes to a leader that no longer counts it, which refuses it.
  cluster.deliver_all_if([](const Message& m) { return m.from != n(3); });
  EXPECT_EQ(cluster.raft(3).log().committed(), change.value().index);
  EXPECT_EQ(cluster.raft(1).status().conf_state.voters, (std::vector<NodeId>{n(1), n(2)}));
}

TEST(RaftMembership, RemovedLeader_TellsTheOthersAndTheyElectWithoutIt) {
  // Goal: a leader that removed itself steps down, and the remaining voters learn that the
  // removal committed (else, counting the old leader's vote, two of them could not elect).
  Cluster cluster(3);
  cluster.elect(1);
  const ConfChange removal{ConfChangeType::RemoveNode, n(1), ""};
  Result<Proposal> change = cluster.raft(1).propose_conf_change(removal);
  ASSERT_TRUE(change.is_ok());
  cluster.deliver_all_if([](const Message& m) { return m.type != MessageType::Heartbeat; });
  ASSERT_GE(cluster.raft(1).log().committed(), change.value().index);
  ASSERT_LT(cluster.raft(2).log().committed(), change.value().index);
  cluster.raft(1).apply_conf_change(removal);
  EXPECT_EQ(cluster.raft(1).role(), Role::Follower);
  cluster.deliver_all();
  ASSERT_EQ(cluster.raft(2).log().committed(), change.value().index);
  ASSERT_EQ(cluster.raft(3).log().committed(), change.value().index);
  cluster.raft(2).apply_conf_change(removal);
  cluster.raft(3).apply_conf_change(removal);
  cluster.isolate(1);
  const uint64_t leader = cluster.tick_until_leader();
  EXPECT_TRUE(leader == 2 || leader == 3) << "leader " << leader;
}

TEST(RaftMembership, ConfChangeEncoding_RoundTripsAndRejectsGarbage) {
  const ConfChange change{ConfChangeType::AddVoter, n(77), "peer=127.0.0.1:7004"};
  ConfChange decoded;
  ASSERT_TRUE(decode_conf_change(encode_conf_change(change), &decoded));
  EXPECT_EQ(decoded, change);
  // Entries written before contexts existed: the 9-byte head alone.
  ASSERT_TRUE(decode_conf_change(encode_conf_change(change).substr(0, 9), &decoded));
  EXPECT_EQ(decoded.node, n(77));
  EXPECT_EQ(decoded.context, "");
  EXPECT_FALSE(decode_conf_change("short", &decoded));
  std::string bad = encode_conf_change(change);
  bad[0] = 9;
  EXPECT_FALSE(decode_conf_change(bad, &decoded));
}

}  // namespace
}  // namespace raftkv::raft::testing
