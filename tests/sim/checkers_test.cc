// The checkers must fire: each test feeds one violation straight to a checker (or drives
// one-node clusters that each elect themselves) and expects the Run to fail. A checker that
// never fails would make every scenario pass vacuously.
#include <gtest/gtest.h>

#include <memory>

#include "common/logger.h"
#include "common/prng.h"
#include "raft/memory_storage.h"
#include "raft/raft.h"
#include "sim/checkers.h"
#include "sim/scenario_util.h"
#include "sim/simulator.h"

namespace raftkv::sim {
namespace {

raft::Entry entry(uint64_t term, uint64_t index, std::string data) {
  return raft::Entry{Term{term}, Index{index}, raft::EntryType::Normal, std::move(data)};
}

// A one-voter cluster: it elects itself, so two of them are two leaders of the same term
// (or of a later one, when its disk remembers `term`).
struct LoneNode {
  explicit LoneNode(uint64_t id, uint64_t term = 0) : prng(id) {
    storage.set_hard_state(raft::HardState{Term{term}, kNoNode, Index{0}});
    raft::Config config;
    config.id = NodeId{id};
    config.voters = {NodeId{id}};
    raft = std::make_unique<raft::Raft>(config, storage, prng, logger);
    for (int i = 0; i < 40 && raft->role() != raft::Role::Leader; ++i) raft->tick();
    drain();
  }
  void drain() {
    while (raft->has_ready()) {
      raft::Ready ready = raft->ready();
      RAFT_ASSERT(storage.append(ready.entries).is_ok());
      if (ready.hard_state) storage.set_hard_state(*ready.hard_state);
      raft->advance(ready);
    }
  }
  raft::MemoryStorage storage;
  Prng prng;
  NullLogger logger;
  std::unique_ptr<raft::Raft> raft;
};

TEST(SimCheckers, ElectionSafety_TwoLeadersInOneTermFail) {
  sim::Run run("checkers", 1);
  uint64_t now = 0;
  SafetyChecker checker(run, now);
  LoneNode a(1), b(2);
  ASSERT_EQ(a.raft->role(), raft::Role::Leader);
  ASSERT_EQ(b.raft->term(), a.raft->term());
  checker.after_input(NodeId{1}, *a.raft, Index{0});
  EXPECT_FALSE(run.failed());
  checker.after_input(NodeId{2}, *b.raft, Index{0});
  EXPECT_TRUE(run.failed());
  EXPECT_NE(run.failure().find("Election Safety"), std::string::npos) << run.failure();
}

TEST(SimCheckers, LeaderCompleteness_LeaderMissingCommittedEntryFails) {
  sim::Run run("checkers", 1);
  uint64_t now = 0;
  SafetyChecker checker(run, now);
  for (uint64_t i = 1; i <= 3; ++i) checker.on_apply(NodeId{2}, entry(1, i, "x"));
  LoneNode committer(2);  // Commits its no-op and two entries in term 1.
  ASSERT_TRUE(committer.raft->propose("a").is_ok());
  ASSERT_TRUE(committer.raft->propose("b").is_ok());
  committer.drain();
  checker.after_input(NodeId{2}, *committer.raft, Index{3});
  EXPECT_FALSE(run.failed()) << run.failure();
  LoneNode later(1, /*term=*/4);  // Leads term 5 with only its own no-op.
  checker.after_input(NodeId{1}, *later.raft, Index{0});
  EXPECT_NE(run.failure().find("Leader Completeness"), std::string::npos) << run.failure();
}

// A leader of a term the cluster has moved past (its votes were late) need not hold what a
// later term committed.
TEST(SimCheckers, LeaderCompleteness_StaleTermLeaderMayLackLaterCommits) {
  sim::Run run("checkers", 1);
  uint64_t now = 0;
  SafetyChecker checker(run, now);
  LoneNode committer(2, /*term=*/6);  // Commits in term 7.
  ASSERT_TRUE(committer.raft->propose("a").is_ok());
  committer.drain();
  checker.on_apply(NodeId{2}, entry(7, 1, ""));
  checker.after_input(NodeId{2}, *committer.raft, Index{1});
  LoneNode stale(1, /*term=*/2);  // Leads term 3 with an empty log.
  checker.after_input(NodeId{1}, *stale.raft, Index{0});
  EXPECT_FALSE(run.failed()) << run.failure();
}

TEST(SimCheckers, LogMatching_SameIndexAndTermDifferentEntryFails) {
  sim::Run run("checkers", 1);
  uint64_t now = 0;
  SafetyChecker checker(run, now);
  LoneNode a(1), b(2);
  ASSERT_TRUE(a.raft->propose("from a").is_ok());
  ASSERT_TRUE(b.raft->propose("from b").is_ok());
  checker.check_logs({{NodeId{1}, a.raft.get(), Index{0}}, {NodeId{2}, b.raft.get(), Index{0}}});
  EXPECT_NE(run.failure().find("Log Matching"), std::string::npos) << run.failure();
}

TEST(SimCheckers, StateMachineSafety_DifferentEntryAppliedFails) {
  sim::Run run("checkers", 1);
  uint64_t now = 0;
  SafetyChecker checker(run, now);
  checker.on_apply(NodeId{1}, entry(1, 1, "a"));
  checker.on_apply(NodeId{2}, entry(1, 1, "a"));
  EXPECT_FALSE(run.failed());
  checker.on_apply(NodeId{3}, entry(2, 1, "b"));
  EXPECT_NE(run.failure().find("State Machine Safety"), std::string::npos) << run.failure();
}

TEST(SimCheckers, OnRestore_SnapshotWithOtherPayloadsFails) {
  sim::Run run("checkers", 1);
  uint64_t now = 0;
  SafetyChecker checker(run, now);
  checker.on_apply(NodeId{1}, entry(1, 1, "a"));
  checker.on_apply(NodeId{1}, entry(1, 2, "b"));
  checker.on_restore(NodeId{2}, raft::SnapshotMeta{Index{2}, Term{1}, {}}, {"a", "b"});
  EXPECT_FALSE(run.failed());
  checker.on_restore(NodeId{3}, raft::SnapshotMeta{Index{2}, Term{1}, {}}, {"a"});
  EXPECT_TRUE(run.failed());
}

TEST(SimCheckers, Read_SeeingLessThanAcknowledgedFails) {
  sim::Run run("checkers", 1);
  uint64_t now = 0;
  ClientHistory history(run, now);
  history.on_write_submitted("w1");
  history.on_write_submitted("w2");
  history.on_apply(entry(1, 1, "w1"), 0);
  history.on_apply(entry(1, 2, "w2"), 1);
  history.on_write_done("w2", runtime::Response::ok("+OK\r\n"));
  ASSERT_TRUE(history.is_acked("w2"));
  const uint64_t fresh = history.on_read_submitted(NodeId{1});
  history.on_read_done(fresh, runtime::Response::ok("2"));
  EXPECT_FALSE(run.failed());
  const uint64_t stale = history.on_read_submitted(NodeId{2});
  history.on_read_done(stale, runtime::Response::ok("1"));  // Misses w2.
  EXPECT_NE(run.failure().find("linearizable"), std::string::npos) << run.failure();
}

TEST(SimCheckers, Read_RefusedObservesNothing) {
  sim::Run run("checkers", 1);
  uint64_t now = 0;
  ClientHistory history(run, now);
  history.on_write_submitted("w");
  history.on_apply(entry(1, 1, "w"), 0);
  history.on_write_done("w", runtime::Response::ok("+OK\r\n"));
  const uint64_t read = history.on_read_submitted(NodeId{1});
  history.on_read_done(read, runtime::Response::not_applied("no leader"));
  EXPECT_FALSE(run.failed());
  EXPECT_EQ(history.reads_served_total(), 0u);
}

TEST(SimCheckers, AckWithoutApplyFails) {
  sim::Run run("checkers", 1);
  uint64_t now = 0;
  ClientHistory history(run, now);
  history.on_write_submitted("w");
  history.on_write_done("w", runtime::Response::ok("+OK\r\n"));
  EXPECT_NE(run.failure().find("never applied"), std::string::npos) << run.failure();
}

TEST(SimCheckers, NotAppliedThenAppliedFails) {
  sim::Run run("checkers", 1);
  uint64_t now = 0;
  ClientHistory history(run, now);
  history.on_write_submitted("w");
  history.on_write_done("w", runtime::Response::not_applied("no leader"));
  EXPECT_FALSE(run.failed());
  history.on_apply(entry(2, 3, "w"), 0);
  EXPECT_NE(run.failure().find("answered not applied"), std::string::npos) << run.failure();
}

TEST(SimCheckers, MaybeAppliedMayGoEitherWay) {
  sim::Run run("checkers", 1);
  uint64_t now = 0;
  ClientHistory history(run, now);
  history.on_write_submitted("a");
  history.on_write_submitted("b");
  history.on_write_done("a", runtime::Response::maybe_applied("timed out"));
  history.on_write_lost("b");
  history.on_apply(entry(1, 1, "a"), 0);
  SimStateMachine state;
  state.apply(Index{1}, "a");
  history.check_final({{NodeId{1}, &state}});
  EXPECT_FALSE(run.failed()) << run.failure();
}

TEST(SimCheckers, CheckFinal_LostAcknowledgedWriteFails) {
  sim::Run run("checkers", 1);
  uint64_t now = 0;
  ClientHistory history(run, now);
  history.on_write_submitted("w");
  history.on_apply(entry(1, 1, "w"), 0);
  history.on_write_done("w", runtime::Response::ok("+OK\r\n"));
  SimStateMachine empty;
  history.check_final({{NodeId{1}, &empty}});
  EXPECT_NE(run.failure().find("lost"), std::string::npos) << run.failure();
}

TEST(SimCheckers, CheckFinal_DuplicateApplyFails) {
  sim::Run run("checkers", 1);
  uint64_t now = 0;
  ClientHistory history(run, now);
  SimStateMachine state;
  state.apply(Index{1}, "w");
  state.apply(Index{2}, "w");
  history.check_final({{NodeId{1}, &state}});
  EXPECT_NE(run.failure().find("twice"), std::string::npos) << run.failure();
}

TEST(SimCheckers, CheckFinal_DivergentStateMachinesFail) {
  sim::Run run("checkers", 1);
  uint64_t now = 0;
  ClientHistory history(run, now);
  SimStateMachine a, b;
  a.apply(Index{1}, "x");
  b.apply(Index{1}, "y");
  history.check_final({{NodeId{1}, &a}, {NodeId{2}, &b}});
  EXPECT_NE(run.failure().find("differs"), std::string::npos) << run.failure();
}

TEST(SimStateMachine, EncodeDecode_RoundTrips) {
  SimStateMachine state;
  state.apply(Index{1}, "");
  state.apply(Index{2}, std::string("a\0b", 3));
  std::vector<std::string> payloads;
  ASSERT_TRUE(SimStateMachine::decode(state.encode(), &payloads));
  EXPECT_EQ(payloads, state.payloads());
  EXPECT_FALSE(SimStateMachine::decode(std::string("\x05\0\0\0ab", 6), &payloads));
}

// One seed, one run: everything (messages, elections, final state) repeats exactly.
TEST(SimDeterminism, SameSeedReplaysExactly) {
  auto run_once = [](std::string* digest) {
    sim::Run run("determinism", 42);
    SimOptions options = default_options(5);
    options.network.drop_per_mille = 50;
    options.network.duplicate_per_mille = 50;
    options.disk_latency_us_max = kTickUs / 2;
    Simulator sim(run, options);
    for (int i = 0; i < 200; ++i) {
      sim.run_for_us(700);
      (void)sim.propose_to_leader();
      if (i % 50 == 25) sim.crash(NodeId{static_cast<uint64_t>(1 + i % 5)});
      if (i % 50 == 40) sim.restart(NodeId{static_cast<uint64_t>(1 + (i - 15) % 5)});
    }
    *digest = std::to_string(sim.counts().total) + "\n" + sim.describe_cluster();
    return !run.failed();
  };
  std::string first, second;
  ASSERT_TRUE(run_once(&first));
  ASSERT_TRUE(run_once(&second));
  EXPECT_EQ(first, second);
}

}  // namespace
}  // namespace raftkv::sim
