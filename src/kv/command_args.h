#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "kv/command.h"

// Translates a client's argument vector (what the RESP parser yields: name, then arguments)
// into a key-value Command, answering unknown names and wrong argument counts with Redis' own
// error texts. Names are case-insensitive. Covers the commands the state machine executes:
// every read or write command of the table (protocol/command_table.h) becomes a Call that the
// store parses when it runs it (kv/commands.h: Redis' strings, expiry, key space, hashes),
// except raftkv's own two:
//   CAS key expected desired   -> 1 when the key held `expected` and now holds `desired`,
//                                 else 0 (a missing key never matches).
//   CASNX key desired          -> 1 when the key was missing and now holds `desired`, else 0
//                                 (named after SETNX).
//
// Connection-level commands (PING, ECHO, INFO, COMMAND, QUIT, MULTI/EXEC/DISCARD) and the
// session wrapping (Command::session, with the leader's timestamp) are the server's: it
// handles those names before calling this, wraps what this returns, and builds a MULTI's
// Batch from the commands this returns for each queued request.

namespace raftkv::kv {

// InvalidArgument with the Redis reply text as message ("ERR wrong number of arguments for
// 'get' command") for a wrong argument count; NotFound with "ERR unknown command '<name>',
// with args beginning with:
// ..." for a name it does not know. Precondition: !args.empty() (the parser never yields an
// empty command). Takes the arguments: a value moves on into the command rather than being
// copied, which for a large one costs more than everything else here (issue 21).
[[nodiscard]] Result<Command> command_from_args(std::vector<std::string> args);

// Redis' text for an unknown command: "ERR unknown command 'foo', with args beginning with:
// 'a' 'b' " (the shown arguments cut to about 128 bytes together, as Redis does).
[[nodiscard]] std::string unknown_command_error(std::span<const std::string_view> args);

}  // namespace raftkv::kv
