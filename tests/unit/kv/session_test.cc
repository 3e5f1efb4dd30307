#include <gtest/gtest.h>

#include "kv/state_machine.h"
#include "kv_test_util.h"

namespace raftkv::kv {
namespace {

using testing::bulk;
using testing::Driver;
using testing::integer;

// Registers a session at log time `now_ms` and returns its client id.
uint64_t register_at(Driver& kv, uint64_t now_ms) {
  const Reply reply = kv.apply(Command::register_session(now_ms));
  EXPECT_EQ(reply.type, ReplyType::Integer);
  return static_cast<uint64_t>(reply.integer);
}

bool is_session_expired(const Reply& reply) {
  return reply.is_error() && reply.text.rfind("SESSION_EXPIRED ", 0) == 0;
}

TEST(KvSessions, RegisterSession_ReturnsLogIndexAsClientId) {
  Driver kv;
  ASSERT_EQ(kv.apply(Command::set("a", "1")), Reply::ok());
  EXPECT_EQ(kv.apply(Command::register_session(100)), integer(2));
  EXPECT_EQ(kv.apply(Command::register_session(100)), integer(3));
  EXPECT_EQ(kv.machine().session_count(), 2u);
  EXPECT_EQ(kv.machine().log_time_ms(), 100u);
}

TEST(KvSessions, Session_AppliesNewSequence) {
  Driver kv;
  const uint64_t client = register_at(kv, 0);
  EXPECT_EQ(kv.apply(Command::session(client, 1, 0, Command::incr("n"))), integer(1));
  EXPECT_EQ(kv.apply(Command::session(client, 2, 0, Command::incr("n"))), integer(2));
  ASSERT_NE(kv.machine().find_session(client), nullptr);
  EXPECT_EQ(kv.machine().find_session(client)->last_sequence, 2u);
}

TEST(KvSessions, Session_DuplicateReturnsRememberedReplyWithoutReapplying) {
  Driver kv;
  const uint64_t client = register_at(kv, 0);
  const Command incr = Command::session(client, 1, 0, Command::incr("n"));
  EXPECT_EQ(kv.apply(incr), integer(1));
  EXPECT_EQ(kv.apply(incr), integer(1));  // A retry of the same request.
  EXPECT_EQ(kv.apply(incr), integer(1));
  EXPECT_EQ(kv.query(Command::get("n")), bulk("1"));  // Applied once.
}

TEST(KvSessions, Session_DuplicateOfErrorReplyRemembersTheError) {
  Driver kv;
  ASSERT_EQ(kv.apply(Command::set("s", "text")), Reply::ok());
  const uint64_t client = register_at(kv, 0);
  const Command incr = Command::session(client, 1, 0, Command::incr("s"));
  const Reply first = kv.apply(incr);
  ASSERT_TRUE(first.is_error());
  ASSERT_EQ(kv.apply(Command::set("s", "5")), Reply::ok());
  EXPECT_EQ(kv.apply(incr), first);  // Not re-applied against the new value.
  EXPECT_EQ(kv.query(Command::get("s")), bulk("5"));
}

// Issue 21: a reply carrying a large value is answered once, not kept: a retry learns the
// request was applied, and no replica holds a second copy of the value.
TEST(KvSessions, Session_LargeReplyIsNotRemembered_RetryIsToldItWasApplied) {
  Driver kv;
  const std::string big(100 << 10, 'v');
  ASSERT_EQ(kv.apply(Command::set("k", big)), Reply::ok());
  const uint64_t client = register_at(kv, 0);
  const Command get = Command::session(client, 1, 0, Command::get("k"));
  EXPECT_EQ(kv.apply(get), bulk(big));
  ASSERT_NE(kv.machine().find_session(client), nullptr);
  EXPECT_LT(kv.machine().find_session(client)->last_reply.text.size(), 200u);
  const Reply retry = kv.apply(get);
  ASSERT_TRUE(retry.is_error());
  EXPECT_NE(retry.text.find("applied once"), std::string::npos) << retry.text;
  // A small reply is still remembered whole.
  const Command small = Command::session(client, 2, 0, Command::incr("n"));
  EXPECT_EQ(kv.apply(small), integer(1));
  EXPECT_EQ(kv.apply(small), integer(1));
}

TEST(KvSessions, Session_OlderSequenceIsError) {
  Driver kv;
  const uint64_t client = register_at(kv, 0);
  ASSERT_EQ(kv.apply(Command::session(client, 1, 0, Command::incr("n"))), integer(1));
  ASSERT_EQ(kv.apply(Command::session(client, 2, 0, Command::incr("n"))), integer(2));
  EXPECT_EQ(kv.apply(Command::session(client, 1, 0, Command::incr("n"))),
            Reply::error("ERR sequence number too old"));
  EXPECT_EQ(kv.query(Command::get("n")), bulk("2"));
}

TEST(KvSessions, Session_SequenceGapIsAllowed) {
  Driver kv;
  const uint64_t client = register_at(kv, 0);
  EXPECT_EQ(kv.apply(Command::session(client, 5, 0, Command::incr("n"))), integer(1));
  EXPECT_EQ(kv.apply(Command::session(client, 9, 0, Command::incr("n"))), integer(2));
}

TEST(KvSessions, Session_UnknownClientIsSessionExpired) {
  Driver kv;
  const Reply reply = kv.apply(Command::session(42, 1, 0, Command::set("k", "v")));
  EXPECT_TRUE(is_session_expired(reply)) << reply.text;
  EXPECT_EQ(kv.query(Command::get("k")), Reply::nil());
}

TEST(KvSessions, Session_WrapsBatchAndRemembersItsReply) {
  Driver kv;
  const uint64_t client = register_at(kv, 0);
  const Command transfer = Command::session(
      client, 1, 0, Command::batch({Command::decr_by("alice", 10), Command::incr_by("bob", 10)}));
  const Reply expected = Reply::array({integer(-10), integer(10)});
  EXPECT_EQ(kv.apply(transfer), expected);
  EXPECT_EQ(kv.apply(transfer), expected);
  EXPECT_EQ(kv.query(Command::mget({"alice", "bob"})), Reply::array({bulk("-10"), bulk("10")}));
}

TEST(KvSessions, Session_ExpiresAfterTimeoutInLogTime) {
  Driver kv(KvConfig{.session_timeout_ms = 1000});
  const uint64_t client = register_at(kv, 5000);
  // Exactly the timeout idle is still alive; one millisecond more is not.
  EXPECT_EQ(kv.apply(Command::session(client, 1, 6000, Command::incr("n"))), integer(1));
  const Reply reply = kv.apply(Command::session(client, 2, 7001, Command::incr("n")));
  EXPECT_TRUE(is_session_expired(reply)) << reply.text;
  EXPECT_EQ(kv.machine().session_count(), 0u);
  EXPECT_EQ(kv.query(Command::get("n")), bulk("1"));
}

TEST(KvSessions, Session_ExpiryIsDrivenByAnotherSessionsTimestamp) {
  Driver kv(KvConfig{.session_timeout_ms = 1000});
  const uint64_t idle = register_at(kv, 0);
  const uint64_t busy = register_at(kv, 0);
  ASSERT_EQ(kv.apply(Command::session(busy, 1, 800, Command::incr("n"))), integer(1));
  EXPECT_NE(kv.machine().find_session(idle), nullptr);
  // Log time 1500: `idle` was last used at 0 (1500 ago), `busy` at 800 (700 ago).
  ASSERT_EQ(kv.apply(Command::session(busy, 2, 1500, Command::incr("n"))), integer(2));
  EXPECT_EQ(kv.machine().find_session(idle), nullptr);
  EXPECT_NE(kv.machine().find_session(busy), nullptr);
}

TEST(KvSessions, Session_ExpiresWhenItsOwnTimestampShowsItIdle) {
  // The command's own timestamp advances log time first: a client silent for longer than the
  // timeout finds its session gone, even though it is the one speaking now.
  Driver kv(KvConfig{.session_timeout_ms = 1000});
  const uint64_t client = register_at(kv, 0);
  EXPECT_TRUE(is_session_expired(kv.apply(Command::session(client, 1, 1001, Command::incr("n")))));
}

TEST(KvSessions, Session_ActivityKeepsSessionAlive) {
  Driver kv(KvConfig{.session_timeout_ms = 1000});
  const uint64_t client = register_at(kv, 0);
  for (uint64_t seq = 1; seq <= 10; ++seq) {
    EXPECT_EQ(kv.apply(Command::session(client, seq, seq * 900, Command::incr("n"))),
              integer(static_cast<int64_t>(seq)));
  }
}

TEST(KvSessions, Session_LogTimeNeverMovesBackwards) {
  Driver kv(KvConfig{.session_timeout_ms = 1000});
  const uint64_t client = register_at(kv, 10'000);
  // A new leader with a slow clock proposes an older time: log time stays at the maximum.
  ASSERT_EQ(kv.apply(Command::session(client, 1, 2'000, Command::incr("n"))), integer(1));
  EXPECT_EQ(kv.machine().log_time_ms(), 10'000u);
  EXPECT_EQ(kv.machine().find_session(client)->last_active_ms, 10'000u);
}

TEST(KvSessions, Session_PlainCommandsDoNotAdvanceLogTime) {
  Driver kv(KvConfig{.session_timeout_ms = 1000});
  const uint64_t client = register_at(kv, 0);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(kv.apply(Command::incr("n")), integer(i + 1));
  EXPECT_NE(kv.machine().find_session(client), nullptr);
}

TEST(KvSessions, RegisterSession_EvictsLeastRecentlyUsedAtCap) {
  Driver kv(KvConfig{.sessions_max = 2});
  const uint64_t first = register_at(kv, 0);
  const uint64_t second = register_at(kv, 0);
  // Using `first` makes `second` the least recently used.
  ASSERT_EQ(kv.apply(Command::session(first, 1, 0, Command::incr("n"))), integer(1));
  const uint64_t third = register_at(kv, 0);
  EXPECT_EQ(kv.machine().session_count(), 2u);
  EXPECT_NE(kv.machine().find_session(first), nullptr);
  EXPECT_EQ(kv.machine().find_session(second), nullptr);
  EXPECT_NE(kv.machine().find_session(third), nullptr);
  EXPECT_TRUE(is_session_expired(kv.apply(Command::session(second, 1, 0, Command::incr("n")))));
}

TEST(KvSessions, Session_ExpiryIsIdenticalOnEveryReplica) {
  // Two replicas apply the same log: the same sessions expire at the same entries, and their
  // states (sessions included) encode to the same bytes.
  const KvConfig config{.session_timeout_ms = 500, .sessions_max = 3};
  Driver a(config);
  Driver b(config);
  std::vector<Reply> replies_a;
  std::vector<Reply> replies_b;
  for (uint64_t step = 0; step < 200; ++step) {
    const uint64_t now = step * 37;
    const Command command = step % 5 == 0
                                ? Command::register_session(now)
                                : Command::session(1 + (step * 7) % 40, step, now,
                                                   Command::incr("n" + std::to_string(step % 3)));
    replies_a.push_back(a.apply(command));
    replies_b.push_back(b.apply(command));
  }
  EXPECT_EQ(replies_a, replies_b);
  EXPECT_EQ(a.snapshot_bytes(), b.snapshot_bytes());
  EXPECT_LE(a.machine().session_count(), 3u);
}

}  // namespace
}  // namespace raftkv::kv
