#include <algorithm>
#include <cstdint>
#include <deque>
#include <iostream>
#include <set>
#include <vector>

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

// A leader whose sync is slow keeps its followers from campaigning: the heartbeats its ticks
// produce while a Ready is outstanding may leave before that Ready is persisted; a vote
// response may not, and stays for the next Ready.
TEST(RaftReplication, HeartbeatsLeaveWhileAReadyIsOutstanding) {
  Cluster cluster(3);
  cluster.elect(1);
  Raft& leader = cluster.raft(1);
  ASSERT_TRUE(leader.propose("x").is_ok());
  Ready outstanding = leader.ready();  // Its sync has not finished.
  // A stale candidate of an older term asks for a vote: the answer waits for persistence.
  Message stale_vote{.type = MessageType::Vote, .from = n(3), .to = n(1), .term = t(1),
                     .log_term = t(0), .index = i(0)};
  ASSERT_TRUE(leader.step(stale_vote).is_ok());
  for (uint32_t tick = 0; tick < Config{}.heartbeat_ticks; ++tick) leader.tick();
  const std::vector<Message> early = leader.take_messages_before_persist();
  std::set<NodeId> heartbeat_to;
  for (const Message& message : early) {
    EXPECT_TRUE(may_send_before_persist(message));
    if (message.type == MessageType::Heartbeat) heartbeat_to.insert(message.to);
  }
  EXPECT_EQ(heartbeat_to, (std::set<NodeId>{n(2), n(3)}));
  EXPECT_TRUE(leader.take_messages_before_persist().empty());  // Taken once.
  ASSERT_TRUE(cluster.node(1).storage.append(outstanding.entries).is_ok());
  leader.advance(outstanding);
  const Ready next = leader.ready();
  size_t vote_answers = 0;
  for (const Message& message : next.messages) {
    EXPECT_NE(message.type, MessageType::Heartbeat);  // Not sent twice.
    if (message.type == MessageType::VoteResponse) ++vote_answers;
  }
  EXPECT_EQ(vote_answers, 1u);
}

// While a Ready's sync is slow, the leader replicates what was proposed since (it would
// otherwise batch into the next Ready), commits it on its followers' copies alone, and
// confirms the reads asked meanwhile: its slow disk holds up neither.
TEST(RaftReplication, ReplicateWhilePersisting_SendsNewEntriesAndConfirmsReads) {
  Cluster cluster(3);
  cluster.elect(1);
  Raft& leader = cluster.raft(1);
  ASSERT_TRUE(leader.propose("x").is_ok());
  const Ready outstanding = leader.ready();  // Index 2; its sync has not finished.
  ASSERT_TRUE(leader.propose("y").is_ok());  // Index 3.
  ASSERT_TRUE(leader.read_index(7).is_ok());
  for (const Message& message : leader.take_messages_before_persist()) {
    EXPECT_NE(message.type, MessageType::Append);  // Batched for the next Ready.
  }
  EXPECT_TRUE(leader.replicate_while_persisting().empty());  // Not confirmed yet.
  std::set<NodeId> sent_y_to;
  uint64_t read_round = 0;
  for (const Message& message : leader.take_messages_before_persist()) {
    if (message.type == MessageType::Append && !message.entries.empty() &&
        message.entries.back().index == i(3) && message.entries.back().data == "y") {
      sent_y_to.insert(message.to);
    }
    if (message.type == MessageType::Heartbeat) read_round = message.read_round;
  }
  EXPECT_EQ(sent_y_to, (std::set<NodeId>{n(2), n(3)}));
  ASSERT_GT(read_round, 0u);
  for (uint64_t follower : {2u, 3u}) {
    Message ack{.type = MessageType::AppendResponse, .from = n(follower), .to = n(1),
                .term = t(1), .index = i(3)};
    ASSERT_TRUE(leader.step(ack).is_ok());
  }
  EXPECT_EQ(leader.log().committed(), i(3));  // Without the leader's own copy.
  Message confirm{.type = MessageType::HeartbeatResponse, .from = n(2), .to = n(1),
                  .term = t(1), .commit = i(1), .read_round = read_round};
  ASSERT_TRUE(leader.step(confirm).is_ok());
  const std::vector<ReadState> reads = leader.replicate_while_persisting();
  ASSERT_EQ(reads.size(), 1u);
  EXPECT_EQ(reads[0].request_id, 7u);
  ASSERT_TRUE(cluster.node(1).storage.append(outstanding.entries).is_ok());
  leader.advance(outstanding);
  EXPECT_TRUE(leader.ready().read_states.empty());  // Handed out once.
}

