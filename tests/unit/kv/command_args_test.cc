#include "kv/command_args.h"

#include <gtest/gtest.h>

#include <vector>

namespace raftkv::kv {
namespace {

Result<Command> from(std::vector<std::string_view> args) {
  return command_from_args({args.begin(), args.end()});
}

std::string error_of(std::vector<std::string_view> args) {
  Result<Command> result = from(std::move(args));
  return result.is_ok() ? "(ok)" : result.status().message();
}

TEST(CommandArgs, CommandFromArgs_CallsTheStoreByName) {
  EXPECT_EQ(from({"SET", "k", "v", "EX", "10"}).value(),
            Command::call({"set", "k", "v", "EX", "10"}));  // The name in the table's case.
  EXPECT_EQ(from({"hgetall", "h"}).value(), Command::call({"hgetall", "h"}));
  EXPECT_EQ(from({"CAS", "k", "old", "new"}).value(), Command::cas("k", "old", "new"));
  EXPECT_EQ(from({"CASNX", "k", "new"}).value(), Command::cas_missing("k", "new"));
  EXPECT_TRUE(is_read_only(from({"GET", "k"}).value()));
  EXPECT_TRUE(is_read_only(from({"TTL", "k"}).value()));
  EXPECT_FALSE(is_read_only(from({"GETEX", "k"}).value()));
}

TEST(CommandArgs, CommandFromArgs_EveryResultValidates) {
  for (const auto& args : std::vector<std::vector<std::string_view>>{
           {"SET", "k", "v", "NX", "NX"}, {"MSET", "a", "1"}, {"DEL", "a", "a"},
           {"SCAN", "0", "COUNT", "x"}}) {
    Result<Command> command = from(args);
    ASSERT_TRUE(command.is_ok()) << args[0];
    EXPECT_TRUE(validate_command(command.value()).is_ok()) << args[0];
  }
}

// Only the name and the argument count are checked before the log, as Redis checks them
// before queueing in MULTI; the store answers the rest (commands_test.cc).
TEST(CommandArgs, CommandFromArgs_WrongArityIsRedisError) {
  EXPECT_EQ(error_of({"GET"}), "ERR wrong number of arguments for 'get' command");
  EXPECT_EQ(error_of({"GET", "a", "b"}), "ERR wrong number of arguments for 'get' command");
  EXPECT_EQ(error_of({"Set", "k"}), "ERR wrong number of arguments for 'set' command");
  EXPECT_EQ(error_of({"HSET", "h", "f"}), "ERR wrong number of arguments for 'hset' command");
  EXPECT_EQ(error_of({"DEL"}), "ERR wrong number of arguments for 'del' command");
  EXPECT_EQ(error_of({"DBSIZE", "x"}), "ERR wrong number of arguments for 'dbsize' command");
  EXPECT_EQ(error_of({"SET", "k", "v", "BOGUS"}), "(ok)");
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
