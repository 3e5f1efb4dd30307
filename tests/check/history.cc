#include "check/history.h"

#include <array>
#include <cstdio>
#include <limits>
#include <utility>

#include "kv/redis_int.h"

namespace raftkv::lincheck {
namespace {

struct Arity {
  size_t min;
  size_t max;
};

constexpr size_t kMany = std::numeric_limits<size_t>::max();

constexpr std::array<std::pair<CommandKind, const char*>, 10> kNames = {{
    {CommandKind::Get, "get"},
    {CommandKind::Set, "set"},
    {CommandKind::Del, "del"},
    {CommandKind::Incr, "incr"},
    {CommandKind::IncrBy, "incrby"},
    {CommandKind::Append, "append"},
    {CommandKind::Cas, "cas"},
    {CommandKind::CasNx, "casnx"},
    {CommandKind::MGet, "mget"},
    {CommandKind::Txn, "txn"},
}};

Arity arity_of(CommandKind kind) {
  switch (kind) {
    case CommandKind::Get: return {1, 1};
    case CommandKind::Set: return {2, 2};
    case CommandKind::Del: return {1, kMany};
    case CommandKind::Incr: return {1, 1};
    case CommandKind::IncrBy: return {2, 2};
    case CommandKind::Append: return {2, 2};
    case CommandKind::Cas: return {3, 3};
    case CommandKind::CasNx: return {2, 2};
    case CommandKind::MGet: return {1, kMany};
    case CommandKind::Txn: return {0, 0};
  }
  RAFT_ASSERT(false);
  return {0, 0};
}

Status invalid(std::string message) {
  return Status(ErrorCode::InvalidArgument, std::move(message));
}

Status validate_command(const Command& command, bool in_txn) {
  const std::string name = command_name(command.kind);
  if (command.kind == CommandKind::Txn) {
    if (in_txn) return invalid("a txn cannot contain a txn");
    if (!command.args.empty()) return invalid("txn takes sub-operations, not arguments");
    if (command.steps.empty()) return invalid("txn has no sub-operations");
    for (size_t i = 0; i < command.steps.size(); ++i) {
      Status status = validate_command(command.steps[i], true);
      if (!status.is_ok()) return invalid("txn step " + std::to_string(i) + ": " +
                                          status.message());
    }
    return Status::ok();
  }
  if (!command.steps.empty()) return invalid(name + " has sub-operations; only txn may");
  const Arity arity = arity_of(command.kind);
  const size_t count = command.args.size();
  if (count < arity.min || count > arity.max) {
    const std::string wanted = arity.min == arity.max ? std::to_string(arity.min)
                                                      : "at least " + std::to_string(arity.min);
    return invalid(name + " takes " + wanted + " argument(s), got " + std::to_string(count));
  }
  if (command.kind == CommandKind::IncrBy && !kv::parse_redis_int64(command.args[1])) {
    return invalid("incrby delta " + quote(command.args[1]) + " is not a 64-bit integer");
  }
  return Status::ok();
}

bool is_value(const Reply& reply) {
  return reply.kind == Reply::Kind::String || reply.kind == Reply::Kind::Nil;
}

bool is_integer_in(const Reply& reply, int64_t lo, int64_t hi) {
  return reply.kind == Reply::Kind::Integer && reply.integer >= lo && reply.integer <= hi;
}

// Whether `result` has the shape an Ok `command` returns; `expected` says what it should be.
bool result_fits(const Command& command, const Reply& result, std::string* expected) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  switch (command.kind) {
    case CommandKind::Get: *expected = "a string or null"; return is_value(result);
    case CommandKind::Set:
      *expected = "\"OK\"";
      return result.kind == Reply::Kind::String && result.text == "OK";
    case CommandKind::Del:
      *expected = "an integer in [0, " + std::to_string(command.args.size()) + "]";
      return is_integer_in(result, 0, static_cast<int64_t>(command.args.size()));
    case CommandKind::Incr:
    case CommandKind::IncrBy:
      *expected = "an integer";
      return result.kind == Reply::Kind::Integer;
    case CommandKind::Append: *expected = "a length >= 0"; return is_integer_in(result, 0, kMax);
    case CommandKind::Cas:
    case CommandKind::CasNx: *expected = "0 or 1"; return is_integer_in(result, 0, 1);
    case CommandKind::MGet: {
      *expected = "a list of " + std::to_string(command.args.size()) + " strings-or-null";
      if (result.kind != Reply::Kind::Array) return false;
      if (result.elements.size() != command.args.size()) return false;
      for (const Reply& element : result.elements) {
        if (!is_value(element)) return false;
      }
      return true;
    }
    case CommandKind::Txn:
      *expected = "a list of " + std::to_string(command.steps.size()) + " sub-results";
      return result.kind == Reply::Kind::Array &&
             result.elements.size() == command.steps.size();
  }
  RAFT_ASSERT(false);
  return false;
}

Status validate_result(const Command& command, const Reply& result) {
  std::string expected;
  if (!result_fits(command, result, &expected)) {
    return invalid(std::string(command_name(command.kind)) + " result must be " + expected +
                   ", got " + format_reply(result));
  }
  if (command.kind != CommandKind::Txn) return Status::ok();
  for (size_t i = 0; i < command.steps.size(); ++i) {
    Status status = validate_result(command.steps[i], result.elements[i]);
    if (!status.is_ok()) return invalid("txn step " + std::to_string(i) + ": " +
                                        status.message());
  }
  return Status::ok();
}

Status validate_times(const Operation& operation) {
  if (operation.outcome == Outcome::Unknown) {
    if (operation.return_us) return invalid("status unknown must have no return time");
    return Status::ok();
  }
  if (!operation.return_us) {
    return invalid(std::string("status ") + outcome_name(operation.outcome) +
                   " needs a return time");
  }
  if (*operation.return_us < operation.invoke_us) {
    return invalid("return " + std::to_string(*operation.return_us) + " is before invoke " +
                   std::to_string(operation.invoke_us));
  }
  return Status::ok();
}

void append_escaped(std::string& out, std::string_view text) {
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", static_cast<unsigned>(static_cast<uint8_t>(c)));
      out += hex;
    } else {
      out += c;
    }
  }
}

}  // namespace

