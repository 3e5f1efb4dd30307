#include "client/client.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "fake_transport.h"

namespace raftkv::client {
namespace {

using testing::FakeClock;
using testing::FakeCluster;
using testing::FakeTransport;
using testing::Sent;
using testing::Step;

const Endpoint kNode1{"127.0.0.1", 6381};
const Endpoint kNode2{"127.0.0.1", 6382};
const Endpoint kNode3{"127.0.0.1", 6383};

const char* const kAmbiguous = "UNCERTAIN timed out; the write may or may not have been applied";
const char* const kNotApplied =
    "TRYAGAIN leadership changed before the write committed; it was not applied";

// A client over a fake three-node cluster whose leader is node 1.
struct Harness {
  explicit Harness(Semantics semantics) : cluster(std::make_shared<FakeCluster>()) {
    cluster->leader = kNode1.to_string();
    ClientOptions options;
    options.endpoints = {kNode1, kNode2, kNode3};
    options.semantics = semantics;
    options.jitter_seed = 42;
    auto fake_clock = std::make_unique<FakeClock>();
    clock = fake_clock.get();
    client = std::make_unique<Client>(options, std::make_unique<FakeTransport>(cluster),
                                      std::move(fake_clock));
  }
  std::shared_ptr<FakeCluster> cluster;
  FakeClock* clock = nullptr;
  std::unique_ptr<Client> client;
};

TEST(ClientAtMostOnce, Call_LostAfterSend_IsUnknownAndNeverResent) {
  Harness harness(Semantics::AtMostOnce);
  harness.cluster->script = {Step::lost(), Step::replied(Reply::status("OK"))};
  const Outcome outcome = harness.client->call({"SET", "k", "v"});
  EXPECT_EQ(outcome.kind, OutcomeKind::Unknown);
  EXPECT_EQ(harness.cluster->count("SET"), 1);
  EXPECT_EQ(outcome.sends, 1);
  EXPECT_EQ(harness.cluster->script.size(), 1u);  // The second step was never asked for.
}

TEST(ClientAtMostOnce, Call_AmbiguousTryAgain_IsUnknownAndNeverResent) {
  Harness harness(Semantics::AtMostOnce);
  harness.cluster->script = {Step::replied(Reply::error(kAmbiguous)),
                             Step::replied(Reply::status("OK"))};
  const Outcome outcome = harness.client->call({"INCR", "n"});
  EXPECT_EQ(outcome.kind, OutcomeKind::Unknown);
  EXPECT_EQ(outcome.detail, kAmbiguous);
  EXPECT_EQ(harness.cluster->count("INCR"), 1);
}

TEST(ClientAtMostOnce, Call_NotAppliedTryAgain_IsRetried) {
  Harness harness(Semantics::AtMostOnce);
  harness.cluster->script = {Step::replied(Reply::error("TRYAGAIN no leader")),
                             Step::replied(Reply::error(kNotApplied)),
                             Step::replied(Reply::number(1))};
  const Outcome outcome = harness.client->call({"INCR", "n"});
  ASSERT_EQ(outcome.kind, OutcomeKind::Ok);
  EXPECT_EQ(outcome.reply, Reply::number(1));
  EXPECT_EQ(harness.cluster->count("INCR"), 3);
  EXPECT_EQ(harness.clock->sleeps.size(), 2u);  // Backed off before each retry.
}

TEST(ClientAtMostOnce, Call_NotSent_IsRetried) {
  Harness harness(Semantics::AtMostOnce);
  harness.cluster->script = {Step::not_sent(), Step::replied(Reply::status("OK"))};
  const Outcome outcome = harness.client->call({"SET", "k", "v"});
  EXPECT_EQ(outcome.kind, OutcomeKind::Ok);
  EXPECT_EQ(harness.cluster->count("SET"), 1);  // The first never went out whole.
}

TEST(ClientAtMostOnce, Call_ReadAfterLost_IsRetried) {
  Harness harness(Semantics::AtMostOnce);
  harness.cluster->script = {Step::lost(), Step::replied(Reply::bulk("v"))};
  const Outcome outcome = harness.client->call({"GET", "k"});
  EXPECT_EQ(outcome.kind, OutcomeKind::Ok);
  EXPECT_EQ(harness.cluster->count("GET"), 2);
}

TEST(ClientAtLeastOnce, Call_LostAfterSend_RetriedUntilAcknowledged) {
  Harness harness(Semantics::AtLeastOnce);
  harness.cluster->script = {Step::lost(), Step::replied(Reply::error(kAmbiguous)),
                             Step::lost(), Step::replied(Reply::number(4))};
  const Outcome outcome = harness.client->call({"INCR", "n"});
  ASSERT_EQ(outcome.kind, OutcomeKind::Ok);
  EXPECT_EQ(outcome.reply, Reply::number(4));
  EXPECT_EQ(harness.cluster->count("INCR"), 4);
  EXPECT_EQ(outcome.sends, 4);
}

TEST(ClientAtLeastOnce, Call_DeadlineAfterAmbiguousSends_IsUnknown) {
  Harness harness(Semantics::AtLeastOnce);
  for (int i = 0; i < 1000; ++i) harness.cluster->script.push_back(Step::lost());
  const Outcome outcome = harness.client->call({"SET", "k", "v"});
  EXPECT_EQ(outcome.kind, OutcomeKind::Unknown);
  EXPECT_NE(outcome.detail.find("deadline"), std::string::npos) << outcome.detail;
  EXPECT_GT(harness.cluster->script.size(), 0u);  // Bounded by the deadline, not the script.
  EXPECT_GT(outcome.sends, 1);
}

TEST(ClientAtLeastOnce, Call_OnlyNotAppliedUntilDeadline_IsUnavailable) {
  Harness harness(Semantics::AtLeastOnce);
  for (int i = 0; i < 1000; ++i) {
    harness.cluster->script.push_back(Step::replied(Reply::error("TRYAGAIN no leader")));
  }
  const Outcome outcome = harness.client->call({"SET", "k", "v"});
  EXPECT_EQ(outcome.kind, OutcomeKind::Unavailable);
  EXPECT_NE(outcome.detail.find("TRYAGAIN no leader"), std::string::npos) << outcome.detail;
}

// Regression (process test Partition.ClientFirstReachingCutOffNode_WritesThroughTheMajority):
// a node cut off in a minority says "no leader" for as long as the partition lasts.
TEST(ClientAtLeastOnce, Call_NotApplied_TriesTheNextEndpoint) {
  Harness harness(Semantics::AtLeastOnce);
  harness.cluster->leader = "";  // The node reached first knows none (it is cut off).
  harness.cluster->script = {Step::replied(Reply::error("TRYAGAIN no leader")),
                             Step::replied(Reply::status("OK"))};
  const Outcome outcome = harness.client->call({"SET", "k", "v"});
  ASSERT_TRUE(outcome.ok()) << outcome.detail;
  const std::vector<Sent> sent = harness.cluster->data_sent();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_NE(sent[0].endpoint, sent[1].endpoint);
}

TEST(Client, Call_ApplicationError_IsReturnedWithoutRetry) {
  Harness harness(Semantics::AtLeastOnce);
  harness.cluster->script = {Step::replied(Reply::error("WRONGTYPE not a number"))};
  const Outcome outcome = harness.client->call({"INCR", "s"});
  EXPECT_EQ(outcome.kind, OutcomeKind::Error);
  EXPECT_EQ(outcome.reply.text, "WRONGTYPE not a number");
  EXPECT_EQ(harness.cluster->count("INCR"), 1);
}

TEST(Client, Call_NoNodeReachable_IsUnavailableNamingEndpoints) {
  Harness harness(Semantics::AtLeastOnce);
  harness.cluster->down = {kNode1.to_string(), kNode2.to_string(), kNode3.to_string()};
  const Outcome outcome = harness.client->call({"SET", "k", "v"});
  EXPECT_EQ(outcome.kind, OutcomeKind::Unavailable);
  EXPECT_EQ(outcome.detail,
            "no node reachable at 127.0.0.1:6381,127.0.0.1:6382,127.0.0.1:6383 "
            "(connection refused)");
  EXPECT_EQ(outcome.sends, 0);
}

TEST(Client, Call_UnreachableRoundsBound_GivesUpEarly) {
  Harness harness(Semantics::AtLeastOnce);
  harness.cluster->down = {kNode1.to_string(), kNode2.to_string(), kNode3.to_string()};
  ClientOptions options;
  options.endpoints = {kNode1, kNode2, kNode3};
  options.unreachable_rounds_max = 2;
  Client client(options, std::make_unique<FakeTransport>(harness.cluster),
                std::make_unique<FakeClock>());
  const Outcome outcome = client.call({"SET", "k", "v"});
  EXPECT_EQ(outcome.kind, OutcomeKind::Unavailable);
  EXPECT_EQ(harness.cluster->connects, 6);  // Two rounds over three endpoints.
}

TEST(Client, Call_FollowerNamesLeader_RequestGoesToLeader) {
  Harness harness(Semantics::AtMostOnce);
  harness.cluster->leader = kNode2.to_string();
  harness.cluster->script = {Step::replied(Reply::status("OK"))};
  ASSERT_TRUE(harness.client->call({"SET", "k", "v"}).ok());
  const std::vector<Sent> sent = harness.cluster->data_sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].endpoint, kNode2);
  EXPECT_EQ(harness.client->connected_endpoint(), kNode2);
}

