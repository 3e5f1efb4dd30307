#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

// The commands raftkv-server answers, in one table that the server (COMMAND, COMMAND INFO,
// arity errors, ACL categories), the key-value state machine's parser and the client library
// (which requests are reads, safe to retry) all read. Adding a command starts here.
//
// Arity and key positions follow Redis' COMMAND reply: arity counts the name, a negative arity
// means "at least -arity"; keys are arguments [first_key, last_key] by key_step (last_key -1:
// to the end), 0 when the command takes no key.
namespace raftkv::protocol {

enum CommandFlag : uint32_t {
  kRead = 1u << 0,        // Reads the keyspace: answered after ReadIndex (or locally, READONLY).
  kWrite = 1u << 1,       // Changes the keyspace: goes through the log.
  kAdmin = 1u << 2,       // Administration (membership, flush, config, ACL): ACL category admin.
  kConnection = 1u << 3,  // Answered by the connection itself: never logged nor forwarded.
  kTransaction = 1u << 4,  // MULTI, EXEC, DISCARD, WATCH: the connection's transaction state.
  kContainer = 1u << 5,    // Has subcommands (subcommands()): ACL, CLIENT, CLUSTER, COMMAND...
};

struct CommandSpec {
  std::string_view name;  // Lower case.
  int arity = 0;
  uint32_t flags = 0;
  int first_key = 0;
  int last_key = 0;
  int key_step = 0;
  // Redis' command group (COMMAND DOCS): "string", "generic" (the key space), "hash",
  // "connection", "transactions", "server", "cluster", or "raftkv" for raftkv's own.
  std::string_view group;

  [[nodiscard]] bool is(CommandFlag flag) const { return (flags & flag) != 0; }
  [[nodiscard]] bool arity_ok(size_t argc) const {
    return arity >= 0 ? argc == static_cast<size_t>(arity)
                      : argc >= static_cast<size_t>(-arity);
  }
};

// The spec of `name` (any case), or nullptr for a command raftkv does not have.
[[nodiscard]] const CommandSpec* find_command(std::string_view name);
// Every command, in name order.
[[nodiscard]] std::span<const CommandSpec> all_commands();

// The subcommands raftkv offers of a container command (ACL, CLIENT, CLUSTER, COMMAND, CONFIG),
// named as Redis 7 names them ("client|id"), with Redis' arity, which counts the command and
// the subcommand. `find_subcommand`: any case; nullptr when raftkv does not offer it.
// `subcommands`: those of `container` (lower case), in name order; empty for a plain command.
[[nodiscard]] const CommandSpec* find_subcommand(std::string_view container, std::string_view sub);
[[nodiscard]] std::span<const CommandSpec> subcommands(std::string_view container);
// What a call of `spec` runs: for a container, the subcommand args[1] names if raftkv offers
// it; else `spec` itself. args[0] names `spec`.
[[nodiscard]] const CommandSpec& called_spec(const CommandSpec& spec,
                                             std::span<const std::string> args);

}  // namespace raftkv::protocol
