#include "kv/command_args.h"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "kv/redis_int.h"
#include "protocol/command_table.h"

namespace raftkv::kv {

namespace {

constexpr const char* kSyntaxError = "ERR syntax error";
constexpr const char* kNotInteger = "ERR value is not an integer or out of range";

bool equals_ignore_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

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

std::vector<std::string> copy_args(std::span<const std::string_view> args) {
  return {args.begin(), args.end()};
}

// The table's spec of a command this parser builds (a keyspace command), or nullptr.
const protocol::CommandSpec* find_data_command(std::string_view name) {
  const protocol::CommandSpec* spec = protocol::find_command(name);
  if (spec == nullptr || spec->is(protocol::kConnection)) return nullptr;
  if (!spec->is(protocol::kRead) && !spec->is(protocol::kWrite)) return nullptr;
  if (spec->name.starts_with("session.")) return nullptr;  // The server's wrapping.
  return spec;
}

Result<Command> set_from_args(std::span<const std::string_view> args) {
  SetCondition condition = SetCondition::None;
  for (size_t i = 3; i < args.size(); ++i) {
    const bool nx = equals_ignore_case(args[i], "nx");
    const bool xx = equals_ignore_case(args[i], "xx");
    // Expiry options (EX, PX, KEEPTTL, ...) and GET are not supported: keys never expire.
    if (!nx && !xx) return Status(ErrorCode::InvalidArgument, kSyntaxError);
    const SetCondition wanted = nx ? SetCondition::IfMissing : SetCondition::IfPresent;
    if (condition != SetCondition::None && condition != wanted) {
      return Status(ErrorCode::InvalidArgument, kSyntaxError);  // NX with XX, as Redis.
    }
    condition = wanted;
  }
  return Command::set(std::string(args[1]), std::string(args[2]), condition);
}

Result<Command> add_from_args(std::string_view name, std::span<const std::string_view> args) {
  const std::optional<int64_t> delta = parse_redis_int64(args[2]);
  if (!delta) return Status(ErrorCode::InvalidArgument, kNotInteger);
  if (equals_ignore_case(name, "incrby")) return Command::incr_by(std::string(args[1]), *delta);
  return Command::decr_by(std::string(args[1]), *delta);
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

Result<Command> command_from_args(std::span<const std::string_view> args) {
  RAFT_ASSERT(!args.empty());
  const protocol::CommandSpec* spec = find_data_command(args[0]);
  if (spec == nullptr) return Status(ErrorCode::NotFound, unknown_command_error(args));
  if (!spec->arity_ok(args.size())) return arity_error(args[0]);
  const std::string_view name = spec->name;
  const std::span<const std::string_view> rest = args.subspan(1);
  if (name == "set") return set_from_args(args);
  if (name == "get") return Command::get(std::string(args[1]));
  if (name == "del") return Command::del(copy_args(rest));
  if (name == "exists") return Command::exists(copy_args(rest));
  if (name == "incr") return Command::incr(std::string(args[1]));
  if (name == "decr") return Command::decr_by(std::string(args[1]), 1);
  if (name == "incrby" || name == "decrby") return add_from_args(name, args);
  if (name == "append") return Command::append(std::string(args[1]), std::string(args[2]));
  if (name == "mget") return Command::mget(copy_args(rest));
  if (name == "mset") {
    if (rest.size() % 2 != 0) return arity_error(args[0]);
    return Command::mset(copy_args(rest));
  }
  if (name == "cas") {
    return Command::cas(std::string(args[1]), std::string(args[2]), std::string(args[3]));
  }
  if (name == "casnx") return Command::cas_missing(std::string(args[1]), std::string(args[2]));
  RAFT_ASSERT(name == "dbsize");  // Every keyspace command of the table is handled above.
  return Command::dbsize();
}

}  // namespace raftkv::kv
