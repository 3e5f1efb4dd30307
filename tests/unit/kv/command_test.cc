#include "kv/command.h"

#include <gtest/gtest.h>

#include <limits>
#include <random>

namespace raftkv::kv {
namespace {

// One command of every type and shape.
std::vector<Command> sample_commands() {
  return {
      Command::set("k", "v"),
      Command::set("k", "v", SetCondition::IfMissing),
      Command::set("", std::string("\0\r\n", 3), SetCondition::IfPresent),
      Command::get("k"),
      Command::del({"a", "b", "c"}),
      Command::exists({"a"}),
      Command::incr("n"),
      Command::incr_by("n", -7),
      Command::decr_by("n", std::numeric_limits<int64_t>::min()),
      Command::append("k", "tail"),
      Command::mget({"a", "b"}),
      Command::mset({"a", "1", "b", "2"}),
      Command::cas("k", "old", "new"),
      Command::cas_missing("k", "new"),
      Command::dbsize(),
      Command::batch({}),
      Command::batch({Command::set("a", "1"), Command::incr("a"), Command::get("a")}),
      Command::register_session(1234),
      Command::session(7, 3, 99, Command::incr("n")),
      Command::session(7, 4, 100, Command::batch({Command::incr("a"), Command::incr("b")})),
      Command::call({"GET", "k"}),
      Command::call({"hset", "h", "f", "v"}),
  };
}

// Where the command's type byte sits: after the version, timestamp and value limit (u8 u64 u64).
constexpr size_t kTypeAt = 17;

Status decode_status(std::string_view bytes) {
  Result<Command> result = decode_command(bytes);
  return result.is_ok() ? Status::ok() : result.status();
}

TEST(Command, EncodeCommand_RoundTripsEveryType) {
  for (const Command& command : sample_commands()) {
    const std::string bytes = encode_command(command);
    Result<Command> decoded = decode_command(bytes);
    ASSERT_TRUE(decoded.is_ok()) << command_type_name(command.type) << ": "
                                 << decoded.status().to_string();
    EXPECT_EQ(decoded.value(), command) << command_type_name(command.type);
  }
}

TEST(Command, FirstKeyHint_NamesTheKeyOrNothing) {
  EXPECT_EQ(first_key_hint(encode_command(Command::set("key:1", "v"))), "key:1");
  EXPECT_EQ(first_key_hint(encode_command(Command::get("g"))), "g");
  EXPECT_EQ(first_key_hint(encode_command(Command::del({"a", "b"}))), "a");
  EXPECT_EQ(first_key_hint(encode_command(Command::incr_by("n", 3))), "n");
  EXPECT_EQ(first_key_hint(encode_command(Command::call({"hset", "h", "f", "v"}))), "h");
  EXPECT_EQ(first_key_hint(encode_command(Command::session(7, 3, 99, Command::incr("s")))), "s");
  // No key, or a shape the hint does not look into.
  EXPECT_EQ(first_key_hint(encode_command(Command::dbsize())), "");
  EXPECT_EQ(first_key_hint(encode_command(Command::batch({Command::set("a", "1")}))), "");
  EXPECT_EQ(first_key_hint(encode_command(Command::register_session(1))), "");
  // Outside bytes: every truncation of every shape answers, never reads past the end.
  for (const Command& command : sample_commands()) {
    const std::string bytes = encode_command(command);
    for (size_t length = 0; length < bytes.size(); ++length) {
      const std::string_view cut(bytes.data(), length);
      const std::string_view key = first_key_hint(cut);
      EXPECT_TRUE(key.empty() || (key.data() >= cut.data() &&
                                  key.data() + key.size() <= cut.data() + cut.size()));
    }
  }
}

TEST(Command, DecodeCommand_RejectsEveryTruncation) {
  for (const Command& command : sample_commands()) {
    const std::string bytes = encode_command(command);
    for (size_t length = 0; length < bytes.size(); ++length) {
      EXPECT_EQ(decode_status(bytes.substr(0, length)).code(), ErrorCode::InvalidArgument)
          << command_type_name(command.type) << " cut at " << length;
    }
  }
}

TEST(Command, EncodeCommand_RoundTripsTheValueLimit) {
  Command append = Command::append("k", "tail");
  append.timestamp_ms = 1234;
  append.value_bytes_max = 16 << 20;
  EXPECT_EQ(decode_command(encode_command(append)).value(), append);
}

// Entries of version 2 (before the value limit) stay in logs: they decode with no limit.
TEST(Command, DecodeCommand_ReadsVersion2WithoutValueLimit) {
  Command append = Command::append("k", "tail");
  append.timestamp_ms = 1234;
  append.value_bytes_max = 99;
  std::string bytes = encode_command(append);
  bytes.erase(9, 8);  // The version 3 limit, after the version byte and the timestamp.
  bytes[0] = 2;
  Result<Command> decoded = decode_command(bytes);
  ASSERT_TRUE(decoded.is_ok()) << decoded.status().to_string();
  append.value_bytes_max = 0;
  EXPECT_EQ(decoded.value(), append);
}

TEST(Command, ValidateCommand_RejectsValueLimitOnInnerCommand) {
  Command inner = Command::append("k", "tail");
  inner.value_bytes_max = 4;
  EXPECT_FALSE(validate_command(Command::batch({inner})).is_ok());
  EXPECT_FALSE(validate_command(Command::session(7, 1, 0, inner)).is_ok());
}

TEST(Command, DecodeCommand_RejectsTrailingBytes) {
  EXPECT_FALSE(decode_command(encode_command(Command::get("k")) + "x").is_ok());
}

TEST(Command, DecodeCommand_RejectsUnknownVersion) {
  std::string bytes = encode_command(Command::get("k"));
  bytes[0] = 4;
  EXPECT_FALSE(decode_command(bytes).is_ok());
  bytes[0] = 0;
  EXPECT_FALSE(decode_command(bytes).is_ok());
}

TEST(Command, DecodeCommand_RejectsUnknownType) {
  for (const int type : {0, 20, 255}) {
    std::string bytes = encode_command(Command::dbsize());
    bytes[kTypeAt] = static_cast<char>(type);
    EXPECT_FALSE(decode_command(bytes).is_ok()) << type;
  }
}

TEST(Command, DecodeCommand_RejectsBadFlags) {
  std::string set = encode_command(Command::set("k", "v"));
  set[kTypeAt + 1] = 3;  // Neither none, NX nor XX.
  EXPECT_FALSE(decode_command(set).is_ok());
  std::string get = encode_command(Command::get("k"));
  get[kTypeAt + 1] = 1;  // GET has no flags.
  EXPECT_FALSE(decode_command(get).is_ok());
}

TEST(Command, DecodeCommand_RejectsHugeArgumentCountWithoutAllocating) {
  std::string bytes = encode_command(Command::dbsize());
  bytes.resize(kTypeAt + 2);
  bytes += std::string("\xff\xff\xff\xff", 4);  // argc = 2^32 - 1 with no bytes behind it.
  EXPECT_FALSE(decode_command(bytes).is_ok());
}

TEST(Command, DecodeCommand_RejectsWrongArgumentCount) {
  Command get = Command::get("k");
  get.args.push_back("extra");
  std::string bytes = encode_command(Command::mget({"k", "extra"}));
  bytes[kTypeAt] = static_cast<char>(CommandType::Get);  // A GET with two keys.
  EXPECT_FALSE(decode_command(bytes).is_ok());
  EXPECT_FALSE(validate_command(get).is_ok());
}

TEST(Command, ValidateCommand_RejectsOddMSet) {
  EXPECT_FALSE(validate_command(Command::mset({"a", "1", "b"})).is_ok());
  EXPECT_FALSE(validate_command(Command::mset({})).is_ok());
}

TEST(Command, ValidateCommand_RejectsNestedBatch) {
  EXPECT_FALSE(validate_command(Command::batch({Command::batch({})})).is_ok());
  EXPECT_FALSE(validate_command(Command::batch({Command::register_session(1)})).is_ok());
  EXPECT_FALSE(
      validate_command(Command::batch({Command::session(1, 1, 0, Command::dbsize())})).is_ok());
}

TEST(Command, ValidateCommand_RejectsSessionInSession) {
  EXPECT_FALSE(
      validate_command(Command::session(1, 1, 0, Command::session(1, 2, 0, Command::dbsize())))
          .is_ok());
  EXPECT_FALSE(validate_command(Command::session(1, 1, 0, Command::register_session(0))).is_ok());
}

TEST(Command, ValidateCommand_RejectsSequenceZero) {
  EXPECT_FALSE(validate_command(Command::session(1, 0, 0, Command::dbsize())).is_ok());
}

TEST(Command, ValidateCommand_RejectsCasMissingWithExpectedValue) {
  Command cas = Command::cas("k", "x", "y");
  cas.cas_expect_missing = true;
  EXPECT_FALSE(validate_command(cas).is_ok());
}

TEST(Command, ValidateCommand_RejectsFieldsOfOtherTypes) {
  Command get = Command::get("k");
  get.delta = 1;
  EXPECT_FALSE(validate_command(get).is_ok());
  Command incr = Command::incr("k");
  incr.timestamp_ms = 5;
  EXPECT_TRUE(validate_command(incr).is_ok());  // Every entry carries its leader's time...
  EXPECT_FALSE(validate_command(Command::batch({incr})).is_ok());  // ...inner commands none.
  Command set = Command::set("k", "v");
  set.cas_expect_missing = true;
  EXPECT_FALSE(validate_command(set).is_ok());
}

TEST(Command, IsReadOnly_OnlyReads) {
  EXPECT_TRUE(is_read_only(Command::get("k")));
  EXPECT_TRUE(is_read_only(Command::mget({"k"})));
  EXPECT_TRUE(is_read_only(Command::exists({"k"})));
  EXPECT_TRUE(is_read_only(Command::dbsize()));
  EXPECT_FALSE(is_read_only(Command::set("k", "v")));
  EXPECT_FALSE(is_read_only(Command::batch({Command::get("k")})));
  EXPECT_FALSE(is_read_only(Command::session(1, 1, 0, Command::get("k"))));
}

// A Call carries its command's table entry from where it is built or decoded (Command::spec):
// set for a command the store executes, in the table's spelling, and trusted by the checks.
TEST(Command, Call_CarriesItsTableEntry) {
  const Command get = Command::call({"GET", "k"});
  ASSERT_NE(get.spec, nullptr);
  EXPECT_EQ(get.args[0], "get");
  EXPECT_TRUE(is_read_only(get));
  const Command hset = Command::call({"HSET", "h", "f", "v"});
  ASSERT_NE(hset.spec, nullptr);
  EXPECT_FALSE(is_read_only(hset));
  EXPECT_EQ(Command::call({"multi"}).spec, nullptr);  // In the table, not the store's.
  EXPECT_EQ(Command::call({"nosuchcommand"}).spec, nullptr);
  EXPECT_FALSE(validate_command(Command::call({"nosuchcommand"})).is_ok());
  EXPECT_FALSE(validate_command(Command::call({"get"})).is_ok());  // Arity.
  // Decoded: the spelling must be the table's, and the name one the store executes.
  std::string bytes = encode_command(get);
  const size_t name_at = bytes.find("get");
  ASSERT_NE(name_at, std::string::npos);
  Result<Command> decoded = decode_command(bytes);
  ASSERT_TRUE(decoded.is_ok());
  EXPECT_EQ(decoded.value().spec, get.spec);
  bytes.replace(name_at, 3, "GET");
  EXPECT_EQ(decode_status(bytes).code(), ErrorCode::InvalidArgument);
  bytes.replace(name_at, 3, "zzz");
  EXPECT_EQ(decode_status(bytes).code(), ErrorCode::InvalidArgument);
}

TEST(Command, DecodeCommand_RandomBytesNeverCrash) {
  std::mt19937_64 random(12345);
  for (int round = 0; round < 20'000; ++round) {
    std::string bytes(random() % 64, '\0');
    for (char& c : bytes) c = static_cast<char>(random());
    if (!bytes.empty() && round % 2 == 0) bytes[0] = 1;  // Get past the version check often.
    Result<Command> decoded = decode_command(bytes);
    // Anything accepted is canonical: it encodes back to the very same bytes.
    if (decoded.is_ok()) {
      EXPECT_EQ(encode_command(decoded.value()), bytes);
    }
  }
}

TEST(Command, DecodeCommand_MutatedEncodingsNeverCrash) {
  std::mt19937_64 random(777);
  const std::vector<Command> samples = sample_commands();
  for (int round = 0; round < 50'000; ++round) {
    std::string bytes = encode_command(samples[random() % samples.size()]);
    const int flips = 1 + static_cast<int>(random() % 3);
    for (int i = 0; i < flips; ++i) {
      bytes[random() % bytes.size()] ^= static_cast<char>(1u << (random() % 8));
    }
    Result<Command> decoded = decode_command(bytes);
    if (decoded.is_ok()) {
      EXPECT_EQ(encode_command(decoded.value()), bytes);
    }
  }
}

}  // namespace
}  // namespace raftkv::kv
