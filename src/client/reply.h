#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

// A RESP2 reply as a client sees it, and the encoding of a command as a client sends it.
// Value types, no I/O.

namespace raftkv::client {

enum class ReplyType {
  Status,   // "+OK": a simple string.
  Error,    // "-ERR ...": text holds everything after the '-'.
  Integer,  // ":42".
  Bulk,     // "$3\r\nabc": binary-safe text.
  Array,    // "*2\r\n...": elements.
  Nil,      // "$-1" or "*-1": the null bulk string or null array.
};

struct Reply {
  ReplyType type = ReplyType::Nil;
  std::string text;  // Status, Error and Bulk only.
  int64_t integer = 0;  // Integer only.
  std::vector<Reply> elements;  // Array only.

  static Reply status(std::string value) { return {ReplyType::Status, std::move(value), 0, {}}; }
  static Reply error(std::string value) { return {ReplyType::Error, std::move(value), 0, {}}; }
  static Reply bulk(std::string value) { return {ReplyType::Bulk, std::move(value), 0, {}}; }
  static Reply number(int64_t value) { return {ReplyType::Integer, {}, value, {}}; }
  static Reply nil() { return {}; }
  static Reply array(std::vector<Reply> values) {
    return {ReplyType::Array, {}, 0, std::move(values)};
  }

  [[nodiscard]] bool is_error() const { return type == ReplyType::Error; }
  bool operator==(const Reply&) const = default;
};

// The reply as redis-cli prints it: "OK", "(integer) 3", "\"abc\"", "(nil)",
// "(error) ERR ...", arrays as numbered lines. Bytes outside printable ASCII are escaped.
[[nodiscard]] std::string format_reply(const Reply& reply);

// The reply as plain text for scripts: bulk and status text raw, integers in decimal, nil as
// an empty string, arrays one element per line.
[[nodiscard]] std::string format_reply_raw(const Reply& reply);

// "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n": the RESP2 encoding of one command (array of bulk strings).
[[nodiscard]] std::string encode_command(const std::vector<std::string>& args);

}  // namespace raftkv::client
