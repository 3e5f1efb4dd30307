#include "kv/command.h"

#include <limits>
#include <utility>

#include "kv/byte_codec.h"
#include "kv/commands.h"
#include "protocol/command_table.h"

namespace raftkv::kv {

namespace {

// Argument-count rule of each type.
struct Arity {
  uint32_t args_min;
  uint32_t args_max;
  bool args_even;
};

Arity arity_of(CommandType type) {
  constexpr uint32_t kMany = std::numeric_limits<uint32_t>::max();
  switch (type) {
    case CommandType::Set: return {2, 2, false};
    case CommandType::Get: return {1, 1, false};
    case CommandType::Del: return {1, kMany, false};
    case CommandType::Exists: return {1, kMany, false};
    case CommandType::Incr: return {1, 1, false};
    case CommandType::IncrBy: return {1, 1, false};
    case CommandType::DecrBy: return {1, 1, false};
    case CommandType::Append: return {2, 2, false};
    case CommandType::MGet: return {1, kMany, false};
    case CommandType::MSet: return {2, kMany, true};
    case CommandType::Cas: return {3, 3, false};
    case CommandType::DbSize: return {0, 0, false};
    case CommandType::Batch: return {0, kMany, true};
    case CommandType::RegisterSession: return {0, 0, false};
    case CommandType::Session: return {0, 0, false};
    case CommandType::Call: return {1, kMany, false};
    case CommandType::Versions: return {1, kMany, false};
    case CommandType::ExpireSweep: return {1, kMany, false};
    case CommandType::KeyStats: return {0, 0, false};
    case CommandType::AclSetUser: return {1, kMany, false};
    case CommandType::AclDelUser: return {1, kMany, false};
    case CommandType::AclList: return {0, 0, false};
    case CommandType::AclGetUser: return {1, 1, false};
  }
  RAFT_ASSERT(false);  // Callers check the type range first.
  return {};
}

// The last type of each encoding version: version 1 knew the types up to Session.
bool is_known_type(uint8_t raw, uint8_t version) {
  const CommandType last = version == 1 ? CommandType::Session : kCommandTypeLast;
  return raw >= static_cast<uint8_t>(CommandType::Set) && raw <= static_cast<uint8_t>(last);
}

bool has_delta(CommandType type) {
  return type == CommandType::IncrBy || type == CommandType::DecrBy;
}

// Version 1 only: the types that carried the leader's time as a field.
bool has_v1_timestamp(CommandType type) {
  return type == CommandType::RegisterSession || type == CommandType::Session;
}

Status invalid(std::string message) {
  return {ErrorCode::InvalidArgument, std::move(message)};
}

uint8_t flags_of(const Command& command) {
  if (command.type == CommandType::Set) return static_cast<uint8_t>(command.set_condition);
  if (command.type == CommandType::Cas) return command.cas_expect_missing ? 1 : 0;
  return 0;
}

// Fields that only some types use must stay zero elsewhere, so that decode(encode(c)) == c.
Status validate_unused_fields(const Command& command) {
  const CommandType type = command.type;
  if (type != CommandType::Set && command.set_condition != SetCondition::None) {
    return invalid("set condition on a non-SET command");
  }
  if (type != CommandType::Cas && command.cas_expect_missing) {
    return invalid("missing-key flag on a non-CAS command");
  }
  if (!has_delta(type) && command.delta != 0) return invalid("delta on a command without one");
  if (type != CommandType::Session && (command.client_id != 0 || command.sequence != 0)) {
    return invalid("session fields on a non-session command");
  }
  if (type != CommandType::Batch && type != CommandType::Session && !command.inner.empty()) {
    return invalid("inner commands on a simple command");
  }
  return Status::ok();
}

// Command::spec for a Call named `name`.
const protocol::CommandSpec* store_spec(std::string_view name) {
  const protocol::CommandSpec* spec = protocol::find_command(name);
  if (spec == nullptr || spec->name != name || !is_store_command(*spec)) return nullptr;
  return spec;
}

// A Call names a command of the table that the store executes, in the table's spelling, with
// an argument count the table allows.
Status validate_call(const Command& command) {
  const protocol::CommandSpec* spec = command.spec;
  if (spec == nullptr || spec->name != command.args[0]) {
    return invalid("CALL of a command the store does not execute");
  }
  if (!spec->arity_ok(command.args.size())) return invalid("wrong argument count for CALL");
  return Status::ok();
}

// ACL changes apply alone: a user table change inside a transaction or a session would make
// its reply a remembered one, and it is an administrator's act, not a client's request.
bool is_acl_change(CommandType type) {
  return type == CommandType::AclSetUser || type == CommandType::AclDelUser;
}

// A Batch's watched versions are decimal numbers, as Command::batch writes them.
Status validate_watched(const Command& command) {
  for (size_t i = 1; i < command.args.size(); i += 2) {
    const std::string& version = command.args[i];
    const bool canonical = !version.empty() && version.size() <= 20 &&
                           (version == "0" || version[0] != '0') &&
                           version.find_first_not_of("0123456789") == std::string::npos;
    if (!canonical) return invalid("a watched version is not a decimal number");
  }
  return Status::ok();
}

Status validate_inner(const Command& command) {
  for (const Command& inner : command.inner) {
    if (inner.timestamp_ms != 0) return invalid("an inner command carries a timestamp");
    if (inner.value_bytes_max != 0) return invalid("an inner command carries a size limit");
  }
  if (command.type == CommandType::Batch) {
    if (command.inner.size() > kBatchCommandsMax) return invalid("batch too large");
    if (Status status = validate_watched(command); !status.is_ok()) return status;
    for (const Command& inner : command.inner) {
      const CommandType t = inner.type;
      if (t == CommandType::Batch || t == CommandType::Session ||
          t == CommandType::RegisterSession || t == CommandType::ExpireSweep ||
          is_acl_change(t)) {
        return invalid("a batch may not hold BATCH, SESSION, REGISTER_SESSION, a sweep or an "
                       "ACL change");
      }
      if (Status status = validate_command(inner); !status.is_ok()) return status;
    }
  }
  if (command.type == CommandType::Session) {
    if (command.inner.size() != 1) return invalid("a session command wraps exactly one command");
    const CommandType t = command.inner[0].type;
    if (t == CommandType::Session || t == CommandType::RegisterSession ||
        t == CommandType::ExpireSweep || is_acl_change(t)) {
      return invalid("a session command may not wrap SESSION, REGISTER_SESSION, a sweep or an "
                     "ACL change");
    }
    if (command.sequence == 0) return invalid("session sequence numbers start at 1");
    return validate_command(command.inner[0]);
  }
  return Status::ok();
}

void encode_into(const Command& command, std::string* out) {
  put_u8(out, static_cast<uint8_t>(command.type));
  put_u8(out, flags_of(command));
  if (has_delta(command.type)) put_i64(out, command.delta);
  if (command.type == CommandType::Session) {
    put_u64(out, command.client_id);
    put_u64(out, command.sequence);
  }
  RAFT_ASSERT(command.args.size() <= std::numeric_limits<uint32_t>::max());
  put_u32(out, static_cast<uint32_t>(command.args.size()));
  for (const std::string& arg : command.args) {
    RAFT_ASSERT(arg.size() <= std::numeric_limits<uint32_t>::max());
    put_string(out, arg);
  }
  if (command.type == CommandType::Batch) {
    put_u32(out, static_cast<uint32_t>(command.inner.size()));
    for (const Command& inner : command.inner) encode_into(inner, out);
  }
  if (command.type == CommandType::Session) encode_into(command.inner[0], out);
}

// Sets the fields that the flags byte carries; false when the flags are not valid for `type`.
bool apply_flags(uint8_t flags, Command* command) {
  if (command->type == CommandType::Set) {
    if (flags > static_cast<uint8_t>(SetCondition::IfPresent)) return false;
    command->set_condition = static_cast<SetCondition>(flags);
    return true;
  }
  if (command->type == CommandType::Cas) {
    if (flags > 1) return false;
    command->cas_expect_missing = flags == 1;
    return true;
  }
  return flags == 0;
}

Status decode_fixed(ByteReader* reader, uint8_t version, Command* command) {
  uint8_t raw_type = 0;
  uint8_t flags = 0;
  if (!reader->get_u8(&raw_type) || !reader->get_u8(&flags)) return invalid("truncated header");
  if (!is_known_type(raw_type, version)) return invalid("unknown command type");
  command->type = static_cast<CommandType>(raw_type);
  if (!apply_flags(flags, command)) return invalid("bad flags");
  bool ok = true;
  if (has_delta(command->type)) ok = reader->get_i64(&command->delta);
  if (ok && command->type == CommandType::Session) {
    ok = reader->get_u64(&command->client_id) && reader->get_u64(&command->sequence);
  }
  if (ok && version == 1 && has_v1_timestamp(command->type)) {
    ok = reader->get_u64(&command->timestamp_ms);
  }
  if (!ok) return invalid("truncated fields");
  return Status::ok();
}

Status decode_args(ByteReader* reader, Command* command) {
  uint32_t argc = 0;
  if (!reader->get_u32(&argc)) return invalid("truncated argument count");
  const Arity arity = arity_of(command->type);
  if (argc < arity.args_min || argc > arity.args_max) return invalid("wrong argument count");
  // Each argument takes at least its 4-byte length: a count the bytes cannot hold is corrupt,
  // and checking it first keeps reserve() bounded by the input size.
  if (argc > reader->remaining() / 4) return invalid("argument count exceeds the entry");
  command->args.resize(argc);
  for (std::string& arg : command->args) {
    if (!reader->get_string(&arg)) return invalid("truncated argument");
  }
  return Status::ok();
}

Status decode_into(ByteReader* reader, uint8_t version, Command* command, int depth) {
  // Nesting is at most Session > Batch > simple; the shape check rejects more, but the depth
  // bound keeps recursion bounded before that check runs.
  if (depth > 2) return invalid("commands nested too deeply");
  if (Status status = decode_fixed(reader, version, command); !status.is_ok()) return status;
  if (Status status = decode_args(reader, command); !status.is_ok()) return status;
  if (command->type == CommandType::Call && !command->args.empty()) {
    command->spec = store_spec(command->args[0]);
  }
  uint32_t inner_count = 0;
  if (command->type == CommandType::Batch) {
    if (!reader->get_u32(&inner_count)) return invalid("truncated batch count");
    // Each inner command takes at least 6 bytes (type, flags, argc).
    if (inner_count > kBatchCommandsMax || inner_count > reader->remaining() / 6) {
      return invalid("batch count exceeds the entry");
    }
  }
  if (command->type == CommandType::Session) inner_count = 1;
  command->inner.resize(inner_count);
  for (Command& inner : command->inner) {
    Status status = decode_into(reader, version, &inner, depth + 1);
    if (!status.is_ok()) return status;
  }
  return Status::ok();
}

Command simple(CommandType type, std::vector<std::string> args) {
  Command command;
  command.type = type;
  command.args = std::move(args);
  return command;
}

}  // namespace

Command Command::set(std::string key, std::string value, SetCondition condition) {
  Command command = simple(CommandType::Set, {std::move(key), std::move(value)});
  command.set_condition = condition;
  return command;
}

Command Command::get(std::string key) { return simple(CommandType::Get, {std::move(key)}); }

Command Command::del(std::vector<std::string> keys) {
  return simple(CommandType::Del, std::move(keys));
}

Command Command::exists(std::vector<std::string> keys) {
  return simple(CommandType::Exists, std::move(keys));
}

Command Command::incr(std::string key) { return simple(CommandType::Incr, {std::move(key)}); }

Command Command::incr_by(std::string key, int64_t delta) {
  Command command = simple(CommandType::IncrBy, {std::move(key)});
  command.delta = delta;
  return command;
}

Command Command::decr_by(std::string key, int64_t delta) {
  Command command = simple(CommandType::DecrBy, {std::move(key)});
  command.delta = delta;
  return command;
}

Command Command::append(std::string key, std::string value) {
  return simple(CommandType::Append, {std::move(key), std::move(value)});
}

Command Command::mget(std::vector<std::string> keys) {
  return simple(CommandType::MGet, std::move(keys));
}

Command Command::mset(std::vector<std::string> pairs) {
  return simple(CommandType::MSet, std::move(pairs));
}

Command Command::cas(std::string key, std::string expected, std::string desired) {
  return simple(CommandType::Cas, {std::move(key), std::move(expected), std::move(desired)});
}

Command Command::cas_missing(std::string key, std::string desired) {
  Command command = simple(CommandType::Cas, {std::move(key), "", std::move(desired)});
  command.cas_expect_missing = true;
  return command;
}

Command Command::dbsize() { return simple(CommandType::DbSize, {}); }

Command Command::batch(std::vector<Command> commands,
                       const std::vector<std::pair<std::string, uint64_t>>& watched) {
  Command command = simple(CommandType::Batch, {});
  for (const auto& [key, version] : watched) {
    command.args.push_back(key);
    command.args.push_back(std::to_string(version));
  }
  command.inner = std::move(commands);
  return command;
}

Command Command::call(std::vector<std::string> args) {
  RAFT_ASSERT(!args.empty());
  const protocol::CommandSpec* spec = protocol::find_command(args[0]);
  if (spec != nullptr) return call(*spec, std::move(args));
  return simple(CommandType::Call, std::move(args));
}

Command Command::call(const protocol::CommandSpec& spec, std::vector<std::string> args) {
  RAFT_ASSERT(!args.empty());
  // The table's spelling, so that the encoding of a command does not depend on its case.
  args[0] = spec.name;
  Command command = simple(CommandType::Call, std::move(args));
  if (is_store_command(spec)) command.spec = &spec;
  return command;
}

Command Command::versions(std::vector<std::string> keys) {
  return simple(CommandType::Versions, std::move(keys));
}

Command Command::expire_sweep(std::vector<std::string> keys) {
  return simple(CommandType::ExpireSweep, std::move(keys));
}

Command Command::key_stats() { return simple(CommandType::KeyStats, {}); }

Command Command::acl_setuser(std::string name, std::vector<std::string> rules) {
  rules.insert(rules.begin(), std::move(name));
  return simple(CommandType::AclSetUser, std::move(rules));
}

Command Command::acl_deluser(std::vector<std::string> names) {
  return simple(CommandType::AclDelUser, std::move(names));
}

Command Command::acl_list() { return simple(CommandType::AclList, {}); }

Command Command::acl_getuser(std::string name) {
  return simple(CommandType::AclGetUser, {std::move(name)});
}

Command Command::register_session(uint64_t timestamp_ms) {
  Command command = simple(CommandType::RegisterSession, {});
  command.timestamp_ms = timestamp_ms;
  return command;
}

Command Command::session(uint64_t client_id, uint64_t sequence, uint64_t timestamp_ms,
                         Command inner) {
  Command command = simple(CommandType::Session, {});
  command.client_id = client_id;
  command.sequence = sequence;
  command.timestamp_ms = timestamp_ms;
  command.inner.push_back(std::move(inner));
  return command;
}

const char* command_type_name(CommandType type) {
  switch (type) {
    case CommandType::Set: return "SET";
    case CommandType::Get: return "GET";
    case CommandType::Del: return "DEL";
    case CommandType::Exists: return "EXISTS";
    case CommandType::Incr: return "INCR";
    case CommandType::IncrBy: return "INCRBY";
    case CommandType::DecrBy: return "DECRBY";
    case CommandType::Append: return "APPEND";
    case CommandType::MGet: return "MGET";
    case CommandType::MSet: return "MSET";
    case CommandType::Cas: return "CAS";
    case CommandType::DbSize: return "DBSIZE";
    case CommandType::Batch: return "BATCH";
    case CommandType::RegisterSession: return "REGISTER_SESSION";
    case CommandType::Session: return "SESSION";
    case CommandType::Call: return "CALL";
    case CommandType::Versions: return "VERSIONS";
    case CommandType::ExpireSweep: return "EXPIRE_SWEEP";
    case CommandType::KeyStats: return "KEY_STATS";
    case CommandType::AclSetUser: return "ACL_SETUSER";
    case CommandType::AclDelUser: return "ACL_DELUSER";
    case CommandType::AclList: return "ACL_LIST";
    case CommandType::AclGetUser: return "ACL_GETUSER";
  }
  return "UNKNOWN";
}

bool is_read_only(const Command& command) {
  switch (command.type) {
    case CommandType::Get:
    case CommandType::MGet:
    case CommandType::Exists:
    case CommandType::DbSize:
    case CommandType::Versions:
    case CommandType::KeyStats:
    case CommandType::AclList:
    case CommandType::AclGetUser:
      return true;
    case CommandType::Call:
      return command.spec != nullptr && command.spec->is(protocol::kRead) &&
             !command.spec->is(protocol::kWrite);
    default:
      return false;
  }
}

Status validate_command(const Command& command) {
  if (!is_known_type(static_cast<uint8_t>(command.type), kCommandVersion)) {
    return invalid("unknown type");
  }
  if (Status status = validate_unused_fields(command); !status.is_ok()) return status;
  const Arity arity = arity_of(command.type);
  const size_t argc = command.args.size();
  if (argc < arity.args_min || argc > arity.args_max || (arity.args_even && argc % 2 != 0)) {
    return invalid(std::string("wrong number of arguments for ") +
                   command_type_name(command.type));
  }
  if (command.set_condition > SetCondition::IfPresent) return invalid("bad set condition");
  if (command.cas_expect_missing && !command.args[1].empty()) {
    return invalid("CAS on a missing key takes an empty expected value");
  }
  if (command.type == CommandType::Call) {
    if (Status status = validate_call(command); !status.is_ok()) return status;
  }
  return validate_inner(command);
}

namespace {

// At least what encode_into() writes for `command`: the argument bytes and their lengths,
// plus a little per command for its fixed fields.
size_t encoded_bytes_bound(const Command& command) {
  size_t bytes = 32;
  for (const std::string& arg : command.args) bytes += 4 + arg.size();
  for (const Command& inner : command.inner) bytes += encoded_bytes_bound(inner);
  return bytes;
}

}  // namespace

std::string encode_command(const Command& command) {
  RAFT_ASSERT(validate_command(command).is_ok());
  std::string out;
  out.reserve(17 + encoded_bytes_bound(command));  // One allocation, no regrowth copies.
  put_u8(&out, kCommandVersion);
  put_u64(&out, command.timestamp_ms);
  put_u64(&out, command.value_bytes_max);
  encode_into(command, &out);
  RAFT_ASSERT(out.size() >= 23);  // Version, timestamp, limit, type, flags, argc at least.
  return out;
}

Result<Command> decode_command(std::string_view bytes) {
  ByteReader reader(bytes);
  uint8_t version = 0;
  if (!reader.get_u8(&version)) return invalid("empty command entry");
  if (version < 1 || version > kCommandVersion) return invalid("unknown command encoding version");
  Command command;
  if (version >= 2 && !reader.get_u64(&command.timestamp_ms)) return invalid("truncated header");
  if (version >= 3 && !reader.get_u64(&command.value_bytes_max)) {
    return invalid("truncated header");
  }
  if (Status status = decode_into(&reader, version, &command, 0); !status.is_ok()) return status;
  if (reader.remaining() != 0) return invalid("trailing bytes after command");
  if (Status status = validate_command(command); !status.is_ok()) return status;
  return command;
}

std::string_view first_key_hint(std::string_view bytes) {
  ByteReader reader(bytes);
  uint8_t version = 0;
  uint64_t stamp = 0;
  if (!reader.get_u8(&version) || version != kCommandVersion) return {};
  if (!reader.get_u64(&stamp) || !reader.get_u64(&stamp)) return {};  // Timestamp, limit.
  for (int depth = 0; depth < 2; ++depth) {
    Command command;  // Its header only; no argument is copied.
    uint32_t argc = 0;
    if (!decode_fixed(&reader, version, &command).is_ok() || !reader.get_u32(&argc)) return {};
    std::string_view arg;
    if (command.type == CommandType::Session) {  // Its arguments, then the wrapped command.
      for (uint32_t i = 0; i < argc; ++i) {
        if (!reader.get_view(&arg)) return {};
      }
      continue;
    }
    // A Call's first argument is the command's name; most name their key next.
    const uint32_t key_at = command.type == CommandType::Call ? 1 : 0;
    if (command.type == CommandType::Batch || argc <= key_at) return {};
    for (uint32_t i = 0; i <= key_at; ++i) {
      if (!reader.get_view(&arg)) return {};
    }
    return arg;
  }
  return {};
}

}  // namespace raftkv::kv
