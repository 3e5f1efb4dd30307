// Hand-made histories, each chosen so that a plausible checker bug fails it.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>

#include "check/lincheck.h"
#include "check/test_support.h"

namespace raftkv::lincheck {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace): the builders read as a DSL.

VerdictKind verdict_of(const HistoryBuilder& builder, const Options& options = {}) {
  return check_ok(builder.history(), options).kind;
}

// --- Registers and real-time order ---

TEST(Check, ConcurrentWrites_ReadsMaySeeEitherOrder) {
  // Goal: two overlapping writes may take effect in either order; a checker that orders them
  // by invoke (or by return) rejects one of these histories.
  for (const char* last : {"a", "b"}) {
    HistoryBuilder h;
    h.ok(1, 0, 100, set("x", "a"), ok_reply());
    h.ok(2, 10, 90, set("x", "b"), ok_reply());
    h.ok(3, 200, 210, get("x"), str(last));
    EXPECT_EQ(verdict_of(h), VerdictKind::Linearizable) << "last write seen: " << last;
  }
}

TEST(Check, ConcurrentWrites_ReadersDisagreeOnOrder_IsViolation) {
  // Goal: each reader alone is fine, but client 3 sees a then b and client 4 b then a, later:
  // the two writes cannot have taken effect in both orders.
  HistoryBuilder h;
  h.ok(1, 0, 100, set("x", "a"), ok_reply());
  h.ok(2, 0, 100, set("x", "b"), ok_reply());
  h.ok(3, 10, 20, get("x"), str("a"));
  h.ok(3, 30, 40, get("x"), str("b"));
  h.ok(4, 50, 60, get("x"), str("a"));
  EXPECT_EQ(verdict_of(h), VerdictKind::Violation);
}

TEST(Check, StaleReadAfterCompletedWrite_IsViolation) {
  HistoryBuilder h;
  h.ok(1, 0, 10, set("x", "1"), ok_reply());
  h.ok(2, 20, 30, get("x"), nil());
  const Verdict verdict = check_ok(h.history());
  ASSERT_EQ(verdict.kind, VerdictKind::Violation);
  ASSERT_EQ(verdict.violations.size(), 1u);
  const PartitionViolation& violation = verdict.violations[0];
  EXPECT_EQ(violation.keys, std::vector<std::string>{"x"});
  EXPECT_EQ(violation.longest_prefix, std::vector<size_t>{0});  // The set fits; the get not.
  EXPECT_EQ(violation.stuck, std::vector<size_t>{1});
  // The report names the key, the stuck read with its times, and what the model holds.
  const std::string& report = violation.report;
  EXPECT_NE(report.find("keys {\"x\"}"), std::string::npos) << report;
  EXPECT_NE(report.find("#2 client 2 [20, 30] get \"x\" -> nil"), std::string::npos) << report;
  EXPECT_NE(report.find("the model answers \"1\" here"), std::string::npos) << report;
  EXPECT_NE(report.find("\"x\" = \"1\""), std::string::npos) << report;
}

TEST(Check, ReadOverlappingWrite_MaySeeOldOrNew) {
  // Goal: a read concurrent with a write may see either value, and touching intervals
  // (a write returning at the very microsecond a read is invoked) count as concurrent.
  for (const Reply& seen : {nil(), str("1")}) {
    HistoryBuilder h;
    h.ok(1, 0, 10, set("x", "1"), ok_reply());
    h.ok(2, 10, 20, get("x"), seen);
    EXPECT_EQ(verdict_of(h), VerdictKind::Linearizable) << format_reply(seen);
  }
}

TEST(Check, LostAcknowledgedAppend_IsViolation) {
  HistoryBuilder h;
  h.ok(1, 0, 10, append("l", "a;"), num(2));
  h.ok(2, 20, 30, append("l", "b;"), num(4));
  h.ok(3, 40, 50, get("l"), str("b;"));
  EXPECT_EQ(verdict_of(h), VerdictKind::Violation);
}

