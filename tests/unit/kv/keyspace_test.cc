#include "kv/keyspace.h"

#include <gtest/gtest.h>

#include <string>

namespace raftkv::kv {
namespace {

Value string_until(std::string text, int64_t deadline_ms) {
  Value value = Value::of_string(std::move(text));
  value.expire_at_ms = deadline_ms;
  return value;
}

// expire_if_due() answers from the soonest deadline when nothing can be due, and put() skips
// its lookup of the old value when no key has a deadline: both must keep the expiry index
// exact at its edges.
TEST(Keyspace, ExpireIfDue_RemovesOnlyKeysAtOrPastTheirDeadline) {
  Keyspace keys;
  keys.put("a", string_until("1", 100), Index(1));
  keys.put("b", Value::of_string("2"), Index(2));
  EXPECT_FALSE(keys.expire_if_due("a", 99));
  EXPECT_FALSE(keys.expire_if_due("b", 1000));  // Something is due, but not b: it has no deadline.
  EXPECT_FALSE(keys.expire_if_due("missing", 1000));
  EXPECT_EQ(keys.size(), 2u);
  EXPECT_TRUE(keys.expire_if_due("a", 100));  // Due exactly at its deadline.
  EXPECT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys.expiring(), 0u);
}

TEST(Keyspace, Put_ForgetsTheDeadlineOfTheValueItReplaces) {
  Keyspace keys;
  keys.put("a", string_until("1", 100), Index(1));
  keys.put("a", Value::of_string("2"), Index(2));  // SET without a TTL drops the deadline.
  EXPECT_EQ(keys.expiring(), 0u);
  EXPECT_TRUE(keys.due(1000, 10).empty());
  EXPECT_FALSE(keys.expire_if_due("a", 1000));
  keys.put("b", Value::of_string("3"), Index(3));  // No deadline anywhere: the fast path.
  keys.put("b", string_until("4", 50), Index(4));
  keys.put("b", string_until("5", 70), Index(5));
  ASSERT_EQ(keys.due(1000, 10).size(), 1u);
  EXPECT_EQ(keys.due(60, 10).size(), 0u);  // The old deadline (50) went with the old value.
  EXPECT_TRUE(keys.expire_if_due("b", 70));
  EXPECT_EQ(keys.size(), 1u);
}

}  // namespace
}  // namespace raftkv::kv
