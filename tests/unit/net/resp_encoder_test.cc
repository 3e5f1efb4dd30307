#include "net/resp_encoder.h"

#include <gtest/gtest.h>

#include <limits>

#include "net/resp_reply.h"

namespace raftkv::net {
namespace {

TEST(RespEncoder, Append_SimpleString) {
  std::string out;
  resp_append_simple(&out, "OK");
  EXPECT_EQ(out, "+OK\r\n");
}

TEST(RespEncoder, Append_ErrorReplacesLineBreaks) {
  std::string out;
  resp_append_error(&out, "ERR unknown command 'a\r\nb'");
  EXPECT_EQ(out, "-ERR unknown command 'a  b'\r\n");
}

TEST(RespEncoder, Append_IntegerExtremes) {
  std::string out;
  resp_append_integer(&out, 0);
  resp_append_integer(&out, std::numeric_limits<int64_t>::min());
  resp_append_integer(&out, std::numeric_limits<int64_t>::max());
  EXPECT_EQ(out, ":0\r\n:-9223372036854775808\r\n:9223372036854775807\r\n");
}

TEST(RespEncoder, Append_BulkIsBinarySafe) {
  std::string out;
  resp_append_bulk(&out, std::string("a\r\n\0", 4));
  resp_append_bulk(&out, "");
  EXPECT_EQ(out, std::string("$4\r\na\r\n\0\r\n$0\r\n\r\n", 16));
}

TEST(RespEncoder, Append_NilAndArrays) {
  std::string out;
  resp_append_nil(&out);
  resp_append_array_header(&out, 2);
  resp_append_nil_array(&out);
  EXPECT_EQ(out, "$-1\r\n*2\r\n*-1\r\n");
}

TEST(RespEncoder, AppendReply_WritesNestedReplies) {
  using kv::Reply;
  const Reply reply = Reply::array({Reply::ok(), Reply::integer_value(-3), Reply::bulk("v"),
                                    Reply::nil(), Reply::error("ERR x"),
                                    Reply::array({Reply::bulk("a"), Reply::nil()}),
                                    Reply::array({})});
  std::string out;
  resp_append_reply(&out, reply);
  EXPECT_EQ(out, "*7\r\n+OK\r\n:-3\r\n$1\r\nv\r\n$-1\r\n-ERR x\r\n*2\r\n$1\r\na\r\n$-1\r\n*0\r\n");
}

}  // namespace
}  // namespace raftkv::net