TEST(Check, AppendLength_MustMatchTheValueItBuilt) {
  // Goal: append's result is the new length; a checker that ignores it misses double applies
  // that no read happens to see.
  HistoryBuilder good;
  good.ok(1, 0, 10, append("l", "ab"), num(2));
  good.ok(1, 20, 30, append("l", "c"), num(3));
  EXPECT_EQ(verdict_of(good), VerdictKind::Linearizable);
  HistoryBuilder doubled;
  doubled.ok(1, 0, 10, append("l", "ab"), num(2));
  doubled.ok(1, 20, 30, append("l", "c"), num(5));  // "ab" applied twice?
  EXPECT_EQ(verdict_of(doubled), VerdictKind::Violation);
}

// --- Unknown and failed outcomes ---

TEST(Check, UnknownWrite_ObservedLater_IsLinearizable) {
  HistoryBuilder h;
  h.unknown(1, 0, set("x", "1"));
  h.ok(2, 1000, 1010, get("x"), str("1"));
  EXPECT_EQ(verdict_of(h), VerdictKind::Linearizable);
}

TEST(Check, UnknownWrite_NeverObserved_IsLinearizable) {
  HistoryBuilder h;
  h.unknown(1, 0, set("x", "1"));
  h.ok(2, 1000, 1010, get("x"), nil());
  h.ok(2, 2000, 2010, get("x"), nil());
  EXPECT_EQ(verdict_of(h), VerdictKind::Linearizable);
}

TEST(Check, UnknownWrite_SeenThenUnseen_IsViolation) {
  // Goal: an unknown write takes effect once, at one instant: it cannot show and then vanish.
  // A checker that treats "unknown" as "matches anything" passes this.
  HistoryBuilder h;
  h.unknown(1, 0, set("x", "1"));
  h.ok(2, 1000, 1010, get("x"), str("1"));
  h.ok(2, 2000, 2010, get("x"), nil());
  EXPECT_EQ(verdict_of(h), VerdictKind::Violation);
}

TEST(Check, UnknownWrite_CannotTakeEffectBeforeItsInvoke) {
  HistoryBuilder h;
  h.ok(2, 0, 10, get("x"), str("1"));
  h.unknown(1, 20, set("x", "1"));
  EXPECT_EQ(verdict_of(h), VerdictKind::Violation);
}

TEST(Check, FailedWrite_Observed_IsViolation) {
  HistoryBuilder h;
  h.fail(1, 0, 10, set("x", "1"));
  h.ok(2, 1000, 1010, get("x"), str("1"));
  EXPECT_EQ(verdict_of(h), VerdictKind::Violation);
}

TEST(Check, Incr_AckedOnceReadsTwo_NeedsTheUnknownIncr) {
  // Goal: an exactly-once bug applies an acknowledged incr twice. With an unknown incr in the
  // history, 2 is explained; without it, it is a double apply.
  HistoryBuilder with_unknown;
  with_unknown.ok(1, 0, 10, incr("n"), num(1));
  with_unknown.unknown(2, 5, incr("n"));
  with_unknown.ok(3, 100, 110, get("n"), str("2"));
  EXPECT_EQ(verdict_of(with_unknown), VerdictKind::Linearizable);
  HistoryBuilder without;
  without.ok(1, 0, 10, incr("n"), num(1));
  without.ok(3, 100, 110, get("n"), str("2"));
  EXPECT_EQ(verdict_of(without), VerdictKind::Violation);
}

TEST(Check, IdenticalUnknownIncrs_EachAppliesAtMostOnce) {
  // Goal: interchangeable unknown operations are tried as a class (the search places the
  // earlier-invoked first); that shortcut must still allow all of them, and no more.
  for (const int64_t read : {1, 3, 4}) {
    HistoryBuilder h;
    h.unknown(1, 0, incr("n"));
    h.unknown(2, 5, incr("n"));
    h.unknown(3, 50, incr("n"));
    h.ok(4, 100, 110, get("n"), str(std::to_string(read)));
    const VerdictKind expected = read <= 3 ? VerdictKind::Linearizable : VerdictKind::Violation;
    EXPECT_EQ(verdict_of(h), expected) << "read " << read;
  }
}

TEST(Check, IncrOfNonInteger_CannotSucceed) {
  HistoryBuilder h;
  h.ok(1, 0, 10, set("n", "007"), ok_reply());  // Redis refuses leading zeros.
  h.ok(1, 20, 30, incr("n"), num(8));
  EXPECT_EQ(verdict_of(h), VerdictKind::Violation);
}

