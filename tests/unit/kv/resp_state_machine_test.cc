#include "kv/resp_state_machine.h"

#include <gtest/gtest.h>

#include "kv/resp_reply.h"

namespace raftkv::kv {
namespace {

TEST(RespReply, AppendReply_WritesNestedReplies) {
  const Reply reply = Reply::array({Reply::ok(), Reply::integer_value(-3), Reply::bulk("v"),
                                    Reply::nil(), Reply::error("ERR x"),
                                    Reply::array({Reply::bulk("a"), Reply::nil()}),
                                    Reply::array({})});
  std::string out;
  resp_append_reply(&out, reply);
  EXPECT_EQ(out, "*7\r\n+OK\r\n:-3\r\n$1\r\nv\r\n$-1\r\n-ERR x\r\n*2\r\n$1\r\na\r\n$-1\r\n*0\r\n");
}

TEST(RespStateMachine, Apply_RepliesInResp) {
  RespStateMachine machine;
  EXPECT_EQ(machine.apply(Index{1}, encode_command(Command::set("k", "v"))), "+OK\r\n");
  EXPECT_EQ(machine.apply(Index{2}, encode_command(Command::incr("n"))), ":1\r\n");
  EXPECT_EQ(machine.apply(Index{3}, "garbage").substr(0, 4), "-ERR");  // Decoded, refused.
  EXPECT_EQ(machine.applied_index(), Index{3});
}

TEST(RespStateMachine, ToEntry_StampsEveryCommand) {
  RespStateMachine machine;
  const std::string set = machine.to_entry(encode_command(Command::set("k", "v")), 1234);
  Command expected = Command::set("k", "v");
  expected.timestamp_ms = 1234;
  EXPECT_EQ(decode_command(set).value(), expected);  // Expiry runs on the leader's time.
  EXPECT_EQ(machine.to_entry("garbage", 5), "garbage");  // Applies as an error everywhere.
  const std::string open = machine.to_entry(encode_command(Command::register_session(0)), 1234);
  Result<Command> decoded = decode_command(open);
  ASSERT_TRUE(decoded.is_ok());
  EXPECT_EQ(decoded.value().timestamp_ms, 1234u);
  const std::string call = machine.to_entry(
      encode_command(Command::session(7, 1, 0, Command::incr("n"))), 99);
  EXPECT_EQ(decode_command(call).value().timestamp_ms, 99u);
}

TEST(RespStateMachine, ToEntry_StatesTheNodesValueLimit) {
  RespStateMachine machine({}, 4);
  const std::string append = machine.to_entry(encode_command(Command::append("k", "abcde")), 7);
  EXPECT_EQ(decode_command(append).value().value_bytes_max, 4u);
  EXPECT_EQ(machine.apply(Index{1}, append),
            "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n");
  EXPECT_EQ(machine.apply(Index{2}, machine.to_entry(encode_command(Command::get("k")), 8)),
            "$-1\r\n");  // Nothing was applied.
  // A node with no limit of its own leaves the entry's as it is.
  RespStateMachine unlimited;
  EXPECT_EQ(decode_command(unlimited.to_entry(append, 9)).value().value_bytes_max, 4u);
}

TEST(RespStateMachine, Query_AnswersReadsAndRefusesAnythingElse) {
  RespStateMachine machine;
  (void)machine.apply(Index{1}, encode_command(Command::set("k", "v")));
  EXPECT_EQ(machine.query(encode_command(Command::get("k")), 0), "$1\r\nv\r\n");
  // A peer's forward may claim anything is a read: a write or garbage gets an error.
  EXPECT_EQ(machine.query(encode_command(Command::set("k", "w")), 0).substr(0, 4), "-ERR");
  EXPECT_EQ(machine.query("\x01", 0).substr(0, 4), "-ERR");
  EXPECT_EQ(machine.query(encode_command(Command::get("k")), 0), "$1\r\nv\r\n");
}

TEST(RespStateMachine, SnapshotRestore_RoundTrips) {
  RespStateMachine machine;
  (void)machine.apply(Index{1}, encode_command(Command::set("k", "v")));
  runtime::StringSink sink;
  ASSERT_TRUE(machine.snapshot()->save(sink).is_ok());
  (void)machine.apply(Index{2}, encode_command(Command::set("k", "later")));
  RespStateMachine restored;
  runtime::StringSource source(sink.data(), 3);
  ASSERT_TRUE(restored.restore(source).is_ok());
  EXPECT_EQ(restored.applied_index(), Index{1});
  EXPECT_EQ(restored.query(encode_command(Command::get("k")), 0), "$1\r\nv\r\n");
}

}  // namespace
}  // namespace raftkv::kv
