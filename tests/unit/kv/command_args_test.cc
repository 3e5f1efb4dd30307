#include "kv/command_args.h"

#include <gtest/gtest.h>

#include <limits>
#include <vector>

namespace raftkv::kv {
namespace {

Result<Command> from(std::vector<std::string_view> args) { return command_from_args(args); }

std::string error_of(std::vector<std::string_view> args) {
  Result<Command> result = command_from_args(args);
  return result.is_ok() ? "(ok)" : result.status().message();
}

TEST(CommandArgs, CommandFromArgs_BuildsEveryCommand) {
  EXPECT_EQ(from({"SET", "k", "v"}).value(), Command::set("k", "v"));
  EXPECT_EQ(from({"set", "k", "v", "nx"}).value(), Command::set("k", "v", SetCondition::IfMissing));
  EXPECT_EQ(from({"SeT", "k", "v", "XX"}).value(), Command::set("k", "v", SetCondition::IfPresent));
  EXPECT_EQ(from({"GET", "k"}).value(), Command::get("k"));
  EXPECT_EQ(from({"DEL", "a", "b"}).value(), Command::del({"a", "b"}));
  EXPECT_EQ(from({"EXISTS", "a"}).value(), Command::exists({"a"}));
  EXPECT_EQ(from({"INCR", "n"}).value(), Command::incr("n"));
  EXPECT_EQ(from({"DECR", "n"}).value(), Command::decr_by("n", 1));
  EXPECT_EQ(from({"INCRBY", "n", "-5"}).value(), Command::incr_by("n", -5));
  EXPECT_EQ(from({"DECRBY", "n", "7"}).value(), Command::decr_by("n", 7));
  EXPECT_EQ(from({"APPEND", "k", "x"}).value(), Command::append("k", "x"));
  EXPECT_EQ(from({"MGET", "a", "b"}).value(), Command::mget({"a", "b"}));
  EXPECT_EQ(from({"MSET", "a", "1", "b", "2"}).value(), Command::mset({"a", "1", "b", "2"}));
  EXPECT_EQ(from({"CAS", "k", "old", "new"}).value(), Command::cas("k", "old", "new"));
  EXPECT_EQ(from({"CASNX", "k", "new"}).value(), Command::cas_missing("k", "new"));
  EXPECT_EQ(from({"DBSIZE"}).value(), Command::dbsize());
}

TEST(CommandArgs, CommandFromArgs_EveryResultValidates) {
  for (const auto& args : std::vector<std::vector<std::string_view>>{
           {"SET", "k", "v", "NX", "NX"}, {"MSET", "a", "1"}, {"DEL", "a", "a"}}) {
    Result<Command> command = command_from_args(args);
    ASSERT_TRUE(command.is_ok()) << args[0];
    EXPECT_TRUE(validate_command(command.value()).is_ok()) << args[0];
  }
}

TEST(CommandArgs, CommandFromArgs_WrongArityIsRedisError) {
  EXPECT_EQ(error_of({"GET"}), "ERR wrong number of arguments for 'get' command");
  EXPECT_EQ(error_of({"GET", "a", "b"}), "ERR wrong number of arguments for 'get' command");
  EXPECT_EQ(error_of({"Set", "k"}), "ERR wrong number of arguments for 'set' command");
  EXPECT_EQ(error_of({"MSET", "a", "1", "b"}), "ERR wrong number of arguments for 'mset' command");
  EXPECT_EQ(error_of({"DEL"}), "ERR wrong number of arguments for 'del' command");
  EXPECT_EQ(error_of({"DBSIZE", "x"}), "ERR wrong number of arguments for 'dbsize' command");
}

TEST(CommandArgs, CommandFromArgs_SetOptionsOutsideNxXxAreSyntaxErrors) {
  EXPECT_EQ(error_of({"SET", "k", "v", "NX", "XX"}), "ERR syntax error");
  EXPECT_EQ(error_of({"SET", "k", "v", "EX", "10"}), "ERR syntax error");
  EXPECT_EQ(error_of({"SET", "k", "v", "GET"}), "ERR syntax error");
}

TEST(CommandArgs, CommandFromArgs_NonIntegerIncrementIsRedisError) {
  for (const char* bad : {"x", "1.5", " 1", "+1", "01", "9223372036854775808", ""}) {
    EXPECT_EQ(error_of({"INCRBY", "n", bad}), "ERR value is not an integer or out of range")
        << bad;
  }
  EXPECT_EQ(from({"DECRBY", "n", "-9223372036854775808"}).value(),
            Command::decr_by("n", std::numeric_limits<int64_t>::min()));
}

TEST(CommandArgs, CommandFromArgs_UnknownCommandIsNotFoundWithRedisText) {
  Result<Command> result = from({"FLY", "a", "b"});
  ASSERT_FALSE(result.is_ok());
  EXPECT_EQ(result.status().code(), ErrorCode::NotFound);
  EXPECT_EQ(result.status().message(),
            "ERR unknown command 'FLY', with args beginning with: 'a' 'b' ");
}

TEST(CommandArgs, UnknownCommandError_CutsLongArguments) {
  const std::string long_arg(300, 'x');
  const std::string text = unknown_command_error(std::vector<std::string_view>{"X", long_arg,
                                                                               "y"});
  EXPECT_EQ(text, "ERR unknown command 'X', with args beginning with: '" +
                      std::string(128, 'x') + "' ");
}

}  // namespace
}  // namespace raftkv::kv