TEST(Check, IncrBy_AddsItsDelta) {
  HistoryBuilder h;
  h.ok(1, 0, 10, incrby("n", -5), num(-5));
  h.ok(1, 20, 30, incrby("n", 7), num(2));
  h.ok(1, 40, 50, get("n"), str("2"));
  EXPECT_EQ(verdict_of(h), VerdictKind::Linearizable);
}

TEST(Check, UnknownSet_ObservedOnlyByCas_IsNotPruned) {
  // Goal: an unknown write no get ever returns may still be observed by a cas that swapped
  // from its value, or a del that found the key: pruning it would report a false violation.
  HistoryBuilder by_cas;
  by_cas.unknown(1, 0, set("x", "v"));
  by_cas.ok(2, 100, 110, cas("x", "v", "w"), num(1));
  EXPECT_EQ(verdict_of(by_cas), VerdictKind::Linearizable);
  HistoryBuilder by_del;
  by_del.unknown(1, 0, set("x", "v"));
  by_del.ok(2, 100, 110, del({"x"}), num(1));
  EXPECT_EQ(verdict_of(by_del), VerdictKind::Linearizable);
}

TEST(Check, UnknownAppend_ObservedOnlyThroughLengths_IsNotPruned) {
  // Goal: an unknown append that no read shows directly is still seen by the length a later
  // append returns, and then must be in every later read.
  HistoryBuilder h;
  h.unknown(1, 0, append("l", "ab"));
  h.ok(2, 100, 110, append("l", "c"), num(3));
  h.ok(2, 200, 210, get("l"), str("abc"));
  EXPECT_EQ(verdict_of(h), VerdictKind::Linearizable);
  HistoryBuilder unseen;
  unseen.unknown(1, 0, append("l", "ab"));
  unseen.ok(2, 100, 110, append("l", "c"), num(3));
  unseen.ok(2, 200, 210, get("l"), str("c"));
  EXPECT_EQ(verdict_of(unseen), VerdictKind::Violation);
}

TEST(Check, UnknownSetBeforeAppendOfSameLength_IsFound) {
  // Goal: an append reports only a length. An unknown set that replaced the value by one of
  // the same length just before it leaves its result unchanged, yet a later read shows it; a
  // search that skips unknown operations before an operation that fits without them misses it.
  HistoryBuilder h;
  h.ok(1, 0, 10, set("k", "aa"), ok_reply());
  h.unknown(2, 20, set("k", "vv"));
  h.ok(1, 30, 40, append("k", "s"), num(3));
  h.ok(1, 50, 60, get("k"), str("vvs"));
  EXPECT_EQ(verdict_of(h), VerdictKind::Linearizable);
}

TEST(Check, UnknownTxnHiddenOnOneKey_StillShowsOnTheOther) {
  // Goal: the set of k fits with or without the unknown txn before it, but the txn must come
  // before it: after it, k would end as "x", and the read of j needs the txn before the read
  // of k.
  HistoryBuilder h;
  h.unknown(1, 0, txn({set("k", "x"), set("j", "y")}));
  h.ok(2, 10, 20, set("k", "z"), ok_reply());
  h.ok(2, 100, 110, get("j"), str("y"));
  h.ok(2, 200, 210, get("k"), str("z"));
  EXPECT_EQ(verdict_of(h), VerdictKind::Linearizable);
}

TEST(Check, ManyUnseenUnknownAppends_CostNothing) {
  // Goal: unknown appends that no read shows are proven not to matter before the search, so
  // a fault-heavy run stays cheap. Each client's final read lacks them all.
  HistoryBuilder h;
  int64_t t = 0;
  for (int i = 0; i < 200; ++i, t += 10) {
    h.unknown(1 + i % 5, t, append("l", "u" + std::to_string(i) + ";"));
    h.ok(6, t, t + 5, append("l", "k;"), num(2 * (i + 1)));
  }
  h.ok(7, t + 10, t + 20, get("l"), str([] {
         std::string all;
         for (int i = 0; i < 200; ++i) all += "k;";
         return all;
       }()));
  const Verdict verdict = check_ok(h.history());
  EXPECT_EQ(verdict.kind, VerdictKind::Linearizable);
  EXPECT_EQ(verdict.stats.unknown_inert, 200u);
  EXPECT_EQ(verdict.stats.unknown_searched, 0u);
}