TEST(Client, Call_NodeSilentOnInfo_SkippedForTheNext) {
  Harness harness(Semantics::AtMostOnce);
  harness.cluster->silent = {kNode1.to_string()};
  harness.cluster->leader = "";
  harness.cluster->script = {Step::replied(Reply::status("OK"))};
  const Outcome outcome = harness.client->call({"SET", "k", "v"});
  ASSERT_TRUE(outcome.ok()) << outcome.detail;
  EXPECT_EQ(outcome.endpoint, kNode2);
}

TEST(Client, Call_FollowersNameDeadLeader_AvoidedForGraceThenUsed) {
  Harness harness(Semantics::AtMostOnce);
  harness.cluster->down = {kNode1.to_string()};  // The leader the others still name.
  harness.cluster->script = {Step::replied(Reply::status("OK"))};
  const TimePoint start = harness.clock->now();
  const Outcome outcome = harness.client->call({"SET", "k", "v"});
  ASSERT_TRUE(outcome.ok()) << outcome.detail;
  EXPECT_GE(harness.clock->now() - start, Millis(3000));  // ClientOptions::stale_leader_grace.
  EXPECT_EQ(harness.cluster->count("SET"), 1);
}

TEST(Client, Call_LeaderDown_FailsOverToAnotherNode) {
  Harness harness(Semantics::AtMostOnce);
  harness.cluster->script = {Step::replied(Reply::status("OK")), Step::not_sent(),
                             Step::replied(Reply::status("OK"))};
  ASSERT_TRUE(harness.client->call({"SET", "a", "1"}).ok());
  harness.cluster->down.insert(kNode1.to_string());  // The leader dies between calls.
  harness.cluster->leader = kNode3.to_string();
  const Outcome outcome = harness.client->call({"SET", "b", "2"});
  ASSERT_TRUE(outcome.ok()) << outcome.detail;
  EXPECT_EQ(outcome.endpoint, kNode3);
}