Reply Reply::string(std::string text) {
  Reply reply;
  reply.kind = Kind::String;
  reply.text = std::move(text);
  return reply;
}

Reply Reply::integer_value(int64_t value) {
  Reply reply;
  reply.kind = Kind::Integer;
  reply.integer = value;
  return reply;
}

Reply Reply::array(std::vector<Reply> elements) {
  Reply reply;
  reply.kind = Kind::Array;
  reply.elements = std::move(elements);
  return reply;
}

const char* command_name(CommandKind kind) {
  for (const auto& [known, name] : kNames) {
    if (known == kind) return name;
  }
  RAFT_ASSERT(false);
  return "";
}

std::optional<CommandKind> parse_command_name(std::string_view name) {
  for (const auto& [kind, known] : kNames) {
    if (name == known) return kind;
  }
  return std::nullopt;
}

const char* outcome_name(Outcome outcome) {
  switch (outcome) {
    case Outcome::Ok: return "ok";
    case Outcome::Fail: return "fail";
    case Outcome::Unknown: return "unknown";
  }
  RAFT_ASSERT(false);
  return "";
}

std::vector<std::string> command_keys(const Command& command) {
  std::vector<std::string> keys;
  switch (command.kind) {
    case CommandKind::Txn:
      for (const Command& step : command.steps) {
        std::vector<std::string> step_keys = command_keys(step);
        keys.insert(keys.end(), step_keys.begin(), step_keys.end());
      }
      break;
    case CommandKind::Del:
    case CommandKind::MGet: keys = command.args; break;
    default:
      RAFT_ASSERT(!command.args.empty());
      keys.push_back(command.args[0]);
      break;
  }
  return keys;
}

bool is_read_only(const Command& command) {
  if (command.kind == CommandKind::Txn) {
    for (const Command& step : command.steps) {
      if (!is_read_only(step)) return false;
    }
    return true;
  }
  return command.kind == CommandKind::Get || command.kind == CommandKind::MGet;
}

Status validate_operation(const Operation& operation) {
  Status status = validate_command(operation.command, false);
  if (!status.is_ok()) return status;
  status = validate_times(operation);
  if (!status.is_ok()) return status;
  if (operation.outcome != Outcome::Ok) return Status::ok();
  return validate_result(operation.command, operation.result);
}

std::string quote(std::string_view text, size_t bytes_max) {
  RAFT_ASSERT(bytes_max >= 2);
  std::string out = "\"";
  if (text.size() <= bytes_max) {
    append_escaped(out, text);
  } else {
    const size_t half = bytes_max / 2;
    append_escaped(out, text.substr(0, half));
    out += "...(" + std::to_string(text.size()) + " bytes)...";
    append_escaped(out, text.substr(text.size() - half));
  }
  out += '"';
  return out;
}

std::string format_command(const Command& command) {
  std::string out = command_name(command.kind);
  if (command.kind == CommandKind::Txn) {
    out += " [";
    for (size_t i = 0; i < command.steps.size(); ++i) {
      out += (i > 0 ? "; " : "") + format_command(command.steps[i]);
    }
    return out + "]";
  }
  for (const std::string& arg : command.args) out += " " + quote(arg);
  return out;
}

std::string format_reply(const Reply& reply) {
  switch (reply.kind) {
    case Reply::Kind::Nil: return "nil";
    case Reply::Kind::String: return quote(reply.text);
    case Reply::Kind::Integer: return std::to_string(reply.integer);
    case Reply::Kind::Array: {
      std::string out = "[";
      for (size_t i = 0; i < reply.elements.size(); ++i) {
        out += (i > 0 ? ", " : "") + format_reply(reply.elements[i]);
      }
      return out + "]";
    }
  }
  RAFT_ASSERT(false);
  return "";
}

std::string format_operation(const Operation& operation) {
  const std::string returned =
      operation.return_us ? std::to_string(*operation.return_us) : std::string("?");
  std::string out = "#" + std::to_string(operation.id) + " client " +
                    std::to_string(operation.client) + " [" +
                    std::to_string(operation.invoke_us) + ", " + returned + "] " +
                    format_command(operation.command) + " -> ";
  if (operation.outcome == Outcome::Ok) return out + format_reply(operation.result);
  return out + outcome_name(operation.outcome);
}

}  // namespace raftkv::lincheck