// --- cas, casnx, del ---

TEST(Check, Cas_MissingKeyNeverMatches) {
  HistoryBuilder h;
  h.ok(1, 0, 10, cas("x", "", "new"), num(1));  // A missing key is not "".
  EXPECT_EQ(verdict_of(h), VerdictKind::Violation);
  HistoryBuilder refused;
  refused.ok(1, 0, 10, cas("x", "", "new"), num(0));
  refused.ok(1, 20, 30, get("x"), nil());
  EXPECT_EQ(verdict_of(refused), VerdictKind::Linearizable);
}

TEST(Check, Cas_SwapsOnlyOnExactMatch) {
  HistoryBuilder h;
  h.ok(1, 0, 10, set("x", "a"), ok_reply());
  h.ok(1, 20, 30, cas("x", "b", "c"), num(0));
  h.ok(1, 40, 50, cas("x", "a", "d"), num(1));
  h.ok(1, 60, 70, get("x"), str("d"));
  EXPECT_EQ(verdict_of(h), VerdictKind::Linearizable);
  HistoryBuilder wrong;
  wrong.ok(1, 0, 10, set("x", "a"), ok_reply());
  wrong.ok(1, 20, 30, cas("x", "b", "c"), num(1));
  EXPECT_EQ(verdict_of(wrong), VerdictKind::Violation);
}

TEST(Check, CasNx_SetsOnlyAMissingKey) {
  HistoryBuilder h;
  h.ok(1, 0, 10, casnx("x", "a"), num(1));
  h.ok(2, 20, 30, casnx("x", "b"), num(0));
  h.ok(1, 40, 50, get("x"), str("a"));
  EXPECT_EQ(verdict_of(h), VerdictKind::Linearizable);
  HistoryBuilder twice;  // Two winners for one missing key.
  twice.ok(1, 0, 10, casnx("x", "a"), num(1));
  twice.ok(2, 20, 30, casnx("x", "b"), num(1));
  EXPECT_EQ(verdict_of(twice), VerdictKind::Violation);
}

TEST(Check, Del_CountsKeysThatExisted) {
  HistoryBuilder h;
  h.ok(1, 0, 10, set("x", "1"), ok_reply());
  h.ok(1, 20, 30, del({"x", "y", "x"}), num(1));  // y missing; x counted once.
  h.ok(1, 40, 50, get("x"), nil());
  EXPECT_EQ(verdict_of(h), VerdictKind::Linearizable);
  HistoryBuilder wrong;
  wrong.ok(1, 0, 10, set("x", "1"), ok_reply());
  wrong.ok(1, 20, 30, del({"x", "y"}), num(2));
  EXPECT_EQ(verdict_of(wrong), VerdictKind::Violation);
}

// --- Multi-key operations and partitions ---

TEST(Check, Txn_ReadSeeingHalfOfIt_IsViolation) {
  // Goal: a txn is atomic; an mget concurrent with it sees all of it or none. A checker that
  // splits the txn per key, or checks x and y apart, passes this.
  HistoryBuilder h;
  h.ok(1, 0, 100, txn({set("x", "1"), set("y", "1")}), list({ok_reply(), ok_reply()}));
  h.ok(2, 10, 90, mget({"x", "y"}), list({str("1"), nil()}));
  EXPECT_EQ(verdict_of(h), VerdictKind::Violation);
  HistoryBuilder whole;
  whole.ok(1, 0, 100, txn({set("x", "1"), set("y", "1")}), list({ok_reply(), ok_reply()}));
  whole.ok(2, 10, 90, mget({"x", "y"}), list({nil(), nil()}));
  whole.ok(3, 10, 90, mget({"y", "x"}), list({str("1"), str("1")}));
  EXPECT_EQ(verdict_of(whole), VerdictKind::Linearizable);
}

