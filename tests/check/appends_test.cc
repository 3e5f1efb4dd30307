#include <gtest/gtest.h>

#include "check/lincheck.h"
#include "check/test_support.h"

namespace raftkv::lincheck {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace): the builders read as a DSL.

// One append of `suffix` to "l" with the given outcome.
History one_append(Outcome outcome, const std::string& suffix = "c1-1;") {
  HistoryBuilder h;
  if (outcome == Outcome::Ok) h.ok(1, 0, 10, append("l", suffix), num(5));
  if (outcome == Outcome::Fail) h.fail(1, 0, 10, append("l", suffix));
  if (outcome == Outcome::Unknown) h.unknown(1, 0, append("l", suffix));
  return h.history();
}

size_t offences(const History& history, std::optional<std::string> final_value) {
  const AppendsVerdict verdict = check_appends_exactly_once(history, {{"l", final_value}});
  EXPECT_TRUE(verdict.skipped.empty());
  EXPECT_EQ(verdict.appends_checked, 1u);
  return verdict.offences.size();
}

TEST(AppendsExactlyOnce, OkAppend_MustAppearExactlyOnce) {
  const History history = one_append(Outcome::Ok);
  EXPECT_EQ(offences(history, "c1-1;"), 0u);
  EXPECT_EQ(offences(history, "c2-1;"), 1u);         // Lost.
  EXPECT_EQ(offences(history, std::nullopt), 1u);    // Key gone.
  EXPECT_EQ(offences(history, "c1-1;c1-1;"), 1u);    // Applied twice.
}

TEST(AppendsExactlyOnce, FailedAppend_MustNeverAppear) {
  const History history = one_append(Outcome::Fail);
  EXPECT_EQ(offences(history, ""), 0u);
  EXPECT_EQ(offences(history, "c1-1;"), 1u);
}

TEST(AppendsExactlyOnce, UnknownAppend_AtMostOnce) {
  const History history = one_append(Outcome::Unknown);
  EXPECT_EQ(offences(history, std::nullopt), 0u);
  EXPECT_EQ(offences(history, "c1-1;"), 0u);
  EXPECT_EQ(offences(history, "c1-1;c1-1;"), 1u);
}

TEST(AppendsExactlyOnce, ReportsEveryOffenderWithItsCount) {
  HistoryBuilder h;
  h.ok(1, 0, 10, append("l", "a;"), num(2));
  h.ok(2, 0, 10, append("l", "b;"), num(4));
  h.ok(3, 0, 10, txn({append("m", "c;"), get("m")}), list({num(2), str("c;")}));
  const AppendsVerdict verdict =
      check_appends_exactly_once(h.history(), {{"l", "a;a;"}, {"m", "c;"}});
  EXPECT_EQ(verdict.appends_checked, 3u);
  ASSERT_EQ(verdict.offences.size(), 2u);
  EXPECT_EQ(verdict.offences[0].operation, 0u);
  EXPECT_EQ(verdict.offences[0].occurrences, 2u);
  EXPECT_EQ(verdict.offences[1].operation, 1u);
  EXPECT_EQ(verdict.offences[1].occurrences, 0u);
  const std::string text = format_appends(verdict, h.history());
  EXPECT_NE(text.find("#1 client 1 [0, 10] append \"l\" \"a;\" -> 2: ok append found 2 time(s)"),
            std::string::npos)
      << text;
}

TEST(AppendsExactlyOnce, KeysItCannotJudge_AreSkippedWithReason) {
  HistoryBuilder h;
  h.ok(1, 0, 10, append("set-too", "a;"), num(2));
  h.unknown(1, 20, set("set-too", ""));  // May have wiped the suffix legitimately.
  h.ok(1, 0, 10, append("twice", "a;"), num(2));
  h.ok(2, 0, 10, append("twice", "a;"), num(4));
  h.ok(3, 0, 10, append("no-final", "a;"), num(2));
  h.fail(3, 20, 30, set("fine", "x"));  // A failed set changed nothing.
  h.ok(3, 40, 50, append("fine", "b;"), num(2));
  const AppendsVerdict verdict = check_appends_exactly_once(
      h.history(), {{"set-too", ""}, {"twice", "a;a;"}, {"fine", "b;"}});
  EXPECT_TRUE(verdict.offences.empty());
  EXPECT_EQ(verdict.appends_checked, 1u);
  ASSERT_EQ(verdict.skipped.size(), 3u);
  EXPECT_EQ(verdict.skipped[0].first, "no-final");
  EXPECT_EQ(verdict.skipped[1].first, "set-too");
  EXPECT_EQ(verdict.skipped[1].second, "written by commands other than append");
  EXPECT_EQ(verdict.skipped[2].first, "twice");
}

}  // namespace
}  // namespace raftkv::lincheck
