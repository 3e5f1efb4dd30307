#include "check/history_json.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <utility>

namespace raftkv::lincheck {
namespace {

using Json = nlohmann::json;

Status bad(std::string message) { return Status(ErrorCode::InvalidArgument, std::move(message)); }

// A short rendering of a JSON value for error messages.
std::string shown(const Json& value) {
  std::string text = value.dump();
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

bool is_int64(const Json& value) {
  if (value.is_number_unsigned()) {
    return value.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  }
  return value.is_number_integer();
}

Result<int64_t> integer_field(const Json& object, const char* name) {
  const auto it = object.find(name);
  if (it == object.end()) return bad(std::string("missing \"") + name + "\"");
  if (!is_int64(*it)) {
    return bad(std::string("\"") + name + "\" must be a 64-bit integer, got " + shown(*it));
  }
  return it->get<int64_t>();
}

Result<std::string> string_field(const Json& object, const char* name) {
  const auto it = object.find(name);
  if (it == object.end()) return bad(std::string("missing \"") + name + "\"");
  if (!it->is_string()) return bad(std::string("\"") + name + "\" must be a string, got " +
                                   shown(*it));
  return it->get<std::string>();
}

// `f` and its string arguments; for a txn, `args` holds [f, arg...] lists instead.
Result<Command> parse_command(const std::string& f, const Json& args, bool in_txn) {
  const std::optional<CommandKind> kind = parse_command_name(f);
  if (!kind) return bad("unknown command " + shown(Json(f)));
  if (!args.is_array()) return bad("args of " + f + " must be a list, got " + shown(args));
  Command command;
  command.kind = *kind;
  for (const Json& arg : args) {
    if (*kind != CommandKind::Txn || in_txn) {
      if (!arg.is_string()) return bad(f + " arguments must be strings, got " + shown(arg));
      command.args.push_back(arg.get<std::string>());
      continue;
    }
    if (!arg.is_array() || arg.empty() || !arg[0].is_string()) {
      return bad("a txn sub-operation must be a list [f, args...], got " + shown(arg));
    }
    const Json rest(std::vector<Json>(arg.begin() + 1, arg.end()));
    Result<Command> step = parse_command(arg[0].get<std::string>(), rest, true);
    if (!step.is_ok()) return step.status();
    command.steps.push_back(std::move(step).value());
  }
  return command;
}

Result<Reply> parse_reply(const Json& value) {
  if (value.is_null()) return Reply::nil();
  if (value.is_string()) return Reply::string(value.get<std::string>());
  if (is_int64(value)) return Reply::integer_value(value.get<int64_t>());
  if (!value.is_array()) {
    return bad("a result must be a string, null, an integer or a list, got " + shown(value));
  }
  std::vector<Reply> elements;
  for (const Json& element : value) {
    Result<Reply> reply = parse_reply(element);
    if (!reply.is_ok()) return reply;
    elements.push_back(std::move(reply).value());
  }
  return Reply::array(std::move(elements));
}

Result<Outcome> parse_outcome(const Json& object) {
  Result<std::string> status = string_field(object, "status");
  if (!status.is_ok()) return status.status();
  if (status.value() == "ok") return Outcome::Ok;
  if (status.value() == "fail") return Outcome::Fail;
  if (status.value() == "unknown") return Outcome::Unknown;
  return bad("status must be \"ok\", \"fail\" or \"unknown\", got " + shown(Json(status.value())));
}

// "return" and "result", whose presence depends on the outcome.
Status parse_outcome_fields(const Json& object, Operation& op) {
  const auto returned = object.find("return");
  if (returned != object.end() && !returned->is_null()) {
    if (!is_int64(*returned)) return bad("\"return\" must be an integer or null");
    op.return_us = returned->get<int64_t>();
  }
  const auto result = object.find("result");
  const bool has_result = result != object.end() && !result->is_null();
  if (op.outcome != Outcome::Ok) {
    if (has_result) return bad("only an ok operation has a result");
    return Status::ok();
  }
  if (result == object.end()) return bad("an ok operation needs a \"result\"");
  Result<Reply> reply = parse_reply(*result);
  if (!reply.is_ok()) return reply.status();
  op.result = std::move(reply).value();
  return Status::ok();
}

Result<Operation> parse_operation(const Json& object) {
  Operation op;
  Result<int64_t> id = integer_field(object, "id");
  if (!id.is_ok()) return id.status();
  op.id = id.value();
  Result<int64_t> client = integer_field(object, "client");
  if (!client.is_ok()) return client.status();
  op.client = client.value();
  Result<std::string> f = string_field(object, "f");
  if (!f.is_ok()) return f.status();
  const auto args = object.find("args");
  if (args == object.end()) return bad("missing \"args\"");
  Result<Command> command = parse_command(f.value(), *args, false);
  if (!command.is_ok()) return command.status();
  op.command = std::move(command).value();
  Result<int64_t> invoke = integer_field(object, "invoke");
  if (!invoke.is_ok()) return invoke.status();
  op.invoke_us = invoke.value();
  Result<Outcome> outcome = parse_outcome(object);
  if (!outcome.is_ok()) return outcome.status();
  op.outcome = outcome.value();
  Status fields = parse_outcome_fields(object, op);
  if (!fields.is_ok()) return fields;
  Status valid = validate_operation(op);
  if (!valid.is_ok()) return valid;
  return op;
}

Result<FinalState> parse_final(const Json& object) {
  FinalState state;
  Result<int64_t> node = integer_field(object, "node");
  if (!node.is_ok()) return node.status();
  state.node = node.value();
  const Json& values = object["final"];
  if (!values.is_object()) return bad("\"final\" must be an object, got " + shown(values));
  for (const auto& [key, value] : values.items()) {
    if (value.is_null()) {
      state.values[key] = std::nullopt;
    } else if (value.is_string()) {
      state.values[key] = value.get<std::string>();
    } else {
      return bad("final value of " + shown(Json(key)) + " must be a string or null, got " +
                 shown(value));
    }
  }
  return state;
}

// Parses one non-blank line into `file`; `first_line_of_id` catches repeated ids.
Status read_line(const std::string& line, HistoryFile& file,
                 std::map<int64_t, size_t>& first_line_of_id, size_t line_number) {
  Json object;
  try {
    object = Json::parse(line);
  } catch (const Json::parse_error& error) {  // The library's only way to say where.
    return bad(std::string("not valid JSON: ") + error.what());
  }
  if (!object.is_object()) return bad("expected a JSON object, got " + shown(object));
  if (object.contains("final")) {
    Result<FinalState> state = parse_final(object);
    if (!state.is_ok()) return state.status();
    file.finals.push_back(std::move(state).value());
    return Status::ok();
  }
  Result<Operation> op = parse_operation(object);
  if (!op.is_ok()) return op.status();
  const auto [it, added] = first_line_of_id.try_emplace(op.value().id, line_number);
  if (!added) {
    return bad("id " + std::to_string(op.value().id) + " already used on line " +
               std::to_string(it->second));
  }
  file.history.operations.push_back(std::move(op).value());
  return Status::ok();
}

}  // namespace

Result<HistoryFile> read_history_jsonl(std::istream& in) {
  HistoryFile file;
  std::map<int64_t, size_t> first_line_of_id;
  std::string line;
  for (size_t line_number = 1; std::getline(in, line); ++line_number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    Status status = read_line(line, file, first_line_of_id, line_number);
    if (!status.is_ok()) {
      return bad("line " + std::to_string(line_number) + ": " + status.message());
    }
  }
  if (in.bad()) return Status(ErrorCode::IoError, "read failed");
  return file;
}

Result<HistoryFile> read_history_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status(ErrorCode::IoError, "cannot open " + path + ": " + std::strerror(errno));
  Result<HistoryFile> file = read_history_jsonl(in);
  if (file.is_ok()) return file;
  return Status(file.status().code(), path + ": " + file.status().message());
}

}  // namespace raftkv::lincheck