TEST(Client, Call_BackoffGrowsExponentiallyWithJitterAndIsCapped) {
  Harness harness(Semantics::AtMostOnce);
  for (int i = 0; i < 12; ++i) {
    harness.cluster->script.push_back(Step::replied(Reply::error("TRYAGAIN busy")));
  }
  harness.cluster->script.push_back(Step::replied(Reply::status("OK")));
  ASSERT_TRUE(harness.client->call({"SET", "k", "v"}).ok());
  const std::vector<Millis>& sleeps = harness.clock->sleeps;
  ASSERT_EQ(sleeps.size(), 12u);
  for (size_t i = 0; i < sleeps.size(); ++i) {
    const int64_t ceiling = std::min<int64_t>(1000, int64_t{25} << i);  // Default options.
    EXPECT_GE(sleeps[i].count(), ceiling - ceiling / 2) << "retry " << i + 1;
    EXPECT_LE(sleeps[i].count(), ceiling) << "retry " << i + 1;
  }
}

TEST(ClientExactlyOnce, Call_OpensSessionLazilyAndNumbersCalls) {
  Harness harness(Semantics::ExactlyOnce);
  harness.cluster->script = {Step::replied(Reply::number(7)), Step::replied(Reply::status("OK")),
                             Step::replied(Reply::number(1))};
  ASSERT_TRUE(harness.client->call({"SET", "k", "v"}).ok());
  ASSERT_TRUE(harness.client->call({"INCR", "n"}).ok());
  const std::vector<Sent> sent = harness.cluster->data_sent();
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[0].args, (std::vector<std::string>{"SESSION.OPEN"}));
  EXPECT_EQ(sent[1].args, (std::vector<std::string>{"SESSION.CALL", "7", "1", "SET", "k", "v"}));
  EXPECT_EQ(sent[2].args, (std::vector<std::string>{"SESSION.CALL", "7", "2", "INCR", "n"}));
  EXPECT_EQ(harness.client->session_id(), 7u);
}

