#include "client/reply_parser.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>

#include "common/assert.h"

namespace raftkv::client {

void ReplyParser::feed(std::string_view bytes) {
  compact();
  buffer_.append(bytes);
}

// Drops the consumed prefix once it is at least half the buffer: amortised O(1) per byte.
void ReplyParser::compact() {
  if (position_ == 0 || position_ * 2 < buffer_.size()) return;
  buffer_.erase(0, position_);
  scanned_ -= std::min(scanned_, position_);
  position_ = 0;
}

ReplyParser::Outcome ReplyParser::next(Reply* reply) {
  RAFT_ASSERT(reply != nullptr);
  if (!error_.empty()) return Outcome::Error;
  // Every iteration consumes bytes or returns, so the loop is bounded by the buffer size.
  while (true) {
    Reply element;
    const Step step = parse_element(&element);
    if (step == Step::Error) return Outcome::Error;
    if (step == Step::NeedMore) return Outcome::NeedMore;
    if (step == Step::Pushed) continue;
    // A complete element: hand it to the innermost open array, closing full arrays upwards.
    while (!stack_.empty()) {
      Frame& top = stack_.back();
      RAFT_ASSERT(top.remaining > 0);
      top.array.elements.push_back(std::move(element));
      if (--top.remaining > 0) break;
      element = std::move(top.array);
      stack_.pop_back();
    }
    if (stack_.empty()) {
      *reply = std::move(element);
      return Outcome::Reply;
    }
  }
}

ReplyParser::Step ReplyParser::fail(std::string message) {
  error_ = "protocol error in reply: " + std::move(message);
  return Step::Error;
}

bool ReplyParser::find_line(size_t* line_end) {
  const size_t from = std::max(position_, scanned_);
  const void* found = std::memchr(buffer_.data() + from, '\n', buffer_.size() - from);
  if (found == nullptr) {
    scanned_ = buffer_.size();
    if (buffer_.size() - position_ > limits_.line_bytes_max) {
      (void)fail("line longer than " + std::to_string(limits_.line_bytes_max) + " bytes");
    }
    return false;
  }
  const auto newline = static_cast<size_t>(static_cast<const char*>(found) - buffer_.data());
  scanned_ = newline;
  if (newline == position_ || buffer_[newline - 1] != '\r') {
    (void)fail("line not ended by CRLF");
    return false;
  }
  if (newline - position_ > limits_.line_bytes_max) {
    (void)fail("line longer than " + std::to_string(limits_.line_bytes_max) + " bytes");
    return false;
  }
  *line_end = newline - 1;  // Index of the '\r'.
  return true;
}

ReplyParser::Step ReplyParser::parse_length(std::string_view digits, int64_t* length) {
  if (digits.empty()) return fail("empty length");
  const char* end = digits.data() + digits.size();
  auto [ptr, ec] = std::from_chars(digits.data(), end, *length);
  if (ec != std::errc() || ptr != end) return fail("bad length '" + std::string(digits) + "'");
  if (*length < -1) return fail("negative length " + std::string(digits));
  return Step::Element;
}

ReplyParser::Step ReplyParser::parse_element(Reply* element) {
  if (position_ >= buffer_.size()) return Step::NeedMore;
  size_t line_end = 0;
  if (!find_line(&line_end)) return error_.empty() ? Step::NeedMore : Step::Error;
  const char type = buffer_[position_];
  const std::string_view body(buffer_.data() + position_ + 1, line_end - position_ - 1);
  switch (type) {
    case '+':
    case '-':
      *element = type == '+' ? Reply::status(std::string(body)) : Reply::error(std::string(body));
      position_ = line_end + 2;
      return Step::Element;
    case ':': {
      int64_t value = 0;
      const char* end = body.data() + body.size();
      auto [ptr, ec] = std::from_chars(body.data(), end, value);
      if (body.empty() || ec != std::errc() || ptr != end) {
        return fail("bad integer '" + std::string(body) + "'");
      }
      *element = Reply::number(value);
      position_ = line_end + 2;
      return Step::Element;
    }
    case '$': return parse_bulk(line_end, element);
    case '*': return parse_array_header(line_end, element);
    default: break;
  }
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%02x", static_cast<unsigned>(static_cast<unsigned char>(type)));
  return fail(std::string("unexpected type byte ") + hex);
}

ReplyParser::Step ReplyParser::parse_bulk(size_t line_end, Reply* element) {
  int64_t length = 0;
  const std::string_view digits(buffer_.data() + position_ + 1, line_end - position_ - 1);
  if (parse_length(digits, &length) == Step::Error) return Step::Error;
  if (length == -1) {
    *element = Reply::nil();
    position_ = line_end + 2;
    return Step::Element;
  }
  const auto size = static_cast<uint64_t>(length);
  if (size > limits_.bulk_bytes_max) return fail("bulk string of " + std::string(digits) +
                                                 " bytes is over the limit");
  const size_t data = line_end + 2;
  // Wait for the payload and its CRLF; the header is re-read then, which costs O(header).
  if (buffer_.size() - data < size + 2) return Step::NeedMore;
  if (buffer_[data + size] != '\r' || buffer_[data + size + 1] != '\n') {
    return fail("bulk string not followed by CRLF");
  }
  *element = Reply::bulk(buffer_.substr(data, size));
  position_ = data + size + 2;
  return Step::Element;
}

ReplyParser::Step ReplyParser::parse_array_header(size_t line_end, Reply* element) {
  int64_t length = 0;
  const std::string_view digits(buffer_.data() + position_ + 1, line_end - position_ - 1);
  if (parse_length(digits, &length) == Step::Error) return Step::Error;
  position_ = line_end + 2;
  if (length == -1) {
    *element = Reply::nil();
    return Step::Element;
  }
  if (length == 0) {
    *element = Reply::array({});
    return Step::Element;
  }
  const auto count = static_cast<uint64_t>(length);
  if (count > limits_.array_length_max) return fail("array of " + std::string(digits) +
                                                    " elements is over the limit");
  if (stack_.size() >= limits_.depth_max) return fail("arrays nested too deeply");
  Frame frame{Reply::array({}), static_cast<size_t>(count)};
  // Reserve modestly: the count is outside input and may promise far more than arrives.
  frame.array.elements.reserve(std::min<size_t>(frame.remaining, 1024));
  stack_.push_back(std::move(frame));
  return Step::Pushed;
}

}  // namespace raftkv::client
