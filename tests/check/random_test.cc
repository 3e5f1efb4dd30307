// Generated histories: linearizable by construction (so every one must pass), mutated (so
// violations must be found), and small ones compared with a brute-force checker.
#include <gtest/gtest.h>

#include <cstdio>
#include <random>

#include "check/lincheck.h"
#include "check/test_support.h"

namespace raftkv::lincheck {
namespace {

using testing::RandomHistoryOptions;

TEST(RandomHistory, FromSequentialExecution_IsLinearizable) {
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    RandomHistoryOptions options;
    options.seed = seed;
    options.operations = 2000;
    // Odd seeds: one partition per key. Even seeds: txn, mget and del join all keys into one
    // partition, where unknown operations cost much more (README "Performance").
    options.multi_key = seed % 2 == 0;
    options.unknown_fraction = options.multi_key ? 0.01 : 0.05;
    const History history = testing::random_history(options);
    const Verdict verdict = testing::check_ok(history);
    ASSERT_EQ(verdict.kind, VerdictKind::Linearizable)
        << "seed " << seed << "\n" << format_verdict(verdict);
  }
}

// Indices of the Ok, non-txn gets of `history`.
std::vector<size_t> ok_gets(const History& history) {
  std::vector<size_t> gets;
  for (size_t i = 0; i < history.operations.size(); ++i) {
    const Operation& op = history.operations[i];
    if (op.outcome == Outcome::Ok && op.command.kind == CommandKind::Get) gets.push_back(i);
  }
  return gets;
}

TEST(RandomHistory, ReadOfNeverWrittenValue_IsViolationNamingIt) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    RandomHistoryOptions options;
    options.seed = seed;
    options.operations = 2000;
    options.unknown_fraction = 0.05;
    options.multi_key = false;
    History history = testing::random_history(options);
    const std::vector<size_t> gets = ok_gets(history);
    ASSERT_FALSE(gets.empty());
    Operation& victim = history.operations[gets[seed * 7919 % gets.size()]];
    victim.result = Reply::string("never-written");
    const Verdict verdict = testing::check_ok(history);
    ASSERT_EQ(verdict.kind, VerdictKind::Violation) << "seed " << seed;
    ASSERT_EQ(verdict.violations.size(), 1u);
    EXPECT_NE(verdict.violations[0].report.find("\"never-written\""), std::string::npos)
        << verdict.violations[0].report;
  }
}

// The Ok set whose value an Ok get returned, if any: a write a read observed.
Operation* observed_set(History& history) {
  for (const size_t read : ok_gets(history)) {
    const Reply& seen = history.operations[read].result;
    if (seen.kind != Reply::Kind::String) continue;
    for (Operation& op : history.operations) {
      if (op.outcome == Outcome::Ok && op.command.kind == CommandKind::Set &&
          op.command.args[1] == seen.text) {
        return &op;
      }
    }
  }
  return nullptr;
}

TEST(RandomHistory, ObservedWriteMarkedFailed_IsViolation) {
  // Goal: a write recorded as failed that a read observed (a "fail" that did take effect).
  // Values are unique, so nothing else explains the read.
  size_t mutated = 0;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    RandomHistoryOptions options;
    options.seed = seed;
    options.operations = 1000;
    options.multi_key = false;
    History history = testing::random_history(options);
    Operation* writer = observed_set(history);
    if (writer == nullptr) continue;
    writer->outcome = Outcome::Fail;
    ++mutated;
    EXPECT_EQ(testing::check_ok(history).kind, VerdictKind::Violation)
        << "seed " << seed << " op #" << writer->id;
  }
  EXPECT_GE(mutated, 15u);  // Most seeds have a set whose value some get returned.
}

// Mutates one Ok operation's result to a nearby, plausible value, or its outcome.
void mutate(History& history, std::mt19937_64& rng) {
  std::vector<size_t> ok;
  for (size_t i = 0; i < history.operations.size(); ++i) {
    if (history.operations[i].outcome == Outcome::Ok) ok.push_back(i);
  }
  if (ok.empty()) return;
  Operation& op = history.operations[ok[rng() % ok.size()]];
  Reply* target = &op.result;
  if (target->kind == Reply::Kind::Array && !target->elements.empty()) {
    target = &target->elements[rng() % target->elements.size()];
  }
  switch (rng() % 4) {
    case 0: op.outcome = rng() % 2 == 0 ? Outcome::Fail : Outcome::Unknown; break;
    case 1:
      if (target->kind == Reply::Kind::Integer) {
        // Stay within the result's valid range (del: [0, keys], cas: 0 or 1).
        target->integer = target->integer > 0 ? target->integer - 1 : target->integer + 1;
      }
      break;
    case 2:
      if (target->kind == Reply::Kind::String && target->text != "OK") *target = Reply::nil();
      break;
    default:
      if (target->kind == Reply::Kind::Nil) *target = Reply::string("v1");
      break;
  }
  if (op.outcome != Outcome::Ok) {
    op.result = Reply::nil();
    if (op.outcome == Outcome::Unknown) op.return_us.reset();
  }
}

