#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kv/commands.h"
#include "kv/keyspace.h"
#include "kv/reply.h"

// What the command handlers (commands_*.cc) share: Redis' error texts, argument parsing as
// Redis does it, typed lookups and the SCAN cursor. Internal to src/kv.
namespace raftkv::kv::detail {

inline constexpr const char* kWrongType =
    "WRONGTYPE Operation against a key holding the wrong kind of value";
inline constexpr const char* kSyntaxError = "ERR syntax error";
inline constexpr const char* kNotInteger = "ERR value is not an integer or out of range";
inline constexpr const char* kNotFloat = "ERR value is not a valid float";
inline constexpr const char* kOverflow = "ERR increment or decrement would overflow";
inline constexpr const char* kNanOrInfinity = "ERR increment would produce NaN or Infinity";
inline constexpr const char* kTooBig =
    "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
inline constexpr const char* kNoSuchKey = "ERR no such key";
inline constexpr const char* kOutOfRange = "ERR value is out of range";

[[nodiscard]] bool equals_ignore_case(std::string_view a, std::string_view b);

// "ERR invalid expire time in '<name>' command".
[[nodiscard]] Reply invalid_expire(std::string_view name);

// A 64-bit integer as Redis' string2ll reads it (redis_int.h).
[[nodiscard]] std::optional<int64_t> parse_int(std::string_view text);
// A long double as Redis' string2ld reads it: strtold of the whole text, no leading space,
// not NaN, no overflow to infinity from a finite text. nullopt when not valid.
[[nodiscard]] std::optional<long double> parse_long_double(std::string_view text);
// Redis' human form of a long double (ld2string LD_STR_HUMAN): "%.17Lf" without trailing
// zeros, "-0" as "0".
[[nodiscard]] std::string format_long_double(long double value);

// `a + b` unless it overflows int64.
[[nodiscard]] std::optional<int64_t> checked_add(int64_t a, int64_t b);

// The live value of `key` when it is a string: *error is set to WRONGTYPE (and nullptr
// returned) for another kind; nullptr with *error untouched when missing.
[[nodiscard]] const Record* find_string(const Keyspace& keys, const std::string& key,
                                       int64_t now_ms, Reply* error);
// The same for a hash.
[[nodiscard]] const Record* find_hash(const Keyspace& keys, const std::string& key,
                                     int64_t now_ms, Reply* error);

// A cursor as Redis parses one (an unsigned 64-bit decimal); nullopt for "invalid cursor".
[[nodiscard]] std::optional<uint64_t> parse_cursor(std::string_view text);

// The options SCAN and HSCAN share: MATCH pattern, COUNT n, and (SCAN only) TYPE name.
struct ScanOptions {
  std::optional<std::string> match;
  size_t count = 10;
  std::optional<std::string> type;
};
// Parses args[from..]; an error reply when malformed (Redis' texts).
[[nodiscard]] std::optional<Reply> parse_scan_options(std::span<const std::string> args,
                                                      size_t from, bool allow_type,
                                                      ScanOptions* options);

// SCAN cursors are positions in the key space's order, not hash-table buckets, so that a key
// present for a whole scan is returned whatever happens between calls (snapshots, restarts, a
// new leader: the order is the same on every replica). That order is by a hash of the key
// (hash_trie.h), and a cursor is the hash of the next key to return; 0 starts and ends a
// scan. Keys sharing a hash are returned in one reply, so the next cursor is always larger
// than the last (COUNT is a hint, as in Redis). A cursor was once a key's first 8 bytes, and a
// million keys named "key:0000..." came back in one reply; hashes spread any names.
//
// Walks `map` from `cursor`, calling take(key, value) for each item, until at least `count`
// were visited and the next key starts another cursor: returns the cursor to continue from (0
// when the walk reached the end).
template <typename Map, typename Take>
uint64_t scan_map(const Map& map, uint64_t cursor, size_t count, Take&& take) {
  size_t visited = 0;
  uint64_t last_cursor = 0;
  uint64_t next = 0;
  map.for_each_from(cursor, [&](uint64_t here, const auto& key, const auto& value) {
    if (visited >= count && here != last_cursor) {
      next = here;
      return false;
    }
    take(key, value);
    ++visited;
    last_cursor = here;
    return true;
  });
  return next;
}

// Bulk strings of `items`, in order.
[[nodiscard]] Reply bulk_array(const std::vector<std::string>& items);

}  // namespace raftkv::kv::detail

