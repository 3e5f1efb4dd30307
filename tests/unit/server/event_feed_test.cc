#include "server/event_feed.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace raftkv::server {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

// A feed on a clock the test moves by hand.
class EventFeedTest : public ::testing::Test {
 protected:
  EventFeed& feed(EventFeedOptions options = {}) {
    options.id = NodeId{1};
    options.steady_ms = [this] { return now_ms_; };
    options.wall_ms = [this] { return 1'000'000 + now_ms_; };
    feed_ = std::make_unique<EventFeed>(std::move(options));
    return *feed_;
  }

  // Every event published since the last call, parsed.
  std::vector<json> drain() {
    EventFeed::Batch batch = feed_->wait_events(next_seq_, milliseconds(0), 100'000);
    next_seq_ = batch.next_seq;
    std::vector<json> out;
    for (const std::string& text : batch.events) out.push_back(json::parse(text));
    return out;
  }

  static std::vector<json> of_kind(const std::vector<json>& events, const std::string& kind) {
    std::vector<json> out;
    for (const json& event : events) {
      if (event["kind"] == kind) out.push_back(event);
    }
    return out;
  }

  static raft::Message message(raft::MessageType type, uint64_t to) {
    raft::Message out;
    out.type = type;
    out.from = NodeId{1};
    out.to = NodeId{to};
    out.term = Term{3};
    return out;
  }

  void tick(uint64_t ms) {
    now_ms_ += ms;
    feed_->on_status(raft::RaftStatus{});
  }

  uint64_t now_ms_ = 5'000;
  uint64_t next_seq_ = 1;
  std::unique_ptr<EventFeed> feed_;
};

TEST_F(EventFeedTest, MessagesPerLinkAreThinnedToTheBudgetAndTheRestCounted) {
  EventFeed& f = feed({.message_events_per_second = 20, .message_burst = 6});
  for (int i = 0; i < 100; ++i) f.on_send(message(raft::MessageType::Heartbeat, 2));
  for (int i = 0; i < 3; ++i) f.on_send(message(raft::MessageType::Heartbeat, 3));
  std::vector<json> events = drain();
  std::vector<json> messages = of_kind(events, "msg");
  ASSERT_EQ(messages.size(), 6u + 3u);  // The burst to node 2; node 3 has its own budget.
  EXPECT_EQ(messages[0]["type"], "Heartbeat");
  EXPECT_EQ(messages[0]["to"], 2);
  // Half a second refills 10 tokens at 20/s, capped at the burst of 6.
  now_ms_ += 500;
  for (int i = 0; i < 100; ++i) f.on_send(message(raft::MessageType::Heartbeat, 2));
  EXPECT_EQ(of_kind(drain(), "msg").size(), 6u);
  tick(1000);
  std::vector<json> stats = of_kind(drain(), "stats");
  ASSERT_EQ(stats.size(), 1u);
  const json& sent = stats[0]["sent"];
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0]["to"], 2);
  EXPECT_EQ(sent[0]["count"], 200);
  EXPECT_EQ(sent[0]["drawn"], 12);
  EXPECT_EQ(sent[1]["to"], 3);
  EXPECT_EQ(sent[1]["count"], 3);
  EXPECT_EQ(sent[1]["drawn"], 3);
}

TEST_F(EventFeedTest, VotesHaveTheirOwnBudgetSoHeartbeatsCannotHideAnElection) {
  EventFeed& f = feed({.message_burst = 2});
  for (int i = 0; i < 10; ++i) f.on_send(message(raft::MessageType::Append, 2));
  raft::Message vote = message(raft::MessageType::VoteResponse, 2);
  vote.reject = true;
  f.on_send(vote);
  std::vector<json> messages = of_kind(drain(), "msg");
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_EQ(messages[2]["type"], "VoteResponse");
  EXPECT_EQ(messages[2]["reject"], true);
}

