#include "kv/state_machine.h"

#include <gtest/gtest.h>

#include <limits>

#include "kv_test_util.h"

namespace raftkv::kv {
namespace {

using testing::bulk;
using testing::Driver;
using testing::integer;

constexpr const char* kNotInteger = "ERR value is not an integer or out of range";
constexpr const char* kOverflow = "ERR increment or decrement would overflow";
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

TEST(KvStateMachine, Set_ThenGetReturnsValue) {
  Driver kv;
  EXPECT_EQ(kv.apply(Command::set("k", "v")), Reply::ok());
  EXPECT_EQ(kv.query(Command::get("k")), bulk("v"));
  EXPECT_EQ(kv.apply(Command::get("k")), bulk("v"));  // GET also works through the log.
}

TEST(KvStateMachine, Set_OverwritesValue) {
  Driver kv;
  ASSERT_EQ(kv.apply(Command::set("k", "1")), Reply::ok());
  ASSERT_EQ(kv.apply(Command::set("k", "2")), Reply::ok());
  EXPECT_EQ(kv.query(Command::get("k")), bulk("2"));
  EXPECT_EQ(kv.machine().key_count(), 1u);
}

TEST(KvStateMachine, Set_NxSetsOnlyWhenMissing) {
  Driver kv;
  EXPECT_EQ(kv.apply(Command::set("k", "1", SetCondition::IfMissing)), Reply::ok());
  EXPECT_EQ(kv.apply(Command::set("k", "2", SetCondition::IfMissing)), Reply::nil());
  EXPECT_EQ(kv.query(Command::get("k")), bulk("1"));
}

TEST(KvStateMachine, Set_XxSetsOnlyWhenPresent) {
  Driver kv;
  EXPECT_EQ(kv.apply(Command::set("k", "1", SetCondition::IfPresent)), Reply::nil());
  EXPECT_EQ(kv.query(Command::get("k")), Reply::nil());
  ASSERT_EQ(kv.apply(Command::set("k", "1")), Reply::ok());
  EXPECT_EQ(kv.apply(Command::set("k", "2", SetCondition::IfPresent)), Reply::ok());
  EXPECT_EQ(kv.query(Command::get("k")), bulk("2"));
}

TEST(KvStateMachine, Set_BinarySafeKeysAndValues) {
  Driver kv;
  const std::string key("a\0b\r\n", 5);
  const std::string value("\0\xff\x01", 3);
  ASSERT_EQ(kv.apply(Command::set(key, value)), Reply::ok());
  EXPECT_EQ(kv.query(Command::get(key)), bulk(value));
  EXPECT_EQ(kv.query(Command::get("a")), Reply::nil());
}

TEST(KvStateMachine, Get_MissingKeyIsNil) {
  Driver kv;
  EXPECT_EQ(kv.query(Command::get("nope")), Reply::nil());
}

TEST(KvStateMachine, Del_CountsRemovedKeysOnce) {
  Driver kv;
  ASSERT_EQ(kv.apply(Command::mset({"a", "1", "b", "2", "c", "3"})), Reply::ok());
  EXPECT_EQ(kv.apply(Command::del({"a", "b", "a", "zz"})), integer(2));
  EXPECT_EQ(kv.query(Command::exists({"a", "b", "c"})), integer(1));
  EXPECT_EQ(kv.query(Command::dbsize()), integer(1));
}

TEST(KvStateMachine, Exists_CountsRepeatedKeysAgain) {
  Driver kv;
  ASSERT_EQ(kv.apply(Command::set("a", "1")), Reply::ok());
  EXPECT_EQ(kv.query(Command::exists({"a", "a", "b"})), integer(2));
}

TEST(KvStateMachine, Incr_MissingKeyStartsAtZero) {
  Driver kv;
  EXPECT_EQ(kv.apply(Command::incr("n")), integer(1));
  EXPECT_EQ(kv.apply(Command::incr("n")), integer(2));
  EXPECT_EQ(kv.query(Command::get("n")), bulk("2"));
}

TEST(KvStateMachine, Incr_NonIntegerValueIsRedisError) {
  for (const char* value : {"abc", " 1", "1 ", "01", "+1", "1.5", "", "-", "-0",
                            "9223372036854775808", "99999999999999999999999"}) {
    Driver kv;
    ASSERT_EQ(kv.apply(Command::set("n", value)), Reply::ok());
    EXPECT_EQ(kv.apply(Command::incr("n")), Reply::error(kNotInteger)) << "value " << value;
    EXPECT_EQ(kv.query(Command::get("n")), bulk(value));  // Unchanged.
  }
}

TEST(KvStateMachine, Incr_AcceptsInt64Extremes) {
  Driver kv;
  ASSERT_EQ(kv.apply(Command::set("n", "-9223372036854775808")), Reply::ok());
  EXPECT_EQ(kv.apply(Command::incr("n")), integer(kMin + 1));
  ASSERT_EQ(kv.apply(Command::set("m", "9223372036854775806")), Reply::ok());
  EXPECT_EQ(kv.apply(Command::incr("m")), integer(kMax));
  EXPECT_EQ(kv.query(Command::get("m")), bulk("9223372036854775807"));
}

TEST(KvStateMachine, IncrBy_OverflowIsRedisError) {
  Driver kv;
  ASSERT_EQ(kv.apply(Command::set("n", "9223372036854775807")), Reply::ok());
  EXPECT_EQ(kv.apply(Command::incr("n")), Reply::error(kOverflow));
  EXPECT_EQ(kv.apply(Command::incr_by("n", 1)), Reply::error(kOverflow));
  EXPECT_EQ(kv.apply(Command::incr_by("n", -5)), integer(kMax - 5));
  EXPECT_EQ(kv.apply(Command::incr_by("m", kMin)), integer(kMin));
  EXPECT_EQ(kv.apply(Command::incr_by("m", -1)), Reply::error(kOverflow));
  EXPECT_EQ(kv.query(Command::get("m")), bulk("-9223372036854775808"));
}

TEST(KvStateMachine, DecrBy_SubtractsDelta) {
  Driver kv;
  EXPECT_EQ(kv.apply(Command::decr_by("n", 5)), integer(-5));
  EXPECT_EQ(kv.apply(Command::decr_by("n", -15)), integer(10));
}

TEST(KvStateMachine, DecrBy_Int64MinIsDecrementOverflow) {
  Driver kv;
  EXPECT_EQ(kv.apply(Command::decr_by("n", kMin)), Reply::error("ERR decrement would overflow"));
  EXPECT_EQ(kv.query(Command::get("n")), Reply::nil());
}

TEST(KvStateMachine, DecrBy_UnderflowIsRedisError) {
  Driver kv;
  ASSERT_EQ(kv.apply(Command::set("n", "-9223372036854775807")), Reply::ok());
  EXPECT_EQ(kv.apply(Command::decr_by("n", 1)), integer(kMin));
  EXPECT_EQ(kv.apply(Command::decr_by("n", 1)), Reply::error(kOverflow));
}

TEST(KvStateMachine, DecrBy_NonIntegerValueIsRedisError) {
  Driver kv;
  ASSERT_EQ(kv.apply(Command::set("n", "x")), Reply::ok());
  EXPECT_EQ(kv.apply(Command::decr_by("n", 1)), Reply::error(kNotInteger));
}

TEST(KvStateMachine, Append_CreatesThenExtends) {
  Driver kv;
  EXPECT_EQ(kv.apply(Command::append("k", "ab")), integer(2));
  EXPECT_EQ(kv.apply(Command::append("k", "cde")), integer(5));
  EXPECT_EQ(kv.apply(Command::append("k", "")), integer(5));
  EXPECT_EQ(kv.query(Command::get("k")), bulk("abcde"));
}

TEST(KvStateMachine, Append_BeyondValueLimitIsRedisError) {
  Driver kv(KvConfig{.value_bytes_max = 4});
  EXPECT_EQ(kv.apply(Command::append("k", "abc")), integer(3));
  EXPECT_EQ(kv.apply(Command::append("k", "de")),
            Reply::error("ERR string exceeds maximum allowed size (proto-max-bulk-len)"));
  EXPECT_EQ(kv.apply(Command::append("k", "d")), integer(4));
  EXPECT_EQ(kv.query(Command::get("k")), bulk("abcd"));
}

// The proposing leader's --max-bulk-bytes, stated in the entry, bounds what APPEND and
// SETRANGE build, on every replica alike; a refused command changes nothing.
TEST(KvStateMachine, Append_BeyondEntryValueLimitIsRedisErrorAndChangesNothing) {
  Driver kv;
  ASSERT_EQ(kv.apply(Command::set("k", "abc")), Reply::ok());
  Command append = Command::append("k", "de");
  append.value_bytes_max = 4;
  EXPECT_EQ(kv.apply(append),
            Reply::error("ERR string exceeds maximum allowed size (proto-max-bulk-len)"));
  EXPECT_EQ(kv.query(Command::get("k")), bulk("abc"));
  append.args[1] = "d";
  EXPECT_EQ(kv.apply(append), integer(4));
}

TEST(KvStateMachine, SetRange_BeyondEntryValueLimitIsRedisErrorAndChangesNothing) {
  Driver kv;
  Command setrange = Command::call({"setrange", "k", "3", "xy"});
  setrange.value_bytes_max = 4;
  EXPECT_EQ(kv.apply(setrange),
            Reply::error("ERR string exceeds maximum allowed size (proto-max-bulk-len)"));
  EXPECT_EQ(kv.query(Command::get("k")), Reply::nil());
  setrange.args[3] = "x";
  EXPECT_EQ(kv.apply(setrange), integer(4));
}

TEST(KvStateMachine, Batch_InnerAppendIsBoundByTheEntrysValueLimit) {
  Driver kv;
  Command batch = Command::batch({Command::append("k", "abc"), Command::append("k", "de")});
  batch.value_bytes_max = 4;
  EXPECT_EQ(kv.apply(batch),
            Reply::array({integer(3), Reply::error("ERR string exceeds maximum allowed size "
                                                   "(proto-max-bulk-len)")}));
  EXPECT_EQ(kv.query(Command::get("k")), bulk("abc"));
}

// An entry may not raise the state machine's own cap, and one that states no limit (version
// 2, written before entries carried it) keeps that cap.
TEST(KvStateMachine, Append_EntryValueLimitAboveOwnCapKeepsTheCap) {
  Driver kv(KvConfig{.value_bytes_max = 4});
  ASSERT_EQ(kv.apply(Command::append("k", "abc")), integer(3));
  Command append = Command::append("k", "de");
  append.value_bytes_max = 100;
  EXPECT_EQ(kv.apply(append),
            Reply::error("ERR string exceeds maximum allowed size (proto-max-bulk-len)"));
  EXPECT_EQ(kv.query(Command::get("k")), bulk("abc"));
}

TEST(KvStateMachine, MGet_MixesValuesAndNils) {
  Driver kv;
  ASSERT_EQ(kv.apply(Command::mset({"a", "1", "c", "3"})), Reply::ok());
  EXPECT_EQ(kv.query(Command::mget({"a", "b", "c", "a"})),
            Reply::array({bulk("1"), Reply::nil(), bulk("3"), bulk("1")}));
}

TEST(KvStateMachine, MSet_LaterPairWinsForRepeatedKey) {
  Driver kv;
  ASSERT_EQ(kv.apply(Command::mset({"a", "1", "a", "2"})), Reply::ok());
  EXPECT_EQ(kv.query(Command::get("a")), bulk("2"));
  EXPECT_EQ(kv.query(Command::dbsize()), integer(1));
}

TEST(KvStateMachine, Cas_SwapsWhenValueMatches) {
  Driver kv;
  ASSERT_EQ(kv.apply(Command::set("k", "old")), Reply::ok());
  EXPECT_EQ(kv.apply(Command::cas("k", "old", "new")), integer(1));
  EXPECT_EQ(kv.query(Command::get("k")), bulk("new"));
}

TEST(KvStateMachine, Cas_KeepsValueOnMismatch) {
  Driver kv;
  ASSERT_EQ(kv.apply(Command::set("k", "old")), Reply::ok());
  EXPECT_EQ(kv.apply(Command::cas("k", "other", "new")), integer(0));
  EXPECT_EQ(kv.query(Command::get("k")), bulk("old"));
}

TEST(KvStateMachine, Cas_MissingKeyNeverMatchesEvenEmptyExpected) {
  Driver kv;
  EXPECT_EQ(kv.apply(Command::cas("k", "", "new")), integer(0));
  EXPECT_EQ(kv.query(Command::get("k")), Reply::nil());
  ASSERT_EQ(kv.apply(Command::set("e", "")), Reply::ok());
  EXPECT_EQ(kv.apply(Command::cas("e", "", "filled")), integer(1));
}

TEST(KvStateMachine, CasMissing_CreatesOnlyWhenAbsent) {
  Driver kv;
  EXPECT_EQ(kv.apply(Command::cas_missing("k", "first")), integer(1));
  EXPECT_EQ(kv.apply(Command::cas_missing("k", "second")), integer(0));
  EXPECT_EQ(kv.query(Command::get("k")), bulk("first"));
}

TEST(KvStateMachine, DbSize_CountsKeys) {
  Driver kv;
  EXPECT_EQ(kv.query(Command::dbsize()), integer(0));
  ASSERT_EQ(kv.apply(Command::mset({"a", "1", "b", "2"})), Reply::ok());
  EXPECT_EQ(kv.apply(Command::dbsize()), integer(2));
}

TEST(KvStateMachine, Batch_AppliesAllCommandsInOrder) {
  Driver kv;
  const Reply reply = kv.apply(Command::batch({Command::set("a", "1"), Command::incr("a"),
                                               Command::get("a"), Command::del({"a"}),
                                               Command::exists({"a"})}));
  EXPECT_EQ(reply, Reply::array({Reply::ok(), integer(2), bulk("2"), integer(1), integer(0)}));
}

TEST(KvStateMachine, Batch_FailingCommandAnswersErrorAndOthersStillApply) {
  Driver kv;
  ASSERT_EQ(kv.apply(Command::set("s", "text")), Reply::ok());
  const Reply reply = kv.apply(Command::batch(
      {Command::set("a", "1"), Command::incr("s"), Command::set("b", "2")}));
  EXPECT_EQ(reply, Reply::array({Reply::ok(), Reply::error(kNotInteger), Reply::ok()}));
  EXPECT_EQ(kv.query(Command::mget({"a", "b"})), Reply::array({bulk("1"), bulk("2")}));
}

TEST(KvStateMachine, Batch_EmptyBatchIsEmptyArray) {
  Driver kv;
  EXPECT_EQ(kv.apply(Command::batch({})), Reply::array({}));
}

TEST(KvStateMachine, Batch_IsOneLogEntryAndOneIndex) {
  Driver kv;
  ASSERT_EQ(kv.apply(Command::batch({Command::incr("a"), Command::incr("a")})),
            Reply::array({integer(1), integer(2)}));
  EXPECT_EQ(kv.machine().applied_index(), Index(1));
}

TEST(KvStateMachine, Apply_MalformedEntryRepliesErrorAndAdvancesIndex) {
  KvStateMachine machine;
  const Reply reply = machine.apply(Index(1), "garbage");
  ASSERT_TRUE(reply.is_error());
  EXPECT_EQ(reply.text.rfind("ERR malformed command entry", 0), 0u) << reply.text;
  EXPECT_EQ(machine.applied_index(), Index(1));
  EXPECT_EQ(machine.key_count(), 0u);
}

TEST(KvStateMachine, Apply_EmptyEntryAdvancesIndex) {
  KvStateMachine machine;
  machine.apply_empty(Index(3));
  EXPECT_EQ(machine.applied_index(), Index(3));
  EXPECT_EQ(machine.apply(Index(4), encode_command(Command::incr("n"))), integer(1));
  EXPECT_EQ(machine.applied_index(), Index(4));
}

TEST(KvStateMachine, Query_DoesNotChangeState) {
  Driver kv;
  ASSERT_EQ(kv.apply(Command::set("a", "1")), Reply::ok());
  const std::string before = kv.snapshot_bytes();
  EXPECT_EQ(kv.query(Command::get("a")), bulk("1"));
  EXPECT_EQ(kv.query(Command::mget({"a", "b"})), Reply::array({bulk("1"), Reply::nil()}));
  EXPECT_EQ(kv.snapshot_bytes(), before);
  EXPECT_EQ(kv.machine().applied_index(), Index(1));
}

TEST(KvStateMachine, ReplyDebugString_DescribesEachKind) {
  EXPECT_EQ(reply_debug_string(Reply::array({Reply::ok(), integer(3), bulk("v"), Reply::nil(),
                                             Reply::error("ERR x")})),
            "[OK, (integer) 3, \"v\", (nil), (error) ERR x]");
}

}  // namespace
}  // namespace raftkv::kv
