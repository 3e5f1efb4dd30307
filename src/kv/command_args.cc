#include "kv/command_args.h"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "kv/commands.h"
#include "protocol/command_table.h"

namespace raftkv::kv {

namespace {

std::string lower_name(std::string_view name) {
  std::string out(name);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  }
  return out;
}

Status arity_error(std::string_view name) {
  return {ErrorCode::InvalidArgument,
          "ERR wrong number of arguments for '" + lower_name(name) + "' command"};
}

// The table's spec of a command this parser builds (a keyspace command), or nullptr.
const protocol::CommandSpec* find_data_command(std::string_view name) {
  const protocol::CommandSpec* spec = protocol::find_command(name);
  if (spec == nullptr || spec->is(protocol::kConnection)) return nullptr;
  if (!spec->is(protocol::kRead) && !spec->is(protocol::kWrite)) return nullptr;
  if (spec->name.starts_with("session.")) return nullptr;  // The server's wrapping.
  return spec;
}

}  // namespace

std::string unknown_command_error(std::span<const std::string_view> args) {
  RAFT_ASSERT(!args.empty());
  // As Redis' processCommand: the shown arguments together stay within about 128 bytes.
  std::string shown;
  for (size_t i = 1; i < args.size() && shown.size() < 128; ++i) {
    shown += "'" + std::string(args[i].substr(0, 128 - shown.size())) + "' ";
  }
  return "ERR unknown command '" + std::string(args[0].substr(0, 128)) +
         "', with args beginning with: " + shown;
}

Result<Command> command_from_args(std::vector<std::string> args) {
  RAFT_ASSERT(!args.empty());
  const protocol::CommandSpec* spec = find_data_command(args[0]);
  if (spec == nullptr) {
    const std::vector<std::string_view> views(args.begin(), args.end());
    return Status(ErrorCode::NotFound, unknown_command_error(views));
  }
  if (!spec->arity_ok(args.size())) return arity_error(args[0]);
  const std::string_view name = spec->name;
  if (name == "cas") {
    return Command::cas(std::move(args[1]), std::move(args[2]), std::move(args[3]));
  }
  if (name == "casnx") return Command::cas_missing(std::move(args[1]), std::move(args[2]));
  // Every other keyspace command of the table runs by its arguments (kv/commands.h).
  Command command = Command::call(*spec, std::move(args));
  RAFT_ASSERT(command.spec != nullptr);
  return command;
}

}  // namespace raftkv::kv