// Raft paper Figure 8 (§5.4.2), built for real on five nodes through elections, crashes,
// restarts and lost messages. Each new leader's no-op is the entry the figure draws for its
// term: S1's term-2 entry and S5's term-3 entry at index 2, S1's term-4 entry at index 3.
// Appends carry one entry each, so that a follower can receive index 2 without index 3.
class RaftFigureEight : public ::testing::Test {
 protected:
  static Config one_entry_per_append() {
    Config config;
    config.message_bytes_max = 1;
    return config;
  }

  // As the figure starts: index 1 (term 1) on every server, committed.
  Cluster cluster{5, one_entry_per_append(),
                  on_every_node(5, Stored{entries_with_terms(1, {1}),
                                          HardState{t(1), kNoNode, i(1)}})};

  std::vector<uint64_t> terms(uint64_t id) { return log_terms(cluster.raft(id)); }

  Index match_index(uint64_t leader, uint64_t peer) {
    for (const PeerStatus& status : cluster.raft(leader).status().peers) {
      if (status.id == n(peer)) return status.match_index;
    }
    ADD_FAILURE() << "node " << leader << " has no progress for node " << peer;
    return Index{0};
  }

  // The network loses each Append that would put S1's term-4 entry into a follower's log. The
  // ones the follower refuses still arrive, so S1 learns where each log ends.
  bool lands_term_four_entry(const Message& message) {
    if (message.type != MessageType::Append || message.entries.empty()) return false;
    if (message.entries.back().term != t(4)) return false;
    return cluster.raft(message.to.value()).log().match_term(message.index, message.log_term);
  }

  void deliver_without_term_four_entry() {
    cluster.deliver_all_if([this](const Message& message) {
      return !lands_term_four_entry(message);
    });
  }

  // Figure 8 (a) to (c), each state checked on the way.
  void build_a_to_c() {
    // (a) S1 leads term 2; its entry at index 2 reaches S2 only.
    cluster.win_election(1);
    ASSERT_EQ(cluster.raft(1).term(), t(2));
    cluster.deliver_all_if([](const Message& message) {
      return (message.from == n(1) && message.to == n(2)) ||
             (message.from == n(2) && message.to == n(1));
    });
    ASSERT_EQ(terms(1), (std::vector<uint64_t>{1, 2}));
    ASSERT_EQ(terms(2), (std::vector<uint64_t>{1, 2}));
    for (uint64_t id = 3; id <= 5; ++id) ASSERT_EQ(terms(id), (std::vector<uint64_t>{1})) << id;
    // (b) S1 crashes; S5 wins term 3 with the votes of S3, S4 and its own, and takes a
    // different entry at index 2.
    cluster.crash(1);
    cluster.win_election(5);
    ASSERT_EQ(cluster.raft(5).term(), t(3));
    ASSERT_EQ(terms(5), (std::vector<uint64_t>{1, 3}));
    // (c) S5 crashes; S1 restarts and wins term 4 (with S2, S3 and S4; then S4 is cut off).
    // S1 replicates index 2 to S3 and, after a heartbeat shows it where S2 stands, learns that
    // S2 holds it too; its term-4 entry at index 3 reaches nobody.
    cluster.crash(5);
    cluster.restart(1);
    cluster.win_election(1);
    ASSERT_EQ(cluster.raft(1).term(), t(4));
    cluster.isolate(4);
    deliver_without_term_four_entry();
    cluster.raft(1).tick();
    deliver_without_term_four_entry();
    ASSERT_EQ(terms(1), (std::vector<uint64_t>{1, 2, 4}));
    ASSERT_EQ(terms(2), (std::vector<uint64_t>{1, 2}));
    ASSERT_EQ(terms(3), (std::vector<uint64_t>{1, 2}));
    ASSERT_EQ(terms(4), (std::vector<uint64_t>{1}));
    ASSERT_EQ(terms(5), (std::vector<uint64_t>{1, 3}));
  }
};