TEST(Check, Txn_JoinsPartitions_SingleKeyReadsSeeHalf) {
  // Goal: x and y are only connected by the txn. Client 2 sees the txn on x, then (later)
  // not on y. Each key alone is linearizable; together they are not.
  HistoryBuilder h;
  h.ok(1, 0, 1000, txn({set("x", "1"), set("y", "1")}), list({ok_reply(), ok_reply()}));
  h.ok(2, 10, 20, get("x"), str("1"));
  h.ok(2, 30, 40, get("y"), nil());
  const Verdict verdict = check_ok(h.history());
  EXPECT_EQ(verdict.kind, VerdictKind::Violation);
  EXPECT_EQ(verdict.stats.partitions, 1u);
  ASSERT_EQ(verdict.violations.size(), 1u);
  EXPECT_EQ(verdict.violations[0].keys, (std::vector<std::string>{"x", "y"}));
}

TEST(Check, Txn_SubResultsFollowItsOwnSteps) {
  HistoryBuilder h;
  h.ok(1, 0, 10, txn({incr("n"), get("n"), append("n", "x")}), list({num(1), str("1"), num(2)}));
  EXPECT_EQ(verdict_of(h), VerdictKind::Linearizable);
  HistoryBuilder stale;  // The get inside the txn must see the incr before it.
  stale.ok(1, 0, 10, txn({incr("n"), get("n")}), list({num(1), nil()}));
  EXPECT_EQ(verdict_of(stale), VerdictKind::Violation);
}

TEST(Check, MGet_SeesWritesInRealTimeOrder) {
  // x is written, then y. An mget may see x alone (between them), never y alone.
  for (const bool y_alone : {false, true}) {
    HistoryBuilder h;
    h.ok(1, 0, 10, set("x", "1"), ok_reply());
    h.ok(1, 20, 30, set("y", "1"), ok_reply());
    h.ok(2, 5, 25, mget({"x", "y"}), y_alone ? list({nil(), str("1")}) : list({str("1"), nil()}));
    EXPECT_EQ(verdict_of(h), y_alone ? VerdictKind::Violation : VerdictKind::Linearizable);
  }
}

TEST(Check, IndependentKeys_AreSeparatePartitions_ViolationNamesOnlyItsKey) {
  HistoryBuilder h;
  h.ok(1, 0, 10, set("a", "1"), ok_reply());
  h.ok(1, 20, 30, get("a"), str("1"));
  h.ok(2, 0, 10, set("b", "1"), ok_reply());
  h.ok(2, 20, 30, get("b"), str("2"));
  h.ok(3, 0, 10, mget({"c", "d"}), list({nil(), nil()}));
  const Verdict verdict = check_ok(h.history());
  EXPECT_EQ(verdict.kind, VerdictKind::Violation);
  EXPECT_EQ(verdict.stats.partitions, 3u);  // {a}, {b}, {c, d}.
  ASSERT_EQ(verdict.violations.size(), 1u);
  EXPECT_EQ(verdict.violations[0].keys, std::vector<std::string>{"b"});
}

// --- Budgets: never a pass that was not proven ---

// 2^k distinct states reachable by k concurrent unknown incrbys (deltas 1, 2, 4, ...) that a
// read then contradicts: a violation, but only after trying every subset.
void add_adversarial(HistoryBuilder& h, const std::string& key, int k) {
  for (int i = 0; i < k; ++i) h.unknown(i + 1, i, incrby(key, int64_t{1} << i));
  h.ok(k + 1, 1000, 1010, get(key), str("-1"));
}

TEST(Check, Budget_AdversarialHistory_IsUndecidedNotLinearizable) {
  HistoryBuilder h;
  add_adversarial(h, "n", 40);
  Options options;
  options.time_budget = std::chrono::milliseconds(200);
  const auto start = std::chrono::steady_clock::now();
  const Verdict verdict = check_ok(h.history(), options);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  const double elapsed_s = std::chrono::duration<double>(elapsed).count();
  std::printf("adversarial history: %s after %.3f s (budget 0.2 s), %llu steps\n",
              verdict_name(verdict.kind), elapsed_s,
              static_cast<unsigned long long>(verdict.stats.steps));
  EXPECT_EQ(verdict.kind, VerdictKind::Undecided);
  ASSERT_EQ(verdict.undecided.size(), 1u);
  EXPECT_NE(verdict.undecided[0].reason.find("time budget"), std::string::npos);
  EXPECT_LT(elapsed_s, 5.0);  // Honoured: a generous bound over the 0.2 s asked for.
}