TEST_F(EventFeedTest, AppendsAndProgressAreCoalescedUntilTheInterval) {
  EventFeed& f = feed({.progress_interval_ms = 50});
  f.on_append(Index{1}, Index{3}, Term{1});
  f.on_append(Index{4}, Index{5}, Term{1});
  f.on_commit(Index{4});
  f.on_applied(Index{3});
  f.on_commit(Index{5});
  tick(10);
  EXPECT_TRUE(of_kind(drain(), "append").empty());  // Not yet: 10 ms of 50.
  tick(40);
  std::vector<json> events = drain();
  std::vector<json> appends = of_kind(events, "append");
  ASSERT_EQ(appends.size(), 1u);
  EXPECT_EQ(appends[0]["runs"], json::parse("[[1,5,1]]"));
  std::vector<json> progress = of_kind(events, "progress");
  ASSERT_EQ(progress.size(), 1u);
  EXPECT_EQ(progress[0]["commit"], 5);
  EXPECT_EQ(progress[0]["applied"], 3);
}

TEST_F(EventFeedTest, AReplacedSuffixCutsThePendingRuns) {
  EventFeed& f = feed({.progress_interval_ms = 50});
  f.on_append(Index{1}, Index{5}, Term{1});
  f.on_append(Index{4}, Index{6}, Term{2});  // A new leader overwrote entries 4 and 5.
  tick(50);
  std::vector<json> appends = of_kind(drain(), "append");
  ASSERT_EQ(appends.size(), 1u);
  EXPECT_EQ(appends[0]["runs"], json::parse("[[1,3,1],[4,6,2]]"));
  auto [hello, seq] = f.hello();
  EXPECT_EQ(json::parse(hello)["log"],
            json::parse("[[1,1],[2,1],[3,1],[4,2],[5,2],[6,2]]"));
}

TEST_F(EventFeedTest, StatusCarriesTheElectionTimer) {
  EventFeed& f = feed({.status_interval_ms = 100});
  raft::RaftStatus status;
  status.role = raft::Role::Candidate;
  status.term = Term{7};
  status.voted_for = NodeId{1};
  status.election_elapsed_ticks = 42;
  status.randomized_election_ticks = 150;
  now_ms_ += 100;
  f.on_status(status);
  std::vector<json> statuses = of_kind(drain(), "status");
  ASSERT_EQ(statuses.size(), 1u);
  EXPECT_EQ(statuses[0]["role"], "candidate");
  EXPECT_EQ(statuses[0]["term"], 7);
  EXPECT_EQ(statuses[0]["vote"], 1);
  EXPECT_EQ(statuses[0]["elapsed"], 42);
  EXPECT_EQ(statuses[0]["timeout"], 150);
  EXPECT_EQ(statuses[0]["node"], 1);
  EXPECT_EQ(statuses[0]["t"], 1'005'100);
  EXPECT_EQ(json::parse(f.hello().first)["status"]["term"], 7);
}

TEST_F(EventFeedTest, CommitLatencyRunsFromTheFirstSendToTheCommit) {
  EventFeed& f = feed();
  f.on_role_change(raft::Role::Leader, Term{2}, NodeId{1});
  raft::Message append = message(raft::MessageType::Append, 2);
  append.entries = {raft::Entry{Term{2}, Index{1}}, raft::Entry{Term{2}, Index{2}}};
  f.on_send(append);
  now_ms_ += 5;
  f.on_send(append);  // Sent again to another follower: the clock already runs.
  now_ms_ += 25;
  f.on_commit(Index{2});
  append.entries = {raft::Entry{Term{2}, Index{3}}};
  f.on_send(append);
  now_ms_ += 10;
  f.on_commit(Index{3});
  tick(1000);
  std::vector<json> stats = of_kind(drain(), "stats");
  ASSERT_EQ(stats.size(), 1u);
  EXPECT_EQ(stats[0]["commit_latency_ms"]["count"], 2);
  EXPECT_EQ(stats[0]["commit_latency_ms"]["max"], 30);
  EXPECT_DOUBLE_EQ(stats[0]["commit_latency_ms"]["avg"].get<double>(), 20.0);
}

