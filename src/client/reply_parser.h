#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "client/reply.h"

// Incremental parser for RESP2 replies: the bytes a server sends on one connection in,
// complete replies out, in order. The bytes come from the network, so nothing here asserts on
// them: malformed input, a value over a limit or nesting too deep ends in Outcome::Error with
// a message, never a crash.
//
// Resumable: a reply split across any number of reads is parsed once, element by element; a
// partial element (a bulk string whose payload has not all arrived) is retried only when more
// bytes arrive, and a long line is scanned for its end at most once. Nested arrays are built
// on an explicit stack bounded by depth_max, so hostile nesting cannot exhaust the C++ stack.
//
// Not thread-safe: one per connection.

namespace raftkv::client {

struct ReplyLimits {
  size_t bulk_bytes_max = 512u << 20;    // Longest bulk string (Redis' proto-max-bulk-len).
  size_t line_bytes_max = 64u << 10;     // Longest "+", "-", ":", "$", "*" line.
  size_t array_length_max = 1u << 24;    // Most elements in one array.
  size_t depth_max = 32;                 // Deepest nesting of arrays.
};

class ReplyParser {
 public:
  enum class Outcome {
    Reply,     // *reply holds the next complete reply.
    NeedMore,  // No complete reply buffered yet: feed() more bytes.
    Error,     // Malformed or over a limit; see error(). Final: the stream cannot resync.
  };

  explicit ReplyParser(ReplyLimits limits = {}) : limits_(limits) {}

  void feed(std::string_view bytes);
  [[nodiscard]] Outcome next(Reply* reply);

  [[nodiscard]] const std::string& error() const { return error_; }
  // Bytes received but not yet part of a returned reply (0 between replies).
  [[nodiscard]] size_t buffered_bytes() const { return buffer_.size() - position_; }
  [[nodiscard]] bool mid_reply() const { return buffered_bytes() > 0 || !stack_.empty(); }

 private:
  enum class Step { Element, Pushed, NeedMore, Error };
  struct Frame {
    Reply array;
    size_t remaining = 0;  // Elements still to come.
  };

  // Parses one element at position_ into *element, or pushes an array frame.
  Step parse_element(Reply* element);
  // Finds the "\r\n" ending the line at position_; false if not buffered yet (or on error).
  bool find_line(size_t* line_end);
  Step parse_length(std::string_view digits, int64_t* length);
  Step parse_bulk(size_t line_end, Reply* element);
  Step parse_array_header(size_t line_end, Reply* element);
  Step fail(std::string message);
  void compact();

  ReplyLimits limits_;
  std::string buffer_;
  size_t position_ = 0;  // Start of the first unparsed element in buffer_.
  size_t scanned_ = 0;   // buffer_[position_, scanned_) holds no '\n' (line search resumes).
  std::vector<Frame> stack_;  // Arrays under construction, outermost first.
  std::string error_;
};

}  // namespace raftkv::client
