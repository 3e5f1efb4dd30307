#include "net/resp_encoder.h"

#include <gtest/gtest.h>

#include <limits>

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

}  // namespace
}  // namespace raftkv::net