// Figure 8 (c): the term-2 entry is on S1, S2 and S3, a majority of five, and S1 knows it; yet
// counting replicas may commit only an entry of the current term.
// Catches: a leader that commits any entry a majority holds.
TEST_F(RaftFigureEight, MaybeCommit_PriorTermEntryOnMajorityNotCommitted) {
  build_a_to_c();
  ASSERT_EQ(match_index(1, 2), i(2));
  ASSERT_EQ(match_index(1, 3), i(2));
  EXPECT_EQ(cluster.raft(1).log().committed(), i(1));
  for (const Entry& entry : cluster.node(1).applied) EXPECT_LT(entry.index, i(2));
}

// Figure 8 (d): S1 crashes; S5 restarts and wins term 5 with the votes of S2, S3 and S4 (its last
// term, 3, is later than theirs), then replaces the term-2 entry everywhere. That is safe only
// because (c) did not commit it: every server applies S5's entry at index 2.
// Catches: a leader that commits any entry a majority holds.
TEST_F(RaftFigureEight, Election_UncommittedPriorTermEntryOverwritten) {
  build_a_to_c();
  cluster.crash(1);
  cluster.reconnect(4);
  cluster.restart(5);
  cluster.win_election(5);
  EXPECT_EQ(cluster.raft(5).term(), t(5));
  cluster.deliver_all();
  cluster.raft(5).tick();  // A heartbeat carries the commit index to the followers.
  cluster.deliver_all();
  for (uint64_t id = 2; id <= 5; ++id) {
    EXPECT_EQ(terms(id), (std::vector<uint64_t>{1, 3, 5})) << "node " << id;
    ASSERT_EQ(cluster.node(id).applied.size(), 3u) << "node " << id;
    EXPECT_EQ(cluster.node(id).applied[1].term, t(3)) << "node " << id;
  }
  for (const Entry& entry : cluster.node(1).applied) EXPECT_LT(entry.index, i(2));
}

// Figure 8 (e): S1 stays up and its term-4 entry reaches S2, then S3. Only when a majority holds
// that current-term entry does S1 commit, and with it the term-2 entry before it. S5 can then no
// longer win an election: S2 and S3 hold a later last term than it does.
// Catches: a leader that commits any entry a majority holds.
TEST_F(RaftFigureEight, MaybeCommit_PriorTermEntryCommitsWithCurrentTermEntry) {
  build_a_to_c();
  cluster.isolate(3);
  cluster.raft(1).tick();
  cluster.deliver_all();
  ASSERT_EQ(terms(2), (std::vector<uint64_t>{1, 2, 4}));
  ASSERT_EQ(match_index(1, 2), i(3));
  // Index 3 is on two servers, index 2 on three: still nothing to commit.
  EXPECT_EQ(cluster.raft(1).log().committed(), i(1));
  cluster.reconnect(3);
  cluster.raft(1).tick();
  cluster.deliver_all();
  ASSERT_EQ(terms(3), (std::vector<uint64_t>{1, 2, 4}));
  EXPECT_EQ(cluster.raft(1).log().committed(), i(3));
  const std::vector<Entry>& applied = cluster.node(1).applied;
  ASSERT_EQ(applied.size(), 3u);
  for (uint64_t k = 0; k < 3; ++k) EXPECT_EQ(applied[k].index, i(k + 1));
  EXPECT_EQ(applied[1].term, t(2));
  EXPECT_EQ(applied[2].term, t(4));

  cluster.crash(1);
  cluster.reconnect(4);
  cluster.restart(5);
  size_t pre_votes = 0;
  for (int tick = 0; tick < 100; ++tick) {
    cluster.raft(5).tick();
    cluster.deliver_all_if([&](const Message& message) {
      if (message.type == MessageType::PreVote) ++pre_votes;
      return true;
    });
    ASSERT_NE(cluster.raft(5).role(), Role::Leader) << "tick " << tick;
  }
  EXPECT_GT(pre_votes, 0u);  // S5 did campaign, and lost each time.
  EXPECT_EQ(terms(2), (std::vector<uint64_t>{1, 2, 4}));
  EXPECT_EQ(terms(3), (std::vector<uint64_t>{1, 2, 4}));
}