TEST_F(EventFeedTest, ASlowReaderSkipsTheOldestAndIsToldHowMany) {
  EventFeed& f = feed({.events_max = 4});
  for (int term = 1; term <= 10; ++term) {
    f.on_role_change(raft::Role::Follower, Term{static_cast<uint64_t>(term)}, kNoNode);
  }
  EventFeed::Batch batch = f.wait_events(1, milliseconds(0));
  EXPECT_EQ(batch.skipped, 6u);
  ASSERT_EQ(batch.events.size(), 4u);
  EXPECT_EQ(json::parse(batch.events[0])["term"], 7);
  EXPECT_EQ(batch.next_seq, 11u);
  // The hello remembers the role history for a reader that connects later.
  EXPECT_EQ(json::parse(f.hello().first)["history"].size(), 10u);
}

TEST_F(EventFeedTest, WaitTimesOutEmptyAndCloseEndsEveryWait) {
  EventFeed& f = feed();
  EventFeed::Batch idle = f.wait_events(1, milliseconds(1));
  EXPECT_TRUE(idle.events.empty());
  EXPECT_FALSE(idle.closed);
  EXPECT_EQ(idle.next_seq, 1u);
  f.close();
  EXPECT_TRUE(f.wait_events(1, milliseconds(60'000)).closed);
}

TEST_F(EventFeedTest, HelloNamesTheMembersHttpAddresses) {
  EventFeed& f = feed({.tick_ms = 10,
                       .election_ms = 500,
                       .http_addrs = {{NodeId{1}, "127.0.0.1:8081"}, {NodeId{2}, "h:8082"}}});
  const json hello = json::parse(f.hello().first);
  EXPECT_EQ(hello["kind"], "hello");
  EXPECT_EQ(hello["http"], json::parse(R"({"1":"127.0.0.1:8081","2":"h:8082"})"));
  EXPECT_EQ(hello["election_ms"], 500);
  EXPECT_EQ(hello["seq"], 1);
}

TEST_F(EventFeedTest, MembershipChangesAreEventsAndTheStatusCarriesTheMembers) {
  EventFeed& f = feed({.status_interval_ms = 100});
  raft::Entry change{Term{2}, Index{9}};
  change.type = raft::EntryType::ConfChange;
  change.data = raft::encode_conf_change({raft::ConfChangeType::AddLearner, NodeId{4}, "ctx"});
  f.on_apply(change);
  raft::Entry normal{Term{2}, Index{10}};
  f.on_apply(normal);  // Not a membership change: no event.
  raft::RaftStatus status;
  status.conf_state.voters = {NodeId{1}, NodeId{2}, NodeId{3}};
  status.conf_state.learners = {NodeId{4}};
  status.conf_change_pending = true;
  now_ms_ += 100;
  f.on_status(status);
  const std::vector<json> events = drain();
  const std::vector<json> changes = of_kind(events, "membership");
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0]["index"], 9);
  EXPECT_EQ(changes[0]["change"], "add-learner");
  EXPECT_EQ(changes[0]["member"], 4);
  const std::vector<json> statuses = of_kind(events, "status");
  ASSERT_EQ(statuses.size(), 1u);
  EXPECT_EQ(statuses[0]["voters"], json::parse("[1,2,3]"));
  EXPECT_EQ(statuses[0]["learners"], json::parse("[4]"));
  EXPECT_EQ(statuses[0]["conf_change_pending"], true);
  // A reader who comes later still sees the change, in the hello's history.
  const json history = json::parse(f.hello().first)["history"];
  ASSERT_EQ(history.size(), 1u);
  EXPECT_EQ(history[0]["kind"], "membership");
}

TEST_F(EventFeedTest, OnDurable_ReportsOneAppendPerRunOfATerm) {
  feed();
  raft::Ready ready;
  ready.entries = {{Term{1}, Index{4}}, {Term{1}, Index{5}}, {Term{3}, Index{6}},
                   {Term{4}, Index{7}}};
  feed_->on_durable(ready);
  tick(1000);  // Past the progress interval: the runs go out.
  const std::vector<json> appends = of_kind(drain(), "append");
  ASSERT_EQ(appends.size(), 1u);
  EXPECT_EQ(appends[0]["runs"], json::parse("[[4,5,1],[6,6,3],[7,7,4]]"));
}

}  // namespace
}  // namespace raftkv::server