TEST(ClientExactlyOnce, Call_LostReply_RetriedWithTheSameSequence) {
  Harness harness(Semantics::ExactlyOnce);
  harness.cluster->script = {Step::replied(Reply::number(9)), Step::lost(),
                             Step::replied(Reply::error(kAmbiguous)),
                             Step::replied(Reply::number(1))};
  const Outcome outcome = harness.client->call({"INCR", "n"});
  ASSERT_TRUE(outcome.ok()) << outcome.detail;
  const std::vector<Sent> sent = harness.cluster->data_sent();
  ASSERT_EQ(sent.size(), 4u);
  for (size_t i = 1; i < 4; ++i) {
    EXPECT_EQ(sent[i].args, (std::vector<std::string>{"SESSION.CALL", "9", "1", "INCR", "n"}));
  }
  EXPECT_EQ(harness.cluster->count("SESSION.OPEN"), 1);
}

TEST(ClientExactlyOnce, Call_SessionExpired_SurfacedAndNotResentUnderNewSession) {
  Harness harness(Semantics::ExactlyOnce);
  harness.cluster->script = {
      Step::replied(Reply::number(5)),
      Step::replied(Reply::error("SESSION_EXPIRED client 5 is unknown or expired")),
      Step::replied(Reply::number(6)), Step::replied(Reply::status("OK"))};
  const Outcome expired = harness.client->call({"INCR", "n"});
  EXPECT_EQ(expired.kind, OutcomeKind::SessionExpired);
  EXPECT_EQ(harness.cluster->count("SESSION.CALL"), 1);
  EXPECT_EQ(harness.cluster->count("SESSION.OPEN"), 1);  // Not silently re-opened and re-sent.
  // The next call is a new request: it may open a new session.
  ASSERT_TRUE(harness.client->call({"SET", "k", "v"}).ok());
  const std::vector<Sent> sent = harness.cluster->data_sent();
  EXPECT_EQ(sent.back().args,
            (std::vector<std::string>{"SESSION.CALL", "6", "1", "SET", "k", "v"}));
}

TEST(ClientExactlyOnce, Call_UnknownOutcome_ConsumesTheSequence) {
  Harness harness(Semantics::ExactlyOnce);
  harness.cluster->script.push_back(Step::replied(Reply::number(3)));
  for (int i = 0; i < 1000; ++i) harness.cluster->script.push_back(Step::lost());
  EXPECT_EQ(harness.client->call({"INCR", "n"}).kind, OutcomeKind::Unknown);
  EXPECT_EQ(harness.client->next_sequence(), 2u);  // Never reused for another command.
}

