// Hash commands (commands.h), with Redis 7.0's replies and error texts.
#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "common/prng.h"
#include "kv/commands_util.h"

namespace raftkv::kv::detail {
namespace {

// The most elements HRANDFIELD answers: Redis would try to build any size asked for (and
// fail for lack of memory); a node serving everyone refuses instead.
constexpr int64_t kRandomFieldsMax = 1 << 24;

// The hash at `key` for a write: *error is WRONGTYPE for another kind; nullptr when missing.
const Record* hash_for_write(WriteContext& context, const std::string& key, Reply* error) {
  const Record* value = live(context, key);
  if (value != nullptr && value->kind() != Value::Kind::Hash) {
    *error = Reply::error(kWrongType);
    return nullptr;
  }
  return value;
}

// A copy of the hash at `key` to change (O(1): the fields are shared until changed), or a new
// empty one.
Value editable(const Record* value) {
  if (value != nullptr) return value->to_value();
  Value fresh;
  fresh.kind = Value::Kind::Hash;
  return fresh;
}

// Stores a changed hash; an empty one deletes the key, as Redis does.
void store_hash(WriteContext& context, const std::string& key, Value value) {
  if (value.hash.empty()) {
    context.keys.erase(key);
    return;
  }
  context.keys.put(key, std::move(value), context.index);
}

// `count` distinct ranks of [0, size), count < size, in random order.
std::vector<size_t> distinct_ranks(Prng& prng, size_t size, size_t count) {
  std::vector<size_t> ranks;
  if (count * 2 <= size) {  // Few of many: draw until distinct.
    std::set<size_t> seen;
    while (ranks.size() < count) {
      const size_t rank = prng.uniform(0, size - 1);
      if (seen.insert(rank).second) ranks.push_back(rank);
    }
    return ranks;
  }
  ranks.resize(size);  // Most of them: a partial Fisher-Yates shuffle.
  for (size_t i = 0; i < size; ++i) ranks[i] = i;
  for (size_t i = 0; i < count; ++i) std::swap(ranks[i], ranks[prng.uniform(i, size - 1)]);
  ranks.resize(count);
  return ranks;
}

void add_field(const HashMap::Item& item, bool with_values, std::vector<Reply>* out) {
  out->push_back(Reply::bulk(item.key));
  if (with_values) out->push_back(Reply::bulk(item.value));
}

// HRANDFIELD key count [WITHVALUES] once the key is known to hold `hash`.
Reply random_fields(const HashMap& hash, int64_t count, bool with_values, uint64_t seed) {
  Prng prng(seed);
  std::vector<Reply> out;
  if (count < 0) {  // Repetitions allowed.
    for (int64_t i = 0; i < -count; ++i) {
      add_field(hash.nth(prng.uniform(0, hash.size() - 1)), with_values, &out);
    }
    return Reply::array(std::move(out));
  }
  if (static_cast<uint64_t>(count) >= hash.size()) {
    hash.for_each([&](const std::string& field, const std::string& value) {
      add_field(HashMap::Item{field, value}, with_values, &out);
    });
    return Reply::array(std::move(out));
  }
  for (size_t rank : distinct_ranks(prng, hash.size(), static_cast<size_t>(count))) {
    add_field(hash.nth(rank), with_values, &out);
  }
  return Reply::array(std::move(out));
}

}  // namespace

Reply hget_command(const ReadContext& context, ReadArgs args) {
  Reply error;
  const Record* value = find_hash(context.keys, args[1], context.now_ms, &error);
  if (error.is_error()) return error;
  const std::string* field = value != nullptr ? value->hash().find(args[2]) : nullptr;
  return field != nullptr ? Reply::bulk(*field) : Reply::nil();
}

Reply hmget_command(const ReadContext& context, ReadArgs args) {
  Reply error;
  const Record* value = find_hash(context.keys, args[1], context.now_ms, &error);
  if (error.is_error()) return error;
  std::vector<Reply> out;
  for (size_t i = 2; i < args.size(); ++i) {
    const std::string* field = value != nullptr ? value->hash().find(args[i]) : nullptr;
    out.push_back(field != nullptr ? Reply::bulk(*field) : Reply::nil());
  }
  return Reply::array(std::move(out));
}

Reply hlen_command(const ReadContext& context, ReadArgs args) {
  Reply error;
  const Record* value = find_hash(context.keys, args[1], context.now_ms, &error);
  if (error.is_error()) return error;
  return Reply::integer_value(value != nullptr ? static_cast<int64_t>(value->hash().size()) : 0);
}

Reply hexists_command(const ReadContext& context, ReadArgs args) {
  Reply error;
  const Record* value = find_hash(context.keys, args[1], context.now_ms, &error);
  if (error.is_error()) return error;
  return Reply::integer_value(value != nullptr && value->hash().find(args[2]) != nullptr ? 1 : 0);
}

Reply hstrlen_command(const ReadContext& context, ReadArgs args) {
  Reply error;
  const Record* value = find_hash(context.keys, args[1], context.now_ms, &error);
  if (error.is_error()) return error;
  const std::string* field = value != nullptr ? value->hash().find(args[2]) : nullptr;
  return Reply::integer_value(field != nullptr ? static_cast<int64_t>(field->size()) : 0);
}

// HGETALL (fields and values), HKEYS, HVALS: in field order.
Reply hgetall_command(const ReadContext& context, ReadArgs args) {
  Reply error;
  const Record* value = find_hash(context.keys, args[1], context.now_ms, &error);
  if (error.is_error()) return error;
  std::vector<Reply> out;
  if (value == nullptr) return Reply::array(std::move(out));
  const bool keys = args[0] != "hvals";
  const bool values = args[0] != "hkeys";
  value->hash().for_each([&](const std::string& field, const std::string& text) {
    if (keys) out.push_back(Reply::bulk(field));
    if (values) out.push_back(Reply::bulk(text));
  });
  return Reply::array(std::move(out));
}

// HRANDFIELD key [count [WITHVALUES]].
Reply hrandfield_command(const ReadContext& context, ReadArgs args) {
  std::optional<int64_t> count;
  bool with_values = false;
  if (args.size() >= 3) {
    count = parse_int(args[2]);
    if (!count) return Reply::error(kNotInteger);
    with_values = args.size() == 4 && equals_ignore_case(args[3], "withvalues");
    if (args.size() > 4 || (args.size() == 4 && !with_values)) return Reply::error(kSyntaxError);
    const int64_t limit = std::numeric_limits<int64_t>::max() / 2;
    if (*count < -kRandomFieldsMax || (with_values && *count < -limit)) {
      return Reply::error(kOutOfRange);
    }
  }
  Reply error;
  const Record* value = find_hash(context.keys, args[1], context.now_ms, &error);
  if (error.is_error()) return error;
  if (!count) {
    if (value == nullptr) return Reply::nil();
    Prng prng(context.seed);
    return Reply::bulk(value->hash().nth(prng.uniform(0, value->hash().size() - 1)).key);
  }
  if (value == nullptr || *count == 0) return Reply::array({});
  return random_fields(value->hash(), *count, with_values, context.seed);
}

// HSCAN key cursor [MATCH pattern] [COUNT n]: cursors as SCAN's, over the fields.
Reply hscan_command(const ReadContext& context, ReadArgs args) {
  const std::optional<uint64_t> cursor = parse_cursor(args[2]);
  if (!cursor) return Reply::error("ERR invalid cursor");
  ScanOptions options;
  if (std::optional<Reply> error = parse_scan_options(args, 3, false, &options)) return *error;
  Reply error;
  const Record* value = find_hash(context.keys, args[1], context.now_ms, &error);
  if (error.is_error()) return error;
  std::vector<std::string> items;
  uint64_t next = 0;
  if (value != nullptr) {
    next = scan_map(value->hash(), *cursor, options.count,
                    [&](const std::string& field, const std::string& text) {
                      if (options.match && !glob_match(*options.match, field)) return;
                      items.push_back(field);
                      items.push_back(text);
                    });
  }
  return Reply::array({Reply::bulk(std::to_string(next)), bulk_array(items)});
}

// HSET key field value [field value ...] (the number of new fields) and HMSET (OK).
Reply hset_command(WriteContext& context, WriteArgs& args) {
  if (args.size() % 2 == 1) {
    return Reply::error("ERR wrong number of arguments for '" + args[0] + "' command");
  }
  Reply error;
  const Record* value = hash_for_write(context, args[1], &error);
  if (error.is_error()) return error;
  Value hash = editable(value);
  const size_t before = hash.hash.size();
  for (size_t i = 2; i + 1 < args.size(); i += 2) {
    hash.hash.insert_or_assign(std::move(args[i]), std::move(args[i + 1]));
  }
  const auto added = static_cast<int64_t>(hash.hash.size() - before);
  store_hash(context, args[1], std::move(hash));
  return args[0] == "hmset" ? Reply::ok() : Reply::integer_value(added);
}

Reply hsetnx_command(WriteContext& context, WriteArgs& args) {
  Reply error;
  const Record* value = hash_for_write(context, args[1], &error);
  if (error.is_error()) return error;
  if (value != nullptr && value->hash().find(args[2]) != nullptr) return Reply::integer_value(0);
  Value hash = editable(value);
  hash.hash.insert_or_assign(std::move(args[2]), std::move(args[3]));
  store_hash(context, args[1], std::move(hash));
  return Reply::integer_value(1);
}

Reply hdel_command(WriteContext& context, WriteArgs& args) {
  Reply error;
  const Record* value = hash_for_write(context, args[1], &error);
  if (error.is_error()) return error;
  if (value == nullptr) return Reply::integer_value(0);
  Value hash = value->to_value();
  int64_t removed = 0;
  for (size_t i = 2; i < args.size(); ++i) removed += hash.hash.erase(args[i]) ? 1 : 0;
  if (removed > 0) store_hash(context, args[1], std::move(hash));
  return Reply::integer_value(removed);
}

Reply hincrby_command(WriteContext& context, WriteArgs& args) {
  const std::optional<int64_t> delta = parse_int(args[3]);
  if (!delta) return Reply::error(kNotInteger);
  Reply error;
  const Record* value = hash_for_write(context, args[1], &error);
  if (error.is_error()) return error;
  const std::string* field = value != nullptr ? value->hash().find(args[2]) : nullptr;
  const std::optional<int64_t> current = field != nullptr ? parse_int(*field) : 0;
  if (!current) return Reply::error("ERR hash value is not an integer");
  const std::optional<int64_t> sum = checked_add(*current, *delta);
  if (!sum) return Reply::error(kOverflow);
  Value hash = editable(value);
  hash.hash.insert_or_assign(std::move(args[2]), std::to_string(*sum));
  store_hash(context, args[1], std::move(hash));
  return Reply::integer_value(*sum);
}

Reply hincrbyfloat_command(WriteContext& context, WriteArgs& args) {
  const std::optional<long double> increment = parse_long_double(args[3]);
  if (!increment) return Reply::error(kNotFloat);
  if (std::isnan(*increment) || std::isinf(*increment)) {
    return Reply::error("ERR value is NaN or Infinity");
  }
  Reply error;
  const Record* value = hash_for_write(context, args[1], &error);
  if (error.is_error()) return error;
  const std::string* field = value != nullptr ? value->hash().find(args[2]) : nullptr;
  const std::optional<long double> current =
      field != nullptr ? parse_long_double(*field) : std::optional<long double>(0.0L);
  if (!current) return Reply::error("ERR hash value is not a float");
  const long double sum = *current + *increment;
  if (std::isnan(sum) || std::isinf(sum)) return Reply::error(kNanOrInfinity);
  std::string text = format_long_double(sum);
  Value hash = editable(value);
  hash.hash.insert_or_assign(std::move(args[2]), text);
  store_hash(context, args[1], std::move(hash));
  return Reply::bulk(std::move(text));
}

}  // namespace raftkv::kv::detail