TEST(RandomHistory, SmallHistories_AgreeWithBruteForce) {
  // Goal: an exact oracle. Small histories (7 operations, 2-3 keys, every command, unknown
  // and failed outcomes), half of them mutated, checked both ways.
  std::mt19937_64 rng(42);
  size_t linearizable = 0;
  size_t violations = 0;
  for (uint64_t seed = 1; seed <= 10'000; ++seed) {
    RandomHistoryOptions options;
    options.seed = seed;
    options.clients = 3 + seed % 2;
    options.operations = 7;
    options.keys = 2 + seed % 2;
    options.unknown_fraction = 0.2;
    options.fail_fraction = 0.1;
    options.duration_us_max = 30;
    History history = testing::random_history(options);
    if (seed % 2 == 0) mutate(history, rng);
    for (const Operation& op : history.operations) {
      ASSERT_TRUE(validate_operation(op).is_ok()) << "seed " << seed << ": "
                                                  << validate_operation(op).message();
    }
    const bool expected = testing::brute_force_linearizable(history);
    const Verdict verdict = testing::check_ok(history);
    ASSERT_EQ(verdict.kind, expected ? VerdictKind::Linearizable : VerdictKind::Violation)
        << "seed " << seed << "\n" << format_verdict(verdict);
    (expected ? linearizable : violations) += 1;
  }
  std::printf("brute force agreed on %zu linearizable and %zu violating histories\n",
              linearizable, violations);
  EXPECT_GT(linearizable, 3000u);
  EXPECT_GT(violations, 800u);
}

TEST(RandomHistory, SmallMixedHistories_AgreeWithBruteForce) {
  // Goal: the same oracle where every command hits every key with values from a tiny
  // alphabet: equal values, equal lengths and failing incrs are common, which is where the
  // search's shortcuts for unknown operations would go wrong if they could.
  std::mt19937_64 rng(7);
  size_t linearizable = 0;
  size_t violations = 0;
  for (uint64_t seed = 1; seed <= 10'000; ++seed) {
    RandomHistoryOptions options;
    options.seed = seed;
    options.clients = 3;
    options.operations = 7;
    options.keys = 1 + seed % 2;
    options.unknown_fraction = 0.3;
    options.fail_fraction = 0.1;
    options.duration_us_max = 40;
    options.mixed = true;
    History history = testing::random_history(options);
    if (seed % 2 == 0) mutate(history, rng);
    const bool expected = testing::brute_force_linearizable(history);
    const Verdict verdict = testing::check_ok(history);
    ASSERT_EQ(verdict.kind, expected ? VerdictKind::Linearizable : VerdictKind::Violation)
        << "seed " << seed << "\n" << format_verdict(verdict);
    (expected ? linearizable : violations) += 1;
  }
  std::printf("brute force agreed on %zu linearizable and %zu violating mixed histories\n",
              linearizable, violations);
  EXPECT_GT(linearizable, 3000u);
  EXPECT_GT(violations, 800u);
}

TEST(RandomHistory, Performance_TenClientsTwentyThousandOperations) {
  // The figures in README "Performance": 10 clients, 20k operations over 20 keys. With
  // single-key commands each key is a partition; with txn, mget and multi-key del, all 20
  // keys form one partition, where unknown outcomes cost far more, so fewer are used.
  // Generous bound; the measured time is printed.
  for (const bool multi_key : {false, true}) {
    RandomHistoryOptions options;
    options.seed = 7;
    options.clients = 10;
    options.operations = 20'000;
    options.keys = 20;
    options.unknown_fraction = multi_key ? 0.005 : 0.02;
    options.multi_key = multi_key;
    const History history = testing::random_history(options);
    const Verdict verdict = testing::check_ok(history);
    std::printf("20k operations, 10 clients, 20 keys%s:\n%s",
                multi_key ? ", txn/mget/del across keys" : "", format_verdict(verdict).c_str());
    EXPECT_EQ(verdict.kind, VerdictKind::Linearizable);
    EXPECT_LT(verdict.stats.elapsed_us, 30'000'000u);
  }
}

}  // namespace
}  // namespace raftkv::lincheck
