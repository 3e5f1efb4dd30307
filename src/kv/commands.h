#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/types.h"
#include "kv/keyspace.h"
#include "kv/reply.h"
#include "protocol/command_table.h"

// The Redis commands the store executes from their argument vectors (CommandType::Call):
// strings (SET with its options, GETEX, SETRANGE, INCRBYFLOAT, ...), expiry (EXPIRE, TTL,
// PERSIST, ...), the key space (FLUSHALL, KEYS, SCAN, RENAME, COPY, ...) and hashes (HSET,
// HGETALL, HINCRBYFLOAT, HSCAN, ...). Replies and error texts are Redis 7.0's, which is the
// specification; where raftkv differs on purpose the handler says why.
//
// Each command is parsed when it runs, on every replica alike, so a malformed one answers its
// error there (the server checks only names and argument counts before logging, as Redis does
// before queueing in MULTI). Pure: time is the `now_ms` given, randomness the `seed` given.
namespace raftkv::kv {

// What a read runs against: the key space at `now_ms`. `seed` feeds RANDOMKEY and HRANDFIELD
// (a read's randomness is its node's business: nothing of it is replicated).
struct ReadContext {
  const Keyspace& keys;
  int64_t now_ms = 0;
  uint64_t seed = 0;
};

// What a write runs against: the key space at the entry's log time `now_ms`, as changed by
// the entry at `index` (the version of every key it changes).
struct WriteContext {
  Keyspace& keys;
  int64_t now_ms = 0;
  Index index;
  size_t value_bytes_max = 0;  // As Redis' proto-max-bulk-len.
};

// Redis' glob match (stringmatchlen): * ? [abc] [^a-z] and \ escapes; case-sensitive. KEYS,
// SCAN MATCH, and the server's CONFIG GET.
[[nodiscard]] bool glob_match(std::string_view pattern, std::string_view text);

// Whether the store executes the command of this entry of the command table.
[[nodiscard]] bool is_store_command(const protocol::CommandSpec& spec);

// Runs a read-only command. `args`: the lower-case name, then the arguments; the count is
// one the table allows; `spec` is the name's entry. Precondition: is_store_command and the
// table marks it read-only.
[[nodiscard]] Reply execute_read(const ReadContext& context, const protocol::CommandSpec& spec,
                                 std::span<const std::string> args);

// Runs a command that may write (or a read, inside a transaction); may move from `args`.
[[nodiscard]] Reply execute_write(WriteContext& context, const protocol::CommandSpec& spec,
                                  std::vector<std::string>& args);

}  // namespace raftkv::kv
