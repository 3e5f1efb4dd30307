#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// The answer to one key-value command, as a small typed value that maps one to one onto the
// RESP2 reply kinds (src/net/resp_reply.h writes it). Plain data: the state machine builds it,
// the session table remembers it, snapshots store it.

namespace raftkv::kv {

enum class ReplyType : uint8_t {
  Simple,   // "+OK": `text`.
  Error,    // "-ERR ...": `text` is the whole message, error prefix included.
  Integer,  // ":42": `integer`.
  Bulk,     // "$5\r\nhello": `text`.
  Nil,      // "$-1": a missing value.
  Array,    // "*2 ...": `elements`.
  NilArray,  // "*-1": EXEC of a transaction whose WATCHed keys changed.
};

struct Reply {
  ReplyType type = ReplyType::Nil;
  int64_t integer = 0;
  std::string text;
  std::vector<Reply> elements;

  static Reply simple(std::string_view text) {
    return {ReplyType::Simple, 0, std::string(text), {}};
  }
  static Reply error(std::string text) { return {ReplyType::Error, 0, std::move(text), {}}; }
  static Reply integer_value(int64_t value) { return {ReplyType::Integer, value, {}, {}}; }
  static Reply bulk(std::string text) { return {ReplyType::Bulk, 0, std::move(text), {}}; }
  static Reply nil() { return {}; }
  static Reply array(std::vector<Reply> elements) {
    return {ReplyType::Array, 0, {}, std::move(elements)};
  }
  static Reply nil_array() { return {ReplyType::NilArray, 0, {}, {}}; }
  static Reply ok() { return simple("OK"); }

  [[nodiscard]] bool is_error() const { return type == ReplyType::Error; }
  bool operator==(const Reply&) const = default;
};

// Human-readable form for tests and logs: `"OK"`, `(error) ERR x`, `(integer) 3`, `"v"`,
// `(nil)`, `[a, b]`.
std::string reply_debug_string(const Reply& reply);

}  // namespace raftkv::kv
