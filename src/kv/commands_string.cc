// String commands (commands.h), with Redis 7.0's replies and error texts.
#include <algorithm>
#include <cmath>
#include <limits>

#include "kv/commands_util.h"

namespace raftkv::kv::detail {
namespace {

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

// SET's and GETEX's options, as Redis' parseExtendedStringArgumentsOrReply takes them.
enum StringFlag : uint32_t {
  kNx = 1u << 0,
  kXx = 1u << 1,
  kGet = 1u << 2,
  kKeepTtl = 1u << 3,
  kPersist = 1u << 4,
  kEx = 1u << 5,
  kPx = 1u << 6,
  kExAt = 1u << 7,
  kPxAt = 1u << 8,
};
constexpr uint32_t kExpireFlags = kEx | kPx | kExAt | kPxAt;

struct StringOptions {
  uint32_t flags = 0;
  const std::string* expire = nullptr;  // The EX/PX/EXAT/PXAT argument.
};

// The expiry option `name` (ex, px, exat, pxat) as its flag, or 0.
uint32_t expire_flag(const std::string& name) {
  if (equals_ignore_case(name, "ex")) return kEx;
  if (equals_ignore_case(name, "px")) return kPx;
  if (equals_ignore_case(name, "exat")) return kExAt;
  if (equals_ignore_case(name, "pxat")) return kPxAt;
  return 0;
}

// Parses args[from..] (SET when !getex, GETEX when getex); false for a syntax error. As in
// Redis, an expiry option excludes the other three, KEEPTTL and PERSIST, but may repeat.
bool parse_string_options(ReadArgs args, size_t from, bool getex, StringOptions* out) {
  uint32_t& flags = out->flags;
  for (size_t j = from; j < args.size(); ++j) {
    const std::string& option = args[j];
    const bool has_next = j + 1 < args.size();
    const uint32_t expire = expire_flag(option);
    if (!getex && equals_ignore_case(option, "nx") && (flags & kXx) == 0) {
      flags |= kNx;
    } else if (!getex && equals_ignore_case(option, "xx") && (flags & kNx) == 0) {
      flags |= kXx;
    } else if (!getex && equals_ignore_case(option, "get")) {
      flags |= kGet;
    } else if (!getex && equals_ignore_case(option, "keepttl") &&
               (flags & (kPersist | kExpireFlags)) == 0) {
      flags |= kKeepTtl;
    } else if (getex && equals_ignore_case(option, "persist") &&
               (flags & (kKeepTtl | kExpireFlags)) == 0) {
      flags |= kPersist;
    } else if (expire != 0 && has_next &&
               (flags & (kKeepTtl | kPersist | (kExpireFlags & ~expire))) == 0) {
      flags |= expire;
      out->expire = &args[++j];
    } else {
      return false;
    }
  }
  return true;
}

// The absolute deadline of an expiry option at `now_ms`, or Redis' error (getExpireMilliseconds
// OrReply): the amount must be positive and the deadline representable.
bool deadline_of(uint32_t flags, const std::string& text, int64_t now_ms,
                 std::string_view name, int64_t* deadline, Reply* error) {
  const std::optional<int64_t> amount = parse_int(text);
  if (!amount) {
    *error = Reply::error(kNotInteger);
    return false;
  }
  const bool seconds = (flags & (kEx | kExAt)) != 0;
  if (*amount <= 0 || (seconds && *amount > kInt64Max / 1000)) {
    *error = invalid_expire(name);
    return false;
  }
  int64_t ms = seconds ? *amount * 1000 : *amount;
  if ((flags & (kEx | kPx)) != 0) {  // Relative to the entry's time.
    if (ms > kInt64Max - now_ms) {
      *error = invalid_expire(name);
      return false;
    }
    ms += now_ms;
  }
  *deadline = ms;
  return true;
}

// Stores a string under `key` with `deadline` (kNoExpiry: none); a deadline already passed
// removes the key instead, which is what the key would look like a moment later anyway.
void store(WriteContext& context, const std::string& key, std::string text, int64_t deadline) {
  if (deadline != kNoExpiry && deadline <= context.now_ms) {
    context.keys.erase(key);
    return;
  }
  Value value = Value::of_string(std::move(text));
  value.expire_at_ms = deadline;
  context.keys.put(key, std::move(value), context.index);
}

// A string write that keeps the key's deadline (INCR, APPEND, SETRANGE, ...).
void overwrite(WriteContext& context, const std::string& key, const Record* old,
               std::string text) {
  store(context, key, std::move(text), old != nullptr ? old->expire_at_ms() : kNoExpiry);
}

// SET and its variants (setGenericCommand): `ok` and `aborted` are the replies when the value
// was set / when NX or XX held it back (GET replaces both with the old value).
Reply set_generic(WriteContext& context, const std::string& key, std::string& value,
                  const StringOptions& options, std::string_view name, Reply ok,
                  Reply aborted) {
  int64_t deadline = kNoExpiry;
  Reply error;
  if (options.expire != nullptr &&
      !deadline_of(options.flags, *options.expire, context.now_ms, name, &deadline, &error)) {
    return error;
  }
  // A plain SET replaces whatever is there, live or expired (put() forgets its deadline):
  // only GET, NX, XX and KEEPTTL need the current value, and the walk to it costs a write
  // on every node about as much as the insert's own.
  const bool reads_current = (options.flags & (kGet | kNx | kXx | kKeepTtl)) != 0;
  const Record* current = reads_current ? live(context, key) : nullptr;
  const bool get = (options.flags & kGet) != 0;
  Reply old = Reply::nil();
  if (get && current != nullptr) {
    if (current->kind() != Value::Kind::String) return Reply::error(kWrongType);
    old = Reply::bulk(std::string(current->string()));
  }
  const bool found = current != nullptr;
  if (((options.flags & kNx) != 0 && found) || ((options.flags & kXx) != 0 && !found)) {
    return get ? old : aborted;
  }
  if ((options.flags & kKeepTtl) != 0 && found) deadline = current->expire_at_ms();
  store(context, key, std::move(value), deadline);
  return get ? old : ok;
}

// A long double read from a stored string, for INCRBYFLOAT; nullopt when it is not one.
std::optional<long double> stored_float(const Record* value) {
  if (value == nullptr) return 0.0L;
  return parse_long_double(value->string());
}

}  // namespace

Reply get_command(const ReadContext& context, ReadArgs args) {
  Reply error;
  const Record* value = find_string(context.keys, args[1], context.now_ms, &error);
  if (value == nullptr) return error.is_error() ? error : Reply::nil();
  return Reply::bulk(std::string(value->string()));
}

Reply mget_command(const ReadContext& context, ReadArgs args) {
  std::vector<Reply> values;
  values.reserve(args.size() - 1);
  for (size_t i = 1; i < args.size(); ++i) {
    const Record* value = context.keys.find(args[i], context.now_ms);
    const bool is_string = value != nullptr && value->kind() == Value::Kind::String;
    values.push_back(is_string ? Reply::bulk(std::string(value->string())) : Reply::nil());
  }
  return Reply::array(std::move(values));
}

Reply strlen_command(const ReadContext& context, ReadArgs args) {
  Reply error;
  const Record* value = find_string(context.keys, args[1], context.now_ms, &error);
  if (error.is_error()) return error;
  return Reply::integer_value(value != nullptr ? static_cast<int64_t>(value->string().size()) : 0);
}

// GETRANGE key start end (and SUBSTR): inclusive, negative from the end, clamped.
Reply getrange_command(const ReadContext& context, ReadArgs args) {
  const std::optional<int64_t> start_arg = parse_int(args[2]);
  const std::optional<int64_t> end_arg = parse_int(args[3]);
  if (!start_arg || !end_arg) return Reply::error(kNotInteger);
  Reply error;
  const Record* value = find_string(context.keys, args[1], context.now_ms, &error);
  if (error.is_error()) return error;
  if (value == nullptr) return Reply::bulk("");
  int64_t start = *start_arg;
  int64_t end = *end_arg;
  const auto length = static_cast<int64_t>(value->string().size());
  if (start < 0 && end < 0 && start > end) return Reply::bulk("");
  if (start < 0) start = std::max<int64_t>(length + start, 0);
  if (end < 0) end = std::max<int64_t>(length + end, 0);
  end = std::min(end, length - 1);
  if (start > end || length == 0) return Reply::bulk("");
  return Reply::bulk(std::string(value->string().substr(static_cast<size_t>(start),
                                                      static_cast<size_t>(end - start + 1))));
}

Reply set_command(WriteContext& context, WriteArgs& args) {
  StringOptions options;
  if (!parse_string_options(args, 3, false, &options)) return Reply::error(kSyntaxError);
  return set_generic(context, args[1], args[2], options, "set", Reply::ok(), Reply::nil());
}

Reply setnx_command(WriteContext& context, WriteArgs& args) {
  return set_generic(context, args[1], args[2], StringOptions{kNx, nullptr}, "setnx",
                     Reply::integer_value(1), Reply::integer_value(0));
}

// SETEX key seconds value, PSETEX key milliseconds value.
Reply setex_command(WriteContext& context, WriteArgs& args) {
  const bool ms = args[0] == "psetex";
  return set_generic(context, args[1], args[3], StringOptions{ms ? kPx : kEx, &args[2]},
                     args[0], Reply::ok(), Reply::nil());
}

Reply getset_command(WriteContext& context, WriteArgs& args) {
  return set_generic(context, args[1], args[2], StringOptions{kGet, nullptr}, "getset",
                     Reply::ok(), Reply::nil());
}

Reply getdel_command(WriteContext& context, WriteArgs& args) {
  Reply error;
  const Record* value = find_string(context.keys, args[1], context.now_ms, &error);
  if (value == nullptr) return error.is_error() ? error : Reply::nil();
  Reply reply = Reply::bulk(std::string(value->string()));
  context.keys.erase(args[1]);
  return reply;
}

// GETEX key [EX s | PX ms | EXAT ts | PXAT ts | PERSIST]: the value, and its deadline changed.
Reply getex_command(WriteContext& context, WriteArgs& args) {
  StringOptions options;
  if (!parse_string_options(args, 2, true, &options)) return Reply::error(kSyntaxError);
  int64_t deadline = kNoExpiry;
  Reply error;
  if (options.expire != nullptr &&
      !deadline_of(options.flags, *options.expire, context.now_ms, "getex", &deadline, &error)) {
    return error;
  }
  const Record* value = live(context, args[1]);
  if (value == nullptr) return Reply::nil();
  if (value->kind() != Value::Kind::String) return Reply::error(kWrongType);
  Reply reply = Reply::bulk(std::string(value->string()));
  if (options.expire != nullptr) {
    store(context, args[1], std::string(value->string()), deadline);
  } else if ((options.flags & kPersist) != 0 && value->has_expiry()) {
    store(context, args[1], std::string(value->string()), kNoExpiry);
  }
  return reply;
}

// MSET and MSETNX: (key value)+; MSETNX sets none of them when any exists.
Reply mset_command(WriteContext& context, WriteArgs& args) {
  if (args.size() % 2 == 0) {
    return Reply::error("ERR wrong number of arguments for '" + args[0] + "' command");
  }
  for (size_t i = 1; i + 1 < args.size(); i += 2) {
    store(context, args[i], std::move(args[i + 1]), kNoExpiry);
  }
  return Reply::ok();
}

Reply msetnx_command(WriteContext& context, WriteArgs& args) {
  if (args.size() % 2 == 0) return mset_command(context, args);  // Its arity error.
  for (size_t i = 1; i + 1 < args.size(); i += 2) {
    if (live(context, args[i]) != nullptr) return Reply::integer_value(0);
  }
  (void)mset_command(context, args);
  return Reply::integer_value(1);
}

// SETRANGE key offset value: overwrites from `offset`, padding with zero bytes.
Reply setrange_command(WriteContext& context, WriteArgs& args) {
  const std::optional<int64_t> offset_arg = parse_int(args[2]);
  if (!offset_arg) return Reply::error(kNotInteger);
  if (*offset_arg < 0) return Reply::error("ERR offset is out of range");
  const Record* value = live(context, args[1]);
  if (value != nullptr && value->kind() != Value::Kind::String) return Reply::error(kWrongType);
  const size_t old_length = value != nullptr ? value->string().size() : 0;
  const std::string& patch = args[3];
  if (patch.empty()) return Reply::integer_value(static_cast<int64_t>(old_length));
  const auto offset = static_cast<uint64_t>(*offset_arg);
  if (offset > context.value_bytes_max || patch.size() > context.value_bytes_max - offset) {
    return Reply::error(kTooBig);
  }
  std::string text(value != nullptr ? value->string() : std::string_view());
  if (text.size() < offset + patch.size()) text.resize(offset + patch.size(), '\0');
  text.replace(offset, patch.size(), patch);
  const auto length = static_cast<int64_t>(text.size());
  overwrite(context, args[1], value, std::move(text));
  return Reply::integer_value(length);
}

Reply append_command(WriteContext& context, WriteArgs& args) {
  const Record* value = live(context, args[1]);
  if (value != nullptr && value->kind() != Value::Kind::String) return Reply::error(kWrongType);
  const size_t old_size = value != nullptr ? value->string().size() : 0;
  if (args[2].size() > context.value_bytes_max - std::min(old_size, context.value_bytes_max)) {
    return Reply::error(kTooBig);
  }
  std::string text(value != nullptr ? value->string() : std::string_view());
  text += args[2];
  const auto length = static_cast<int64_t>(text.size());
  overwrite(context, args[1], value, std::move(text));
  return Reply::integer_value(length);
}

// INCR, DECR, INCRBY n, DECRBY n.
Reply incr_command(WriteContext& context, WriteArgs& args) {
  int64_t delta = args[0] == "decr" ? -1 : 1;
  if (args[0] == "incrby" || args[0] == "decrby") {
    const std::optional<int64_t> parsed = parse_int(args[2]);
    if (!parsed) return Reply::error(kNotInteger);
    if (args[0] == "decrby" && *parsed == std::numeric_limits<int64_t>::min()) {
      return Reply::error("ERR decrement would overflow");  // -INT64_MIN does not exist.
    }
    delta = args[0] == "decrby" ? -*parsed : *parsed;
  }
  const Record* value = live(context, args[1]);
  if (value != nullptr && value->kind() != Value::Kind::String) return Reply::error(kWrongType);
  const std::optional<int64_t> current = value != nullptr ? parse_int(value->string()) : 0;
  if (!current) return Reply::error(kNotInteger);
  const std::optional<int64_t> sum = checked_add(*current, delta);
  if (!sum) return Reply::error(kOverflow);
  overwrite(context, args[1], value, std::to_string(*sum));
  return Reply::integer_value(*sum);
}

Reply incrbyfloat_command(WriteContext& context, WriteArgs& args) {
  const Record* value = live(context, args[1]);
  if (value != nullptr && value->kind() != Value::Kind::String) return Reply::error(kWrongType);
  const std::optional<long double> current = stored_float(value);
  const std::optional<long double> increment = parse_long_double(args[2]);
  if (!current || !increment) return Reply::error(kNotFloat);
  const long double sum = *current + *increment;
  if (std::isnan(sum) || std::isinf(sum)) return Reply::error(kNanOrInfinity);
  std::string text = format_long_double(sum);
  Reply reply = Reply::bulk(text);
  overwrite(context, args[1], value, std::move(text));
  return reply;
}

}  // namespace raftkv::kv::detail