// Node 1 holds 50 uncommitted entries of term 1 where the cluster committed 50 of term 2. A new
// leader's first Append to it names its own last entry, 50 entries past where node 1's log still
// agrees: the follower's hint skips the whole term-1 run, and every refused Append counts, in
// every delivery round. (Before, the repair started from node 1's commit index, learned from a
// heartbeat answer, so no Append was ever refused.)
// Catches: a leader that ignores the term in the follower's hint (one refusal per entry).
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
  const auto count_rejections = [&](const Message& message) {
    if (message.type == MessageType::AppendResponse && message.reject) ++rejections;
    return true;
  };
  const uint64_t next_leader = leader == 2 ? 3 : 2;
  ASSERT_TRUE(cluster.raft(leader).transfer_leadership(n(next_leader)).is_ok());
  cluster.deliver_all_if(count_rejections);
  ASSERT_EQ(cluster.raft(next_leader).role(), Role::Leader);
  for (int tick = 0; tick < 3; ++tick) {
    cluster.raft(next_leader).tick();
    cluster.deliver_all_if(count_rejections);
  }
  std::cout << "refused Appends: " << rejections << "\n";
  EXPECT_GE(rejections, 1u);  // The repair did go through a refusal.
  EXPECT_LE(rejections, 3u);
  EXPECT_EQ(log_terms(cluster.raft(1)), log_terms(cluster.raft(next_leader)));
  EXPECT_EQ(cluster.raft(1).log().last_term(), t(3));
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

// A follower far behind is sent at most appends_per_ack_max messages per acknowledgement, not
// the whole window in one step (issue 15), and still receives the whole log.
TEST(RaftReplication, Pipelining_AnAckSendsAtMostAppendsPerAckMax) {
  Config config;
  config.message_bytes_max = 100;  // One entry per message.
  config.appends_per_ack_max = 3;
  Cluster cluster(3, config);
  cluster.isolate(2);
  cluster.elect(1);
  for (int k = 0; k < 30; ++k) ASSERT_TRUE(cluster.raft(1).propose(std::string(100, 'x')).is_ok());
  cluster.deliver_all();  // Node 3 has everything, node 2 nothing.
  cluster.reconnect(2);
  cluster.raft(1).tick();  // A heartbeat: node 2's answer starts the probe.
  std::deque<Message> queue;
  for (Message& message : cluster.take_messages()) queue.push_back(std::move(message));
  size_t appends_per_ack_most = 0;
  for (size_t steps = 0; !queue.empty() && steps < 1000; ++steps) {
    const Message message = std::move(queue.front());
    queue.pop_front();
    ASSERT_TRUE(cluster.raft(message.to.value()).step(message).is_ok());
    size_t appends_to_2 = 0;
    for (Message& sent : cluster.take_messages()) {
      if (sent.type == MessageType::Append && sent.to == n(2)) ++appends_to_2;
      queue.push_back(std::move(sent));
    }
    if (message.type == MessageType::AppendResponse && message.from == n(2)) {
      appends_per_ack_most = std::max(appends_per_ack_most, appends_to_2);
    }
  }
  // Per step: appends_per_ack_max for the acknowledgement, plus the one Append per follower
  // that each Ready's broadcast may send. Without the bound the first one sent all 30.
  EXPECT_EQ(appends_per_ack_most, 3u + 1u);
  EXPECT_EQ(cluster.raft(2).log().last_index(), cluster.raft(1).log().last_index());
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
