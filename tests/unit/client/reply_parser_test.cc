#include "client/reply_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace raftkv::client {
namespace {

// Feeds `bytes` in pieces of `chunk` bytes and collects every complete reply.
std::vector<Reply> parse_all(const std::string& bytes, size_t chunk,
                             ReplyParser::Outcome* last = nullptr, ReplyLimits limits = {}) {
  ReplyParser parser(limits);
  std::vector<Reply> replies;
  ReplyParser::Outcome outcome = ReplyParser::Outcome::NeedMore;
  for (size_t at = 0; at < bytes.size() && outcome != ReplyParser::Outcome::Error; at += chunk) {
    parser.feed(std::string_view(bytes).substr(at, chunk));
    Reply reply;
    while ((outcome = parser.next(&reply)) == ReplyParser::Outcome::Reply) {
      replies.push_back(reply);
    }
  }
  if (last != nullptr) *last = outcome;
  return replies;
}

const std::string kMixed =
    "+OK\r\n-ERR wrong\r\n:-42\r\n$3\r\na\r\n\r\n$-1\r\n*-1\r\n*0\r\n"
    "*3\r\n:1\r\n*2\r\n$1\r\nx\r\n$0\r\n\r\n+done\r\n";

std::vector<Reply> mixed_expected() {
  return {Reply::status("OK"),
          Reply::error("ERR wrong"),
          Reply::number(-42),
          Reply::bulk("a\r\n"),
          Reply::nil(),
          Reply::nil(),
          Reply::array({}),
          Reply::array({Reply::number(1), Reply::array({Reply::bulk("x"), Reply::bulk("")}),
                        Reply::status("done")})};
}

TEST(ReplyParser, Next_ParsesEveryReplyType) {
  EXPECT_EQ(parse_all(kMixed, kMixed.size()), mixed_expected());
}

TEST(ReplyParser, Next_SameRepliesWhateverTheSplit) {
  for (size_t chunk = 1; chunk <= kMixed.size(); ++chunk) {
    ReplyParser::Outcome last{};
    EXPECT_EQ(parse_all(kMixed, chunk, &last), mixed_expected()) << "chunk " << chunk;
    EXPECT_EQ(last, ReplyParser::Outcome::NeedMore);
  }
}

TEST(ReplyParser, Next_PartialReplyNeedsMore) {
  ReplyParser parser;
  parser.feed("*2\r\n$5\r\nhel");
  Reply reply;
  EXPECT_EQ(parser.next(&reply), ReplyParser::Outcome::NeedMore);
  EXPECT_TRUE(parser.mid_reply());
  parser.feed("lo\r\n:7\r\n");
  ASSERT_EQ(parser.next(&reply), ReplyParser::Outcome::Reply);
  EXPECT_EQ(reply, Reply::array({Reply::bulk("hello"), Reply::number(7)}));
  EXPECT_FALSE(parser.mid_reply());
}

TEST(ReplyParser, Next_LargeBulkInManyChunks) {
  const std::string payload(1 << 20, 'v');
  const std::string bytes = "$" + std::to_string(payload.size()) + "\r\n" + payload + "\r\n";
  const std::vector<Reply> replies = parse_all(bytes, 4096);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].text, payload);
}

struct Malformed {
  const char* name;
  std::string bytes;
};

TEST(ReplyParser, Next_MalformedInputIsAnErrorNotACrash) {
  const std::vector<Malformed> cases = {
      {"unknown type byte", "?what\r\n"},
      {"LF without CR", "+OK\n"},
      {"bad integer", ":12a\r\n"},
      {"empty integer", ":\r\n"},
      {"integer overflow", ":99999999999999999999\r\n"},
      {"negative bulk length", "$-2\r\n"},
      {"bulk length not a number", "$x\r\n"},
      {"bulk without CRLF after payload", "$3\r\nabcXY"},
      {"negative array length", "*-5\r\n"},
      {"binary garbage", std::string("\x00\xff\r\n", 4)},
  };
  for (const Malformed& test : cases) {
    for (size_t chunk : {size_t{1}, test.bytes.size()}) {
      ReplyParser::Outcome last{};
      (void)parse_all(test.bytes, chunk, &last);
      EXPECT_EQ(last, ReplyParser::Outcome::Error) << test.name << ", chunk " << chunk;
    }
  }
}

TEST(ReplyParser, Next_ErrorIsFinal) {
  ReplyParser parser;
  parser.feed("!\r\n+OK\r\n");
  Reply reply;
  EXPECT_EQ(parser.next(&reply), ReplyParser::Outcome::Error);
  EXPECT_EQ(parser.next(&reply), ReplyParser::Outcome::Error);
  EXPECT_NE(parser.error().find("unexpected type byte"), std::string::npos);
}

TEST(ReplyParser, Next_RejectsOverLimits) {
  ReplyLimits limits;
  limits.bulk_bytes_max = 4;
  limits.line_bytes_max = 8;
  limits.array_length_max = 2;
  limits.depth_max = 2;
  for (const std::string& bytes : {std::string("$5\r\nhello\r\n"), std::string("+0123456789\r\n"),
                                   std::string("+0123456789"), std::string("*3\r\n"),
                                   std::string("*1\r\n*1\r\n*1\r\n:1\r\n")}) {
    ReplyParser::Outcome last{};
    (void)parse_all(bytes, 1, &last, limits);
    EXPECT_EQ(last, ReplyParser::Outcome::Error) << bytes;
  }
}

TEST(ReplyParser, Next_DeepNestingWithinLimitParses) {
  std::string bytes;
  for (int i = 0; i < 20; ++i) bytes += "*1\r\n";
  bytes += ":5\r\n";
  const std::vector<Reply> replies = parse_all(bytes, 3);
  ASSERT_EQ(replies.size(), 1u);
  const Reply* inner = &replies[0];
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(inner->type, ReplyType::Array);
    inner = &inner->elements.at(0);
  }
  EXPECT_EQ(*inner, Reply::number(5));
}

TEST(ReplyParser, Next_HugeArrayCountDoesNotPreallocate) {
  ReplyParser parser;
  parser.feed("*16000000\r\n:1\r\n");
  Reply reply;
  EXPECT_EQ(parser.next(&reply), ReplyParser::Outcome::NeedMore);
}

TEST(Reply, EncodeCommand_IsRespArrayOfBulkStrings) {
  EXPECT_EQ(encode_command({"SET", "k", "a b"}), "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\na b\r\n");
  EXPECT_EQ(encode_command({"GET", ""}), "*2\r\n$3\r\nGET\r\n$0\r\n\r\n");
}

TEST(Reply, FormatReply_LooksLikeRedisCli) {
  EXPECT_EQ(format_reply(Reply::status("OK")), "OK");
  EXPECT_EQ(format_reply(Reply::number(3)), "(integer) 3");
  EXPECT_EQ(format_reply(Reply::bulk("a\"b\n")), "\"a\\\"b\\n\"");
  EXPECT_EQ(format_reply(Reply::nil()), "(nil)");
  EXPECT_EQ(format_reply(Reply::error("ERR x")), "(error) ERR x");
  EXPECT_EQ(format_reply(Reply::array({Reply::bulk("a"), Reply::nil()})), "1) \"a\"\n2) (nil)");
}

}  // namespace
}  // namespace raftkv::client
