#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

// The history a linearizability check reads: one record per client operation, as the simulator
// builds it in memory and as tests/check/README.md describes it on disk (JSON Lines). Plain
// data; the checker never mutates it.
namespace raftkv::lincheck {

enum class CommandKind : uint8_t { Get, Set, Del, Incr, IncrBy, Append, Cas, CasNx, MGet, Txn };

// One command: its name and the arguments after it, as strings. A txn (MULTI/EXEC) has no
// arguments of its own: its sub-commands, applied atomically in order, are in `steps`.
struct Command {
  CommandKind kind = CommandKind::Get;
  std::vector<std::string> args;
  std::vector<Command> steps;  // Txn only; never holds a Txn.

  bool operator==(const Command&) const = default;
};

// A reply as the client saw it, in the history's JSON types: a string, nil (JSON null), an
// integer or an array of replies (mget's values, a txn's sub-results).
struct Reply {
  enum class Kind : uint8_t { Nil, String, Integer, Array };
  Kind kind = Kind::Nil;
  std::string text;             // String only.
  int64_t integer = 0;          // Integer only.
  std::vector<Reply> elements;  // Array only.

  static Reply nil() { return {}; }
  static Reply string(std::string text);
  static Reply integer_value(int64_t value);
  static Reply array(std::vector<Reply> elements);
  bool operator==(const Reply&) const = default;
};

// What the client learned: Ok (took effect, `result` known), Fail (certainly took no effect),
// Unknown (may take effect at any instant after the invoke, or never).
enum class Outcome : uint8_t { Ok, Fail, Unknown };

struct Operation {
  int64_t id = 0;      // Unique per history; names the operation in reports.
  int64_t client = 0;  // The logical client that issued it.
  Command command;
  int64_t invoke_us = 0;              // When the request was sent (any monotonic origin).
  std::optional<int64_t> return_us;   // When the outcome was known; absent iff Unknown.
  Outcome outcome = Outcome::Ok;
  Reply result;                       // Only meaningful when Ok.
};

struct History {
  std::vector<Operation> operations;  // In any order.
};

[[nodiscard]] const char* command_name(CommandKind kind);
[[nodiscard]] std::optional<CommandKind> parse_command_name(std::string_view name);
[[nodiscard]] const char* outcome_name(Outcome outcome);

// The keys a command reads or writes, in argument order (a txn: its steps' keys in order;
// repeats kept).
[[nodiscard]] std::vector<std::string> command_keys(const Command& command);
// True when the command changes no key whatever its outcome (get, mget, a txn of those).
[[nodiscard]] bool is_read_only(const Command& command);

// Checks one operation against the format: arity per command, incrby's delta, timestamps
// (return present and not before invoke exactly when the outcome is known) and, when Ok, the
// result's shape (get: string or nil; set: "OK"; del, incr, incrby, append: integer; cas,
// casnx: 0 or 1; mget: one string-or-nil per key; txn: one sub-result per step). Returns
// InvalidArgument naming the first problem.
[[nodiscard]] Status validate_operation(const Operation& operation);

// `"text"` with control characters and quotes escaped, cut in the middle past `bytes_max`
// ("abc...(5000 bytes)...xyz") so a report stays readable when values grow by appends.
[[nodiscard]] std::string quote(std::string_view text, size_t bytes_max = 80);
// "set k "v"", "txn [set x "1"; get y]".
[[nodiscard]] std::string format_command(const Command& command);
// ""v"", "nil", "3", "["a", nil]".
[[nodiscard]] std::string format_reply(const Reply& reply);
// One line naming everything a person needs to find the operation in the history:
// "#17 client 3 [1200, 1350] append k1 "c3-17;" -> 42" (unknown: "[1200, ?] ... -> unknown").
[[nodiscard]] std::string format_operation(const Operation& operation);

}  // namespace raftkv::lincheck
