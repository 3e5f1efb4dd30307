// Key-space and expiry commands (commands.h), with Redis 7.0's replies and error texts.
#include <limits>

#include "common/prng.h"
#include "kv/commands_util.h"

namespace raftkv::kv::detail {
namespace {

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();
// RANDOMKEY gives up after this many expired picks in a row, as Redis does with its tries.
constexpr int kRandomTriesMax = 100;

const char* type_name(const Record* value) {
  if (value == nullptr) return "none";
  return value->kind() == Value::Kind::Hash ? "hash" : "string";
}

// EXPIRE's NX | XX | GT | LT (parseExtendedExpireArgumentsOrReply).
enum ExpireFlag : uint32_t { kNx = 1, kXx = 2, kGt = 4, kLt = 8 };

bool parse_expire_flags(ReadArgs args, uint32_t* flags, Reply* error) {
  for (size_t j = 3; j < args.size(); ++j) {
    if (equals_ignore_case(args[j], "nx")) {
      *flags |= kNx;
    } else if (equals_ignore_case(args[j], "xx")) {
      *flags |= kXx;
    } else if (equals_ignore_case(args[j], "gt")) {
      *flags |= kGt;
    } else if (equals_ignore_case(args[j], "lt")) {
      *flags |= kLt;
    } else {
      *error = Reply::error("ERR Unsupported option " + args[j]);
      return false;
    }
  }
  if ((*flags & kNx) != 0 && (*flags & (kXx | kGt | kLt)) != 0) {
    *error = Reply::error("ERR NX and XX, GT or LT options at the same time are not compatible");
    return false;
  }
  if ((*flags & kGt) != 0 && (*flags & kLt) != 0) {
    *error = Reply::error("ERR GT and LT options at the same time are not compatible");
    return false;
  }
  return true;
}

// The deadline EXPIRE & co. ask for (expireGenericCommand): seconds or ms, relative to the
// entry's time or absolute; nullopt (with Redis' error) when it does not fit in int64.
std::optional<int64_t> expire_deadline(const WriteContext& context, ReadArgs args,
                                       Reply* error) {
  const std::string& name = args[0];
  const bool seconds = name == "expire" || name == "expireat";
  const bool relative = name == "expire" || name == "pexpire";
  const std::optional<int64_t> when = parse_int(args[2]);
  if (!when) {
    *error = Reply::error(kNotInteger);
    return std::nullopt;
  }
  int64_t ms = *when;
  if (seconds) {
    if (ms > kInt64Max / 1000 || ms < kInt64Min / 1000) {
      *error = invalid_expire(name);
      return std::nullopt;
    }
    ms *= 1000;
  }
  const int64_t base = relative ? context.now_ms : 0;
  if (ms > kInt64Max - base) {
    *error = invalid_expire(name);
    return std::nullopt;
  }
  return ms + base;
}

// Whether EXPIRE's condition lets `deadline` replace the key's current one.
bool expire_allowed(uint32_t flags, const Record& value, int64_t deadline) {
  const int64_t current = value.expire_at_ms();
  if ((flags & kNx) != 0 && current != kNoExpiry) return false;
  if ((flags & kXx) != 0 && current == kNoExpiry) return false;
  // No deadline counts as an infinite one: GT never beats it, LT always does.
  if ((flags & kGt) != 0 && (current == kNoExpiry || deadline <= current)) return false;
  if ((flags & kLt) != 0 && current != kNoExpiry && deadline >= current) return false;
  return true;
}

// Stores `value` (a copy of a live one) with a new deadline, or removes the key when the
// deadline has passed already.
void set_deadline(WriteContext& context, const std::string& key, Value value,
                  int64_t deadline) {
  if (deadline != kNoExpiry && deadline <= context.now_ms) {
    context.keys.erase(key);
    return;
  }
  value.expire_at_ms = deadline;
  context.keys.put(key, std::move(value), context.index);
}

}  // namespace

Reply exists_command(const ReadContext& context, ReadArgs args) {
  int64_t present = 0;
  for (size_t i = 1; i < args.size(); ++i) {
    present += context.keys.find(args[i], context.now_ms) != nullptr ? 1 : 0;
  }
  return Reply::integer_value(present);
}

// Counts keys past their deadline that no delete has removed yet, as Redis' DBSIZE does.
Reply dbsize_command(const ReadContext& context, ReadArgs /*args*/) {
  return Reply::integer_value(static_cast<int64_t>(context.keys.size()));
}

Reply type_command(const ReadContext& context, ReadArgs args) {
  return Reply::simple(type_name(context.keys.find(args[1], context.now_ms)));
}

Reply keys_command(const ReadContext& context, ReadArgs args) {
  std::vector<std::string> keys;
  const bool all = args[1] == "*";
  context.keys.map().for_each([&](std::string_view key, const Record& record) {
    if (!record.expired_at(context.now_ms) && (all || glob_match(args[1], key))) {
      keys.emplace_back(key);
    }
  });
  return bulk_array(keys);
}

Reply randomkey_command(const ReadContext& context, ReadArgs /*args*/) {
  const KeyMap& map = context.keys.map();
  Prng prng(context.seed);
  for (int tries = 0; tries < kRandomTriesMax && !map.empty(); ++tries) {
    const Record& record = map.nth(prng.uniform(0, map.size() - 1));
    if (!record.expired_at(context.now_ms)) return Reply::bulk(std::string(record.key()));
  }
  return Reply::nil();
}

// SCAN cursor [MATCH pattern] [COUNT n] [TYPE type]: see scan_map() for the guarantee.
Reply scan_command(const ReadContext& context, ReadArgs args) {
  const std::optional<uint64_t> cursor = parse_cursor(args[1]);
  if (!cursor) return Reply::error("ERR invalid cursor");
  ScanOptions options;
  if (std::optional<Reply> error = parse_scan_options(args, 2, true, &options)) return *error;
  std::vector<std::string> keys;
  const uint64_t next = scan_map(
      context.keys.map(), *cursor, options.count, [&](std::string_view key, const Record& v) {
        if (v.expired_at(context.now_ms)) return;
        if (options.match && !glob_match(*options.match, key)) return;
        if (options.type && !equals_ignore_case(*options.type, type_name(&v))) return;
        keys.emplace_back(key);
      });
  return Reply::array({Reply::bulk(std::to_string(next)), bulk_array(keys)});
}

// MEMORY USAGE key [SAMPLES n]: the bytes of the key and its value plus the bookkeeping of
// the persistent maps (per key a 24-byte slot in the key space's trie and a 32-byte record
// header; per hash field a tree node and an item holding two strings, about 128), nil for a
// missing key. An estimate, as Redis' is.
Reply memory_command(const ReadContext& context, ReadArgs args) {
  constexpr int64_t kKeyOverhead = 56;
  constexpr int64_t kFieldOverhead = 128;
  if (!equals_ignore_case(args[1], "usage")) {
    return Reply::error("ERR unknown subcommand '" + args[1] + "'. Try MEMORY HELP.");
  }
  if (args.size() != 3 && !(args.size() == 5 && equals_ignore_case(args[3], "samples"))) {
    return Reply::error(kSyntaxError);
  }
  const Record* value = context.keys.find(args[2], context.now_ms);
  if (value == nullptr) return Reply::nil();
  auto bytes = static_cast<int64_t>(args[2].size() + value->string().size()) + kKeyOverhead;
  if (value->kind() != Value::Kind::Hash) return Reply::integer_value(bytes);
  value->hash().for_each([&](const std::string& field, const std::string& text) {
    bytes += static_cast<int64_t>(field.size() + text.size()) + kFieldOverhead;
  });
  return Reply::integer_value(bytes);
}

// TTL and PTTL: -2 missing, -1 no deadline, else the time left (TTL rounds to seconds).
Reply ttl_command(const ReadContext& context, ReadArgs args) {
  const Record* value = context.keys.find(args[1], context.now_ms);
  if (value == nullptr) return Reply::integer_value(-2);
  if (!value->has_expiry()) return Reply::integer_value(-1);
  const int64_t left = std::max<int64_t>(value->expire_at_ms() - context.now_ms, 0);
  return Reply::integer_value(args[0] == "pttl" ? left : (left + 500) / 1000);
}

// EXPIRETIME and PEXPIRETIME: the absolute deadline, -2 missing, -1 none.
Reply expiretime_command(const ReadContext& context, ReadArgs args) {
  const Record* value = context.keys.find(args[1], context.now_ms);
  if (value == nullptr) return Reply::integer_value(-2);
  if (!value->has_expiry()) return Reply::integer_value(-1);
  const int64_t deadline = value->expire_at_ms();
  return Reply::integer_value(args[0] == "pexpiretime" ? deadline : deadline / 1000);
}

// DEL and UNLINK: a key past its deadline is deleted as expired and not counted, as in Redis.
Reply del_command(WriteContext& context, WriteArgs& args) {
  int64_t removed = 0;
  for (size_t i = 1; i < args.size(); ++i) {
    if (context.keys.expire_if_due(args[i], context.now_ms)) continue;
    removed += context.keys.erase(args[i]) ? 1 : 0;
  }
  return Reply::integer_value(removed);
}

// FLUSHALL and FLUSHDB [ASYNC|SYNC]: one database, so both empty it. ASYNC is accepted and
// changes nothing: dropping the map's root is O(1) here already (the nodes are freed as the
// last reference to them goes, snapshots included).
Reply flush_command(WriteContext& context, WriteArgs& args) {
  if (args.size() > 2 ||
      (args.size() == 2 && !equals_ignore_case(args[1], "async") &&
       !equals_ignore_case(args[1], "sync"))) {
    return Reply::error(kSyntaxError);
  }
  context.keys.clear();
  return Reply::ok();
}

// RENAME and RENAMENX: the value moves with its deadline; the destination is overwritten
// (RENAMENX: only when missing).
Reply rename_command(WriteContext& context, WriteArgs& args) {
  const bool nx = args[0] == "renamenx";
  const Record* source = live(context, args[1]);
  if (source == nullptr) return Reply::error(kNoSuchKey);
  if (args[1] == args[2]) return nx ? Reply::integer_value(0) : Reply::ok();
  if (nx && live(context, args[2]) != nullptr) return Reply::integer_value(0);
  Value moved = source->to_value();
  context.keys.erase(args[1]);
  context.keys.put(args[2], std::move(moved), context.index);
  return nx ? Reply::integer_value(1) : Reply::ok();
}

// COPY source destination [DB 0] [REPLACE]: one database, so DB must name it.
Reply copy_command(WriteContext& context, WriteArgs& args) {
  bool replace = false;
  for (size_t j = 3; j < args.size(); ++j) {
    if (equals_ignore_case(args[j], "replace")) {
      replace = true;
    } else if (equals_ignore_case(args[j], "db") && j + 1 < args.size()) {
      const std::optional<int64_t> db = parse_int(args[++j]);
      if (!db) return Reply::error(kNotInteger);
      if (*db != 0) return Reply::error("ERR DB index is out of range");
    } else {
      return Reply::error(kSyntaxError);
    }
  }
  if (args[1] == args[2]) return Reply::error("ERR source and destination objects are the same");
  const Record* source = live(context, args[1]);
  if (source == nullptr) return Reply::integer_value(0);
  if (!replace && live(context, args[2]) != nullptr) return Reply::integer_value(0);
  Value copied = source->to_value();  // O(1) for a hash: its fields are a persistent map.
  context.keys.put(args[2], std::move(copied), context.index);
  return Reply::integer_value(1);
}

// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT key time [NX|XX|GT|LT].
Reply expire_command(WriteContext& context, WriteArgs& args) {
  uint32_t flags = 0;
  Reply error;
  if (!parse_expire_flags(args, &flags, &error)) return error;
  const std::optional<int64_t> deadline = expire_deadline(context, args, &error);
  if (!deadline) return error;
  const Record* value = live(context, args[1]);
  if (value == nullptr || !expire_allowed(flags, *value, *deadline)) {
    return Reply::integer_value(0);
  }
  set_deadline(context, args[1], value->to_value(), *deadline);
  return Reply::integer_value(1);
}

Reply persist_command(WriteContext& context, WriteArgs& args) {
  const Record* value = live(context, args[1]);
  if (value == nullptr || !value->has_expiry()) return Reply::integer_value(0);
  set_deadline(context, args[1], value->to_value(), kNoExpiry);
  return Reply::integer_value(1);
}

}  // namespace raftkv::kv::detail
