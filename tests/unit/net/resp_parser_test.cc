#include "net/resp_parser.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace raftkv::net {
namespace {

using namespace std::string_literals;
using Args = std::vector<std::string>;
using Outcome = RespParser::Outcome;

// Everything a parser yields for `chunks` fed one after another: the commands, and the error
// text if it failed (empty otherwise).
struct Parsed {
  std::vector<Args> commands;
  std::string error;
  bool operator==(const Parsed&) const = default;
};

void PrintTo(const Parsed& parsed, std::ostream* out) {
  *out << parsed.commands.size() << " commands";
  for (const Args& args : parsed.commands) {
    *out << " [";
    for (const std::string& arg : args) *out << ::testing::PrintToString(arg) << " ";
    *out << "]";
  }
  *out << " error '" << parsed.error << "'";
}

void drain(RespParser* parser, Parsed* parsed) {
  std::vector<std::string_view> args;
  while (true) {
    const Outcome outcome = parser->next(&args);
    if (outcome == Outcome::NeedMore) return;
    if (outcome == Outcome::Error) {
      parsed->error = parser->error();
      return;
    }
    if (outcome == Outcome::Refused) {
      parsed->commands.push_back({"refused: " + parser->refusal()});
      continue;
    }
    parsed->commands.emplace_back(args.begin(), args.end());
  }
}

Parsed parse_chunks(const std::vector<std::string>& chunks, RespLimits limits = {}) {
  RespParser parser(limits);
  Parsed parsed;
  for (const std::string& chunk : chunks) {
    parser.feed(chunk);
    drain(&parser, &parsed);
    if (!parsed.error.empty()) break;
  }
  return parsed;
}

Parsed parse(const std::string& input, RespLimits limits = {}) {
  return parse_chunks({input}, limits);
}

std::string error_of(const std::string& input, RespLimits limits = {}) {
  return parse(input, limits).error;
}

// Pipelined input mixing array and inline commands, binary bulk strings and skipped frames.
const std::string kPipeline =
    "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n"
    "PING\r\n"
    "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
    "*0\r\n"
    "\r\n"
    "SET k \"a b\\x41\\n\"\r\n"
    "*2\r\n$4\r\nECHO\r\n$6\r\na\r\n\0b\n\r\n"
    "*1\r\n$0\r\n\r\n"s;

const std::vector<Args> kPipelineCommands = {
    {"SET", "k", "hello"},
    {"PING"},
    {"GET", "k"},
    {"SET", "k", "a bA\n"},
    {"ECHO", std::string("a\r\n\0b\n", 6)},
    {""},
};

TEST(RespParser, Next_ParsesArrayOfBulkStrings) {
  const Parsed parsed = parse("*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n");
  EXPECT_EQ(parsed.error, "");
  EXPECT_EQ(parsed.commands, (std::vector<Args>{{"GET", "key"}}));
}

TEST(RespParser, Next_ParsesInlineCommand) {
  EXPECT_EQ(parse("PING\r\n").commands, (std::vector<Args>{{"PING"}}));
  EXPECT_EQ(parse("set  k\tv\n").commands, (std::vector<Args>{{"set", "k", "v"}}));
}

TEST(RespParser, Next_PipelinedCommandsComeOutInOrder) {
  const Parsed parsed = parse(kPipeline);
  EXPECT_EQ(parsed.error, "");
  EXPECT_EQ(parsed.commands, kPipelineCommands);
}

TEST(RespParser, Next_SplitAtEveryBytePositionGivesSameCommands) {
  const std::string& input = kPipeline;
  for (size_t cut = 0; cut <= input.size(); ++cut) {
    const Parsed parsed = parse_chunks({input.substr(0, cut), input.substr(cut)});
    EXPECT_EQ(parsed.commands, kPipelineCommands) << "cut at " << cut;
    EXPECT_EQ(parsed.error, "") << "cut at " << cut;
  }
}

TEST(RespParser, Next_SplitAtEveryPairOfPositionsGivesSameCommands) {
  const std::string input = "*3\r\n$3\r\nSET\r\n$2\r\nk1\r\n$3\r\nv\r\n\r\nPING\r\n";
  const std::vector<Args> expected = {{"SET", "k1", "v\r\n"}, {"PING"}};
  for (size_t first = 0; first <= input.size(); ++first) {
    for (size_t second = first; second <= input.size(); ++second) {
      const Parsed parsed = parse_chunks({input.substr(0, first),
                                          input.substr(first, second - first),
                                          input.substr(second)});
      ASSERT_EQ(parsed.commands, expected) << first << "," << second;
    }
  }
}

TEST(RespParser, Next_OneByteAtATimeGivesSameCommands) {
  const std::string& input = kPipeline;
  std::vector<std::string> chunks;
  for (char c : input) chunks.emplace_back(1, c);
  EXPECT_EQ(parse_chunks(chunks).commands, kPipelineCommands);
}

TEST(RespParser, Next_NeedMoreUntilCommandComplete) {
  RespParser parser;
  std::vector<std::string_view> args;
  parser.feed("*1\r\n$4\r\nPI");
  EXPECT_EQ(parser.next(&args), Outcome::NeedMore);
  EXPECT_TRUE(args.empty());
  parser.feed("NG\r\n");
  ASSERT_EQ(parser.next(&args), Outcome::Command);
  EXPECT_EQ(args, (std::vector<std::string_view>{"PING"}));
  EXPECT_EQ(parser.next(&args), Outcome::NeedMore);
  EXPECT_EQ(parser.buffered_bytes(), 0u);
}

TEST(RespParser, Next_LargeBulkInSmallChunks) {
  const std::string value(1 << 20, 'v');
  const std::string input = "*2\r\n$3\r\nSET\r\n$" + std::to_string(value.size()) + "\r\n" +
                            value + "\r\n*1\r\n$4\r\nPING\r\n";
  std::vector<std::string> chunks;
  for (size_t at = 0; at < input.size(); at += 1000) chunks.push_back(input.substr(at, 1000));
  const Parsed parsed = parse_chunks(chunks);
  ASSERT_EQ(parsed.commands.size(), 2u);
  EXPECT_EQ(parsed.commands[0][1], value);
  EXPECT_EQ(parsed.commands[1], Args{"PING"});
}

TEST(RespParser, Next_ManyEmptyFramesDoNotRecurse) {
  std::string input;
  for (int i = 0; i < 200'000; ++i) input += "*0\r\n\r\n";
  input += "PING\r\n";
  EXPECT_EQ(parse(input).commands, (std::vector<Args>{{"PING"}}));
}

TEST(RespParser, Next_InlineQuotesFollowRedis) {
  EXPECT_EQ(parse("SET k 'it''\r\n").error, "ERR Protocol error: unbalanced quotes in request");
  EXPECT_EQ(parse("SET k 'it\\'s'\r\n").commands, (std::vector<Args>{{"SET", "k", "it's"}}));
  EXPECT_EQ(parse("SET \"\" \"\\t\\\\\"\r\n").commands, (std::vector<Args>{{"SET", "", "\t\\"}}));
  EXPECT_EQ(parse("SET k \"open\r\n").error, "ERR Protocol error: unbalanced quotes in request");
  EXPECT_EQ(parse("SET k \"a\"b\r\n").error, "ERR Protocol error: unbalanced quotes in request");
}

TEST(RespParser, Next_RejectsMissingDollar) {
  EXPECT_EQ(error_of("*1\r\n+PING\r\n"), "ERR Protocol error: expected '$', got '+'");
}

TEST(RespParser, Next_RejectsInvalidMultibulkLength) {
  for (const char* input : {"*x\r\n", "*1x\r\n", "*\r\n", "*01\r\n", "*1\n", "*2000000\r\n",
                            "*99999999999999999999\r\n"}) {
    EXPECT_EQ(error_of(input), "ERR Protocol error: invalid multibulk length") << input;
  }
}

TEST(RespParser, Next_RejectsInvalidBulkLength) {
  for (const char* input : {"*1\r\n$-1\r\n", "*1\r\n$x\r\n", "*1\r\n$\r\n", "*1\r\n$3\n"}) {
    EXPECT_EQ(error_of(input), "ERR Protocol error: invalid bulk length") << input;
  }
}

const std::string kBulkRefused =
    "refused: ERR string exceeds maximum allowed size (proto-max-bulk-len)";
const std::string kRequestRefused =
    "refused: ERR request exceeds maximum allowed size (max-request-bytes)";

TEST(RespParser, Next_RefusesBulkOverLimitAndGoesOn) {
  const RespLimits limits{.bulk_bytes_max = 4};
  EXPECT_EQ(parse("*1\r\n$4\r\nPING\r\n", limits).commands, (std::vector<Args>{{"PING"}}));
  const Parsed parsed = parse("*3\r\n$3\r\nSET\r\n$5\r\nHELLO\r\n$1\r\nv\r\nPING\r\n", limits);
  EXPECT_EQ(parsed.error, "");
  EXPECT_EQ(parsed.commands, (std::vector<Args>{{kBulkRefused}, {"PING"}}));
}

TEST(RespParser, Next_RefusesAtTheHeaderBeforeTheValueArrives) {
  RespParser parser(RespLimits{.bulk_bytes_max = 1 << 20});
  std::vector<std::string_view> args;
  parser.feed("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$104857600\r\n");
  ASSERT_EQ(parser.next(&args), Outcome::Refused);
  EXPECT_EQ(parser.refusal(), kBulkRefused.substr(9));
  // The 100 MiB that follow are dropped as they come, never buffered.
  const std::string chunk(64 << 10, 'x');
  for (size_t sent = 0; sent < (100u << 20); sent += chunk.size()) {
    parser.feed(chunk);
    ASSERT_EQ(parser.next(&args), Outcome::NeedMore);
    ASSERT_LE(parser.buffered_bytes(), chunk.size());
  }
  parser.feed("\r\nPING\r\n");
  ASSERT_EQ(parser.next(&args), Outcome::Command);
  EXPECT_EQ(Args(args.begin(), args.end()), Args{"PING"});
}

TEST(RespParser, Next_RefusesRequestOverLimitEvenWithSmallValues) {
  const RespLimits limits{.bulk_bytes_max = 8, .request_bytes_max = 12};
  const std::string mset = "*5\r\n$4\r\nMSET\r\n$1\r\na\r\n$6\r\nvvvvvv\r\n"
                           "$1\r\nb\r\n$6\r\nwwwwww\r\n";
  EXPECT_EQ(parse(mset + "PING\r\n", limits).commands,
            (std::vector<Args>{{kRequestRefused}, {"PING"}}));
  // The limit is per command: the next one starts from zero.
  EXPECT_EQ(parse("*2\r\n$4\r\nMSET\r\n$8\r\n12345678\r\n"
                  "*2\r\n$4\r\nMSET\r\n$8\r\n12345678\r\n",
                  limits)
                .commands.size(),
            2u);
}

TEST(RespParser, Next_RefusedCommandStillNeedsItsCrlf) {
  const RespLimits limits{.bulk_bytes_max = 2};
  EXPECT_EQ(error_of("*1\r\n$3\r\nabcxx", limits),
            "ERR Protocol error: expected CRLF after bulk string");
}

// Past Redis's own 512 MB a length is a protocol error, as Redis gives it (its test unit
// protocol.tcl sends $2000000000); within it but past the node's limit, a refusal that lets
// the connection go on.
TEST(RespParser, Next_BulkPast512MiBIsAProtocolErrorAsInRedis) {
  EXPECT_EQ(error_of("*1\r\n$536870913\r\n"), "ERR Protocol error: invalid bulk length");
  EXPECT_EQ(error_of("*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$2000000000\r\n"),
            "ERR Protocol error: invalid bulk length");
  EXPECT_EQ(parse("*1\r\n$536870912\r\n").commands.size(), 0u);  // Allowed; waits for it.
  const RespLimits limits{.bulk_bytes_max = 1 << 20, .request_bytes_max = 2 << 20};
  EXPECT_EQ(parse("*1\r\n$536870912\r\n", limits).commands,
            (std::vector<Args>{{kBulkRefused}}));
}

TEST(RespParser, Next_RejectsMissingCrlfAfterBulk) {
  EXPECT_EQ(error_of("*1\r\n$4\r\nPINGxx"), "ERR Protocol error: expected CRLF after bulk string");
}

TEST(RespParser, Next_RejectsTooBigInlineRequest) {
  const RespLimits limits{.inline_bytes_max = 16};
  EXPECT_EQ(parse(std::string(15, 'a') + "\r\n", limits).error, "");
  EXPECT_EQ(error_of(std::string(16, 'a') + "\r\n", limits),
            "ERR Protocol error: too big inline request");
  // Without a line end yet: refused as soon as more than the limit is buffered.
  EXPECT_EQ(error_of(std::string(17, 'a'), limits), "ERR Protocol error: too big inline request");
  EXPECT_EQ(error_of(std::string(64 * 1024 + 1, 'a')),
            "ERR Protocol error: too big inline request");
}

TEST(RespParser, Next_RejectsTooBigCountStrings) {
  const RespLimits limits{.inline_bytes_max = 16};
  EXPECT_EQ(error_of("*" + std::string(20, '1'), limits),
            "ERR Protocol error: too big mbulk count string");
  EXPECT_EQ(error_of("*1\r\n$" + std::string(20, '1'), limits),
            "ERR Protocol error: too big bulk count string");
}

TEST(RespParser, Next_RejectsArrayLengthOverLimit) {
  const RespLimits limits{.array_length_max = 2};
  EXPECT_EQ(error_of("*3\r\n", limits), "ERR Protocol error: invalid multibulk length");
}

TEST(RespParser, Next_ErrorIsFinalAndKeepsEarlierCommands) {
  RespParser parser;
  std::vector<std::string_view> args;
  parser.feed("PING\r\n*1\r\n+x\r\n");
  ASSERT_EQ(parser.next(&args), Outcome::Command);
  EXPECT_EQ(parser.next(&args), Outcome::Error);
  EXPECT_TRUE(parser.failed());
  parser.feed("PING\r\n");
  EXPECT_EQ(parser.next(&args), Outcome::Error);
  EXPECT_EQ(parser.error(), "ERR Protocol error: expected '$', got '+'");
}

TEST(RespParser, Next_RandomInputNeverCrashes) {
  std::mt19937_64 random(2024);
  const std::string alphabet = "*$\r\n0123456789-+ \"'\\xaPING";
  for (int round = 0; round < 20'000; ++round) {
    std::string input(random() % 48, '\0');
    for (char& c : input) {
      c = random() % 4 == 0 ? static_cast<char>(random()) : alphabet[random() % alphabet.size()];
    }
    const RespLimits limits{.bulk_bytes_max = 64, .request_bytes_max = 96,
                            .inline_bytes_max = 32, .array_length_max = 8};
    const Parsed whole = parse(input, limits);
    const size_t cut = input.empty() ? 0 : random() % input.size();
    // Chunking never changes the outcome.
    EXPECT_EQ(parse_chunks({input.substr(0, cut), input.substr(cut)}, limits), whole) << input;
  }
}

// Bulk strings from 4 bytes on that a chunk cuts are received into strings of their own.
constexpr RespLimits kOwnSmallBulks{.owned_bulk_bytes_min = 4};

TEST(RespParser, OwnedBulk_SplitAtEveryPairOfPositionsGivesSameCommands) {
  const std::string& input = kPipeline;
  for (size_t first = 0; first <= input.size(); ++first) {
    for (size_t second = first; second <= input.size(); ++second) {
      const Parsed parsed = parse_chunks(
          {input.substr(0, first), input.substr(first, second - first), input.substr(second)},
          kOwnSmallBulks);
      ASSERT_EQ(parsed.commands, kPipelineCommands) << first << "," << second;
      ASSERT_EQ(parsed.error, "") << first << "," << second;
    }
  }
}

TEST(RespParser, OwnedBulk_TheCallerTakesTheValueInsteadOfCopyingIt) {
  RespParser parser;  // The default threshold, 64 KiB.
  const std::string value(100'000, 'v');
  const std::string command = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000\r\n" + value + "\r\n";
  std::vector<std::string_view> args;
  parser.feed(command.substr(0, 40'000));
  EXPECT_EQ(parser.next(&args), Outcome::NeedMore);
  parser.feed(command.substr(40'000, 40'000));
  EXPECT_EQ(parser.next(&args), Outcome::NeedMore);
  EXPECT_EQ(parser.buffered_bytes(), 80'000u);  // The value's part counts while it arrives.
  parser.feed(command.substr(80'000) + "*1\r\n$4\r\nPING\r\n");
  ASSERT_EQ(parser.next(&args), Outcome::Command);
  ASSERT_EQ(args.size(), 3u);
  EXPECT_EQ(args[2], value);
  std::string taken;
  EXPECT_FALSE(parser.take_argument(0, &taken));  // Small ones stay views into the buffer.
  ASSERT_TRUE(parser.take_argument(2, &taken));
  EXPECT_EQ(taken, value);
  EXPECT_FALSE(parser.take_argument(2, &taken));  // Once.
  ASSERT_EQ(parser.next(&args), Outcome::Command);
  EXPECT_EQ(args, std::vector<std::string_view>{"PING"});
  EXPECT_EQ(parser.buffered_bytes(), 0u);
}

TEST(RespParser, OwnedBulk_MissingCrlfAfterItIsAProtocolError) {
  const Parsed parsed =
      parse_chunks({"*2\r\n$4\r\nECHO\r\n$5\r\nhel", "loXY*1\r\n$4\r\nPING\r\n"},
                   kOwnSmallBulks);
  EXPECT_TRUE(parsed.commands.empty());
  EXPECT_EQ(parsed.error, "ERR Protocol error: expected CRLF after bulk string");
}

TEST(RespParser, OwnedBulk_ARefusedCommandKeepsNothingOfIt) {
  RespLimits limits = kOwnSmallBulks;
  limits.request_bytes_max = 12;  // MSET and a 6-byte value fit; a second value does not.
  RespParser parser(limits);
  std::vector<std::string_view> args;
  parser.feed("*3\r\n$4\r\nMSET\r\n$6\r\nvalue1");
  EXPECT_EQ(parser.next(&args), Outcome::NeedMore);
  parser.feed("\r\n$6\r\nvalue2\r\n*1\r\n$4\r\nPING\r\n");
  EXPECT_EQ(parser.next(&args), Outcome::Refused);
  ASSERT_EQ(parser.next(&args), Outcome::Command);
  EXPECT_EQ(args, std::vector<std::string_view>{"PING"});
  EXPECT_EQ(parser.buffered_bytes(), 0u);
}

TEST(RespParser, SplitInlineArgs_HexAndControlEscapes) {
  std::string storage;
  std::vector<std::pair<size_t, size_t>> spans;
  ASSERT_TRUE(split_inline_args("\"\\x00\\xfF\\r\\q\" x", &storage, &spans));
  ASSERT_EQ(spans.size(), 2u);
  EXPECT_EQ(storage.substr(spans[0].first, spans[0].second), std::string("\0\xff\rq", 4));
  EXPECT_EQ(storage.substr(spans[1].first, spans[1].second), "x");
}

TEST(RespParser, SplitInlineArgs_BlankLineHasNoArguments) {
  std::string storage;
  std::vector<std::pair<size_t, size_t>> spans;
  ASSERT_TRUE(split_inline_args("  \t ", &storage, &spans));
  EXPECT_TRUE(spans.empty());
}

}  // namespace
}  // namespace raftkv::net