TEST(Check, Budget_StepsAreDeterministic) {
  HistoryBuilder h;
  add_adversarial(h, "n", 40);
  Options options;
  options.steps_max = 5000;
  const Verdict first = check_ok(h.history(), options);
  const Verdict second = check_ok(h.history(), options);
  EXPECT_EQ(first.kind, VerdictKind::Undecided);
  EXPECT_EQ(first.stats.steps, 5000u);
  EXPECT_EQ(second.stats.steps, first.stats.steps);
}

TEST(Check, Budget_ProvenViolationElsewhereStillWins) {
  // Goal: one partition undecided, another proven violating: the verdict is the violation;
  // with the other partition fine instead, it is undecided, never linearizable.
  for (const bool violating : {true, false}) {
    HistoryBuilder h;
    add_adversarial(h, "n", 40);
    h.ok(100, 0, 10, set("x", "1"), ok_reply());
    h.ok(100, 20, 30, get("x"), violating ? nil() : str("1"));
    Options options;
    options.steps_max = 20'000;
    const Verdict verdict = check_ok(h.history(), options);
    EXPECT_EQ(verdict.kind, violating ? VerdictKind::Violation : VerdictKind::Undecided);
    EXPECT_EQ(verdict.undecided.size(), 1u);
  }
}

TEST(Check, Budget_SmallAdversarialIsDecidedExhaustively) {
  // The same shape, small enough to explore: a violation, proven.
  HistoryBuilder h;
  add_adversarial(h, "n", 10);
  EXPECT_EQ(verdict_of(h), VerdictKind::Violation);
}

// --- Shape and scale ---

TEST(Check, LongSequentialHistory_NeedsNoRecursion) {
  // Goal: 200k operations placed one after another; a recursive search would need a frame
  // per operation.
  HistoryBuilder h;
  for (int64_t i = 0; i < 100'000; ++i) {
    h.ok(1, 20 * i, 20 * i + 5, incr("n"), num(i + 1));
    h.ok(2, 20 * i + 10, 20 * i + 15, get("n"), str(std::to_string(i + 1)));
  }
  const Verdict verdict = check_ok(h.history());
  EXPECT_EQ(verdict.kind, VerdictKind::Linearizable);
  std::printf("200k sequential operations: %.3f s\n",
              static_cast<double>(verdict.stats.elapsed_us) / 1e6);
}

TEST(Check, MalformedOperation_IsAnErrorNamingIt) {
  HistoryBuilder h;
  h.ok(1, 0, 10, set("x", "1"), ok_reply());
  h.ok(1, 20, 30, get("x"), num(1));  // A get answers a string or nil.
  const Result<Verdict> verdict = check(h.history());
  ASSERT_FALSE(verdict.is_ok());
  EXPECT_EQ(verdict.status().code(), ErrorCode::InvalidArgument);
  EXPECT_NE(verdict.status().message().find("operation #2"), std::string::npos)
      << verdict.status().message();
}

TEST(Check, EmptyHistory_IsLinearizable) {
  const Verdict verdict = check_ok(History{});
  EXPECT_EQ(verdict.kind, VerdictKind::Linearizable);
  EXPECT_EQ(verdict.stats.partitions, 0u);
}

TEST(Check, FormatVerdict_ShowsStatisticsAndReports) {
  HistoryBuilder h;
  h.ok(1, 0, 10, set("x", "1"), ok_reply());
  h.ok(2, 20, 30, get("x"), nil());
  h.fail(3, 0, 10, set("y", "2"));
  const std::string text = format_verdict(check_ok(h.history()));
  EXPECT_NE(text.find("operations: 3 (dropped: 1 fail"), std::string::npos) << text;
  EXPECT_NE(text.find("verdict: NOT LINEARIZABLE"), std::string::npos) << text;
  EXPECT_NE(text.find("the model answers"), std::string::npos) << text;
}

}  // namespace
}  // namespace raftkv::lincheck