// ---- Handlers, by file; the table in commands.cc names them. ----
namespace raftkv::kv::detail {

using ReadArgs = std::span<const std::string>;
using WriteArgs = std::vector<std::string>;

// The live value of `key` for a write: deleted first when past its deadline (the lazy,
// replicated half of expiry), so a write never sees or keeps an expired key.
[[nodiscard]] const Record* live(WriteContext& context, const std::string& key);
// The read view of a write's context (a read command inside a transaction).
[[nodiscard]] ReadContext read_view(const WriteContext& context);

// commands_string.cc
Reply get_command(const ReadContext& context, ReadArgs args);
Reply mget_command(const ReadContext& context, ReadArgs args);
Reply strlen_command(const ReadContext& context, ReadArgs args);
Reply getrange_command(const ReadContext& context, ReadArgs args);
Reply set_command(WriteContext& context, WriteArgs& args);
Reply setnx_command(WriteContext& context, WriteArgs& args);
Reply setex_command(WriteContext& context, WriteArgs& args);
Reply getset_command(WriteContext& context, WriteArgs& args);
Reply getdel_command(WriteContext& context, WriteArgs& args);
Reply getex_command(WriteContext& context, WriteArgs& args);
Reply mset_command(WriteContext& context, WriteArgs& args);
Reply msetnx_command(WriteContext& context, WriteArgs& args);
Reply setrange_command(WriteContext& context, WriteArgs& args);
Reply append_command(WriteContext& context, WriteArgs& args);
Reply incr_command(WriteContext& context, WriteArgs& args);
Reply incrbyfloat_command(WriteContext& context, WriteArgs& args);

// commands_keys.cc
Reply exists_command(const ReadContext& context, ReadArgs args);
Reply dbsize_command(const ReadContext& context, ReadArgs args);
Reply type_command(const ReadContext& context, ReadArgs args);
Reply keys_command(const ReadContext& context, ReadArgs args);
Reply randomkey_command(const ReadContext& context, ReadArgs args);
Reply scan_command(const ReadContext& context, ReadArgs args);
Reply memory_command(const ReadContext& context, ReadArgs args);
Reply ttl_command(const ReadContext& context, ReadArgs args);
Reply expiretime_command(const ReadContext& context, ReadArgs args);
Reply del_command(WriteContext& context, WriteArgs& args);
Reply flush_command(WriteContext& context, WriteArgs& args);
Reply rename_command(WriteContext& context, WriteArgs& args);
Reply copy_command(WriteContext& context, WriteArgs& args);
Reply expire_command(WriteContext& context, WriteArgs& args);
Reply persist_command(WriteContext& context, WriteArgs& args);

// commands_hash.cc
Reply hget_command(const ReadContext& context, ReadArgs args);
Reply hmget_command(const ReadContext& context, ReadArgs args);
Reply hlen_command(const ReadContext& context, ReadArgs args);
Reply hexists_command(const ReadContext& context, ReadArgs args);
Reply hstrlen_command(const ReadContext& context, ReadArgs args);
Reply hgetall_command(const ReadContext& context, ReadArgs args);
Reply hrandfield_command(const ReadContext& context, ReadArgs args);
Reply hscan_command(const ReadContext& context, ReadArgs args);
Reply hset_command(WriteContext& context, WriteArgs& args);
Reply hsetnx_command(WriteContext& context, WriteArgs& args);
Reply hdel_command(WriteContext& context, WriteArgs& args);
Reply hincrby_command(WriteContext& context, WriteArgs& args);
Reply hincrbyfloat_command(WriteContext& context, WriteArgs& args);

}  // namespace raftkv::kv::detail
