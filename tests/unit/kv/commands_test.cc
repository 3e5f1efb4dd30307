// The store's Redis commands (kv/commands.h): strings, expiry on log time, the key space,
// hashes, WATCH versions, the leader's sweep, and snapshots of all of it.
#include "kv/commands.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "kv_test_util.h"

namespace raftkv::kv {
namespace {

using testing::bulk;
using testing::Driver;
using testing::integer;

constexpr uint64_t kT0 = 1'700'000'000'000;  // A leader's clock, ms since the epoch.
constexpr const char* kWrongType =
    "WRONGTYPE Operation against a key holding the wrong kind of value";

Reply error(const char* text) { return Reply::error(text); }

std::vector<std::string> keys_of(const Reply& reply) {
  std::vector<std::string> keys;
  for (const Reply& element : reply.elements) keys.push_back(element.text);
  return keys;
}

// The same, sorted: KEYS and HKEYS list in hash order, which no test should spell out.
std::vector<std::string> sorted_keys_of(const Reply& reply) {
  std::vector<std::string> keys = keys_of(reply);
  std::sort(keys.begin(), keys.end());
  return keys;
}

TEST(KvCommands, IsStoreCommand_TheKeySpacesOwnEntriesOnly) {
  const auto store = [](std::string_view name) {
    return is_store_command(*protocol::find_command(name));
  };
  EXPECT_TRUE(store("get"));
  EXPECT_TRUE(store("set"));
  EXPECT_TRUE(store("hset"));
  EXPECT_TRUE(store("unlink"));  // The table's last handler.
  EXPECT_FALSE(store("ping"));
  EXPECT_FALSE(store("multi"));
  EXPECT_FALSE(store("session.call"));
  EXPECT_FALSE(store("cas"));  // A typed command of its own, not a Call.
  EXPECT_FALSE(is_store_command(*protocol::find_subcommand("client", "list")));
  size_t count = 0;
  for (const protocol::CommandSpec& spec : protocol::all_commands()) {
    if (!is_store_command(spec)) continue;
    ++count;
    EXPECT_TRUE(spec.is(protocol::kRead) || spec.is(protocol::kWrite)) << spec.name;
  }
  EXPECT_GT(count, 50u);
}

TEST(KvCommands, Set_ExpiryOptionsRunOnTheEntrysTime) {
  Driver kv;
  ASSERT_EQ(kv.apply_at(kT0, {"SET", "k", "v", "EX", "10"}), Reply::ok());
  EXPECT_EQ(kv.query_at(kT0, {"pttl", "k"}), integer(10'000));
  EXPECT_EQ(kv.query_at(kT0 + 9'999, {"get", "k"}), bulk("v"));
  EXPECT_EQ(kv.query_at(kT0 + 10'000, {"get", "k"}), Reply::nil());  // At the deadline: gone.
  EXPECT_EQ(kv.query_at(kT0, {"expiretime", "k"}), integer(static_cast<int64_t>(kT0 / 1000 + 10)));
  ASSERT_EQ(kv.apply_at(kT0, {"set", "k", "w", "KEEPTTL"}), Reply::ok());
  EXPECT_EQ(kv.query_at(kT0, {"pexpiretime", "k"}), integer(static_cast<int64_t>(kT0 + 10'000)));
  ASSERT_EQ(kv.apply_at(kT0, {"set", "k", "x"}), Reply::ok());  // A plain SET drops the TTL.
  EXPECT_EQ(kv.query_at(kT0, {"ttl", "k"}), integer(-1));
  EXPECT_EQ(kv.query_at(kT0, {"ttl", "missing"}), integer(-2));
}

// A plain SET does not look at the key first: it must still replace an expired value (and
// drop its deadline, so no sweep lists the key) and a value of another type.
TEST(KvCommands, Set_PlainReplacesAnExpiredValueOrAnotherType) {
  Driver kv;
  ASSERT_EQ(kv.apply_at(kT0, {"set", "k", "v", "PX", "5"}), Reply::ok());
  ASSERT_EQ(kv.apply_at(kT0 + 10, {"set", "k", "w"}), Reply::ok());  // Past its deadline.
  EXPECT_EQ(kv.query_at(kT0 + 10, {"get", "k"}), bulk("w"));
  EXPECT_EQ(kv.query_at(kT0 + 10, {"ttl", "k"}), integer(-1));
  EXPECT_FALSE(kv.machine().sweep_due(kT0 + 1'000'000).has_value());
  ASSERT_EQ(kv.apply_at(kT0, {"hset", "h", "f", "v"}), integer(1));
  ASSERT_EQ(kv.apply_at(kT0, {"set", "h", "x"}), Reply::ok());
  EXPECT_EQ(kv.query_at(kT0, {"get", "h"}), bulk("x"));
  EXPECT_EQ(kv.query_at(kT0, {"dbsize"}), integer(2));
}

TEST(KvCommands, Set_OptionsAndErrorsAsRedis) {
  Driver kv;
  EXPECT_EQ(kv.apply_at(kT0, {"set", "k", "v", "EX", "0"}),
            error("ERR invalid expire time in 'set' command"));
  EXPECT_EQ(kv.apply_at(kT0, {"set", "k", "v", "EX", "x"}),
            error("ERR value is not an integer or out of range"));
  EXPECT_EQ(kv.apply_at(kT0, {"set", "k", "v", "EX", "1", "PX", "1"}), error("ERR syntax error"));
  EXPECT_EQ(kv.apply_at(kT0, {"set", "k", "v", "NX", "XX"}), error("ERR syntax error"));
  EXPECT_EQ(kv.apply_at(kT0, {"set", "k", "v", "KEEPTTL", "EX", "1"}), error("ERR syntax error"));
  EXPECT_EQ(kv.apply_at(kT0, {"set", "k", "v", "GET"}), Reply::nil());
  EXPECT_EQ(kv.apply_at(kT0, {"set", "k", "w", "NX", "GET"}), bulk("v"));  // Not set: old one.
  EXPECT_EQ(kv.apply_at(kT0, {"set", "k", "w", "XX", "GET"}), bulk("v"));
  EXPECT_EQ(kv.apply_at(kT0, {"hset", "h", "f", "v"}), integer(1));
  EXPECT_EQ(kv.apply_at(kT0, {"set", "h", "v", "GET"}), error(kWrongType));
  EXPECT_EQ(kv.apply_at(kT0, {"set", "k", "v", "PXAT", std::to_string(kT0 - 1)}), Reply::ok());
  EXPECT_EQ(kv.query_at(kT0, {"exists", "k"}), integer(0));  // A deadline already past.
}

TEST(KvCommands, StringFamily_RepliesAsRedis) {
  Driver kv;
  EXPECT_EQ(kv.apply_at(kT0, {"setnx", "k", "hello"}), integer(1));
  EXPECT_EQ(kv.apply_at(kT0, {"setnx", "k", "x"}), integer(0));
  EXPECT_EQ(kv.apply_at(kT0, {"getset", "k", "hello world"}), bulk("hello"));
  EXPECT_EQ(kv.query_at(kT0, {"strlen", "k"}), integer(11));
  EXPECT_EQ(kv.query_at(kT0, {"getrange", "k", "0", "4"}), bulk("hello"));
  EXPECT_EQ(kv.query_at(kT0, {"getrange", "k", "-5", "-1"}), bulk("world"));
  EXPECT_EQ(kv.query_at(kT0, {"substr", "k", "5", "2"}), bulk(""));
  EXPECT_EQ(kv.apply_at(kT0, {"setrange", "k", "6", "there"}), integer(11));
  EXPECT_EQ(kv.apply_at(kT0, {"setrange", "pad", "3", "x"}), integer(4));
  EXPECT_EQ(kv.query_at(kT0, {"get", "pad"}), bulk(std::string("\0\0\0x", 4)));
  EXPECT_EQ(kv.apply_at(kT0, {"setrange", "k", "-1", "x"}), error("ERR offset is out of range"));
  EXPECT_EQ(kv.apply_at(kT0, {"getdel", "k"}), bulk("hello there"));
  EXPECT_EQ(kv.query_at(kT0, {"exists", "k"}), integer(0));
  EXPECT_EQ(kv.apply_at(kT0, {"msetnx", "a", "1", "pad", "2"}), integer(0));
  EXPECT_EQ(kv.apply_at(kT0, {"msetnx", "a", "1", "b", "2"}), integer(1));
  EXPECT_EQ(kv.apply_at(kT0, {"mset", "a", "1", "b"}),
            error("ERR wrong number of arguments for 'mset' command"));
  EXPECT_EQ(kv.apply_at(kT0, {"setex", "e", "5", "v"}), Reply::ok());
  EXPECT_EQ(kv.query_at(kT0, {"ttl", "e"}), integer(5));
  EXPECT_EQ(kv.apply_at(kT0, {"psetex", "e", "-1", "v"}),
            error("ERR invalid expire time in 'psetex' command"));
}

TEST(KvCommands, IncrByFloat_FormatsAsRedis) {
  Driver kv;
  EXPECT_EQ(kv.apply_at(kT0, {"incrbyfloat", "f", "10.5"}), bulk("10.5"));
  EXPECT_EQ(kv.apply_at(kT0, {"incrbyfloat", "f", "0.1"}), bulk("10.6"));
  EXPECT_EQ(kv.apply_at(kT0, {"incrbyfloat", "f", "-10.6"}), bulk("0"));
  EXPECT_EQ(kv.apply_at(kT0, {"incrbyfloat", "f", "5.0e3"}), bulk("5000"));
  EXPECT_EQ(kv.apply_at(kT0, {"incrbyfloat", "f", "abc"}), error("ERR value is not a valid float"));
  EXPECT_EQ(kv.apply_at(kT0, {"incrbyfloat", "f", "1e5000"}),
            error("ERR value is not a valid float"));
  EXPECT_EQ(kv.apply_at(kT0, {"incrbyfloat", "f", "+inf"}),
            error("ERR increment would produce NaN or Infinity"));
  ASSERT_EQ(kv.apply_at(kT0, {"set", "s", "x"}), Reply::ok());
  EXPECT_EQ(kv.apply_at(kT0, {"incrbyfloat", "s", "1"}), error("ERR value is not a valid float"));
}

TEST(KvCommands, Expire_ConditionsAndRemovalAsRedis) {
  Driver kv;
  ASSERT_EQ(kv.apply_at(kT0, {"set", "k", "v"}), Reply::ok());
  EXPECT_EQ(kv.apply_at(kT0, {"expire", "k", "100", "XX"}), integer(0));  // No TTL yet.
  EXPECT_EQ(kv.apply_at(kT0, {"expire", "k", "100", "GT"}), integer(0));  // None is infinite.
  EXPECT_EQ(kv.apply_at(kT0, {"expire", "k", "100", "NX"}), integer(1));
  EXPECT_EQ(kv.apply_at(kT0, {"expire", "k", "50", "GT"}), integer(0));
  EXPECT_EQ(kv.apply_at(kT0, {"expire", "k", "50", "LT"}), integer(1));
  EXPECT_EQ(kv.apply_at(kT0, {"pexpire", "k", "60000", "GT"}), integer(1));
  EXPECT_EQ(kv.query_at(kT0, {"pttl", "k"}), integer(60'000));
  EXPECT_EQ(kv.apply_at(kT0, {"expire", "k", "1", "NX", "XX"}),
            error("ERR NX and XX, GT or LT options at the same time are not compatible"));
  EXPECT_EQ(kv.apply_at(kT0, {"expire", "k", "1", "GT", "LT"}),
            error("ERR GT and LT options at the same time are not compatible"));
  EXPECT_EQ(kv.apply_at(kT0, {"expire", "k", "1", "FOO"}), error("ERR Unsupported option FOO"));
  EXPECT_EQ(kv.apply_at(kT0, {"expire", "k", "9223372036854775807"}),
            error("ERR invalid expire time in 'expire' command"));
  EXPECT_EQ(kv.apply_at(kT0, {"persist", "k"}), integer(1));
  EXPECT_EQ(kv.apply_at(kT0, {"persist", "k"}), integer(0));
  EXPECT_EQ(kv.apply_at(kT0, {"expireat", "k", "1"}), integer(1));  // In the past: deleted.
  EXPECT_EQ(kv.machine().key_count(), 0u);
  EXPECT_EQ(kv.apply_at(kT0, {"expire", "missing", "10"}), integer(0));
}

// Log time is the largest stamp applied: a leader whose clock is behind cannot bring a key
// back, and a read never sees a key its node's late clock would still call alive.
TEST(KvCommands, LogTime_NeverRunsBackwards) {
  Driver kv;
  ASSERT_EQ(kv.apply_at(kT0, {"set", "k", "v", "PX", "1000"}), Reply::ok());
  ASSERT_EQ(kv.apply_at(kT0 + 2'000, {"set", "other", "x"}), Reply::ok());  // Time passes.
  EXPECT_EQ(kv.query_at(kT0, {"get", "k"}), Reply::nil());  // A node with a slow clock.
  // A new leader whose clock is a minute behind: the key stays gone, and writes run at the
  // log time, not at the stale stamp.
  EXPECT_EQ(kv.apply_at(kT0 - 60'000, {"get", "k"}), Reply::nil());
  ASSERT_EQ(kv.apply_at(kT0 - 60'000, {"set", "n", "v", "PX", "500"}), Reply::ok());
  EXPECT_EQ(kv.query_at(0, {"pexpiretime", "n"}), integer(static_cast<int64_t>(kT0 + 2'500)));
}

// Lazy expiry: the write that touches an expired key deletes it, at the same entry on
// every replica; a read only ignores it.
TEST(KvCommands, Expiry_WritesDeleteReadsIgnore) {
  Driver kv;
  ASSERT_EQ(kv.apply_at(kT0, {"set", "k", "5", "PX", "100"}), Reply::ok());
  EXPECT_EQ(kv.query_at(kT0 + 100, {"exists", "k"}), integer(0));
  EXPECT_EQ(kv.machine().key_count(), 1u);  // Still stored: only a replicated delete removes it.
  EXPECT_EQ(kv.apply_at(kT0 + 100, {"incr", "k"}), integer(1));  // Starts from a missing key.
  EXPECT_EQ(kv.query_at(kT0 + 100, {"ttl", "k"}), integer(-1));
}

TEST(KvCommands, Sweep_DeletesOnlyWhatIsStillDue) {
  Driver kv;
  for (const char* key : {"a", "b", "c"}) {
    ASSERT_EQ(kv.apply_at(kT0, {"set", key, "v", "PX", "10"}), Reply::ok());
  }
  ASSERT_EQ(kv.apply_at(kT0, {"set", "keep", "v"}), Reply::ok());
  EXPECT_FALSE(kv.machine().sweep_due(kT0 + 9).has_value());
  std::optional<Command> sweep = kv.machine().sweep_due(kT0 + 10);
  ASSERT_TRUE(sweep.has_value());
  EXPECT_EQ(sweep->args, (std::vector<std::string>{"a", "b", "c"}));
  // Between the leader's listing and the sweep's entry, "b" was written again.
  ASSERT_EQ(kv.apply_at(kT0 + 10, {"set", "b", "again"}), Reply::ok());
  EXPECT_EQ(kv.apply_at(kT0 + 10, *sweep), integer(2));
  EXPECT_EQ(kv.machine().key_count(), 2u);
  EXPECT_EQ(kv.query_at(kT0 + 10, {"get", "b"}), bulk("again"));
  EXPECT_FALSE(kv.machine().sweep_due(kT0 + 1'000'000).has_value());
}

TEST(KvCommands, Keyspace_TypeRenameCopyFlush) {
  Driver kv;
  ASSERT_EQ(kv.apply_at(kT0, {"set", "s", "v", "EX", "100"}), Reply::ok());
  ASSERT_EQ(kv.apply_at(kT0, {"hset", "h", "f", "1"}), integer(1));
  EXPECT_EQ(kv.query_at(kT0, {"type", "s"}), Reply::simple("string"));
  EXPECT_EQ(kv.query_at(kT0, {"type", "h"}), Reply::simple("hash"));
  EXPECT_EQ(kv.query_at(kT0, {"type", "x"}), Reply::simple("none"));
  EXPECT_EQ(kv.apply_at(kT0, {"rename", "x", "y"}), error("ERR no such key"));
  EXPECT_EQ(kv.apply_at(kT0, {"rename", "s", "t"}), Reply::ok());
  EXPECT_EQ(kv.query_at(kT0, {"ttl", "t"}), integer(100));  // The deadline moves along.
  EXPECT_EQ(kv.apply_at(kT0, {"renamenx", "t", "h"}), integer(0));
  EXPECT_EQ(kv.apply_at(kT0, {"copy", "h", "h2"}), integer(1));
  EXPECT_EQ(kv.apply_at(kT0, {"copy", "h", "h2"}), integer(0));
  EXPECT_EQ(kv.apply_at(kT0, {"copy", "h", "h2", "REPLACE", "DB", "0"}), integer(1));
  EXPECT_EQ(kv.apply_at(kT0, {"copy", "h", "h2", "DB", "1"}),
            error("ERR DB index is out of range"));
  EXPECT_EQ(kv.apply_at(kT0, {"hset", "h2", "g", "2"}), integer(1));
  EXPECT_EQ(kv.query_at(kT0, {"hlen", "h"}), integer(1));  // The copy is independent.
  EXPECT_EQ(sorted_keys_of(kv.query_at(kT0, {"keys", "h*"})),
            (std::vector<std::string>{"h", "h2"}));
  EXPECT_EQ(kv.apply_at(kT0, {"flushall", "async"}), Reply::ok());
  EXPECT_EQ(kv.query_at(kT0, {"dbsize"}), integer(0));
  EXPECT_EQ(kv.apply_at(kT0, {"flushdb", "now"}), error("ERR syntax error"));
}

TEST(KvCommands, Glob_MatchesAsRedis) {
  EXPECT_TRUE(glob_match("h?llo", "hello"));
  EXPECT_TRUE(glob_match("h*llo", "heeeello"));
  EXPECT_TRUE(glob_match("h[ae]llo", "hallo"));
  EXPECT_FALSE(glob_match("h[^e]llo", "hello"));
  EXPECT_TRUE(glob_match("h[a-b]llo", "hbllo"));
  EXPECT_TRUE(glob_match("a\\*b", "a*b"));
  EXPECT_FALSE(glob_match("a\\*b", "axb"));
  EXPECT_TRUE(glob_match("*", ""));
  // Many stars against a long mismatch stay polynomial (the recursive form never ends).
  EXPECT_FALSE(glob_match(std::string(40, '*') + "a*a*a*a*a*a*a*b", std::string(5000, 'a')));
}

// A cursor is a position in the key space's order: a key present for the whole scan is
// returned even when others are added and removed between calls. The keys share a long
// prefix, as redis-benchmark's do: a reply still holds about COUNT keys, not all of them.
TEST(KvCommands, Scan_ReturnsEveryKeyPresentThroughout) {
  Driver kv;
  const auto name = [](int i) {
    const std::string digits = std::to_string(i);
    return "key:" + std::string(12 - digits.size(), '0') + digits;
  };
  for (int i = 0; i < 200; ++i) ASSERT_EQ(kv.apply_at(kT0, {"set", name(i), "v"}), Reply::ok());
  std::set<std::string> seen;
  std::string cursor = "0";
  int calls = 0;
  do {
    const Reply reply = kv.query_at(kT0, {"scan", cursor, "COUNT", "7"});
    ASSERT_EQ(reply.elements.size(), 2u);
    cursor = reply.elements[0].text;
    const std::vector<std::string> keys = keys_of(reply.elements[1]);
    EXPECT_LE(keys.size(), 7u);  // No two of these 400 keys share a 64-bit hash.
    seen.insert(keys.begin(), keys.end());
    // Churn: a new key and a deleted one between every two calls.
    ASSERT_EQ(kv.apply_at(kT0, {"set", "new:" + std::to_string(calls), "v"}), Reply::ok());
    ASSERT_EQ(kv.apply_at(kT0, {"del", name(199 - calls)}), integer(1));
    ++calls;
  } while (cursor != "0" && calls < 1000);
  for (int i = 0; i < 200 - calls; ++i) EXPECT_TRUE(seen.count(name(i))) << i;
  EXPECT_GT(calls, 20);
  EXPECT_EQ(kv.query_at(kT0, {"scan", "x"}), error("ERR invalid cursor"));
  const Reply typed = kv.query_at(kT0, {"scan", "0", "TYPE", "hash", "COUNT", "1000"});
  EXPECT_TRUE(typed.elements[1].elements.empty());
}

TEST(KvCommands, Hashes_RepliesAsRedis) {
  Driver kv;
  EXPECT_EQ(kv.apply_at(kT0, {"hset", "h", "a", "1", "b", "2"}), integer(2));
  EXPECT_EQ(kv.apply_at(kT0, {"hset", "h", "a", "3"}), integer(0));
  EXPECT_EQ(kv.apply_at(kT0, {"hmset", "h", "c", "x"}), Reply::ok());
  EXPECT_EQ(kv.apply_at(kT0, {"hsetnx", "h", "a", "9"}), integer(0));
  EXPECT_EQ(kv.query_at(kT0, {"hget", "h", "a"}), bulk("3"));
  EXPECT_EQ(kv.query_at(kT0, {"hmget", "h", "a", "zz"}), Reply::array({bulk("3"), Reply::nil()}));
  EXPECT_EQ(sorted_keys_of(kv.query_at(kT0, {"hkeys", "h"})),
            (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(kv.query_at(kT0, {"hstrlen", "h", "c"}), integer(1));
  EXPECT_EQ(kv.apply_at(kT0, {"hincrby", "h", "a", "5"}), integer(8));
  EXPECT_EQ(kv.apply_at(kT0, {"hincrby", "h", "c", "5"}),
            error("ERR hash value is not an integer"));
  EXPECT_EQ(kv.apply_at(kT0, {"hincrbyfloat", "h", "b", "0.5"}), bulk("2.5"));
  EXPECT_EQ(kv.apply_at(kT0, {"hincrbyfloat", "h", "c", "1"}),
            error("ERR hash value is not a float"));
  EXPECT_EQ(kv.query_at(kT0, {"get", "h"}), error(kWrongType));
  EXPECT_EQ(kv.apply_at(kT0, {"incr", "h"}), error(kWrongType));
  ASSERT_EQ(kv.apply_at(kT0, {"set", "s", "v"}), Reply::ok());
  EXPECT_EQ(kv.query_at(kT0, {"hget", "s", "a"}), error(kWrongType));
  EXPECT_EQ(kv.apply_at(kT0, {"hdel", "h", "a", "b", "c", "d"}), integer(3));
  EXPECT_EQ(kv.query_at(kT0, {"exists", "h"}), integer(0));  // An empty hash is deleted.
}

TEST(KvCommands, HRandField_CountsAsRedis) {
  Driver kv;
  ASSERT_EQ(kv.apply_at(kT0, {"hset", "h", "a", "1", "b", "2", "c", "3"}), integer(3));
  EXPECT_EQ(kv.query_at(kT0, {"hrandfield", "h", "5"}).elements.size(), 3u);  // Distinct.
  EXPECT_EQ(kv.query_at(kT0, {"hrandfield", "h", "2", "withvalues"}).elements.size(), 4u);
  EXPECT_EQ(kv.query_at(kT0, {"hrandfield", "h", "-7"}).elements.size(), 7u);  // Repeats.
  EXPECT_EQ(kv.query_at(kT0, {"hrandfield", "h", "0"}), Reply::array({}));
  EXPECT_EQ(kv.query_at(kT0, {"hrandfield", "nope"}), Reply::nil());
  EXPECT_EQ(kv.query_at(kT0, {"hrandfield", "h", "1", "x"}), error("ERR syntax error"));
  const Reply one = kv.query_at(kT0, {"hrandfield", "h"});
  EXPECT_TRUE(one.text == "a" || one.text == "b" || one.text == "c") << one.text;
}

// WATCH: the EXEC entry carries each key's version (the index of its last change); any
// write to the key since then, an expiry included, makes EXEC answer a nil array.
TEST(KvCommands, Batch_AppliesOnlyIfWatchedVersionsHold) {
  Driver kv;
  ASSERT_EQ(kv.apply_at(kT0, {"set", "k", "1", "PX", "100"}), Reply::ok());
  const Reply versions = kv.machine().query(Command::versions({"k", "missing"}));
  ASSERT_EQ(versions, Reply::array({integer(1), integer(0)}));
  const Command watched = Command::batch({Command::call({"incr", "k"})},
                                         {{"k", 1}, {"missing", 0}});
  EXPECT_EQ(kv.apply_at(kT0, watched), Reply::array({integer(2)}));
  EXPECT_EQ(kv.apply_at(kT0, watched), Reply::nil_array());  // k changed at index 2.
  const Command after_expiry = Command::batch({Command::call({"incr", "k"})}, {{"k", 2}});
  EXPECT_EQ(kv.apply_at(kT0 + 100, after_expiry), Reply::nil_array());
  EXPECT_EQ(kv.apply_at(kT0 + 100, Command::batch({}, {{"k", 0}})), Reply::array({}));
}

TEST(KvCommands, Snapshot_CarriesDeadlinesHashesAndVersions) {
  Driver kv;
  ASSERT_EQ(kv.apply_at(kT0, {"set", "s", "v", "PX", "5000"}), Reply::ok());
  ASSERT_EQ(kv.apply_at(kT0, {"hset", "h", "f", "1", "g", "2"}), integer(2));
  ASSERT_EQ(kv.apply_at(kT0 + 10, {"set", "gone", "v", "PX", "1"}), Reply::ok());
  const std::string bytes = kv.snapshot_bytes();
  Driver restored;
  runtime::StringSource source(bytes, 7);
  ASSERT_TRUE(restored.machine().restore(source).is_ok());
  EXPECT_EQ(restored.snapshot_bytes(), bytes);
  EXPECT_EQ(restored.machine().query(Command::call({"pexpiretime", "s"})),
            integer(static_cast<int64_t>(kT0 + 5000)));
  EXPECT_EQ(restored.machine().query(Command::call({"hgetall", "h"})),
            Reply::array({bulk("f"), bulk("1"), bulk("g"), bulk("2")}));
  EXPECT_EQ(restored.machine().query(Command::versions({"h"})), Reply::array({integer(2)}));
  // The restored node's sweep lists what the source's does: the deadline index is rebuilt.
  EXPECT_EQ(restored.machine().sweep_due(kT0 + 11), kv.machine().sweep_due(kT0 + 11));
  EXPECT_TRUE(restored.machine().sweep_due(kT0 + 11).has_value());
}

}  // namespace
}  // namespace raftkv::kv
