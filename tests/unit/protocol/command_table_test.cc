#include "protocol/command_table.h"

#include <gtest/gtest.h>

#include "protocol/reply_codes.h"

namespace raftkv::protocol {
namespace {

TEST(CommandTable, NamesAreLowerCaseSortedAndUnique) {
  const std::span<const CommandSpec> specs = all_commands();
  ASSERT_FALSE(specs.empty());
  for (size_t i = 0; i < specs.size(); ++i) {
    for (char c : specs[i].name) EXPECT_FALSE(c >= 'A' && c <= 'Z') << specs[i].name;
    if (i > 0) {
      EXPECT_LT(specs[i - 1].name, specs[i].name);  // find_command bisects.
    }
  }
}

TEST(CommandTable, FindCommand_IgnoresCaseAndKnowsOnlyTheTable) {
  ASSERT_NE(find_command("GET"), nullptr);
  EXPECT_EQ(find_command("gEt")->name, "get");
  EXPECT_EQ(find_command("Session.Call")->name, "session.call");
  EXPECT_EQ(find_command("getx"), nullptr);
  EXPECT_EQ(find_command("ge"), nullptr);
  EXPECT_EQ(find_command(""), nullptr);
  for (const CommandSpec& spec : all_commands()) EXPECT_EQ(find_command(spec.name), &spec);
}

TEST(CommandTable, Subcommands_GroupedSortedAndFoundInAnyCase) {
  size_t found = 0;
  for (const CommandSpec& container : all_commands()) {
    const std::span<const CommandSpec> subs = subcommands(container.name);
    for (size_t i = 0; i < subs.size(); ++i) {
      const std::string_view sub = subs[i].name.substr(container.name.size() + 1);
      EXPECT_EQ(subs[i].name, std::string(container.name) + "|" + std::string(sub));
      EXPECT_EQ(find_subcommand(container.name, sub), &subs[i]);
      if (i > 0) {
        EXPECT_LT(subs[i - 1].name, subs[i].name);
      }
      ++found;
    }
  }
  EXPECT_EQ(found, 27u);  // Every entry belongs to a container of the command table.
  ASSERT_NE(find_subcommand("Client", "SetName"), nullptr);
  EXPECT_EQ(find_subcommand("CLIENT", "setname")->name, "client|setname");
  EXPECT_TRUE(find_subcommand("client", "setname")->arity_ok(3));
  EXPECT_FALSE(find_subcommand("client", "setname")->arity_ok(2));
  EXPECT_EQ(find_subcommand("client", "pause"), nullptr);
  EXPECT_EQ(find_subcommand("client", "set"), nullptr);
  EXPECT_EQ(find_subcommand("get", "id"), nullptr);
  EXPECT_TRUE(subcommands("get").empty());
  EXPECT_TRUE(subcommands("clientx").empty());
  EXPECT_TRUE(subcommands("clien").empty());  // A prefix of a container is not one.
  EXPECT_EQ(subcommands("config").size(), 3u);
}

TEST(CommandTable, ContainersAreFlagged_AndCalledSpecNamesTheSubcommand) {
  for (const CommandSpec& spec : all_commands()) {
    EXPECT_EQ(spec.is(kContainer), !subcommands(spec.name).empty()) << spec.name;
  }
  const auto called = [](std::vector<std::string> args) {
    return called_spec(*find_command(args[0]), args).name;
  };
  EXPECT_EQ(called({"CLIENT", "List"}), "client|list");
  EXPECT_EQ(called({"client", "nosuch"}), "client");  // Refused later, as unknown.
  EXPECT_EQ(called({"command"}), "command");
  EXPECT_EQ(called({"get", "list"}), "get");  // Not a container: args[1] is a key.
}

TEST(CommandTable, EveryCommandIsOneKind) {
  for (const CommandSpec& spec : all_commands()) {
    const int kinds = (spec.is(kRead) ? 1 : 0) + (spec.is(kWrite) ? 1 : 0) +
                      (spec.is(kConnection) ? 1 : 0);
    EXPECT_EQ(kinds, 1) << spec.name << ": read, write or answered by the connection";
    if (spec.first_key == 0) {
      EXPECT_EQ(spec.last_key, 0) << spec.name;
    }
  }
}

TEST(CommandTable, ArityFollowsRedis) {
  const CommandSpec* get = find_command("get");
  EXPECT_TRUE(get->arity_ok(2));
  EXPECT_FALSE(get->arity_ok(1));
  EXPECT_FALSE(get->arity_ok(3));
  const CommandSpec* del = find_command("del");
  EXPECT_FALSE(del->arity_ok(1));
  EXPECT_TRUE(del->arity_ok(2));
  EXPECT_TRUE(del->arity_ok(9));
}

TEST(ReplyCodes, ErrorKindReadsTheFirstWordOnly) {
  EXPECT_EQ(error_kind("TRYAGAIN no leader"), ErrorKind::NotApplied);
  EXPECT_EQ(error_kind("TRYAGAIN"), ErrorKind::NotApplied);
  EXPECT_EQ(error_kind("UNCERTAIN timed out"), ErrorKind::MaybeApplied);
  EXPECT_EQ(error_kind("TRYAGAINX no"), ErrorKind::Application);
  EXPECT_EQ(error_kind("ERR TRYAGAIN is not the code"), ErrorKind::Application);
  EXPECT_EQ(error_kind(not_applied_error("busy")), ErrorKind::NotApplied);
  EXPECT_EQ(error_kind(maybe_applied_error("lost")), ErrorKind::MaybeApplied);
}

}  // namespace
}  // namespace raftkv::protocol
