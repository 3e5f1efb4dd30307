#include "protocol/command_table.h"

#include <algorithm>
#include <array>
#include <string>

#include "protocol/name_index.h"

namespace raftkv::protocol {
namespace {

constexpr uint32_t kR = kRead;
constexpr uint32_t kW = kWrite;
constexpr uint32_t kC = kConnection;
constexpr uint32_t kT = kTransaction | kConnection;
constexpr uint32_t kCC = kConnection | kContainer;

// In name order (all_commands() lists it so; a test checks the order).
// Admin commands need the ACL category admin (kv/acl.h) besides what they do.
constexpr uint32_t kWA = kWrite | kAdmin;

constexpr std::array kCommands = {
    // ACL: its subcommands' flags say which need admin (WHOAMI does not).
    CommandSpec{"acl", -2, kCC, 0, 0, 0, "server"},
    CommandSpec{"append", 3, kW, 1, 1, 1, "string"},
    CommandSpec{"auth", -2, kC, 0, 0, 0, "connection"},
    CommandSpec{"cas", 4, kW, 1, 1, 1, "raftkv"},  // CAS key expected new: raftkv's own.
    CommandSpec{"casnx", 3, kW, 1, 1, 1, "raftkv"},  // CASNX key new: raftkv's own.
    CommandSpec{"client", -2, kCC, 0, 0, 0, "connection"},
    CommandSpec{"cluster", -2, kCC, 0, 0, 0, "cluster"},
    CommandSpec{"command", -1, kCC, 0, 0, 0, "server"},
    CommandSpec{"config", -2, kCC | kAdmin, 0, 0, 0, "server"},
    CommandSpec{"copy", -3, kW, 1, 2, 1, "generic"},
    CommandSpec{"dbsize", 1, kR, 0, 0, 0, "server"},
    CommandSpec{"decr", 2, kW, 1, 1, 1, "string"},
    CommandSpec{"decrby", 3, kW, 1, 1, 1, "string"},
    CommandSpec{"del", -2, kW, 1, -1, 1, "generic"},
    CommandSpec{"discard", 1, kT, 0, 0, 0, "transactions"},
    CommandSpec{"echo", 2, kC, 0, 0, 0, "connection"},
    CommandSpec{"exec", 1, kT, 0, 0, 0, "transactions"},
    CommandSpec{"exists", -2, kR, 1, -1, 1, "generic"},
    CommandSpec{"expire", -3, kW, 1, 1, 1, "generic"},
    CommandSpec{"expireat", -3, kW, 1, 1, 1, "generic"},
    CommandSpec{"expiretime", 2, kR, 1, 1, 1, "generic"},
    CommandSpec{"flushall", -1, kWA, 0, 0, 0, "server"},
    CommandSpec{"flushdb", -1, kWA, 0, 0, 0, "server"},
    CommandSpec{"get", 2, kR, 1, 1, 1, "string"},
    CommandSpec{"getdel", 2, kW, 1, 1, 1, "string"},
    CommandSpec{"getex", -2, kW, 1, 1, 1, "string"},
    CommandSpec{"getrange", 4, kR, 1, 1, 1, "string"},
    CommandSpec{"getset", 3, kW, 1, 1, 1, "string"},
    CommandSpec{"hdel", -3, kW, 1, 1, 1, "hash"},
    CommandSpec{"hello", -1, kC, 0, 0, 0, "connection"},
    CommandSpec{"hexists", 3, kR, 1, 1, 1, "hash"},
    CommandSpec{"hget", 3, kR, 1, 1, 1, "hash"},
    CommandSpec{"hgetall", 2, kR, 1, 1, 1, "hash"},
    CommandSpec{"hincrby", 4, kW, 1, 1, 1, "hash"},
    CommandSpec{"hincrbyfloat", 4, kW, 1, 1, 1, "hash"},
    CommandSpec{"hkeys", 2, kR, 1, 1, 1, "hash"},
    CommandSpec{"hlen", 2, kR, 1, 1, 1, "hash"},
    CommandSpec{"hmget", -3, kR, 1, 1, 1, "hash"},
    CommandSpec{"hmset", -4, kW, 1, 1, 1, "hash"},
    CommandSpec{"hrandfield", -2, kR, 1, 1, 1, "hash"},
    CommandSpec{"hscan", -3, kR, 1, 1, 1, "hash"},
    CommandSpec{"hset", -4, kW, 1, 1, 1, "hash"},
    CommandSpec{"hsetnx", 4, kW, 1, 1, 1, "hash"},
    CommandSpec{"hstrlen", 3, kR, 1, 1, 1, "hash"},
    CommandSpec{"hvals", 2, kR, 1, 1, 1, "hash"},
    CommandSpec{"incr", 2, kW, 1, 1, 1, "string"},
    CommandSpec{"incrby", 3, kW, 1, 1, 1, "string"},
    CommandSpec{"incrbyfloat", 3, kW, 1, 1, 1, "string"},
    CommandSpec{"info", -1, kC, 0, 0, 0, "server"},
    CommandSpec{"keys", 2, kR, 0, 0, 0, "generic"},
    CommandSpec{"memory", -2, kR, 0, 0, 0, "server"},  // MEMORY USAGE key: a read.
    CommandSpec{"mget", -2, kR, 1, -1, 1, "string"},
    CommandSpec{"mset", -3, kW, 1, -1, 2, "string"},
    CommandSpec{"msetnx", -3, kW, 1, -1, 2, "string"},
    CommandSpec{"multi", 1, kT, 0, 0, 0, "transactions"},
    CommandSpec{"persist", 2, kW, 1, 1, 1, "generic"},
    CommandSpec{"pexpire", -3, kW, 1, 1, 1, "generic"},
    CommandSpec{"pexpireat", -3, kW, 1, 1, 1, "generic"},
    CommandSpec{"pexpiretime", 2, kR, 1, 1, 1, "generic"},
    CommandSpec{"ping", -1, kC, 0, 0, 0, "connection"},
    CommandSpec{"psetex", 4, kW, 1, 1, 1, "string"},
    CommandSpec{"pttl", 2, kR, 1, 1, 1, "generic"},
    CommandSpec{"quit", -1, kC, 0, 0, 0, "connection"},
    CommandSpec{"raft.clusterid", 1, kC | kAdmin, 0, 0, 0, "raftkv"},
    CommandSpec{"raft.member", -2, kC | kAdmin, 0, 0, 0, "raftkv"},
    CommandSpec{"raft.transfer", -1, kC | kAdmin, 0, 0, 0, "raftkv"},
    CommandSpec{"randomkey", 1, kR, 0, 0, 0, "generic"},
    CommandSpec{"readonly", 1, kC, 0, 0, 0, "cluster"},
    CommandSpec{"readwrite", 1, kC, 0, 0, 0, "cluster"},
    CommandSpec{"rename", 3, kW, 1, 2, 1, "generic"},
    CommandSpec{"renamenx", 3, kW, 1, 2, 1, "generic"},
    CommandSpec{"reset", 1, kC, 0, 0, 0, "connection"},
    CommandSpec{"scan", -2, kR, 0, 0, 0, "generic"},
    CommandSpec{"select", 2, kC, 0, 0, 0, "connection"},
    // SESSION.CALL: the wrapped command's keys are at 4 on.
    CommandSpec{"session.call", -4, kW, 0, 0, 0, "raftkv"},
    CommandSpec{"session.exec", 3, kT, 0, 0, 0, "raftkv"},
    CommandSpec{"session.open", 1, kW, 0, 0, 0, "raftkv"},
    CommandSpec{"set", -3, kW, 1, 1, 1, "string"},
    CommandSpec{"setex", 4, kW, 1, 1, 1, "string"},
    CommandSpec{"setnx", 3, kW, 1, 1, 1, "string"},
    CommandSpec{"setrange", 4, kW, 1, 1, 1, "string"},
    CommandSpec{"strlen", 2, kR, 1, 1, 1, "string"},
    CommandSpec{"substr", 4, kR, 1, 1, 1, "string"},
    CommandSpec{"time", 1, kC, 0, 0, 0, "server"},
    CommandSpec{"touch", -2, kR, 1, -1, 1, "generic"},
    CommandSpec{"ttl", 2, kR, 1, 1, 1, "generic"},
    CommandSpec{"type", 2, kR, 1, 1, 1, "generic"},
    CommandSpec{"unlink", -2, kW, 1, -1, 1, "generic"},
    CommandSpec{"unwatch", 1, kT, 0, 0, 0, "transactions"},
    CommandSpec{"watch", -2, kT, 1, -1, 1, "transactions"},
};

constexpr uint32_t kA = kConnection | kAdmin;

// Grouped by container, each group in name order (a test checks it). Arity as in Redis 7.0
// (SETINFO and NO-TOUCH as in 7.2, which added them).
constexpr std::array kSubcommands = {
    CommandSpec{"acl|deluser", -3, kA, 0, 0, 0, "server"},
    CommandSpec{"acl|list", 2, kA, 0, 0, 0, "server"},
    CommandSpec{"acl|setuser", -3, kA, 0, 0, 0, "server"},
    CommandSpec{"acl|whoami", 2, kC, 0, 0, 0, "server"},
    CommandSpec{"client|getname", 2, kC, 0, 0, 0, "connection"},
    CommandSpec{"client|id", 2, kC, 0, 0, 0, "connection"},
    CommandSpec{"client|info", 2, kC, 0, 0, 0, "connection"},
    CommandSpec{"client|kill", -3, kA, 0, 0, 0, "connection"},
    CommandSpec{"client|list", -2, kA, 0, 0, 0, "connection"},
    CommandSpec{"client|no-evict", 3, kA, 0, 0, 0, "connection"},
    CommandSpec{"client|no-touch", 3, kC, 0, 0, 0, "connection"},
    CommandSpec{"client|reply", 3, kC, 0, 0, 0, "connection"},
    CommandSpec{"client|setinfo", 4, kC, 0, 0, 0, "connection"},
    CommandSpec{"client|setname", 3, kC, 0, 0, 0, "connection"},
    CommandSpec{"cluster|info", 2, kC, 0, 0, 0, "cluster"},
    CommandSpec{"cluster|myid", 2, kC, 0, 0, 0, "cluster"},
    CommandSpec{"cluster|nodes", 2, kC, 0, 0, 0, "cluster"},
    CommandSpec{"cluster|shards", 2, kC, 0, 0, 0, "cluster"},
    CommandSpec{"cluster|slots", 2, kC, 0, 0, 0, "cluster"},
    CommandSpec{"command|count", 2, kC, 0, 0, 0, "server"},
    CommandSpec{"command|docs", -2, kC, 0, 0, 0, "server"},
    CommandSpec{"command|getkeys", -4, kC, 0, 0, 0, "server"},
    CommandSpec{"command|info", -2, kC, 0, 0, 0, "server"},
    CommandSpec{"command|list", -2, kC, 0, 0, 0, "server"},
    CommandSpec{"config|get", -3, kA, 0, 0, 0, "server"},
    CommandSpec{"config|resetstat", 2, kA, 0, 0, 0, "server"},
    CommandSpec{"config|set", -4, kA, 0, 0, 0, "server"},
};

static_assert(std::ranges::is_sorted(kSubcommands, {}, &CommandSpec::name),
              "subcommands() bisects kSubcommands");

// The longest command name: find_command folds a name's case into a buffer this long.
constexpr size_t kCommandNameMax =
    std::ranges::max(kCommands, {}, [](const CommandSpec& spec) { return spec.name.size(); })
        .name.size();

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

// Compares a table name (lower case) with `name` in any case.
int compare(std::string_view table_name, std::string_view name) {
  const size_t common = std::min(table_name.size(), name.size());
  for (size_t i = 0; i < common; ++i) {
    const char a = table_name[i];
    const char b = lower(name[i]);
    if (a != b) return a < b ? -1 : 1;
  }
  if (table_name.size() == name.size()) return 0;
  return table_name.size() < name.size() ? -1 : 1;
}

}  // namespace

const CommandSpec* find_command(std::string_view name) {
  static const NameIndex<CommandSpec> index(kCommands);
  std::array<char, kCommandNameMax> lowered{};
  if (name.size() > lowered.size()) return nullptr;
  for (size_t i = 0; i < name.size(); ++i) lowered[i] = lower(name[i]);
  return index.find(std::string_view(lowered.data(), name.size()));
}

std::span<const CommandSpec> all_commands() { return kCommands; }

std::span<const CommandSpec> subcommands(std::string_view container) {
  // Every command asks (refusal checks, ACL), so this bisects: the container's names sort
  // together, from "container|" on.
  const std::string prefix = std::string(container) + '|';
  const auto first = std::partition_point(
      kSubcommands.begin(), kSubcommands.end(),
      [&](const CommandSpec& spec) { return spec.name < prefix; });
  const auto last = std::find_if_not(
      first, kSubcommands.end(),
      [&](const CommandSpec& spec) { return spec.name.starts_with(prefix); });
  return {first, last};
}

const CommandSpec& called_spec(const CommandSpec& spec, std::span<const std::string> args) {
  if (!spec.is(kContainer) || args.size() < 2) return spec;
  const CommandSpec* sub = find_subcommand(spec.name, args[1]);
  return sub != nullptr ? *sub : spec;
}

const CommandSpec* find_subcommand(std::string_view container, std::string_view sub) {
  const CommandSpec* command = find_command(container);
  if (command == nullptr) return nullptr;
  for (const CommandSpec& spec : subcommands(command->name)) {
    if (compare(spec.name.substr(command->name.size() + 1), sub) == 0) return &spec;
  }
  return nullptr;
}

}  // namespace raftkv::protocol