TEST(ClientExactlyOnce, Call_SessionOpenNeverAnswered_IsUnavailableNotUnknown) {
  Harness harness(Semantics::ExactlyOnce);
  for (int i = 0; i < 1000; ++i) harness.cluster->script.push_back(Step::lost());
  const Outcome outcome = harness.client->call({"INCR", "n"});
  EXPECT_EQ(outcome.kind, OutcomeKind::Unavailable);  // INCR itself never went out.
  EXPECT_EQ(harness.cluster->count("SESSION.CALL"), 0);
  EXPECT_NE(outcome.detail.find("not sent"), std::string::npos) << outcome.detail;
}

TEST(ClientExactlyOnce, Call_ReadsAreNotWrapped) {
  Harness harness(Semantics::ExactlyOnce);
  harness.cluster->script = {Step::replied(Reply::bulk("v"))};
  ASSERT_TRUE(harness.client->call({"GET", "k"}).ok());
  EXPECT_EQ(harness.cluster->count("SESSION.OPEN"), 0);
  EXPECT_EQ(harness.cluster->count("GET"), 1);
}

TEST(Client, Transaction_SendsMultiCommandsExecInOneExchange) {
  Harness harness(Semantics::AtLeastOnce);
  harness.cluster->script = {
      Step::replied(Reply::status("OK")), Step::replied(Reply::status("QUEUED")),
      Step::replied(Reply::status("QUEUED")),
      Step::replied(Reply::array({Reply::number(-5), Reply::number(5)}))};
  const Outcome outcome = harness.client->transaction({{"DECRBY", "a", "5"}, {"INCRBY", "b", "5"}});
  ASSERT_TRUE(outcome.ok()) << outcome.detail;
  EXPECT_EQ(outcome.reply, Reply::array({Reply::number(-5), Reply::number(5)}));
  const std::vector<Sent> sent = harness.cluster->data_sent();
  ASSERT_EQ(sent.size(), 4u);
  EXPECT_EQ(sent.front().args, (std::vector<std::string>{"MULTI"}));
  EXPECT_EQ(sent.back().args, (std::vector<std::string>{"EXEC"}));
}

TEST(Client, Transaction_AtMostOnceLostExec_IsUnknown) {
  Harness harness(Semantics::AtMostOnce);
  harness.cluster->script = {Step::replied(Reply::status("OK")),
                             Step::replied(Reply::status("QUEUED")), Step::lost()};
  const Outcome outcome = harness.client->transaction({{"INCR", "n"}});
  EXPECT_EQ(outcome.kind, OutcomeKind::Unknown);
  EXPECT_EQ(harness.cluster->count("EXEC"), 1);
}

// MULTI, then `count` QUEUED replies: the script steps before a transaction's last reply.
std::vector<Step> queued_steps(size_t count) {
  std::vector<Step> steps = {Step::replied(Reply::status("OK"))};
  for (size_t i = 0; i < count; ++i) steps.push_back(Step::replied(Reply::status("QUEUED")));
  return steps;
}

void push_steps(FakeCluster& cluster, const std::vector<Step>& steps) {
  cluster.script.insert(cluster.script.end(), steps.begin(), steps.end());
}

TEST(ClientExactlyOnce, Transaction_EndsWithSessionExecAndTheNextSequence) {
  Harness harness(Semantics::ExactlyOnce);
  harness.cluster->script = {Step::replied(Reply::number(7))};
  push_steps(*harness.cluster, queued_steps(2));
  harness.cluster->script.push_back(
      Step::replied(Reply::array({Reply::number(-5), Reply::number(5)})));
  const Outcome outcome =
      harness.client->transaction({{"DECRBY", "a", "5"}, {"INCRBY", "b", "5"}});
  ASSERT_TRUE(outcome.ok()) << outcome.detail;
  EXPECT_EQ(outcome.reply, Reply::array({Reply::number(-5), Reply::number(5)}));
  const std::vector<Sent> sent = harness.cluster->data_sent();
  ASSERT_EQ(sent.size(), 5u);
  EXPECT_EQ(sent[0].args, (std::vector<std::string>{"SESSION.OPEN"}));
  EXPECT_EQ(sent[1].args, (std::vector<std::string>{"MULTI"}));
  EXPECT_EQ(sent[2].args, (std::vector<std::string>{"DECRBY", "a", "5"}));
  EXPECT_EQ(sent[4].args, (std::vector<std::string>{"SESSION.EXEC", "7", "1"}));
  EXPECT_EQ(harness.client->next_sequence(), 2u);
}

TEST(ClientExactlyOnce, Transaction_LostReply_ResentWithTheSameSequence) {
  Harness harness(Semantics::ExactlyOnce);
  harness.cluster->script = {Step::replied(Reply::number(4))};
  push_steps(*harness.cluster, queued_steps(1));
  harness.cluster->script.push_back(Step::lost());  // SESSION.EXEC went out; no reply.
  push_steps(*harness.cluster, queued_steps(1));
  harness.cluster->script.push_back(Step::replied(Reply::array({Reply::number(1)})));
  const Outcome outcome = harness.client->transaction({{"INCR", "n"}});
  ASSERT_TRUE(outcome.ok()) << outcome.detail;
  EXPECT_EQ(outcome.sends, 2);
  std::vector<std::vector<std::string>> execs;
  for (const Sent& item : harness.cluster->data_sent()) {
    if (item.args.front() == "SESSION.EXEC") execs.push_back(item.args);
  }
  const std::vector<std::string> expected = {"SESSION.EXEC", "4", "1"};
  EXPECT_EQ(execs, (std::vector<std::vector<std::string>>{expected, expected}));
  EXPECT_EQ(harness.cluster->count("EXEC"), 0);
}

TEST(ClientExactlyOnce, Transaction_SessionExpired_SurfacedAndNotResent) {
  Harness harness(Semantics::ExactlyOnce);
  harness.cluster->script = {Step::replied(Reply::number(5))};
  push_steps(*harness.cluster, queued_steps(1));
  harness.cluster->script.push_back(
      Step::replied(Reply::error("SESSION_EXPIRED client 5 is unknown or expired")));
  const Outcome outcome = harness.client->transaction({{"INCR", "n"}});
  EXPECT_EQ(outcome.kind, OutcomeKind::SessionExpired);
  EXPECT_EQ(harness.cluster->count("SESSION.EXEC"), 1);
  EXPECT_EQ(harness.client->session_id(), 0u);  // The next request opens a new session.
}

TEST(ClientExactlyOnce, Transaction_SharesTheSequenceWithCalls) {
  Harness harness(Semantics::ExactlyOnce);
  harness.cluster->script = {Step::replied(Reply::number(3)), Step::replied(Reply::number(1))};
  push_steps(*harness.cluster, queued_steps(1));
  harness.cluster->script.push_back(Step::replied(Reply::array({Reply::number(2)})));
  ASSERT_TRUE(harness.client->call({"INCR", "n"}).ok());
  ASSERT_TRUE(harness.client->transaction({{"INCR", "n"}}).ok());
  const std::vector<Sent> sent = harness.cluster->data_sent();
  EXPECT_EQ(sent[1].args, (std::vector<std::string>{"SESSION.CALL", "3", "1", "INCR", "n"}));
  EXPECT_EQ(sent.back().args, (std::vector<std::string>{"SESSION.EXEC", "3", "2"}));
}

TEST(ParseSemantics, ParseSemantics_NamesRoundTrip) {
  for (Semantics semantics :
       {Semantics::AtMostOnce, Semantics::AtLeastOnce, Semantics::ExactlyOnce}) {
    Result<Semantics> parsed = parse_semantics(semantics_name(semantics));
    ASSERT_TRUE(parsed.is_ok());
    EXPECT_EQ(parsed.value(), semantics);
  }
  EXPECT_FALSE(parse_semantics("twice").is_ok());
}

}  // namespace
}  // namespace raftkv::client
