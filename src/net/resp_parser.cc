#include "net/resp_parser.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "common/assert.h"

namespace raftkv::net {

namespace {

constexpr const char* kProtocolError = "ERR Protocol error: ";
// Redis' own text for a string over proto-max-bulk-len, so clients recognise it.
constexpr const char* kBulkTooBig = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
constexpr const char* kRequestTooBig =
    "ERR request exceeds maximum allowed size (max-request-bytes)";

// Parses a header number the way Redis' string2ll does: optional '-', digits without a
// leading zero (except "0"), within int64. Anything else is malformed.
std::optional<int64_t> parse_header_number(std::string_view text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  if (text == "0") return 0;
  size_t i = 0;
  const bool negative = text[0] == '-';
  if (negative) ++i;
  if (i >= text.size() || text[i] < '1' || text[i] > '9') return std::nullopt;
  uint64_t value = 0;
  for (; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    const auto digit = static_cast<uint64_t>(text[i] - '0');
    if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  // Only sizes matter here, so the one int64 value not representable as positive
  // (INT64_MIN) is simply rejected along with everything else out of range.
  if (value > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
  const auto magnitude = static_cast<int64_t>(value);
  return negative ? -magnitude : magnitude;
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

char unescape(char c) {
  switch (c) {
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'b': return '\b';
    case 'a': return '\a';
    default: return c;
  }
}

// One argument from line[*i]: appends it to *out and advances *i past it. False for an
// unterminated quote or a closing quote followed by something other than a space.
bool split_one(std::string_view line, size_t* i, std::string* out) {
  // Past the end reads as NUL, as in the C original.
  auto at = [&](size_t k) { return k < line.size() ? line[k] : '\0'; };
  const char quote = at(*i) == '"' || at(*i) == '\'' ? at(*i) : '\0';
  size_t k = quote != '\0' ? *i + 1 : *i;
  for (;; ++k) {
    const char c = at(k);
    if (quote == '\0') {
      if (c == '\0' || is_space(c)) break;
      out->push_back(c);
      continue;
    }
    if (k >= line.size()) return false;  // Unterminated quote.
    if (c == quote) {
      if (at(k + 1) != '\0' && !is_space(at(k + 1))) return false;
      ++k;
      break;
    }
    if (c != '\\') {
      out->push_back(c);
    } else if (quote == '"' && at(k + 1) == 'x' && hex_value(at(k + 2)) >= 0 &&
               hex_value(at(k + 3)) >= 0) {
      out->push_back(static_cast<char>(hex_value(at(k + 2)) * 16 + hex_value(at(k + 3))));
      k += 3;
    } else if (quote == '"' && k + 1 < line.size()) {
      out->push_back(unescape(line[++k]));
    } else if (quote == '\'' && at(k + 1) == '\'') {
      out->push_back('\'');
      ++k;
    } else {
      out->push_back(c);
    }
  }
  *i = k;
  return true;
}

}  // namespace

bool split_inline_args(std::string_view line, std::string* storage,
                       std::vector<std::pair<size_t, size_t>>* spans) {
  size_t i = 0;
  while (true) {
    while (i < line.size() && is_space(line[i])) ++i;
    if (i >= line.size() || line[i] == '\0') return true;
    const size_t start = storage->size();
    if (!split_one(line, &i, storage)) return false;
    spans->emplace_back(start, storage->size() - start);
  }
}

RespParser::RespParser(RespLimits limits) : limits_(limits) {
  RAFT_ASSERT(limits_.inline_bytes_max > 0);
  RAFT_ASSERT(limits_.array_length_max > 0);
}

void RespParser::feed(std::string_view bytes) {
  if (failed()) return;  // Nothing more will be parsed; do not grow.
  returned_owned_.clear();
  returned_owner_.clear();
  if (owned_missing_ > 0) {
    const size_t take = std::min(owned_missing_, bytes.size());
    owned_.back().append(bytes.substr(0, take));
    owned_missing_ -= take;
    bytes.remove_prefix(take);
  }
  compact();
  buffer_.append(bytes);
}

size_t RespParser::buffered_bytes() const {
  size_t bytes = buffer_.size() - command_start_;
  for (const std::string& owned : owned_) bytes += owned.size();
  return bytes;
}

bool RespParser::take_argument(size_t index, std::string* out) {
  if (index >= returned_owner_.size() || !returned_owner_[index].has_value()) return false;
  *out = std::move(returned_owned_[*returned_owner_[index]]);
  returned_owner_[index].reset();
  return true;
}

// Drops the consumed prefix, but only once it is at least half the buffer, so each byte is
// moved O(1) times on average however slowly a large command arrives.
void RespParser::compact() {
  if (command_start_ == 0) return;
  if (command_start_ == buffer_.size()) {
    buffer_.clear();
  } else if (command_start_ >= buffer_.size() / 2) {
    buffer_.erase(0, command_start_);
  } else {
    return;
  }
  RAFT_ASSERT(position_ >= command_start_);
  RAFT_ASSERT(position_ <= buffer_.size() + command_start_);
  position_ -= command_start_;
  scan_from_ = scan_from_ >= command_start_ ? scan_from_ - command_start_ : 0;
  command_start_ = 0;
}

RespParser::Outcome RespParser::next(std::vector<std::string_view>* args) {
  args->clear();
  returned_owned_.clear();
  returned_owner_.clear();
  while (!failed()) {
    std::optional<Outcome> outcome;
    switch (state_) {
      case State::Start:
        RAFT_ASSERT(position_ == command_start_);
        if (position_ == buffer_.size()) return Outcome::NeedMore;
        if (buffer_[position_] == '*') {
          outcome = parse_array_header();
        } else {
          state_ = State::Inline;
        }
        break;
      case State::ArrayBulk: outcome = parse_bulk(args); break;
      case State::Inline: outcome = parse_inline(args); break;
    }
    if (outcome.has_value()) return *outcome;
  }
  return Outcome::Error;
}

bool RespParser::find_line(size_t* line_end) {
  const size_t from = std::max(scan_from_, position_);
  RAFT_ASSERT(from <= buffer_.size());
  const void* found = std::memchr(buffer_.data() + from, '\n', buffer_.size() - from);
  if (found == nullptr) {
    scan_from_ = buffer_.size();
    return false;
  }
  *line_end = static_cast<size_t>(static_cast<const char*>(found) - buffer_.data());
  scan_from_ = *line_end;  // Found again at once if asked before the line is consumed.
  return true;
}

std::optional<RespParser::Outcome> RespParser::read_header_number(
    const char* too_big, std::optional<int64_t>* number, size_t* line_end) {
  if (!find_line(line_end)) {
    if (buffer_.size() - position_ > limits_.inline_bytes_max) return fail(too_big);
    return Outcome::NeedMore;
  }
  // The same bound whether or not the line end has arrived, so chunking never matters.
  if (*line_end - position_ > limits_.inline_bytes_max) return fail(too_big);
  // The number sits between the '*' or '$' and the "\r\n".
  number->reset();
  if (*line_end >= position_ + 2 && buffer_[*line_end - 1] == '\r') {
    *number = parse_header_number(
        std::string_view(buffer_).substr(position_ + 1, *line_end - 1 - position_ - 1));
  }
  return std::nullopt;
}

std::optional<RespParser::Outcome> RespParser::parse_array_header() {
  RAFT_ASSERT(buffer_[position_] == '*');
  size_t line_end = 0;
  std::optional<int64_t> count;
  if (std::optional<Outcome> early = read_header_number("too big mbulk count string", &count,
                                                        &line_end)) {
    return early;
  }
  if (!count || *count > static_cast<int64_t>(limits_.array_length_max)) {
    return fail("invalid multibulk length");
  }
  position_ = line_end + 1;
  if (*count <= 0) {  // "*0" and "*-1" carry no command; Redis skips them too.
    command_start_ = position_;
    return std::nullopt;
  }
  args_expected_ = static_cast<size_t>(*count);
  request_bytes_ = 0;
  arg_spans_.clear();
  bulk_length_ = -1;
  state_ = State::ArrayBulk;
  return std::nullopt;
}

std::optional<RespParser::Outcome> RespParser::parse_bulk(
    std::vector<std::string_view>* args) {
  while (arg_spans_.size() < args_expected_) {
    if (bulk_length_ < 0) {
      if (std::optional<Outcome> outcome = parse_bulk_header()) return outcome;
    }
    if (refusing_) {
      if (!skip_bulk()) return Outcome::NeedMore;
    }
    const auto length = static_cast<size_t>(bulk_length_);
    if (!receiving_owned_ && !refusing_ && buffer_.size() - position_ < length + 2 &&
        length >= limits_.owned_bulk_bytes_min) {
      start_owned_bulk();
    }
    if (receiving_owned_) {
      if (std::optional<Outcome> outcome = finish_owned_bulk()) return outcome;
      continue;
    }
    if (buffer_.size() - position_ < length + 2) return Outcome::NeedMore;
    if (buffer_[position_ + length] != '\r' || buffer_[position_ + length + 1] != '\n') {
      return fail("expected CRLF after bulk string");
    }
    arg_spans_.push_back(ArgSpan{position_ - command_start_, length, std::nullopt});
    position_ += length + 2;
    bulk_length_ = -1;
    if (refusing_) command_start_ = position_;  // Nothing of it is kept.
  }
  if (refusing_) {
    refusing_ = false;
    command_start_ = position_;
    state_ = State::Start;
    owned_.clear();  // Arguments received before the refusal; nothing of it is kept.
    return std::nullopt;  // Refused when its header came; nothing more to report.
  }
  finish_command(args);
  return Outcome::Command;
}

std::optional<RespParser::Outcome> RespParser::parse_bulk_header() {
  if (position_ == buffer_.size()) return Outcome::NeedMore;
  if (buffer_[position_] != '$') {
    return fail(std::string("expected '$', got '") + buffer_[position_] + "'");
  }
  size_t line_end = 0;
  std::optional<int64_t> length;
  if (std::optional<Outcome> early = read_header_number("too big bulk count string", &length,
                                                        &line_end)) {
    return early;
  }
  if (!length || *length < 0 || static_cast<uint64_t>(*length) > kBulkLengthMax) {
    return fail("invalid bulk length");
  }
  bulk_length_ = *length;
  position_ = line_end + 1;
  if (refusing_) return std::nullopt;
  const auto bytes = static_cast<uint64_t>(*length);
  request_bytes_ += bytes;
  if (bytes <= limits_.bulk_bytes_max && request_bytes_ <= limits_.request_bytes_max) {
    return std::nullopt;
  }
  refusal_ = bytes > limits_.bulk_bytes_max ? kBulkTooBig : kRequestTooBig;
  refusing_ = true;
  command_start_ = position_;
  return Outcome::Refused;
}

void RespParser::start_owned_bulk() {
  // Everything buffered after the header is the beginning of this bulk string, since not
  // all of it has arrived. Sized for all of it at once, as Redis does for a big argument:
  // within bulk_bytes_max, and the pages are touched only as the bytes arrive.
  const size_t total = static_cast<size_t>(bulk_length_) + 2;
  std::string& bulk = owned_.emplace_back();
  bulk.reserve(total);
  bulk.append(buffer_, position_);
  buffer_.resize(position_);
  scan_from_ = std::min(scan_from_, position_);
  owned_missing_ = total - bulk.size();
  receiving_owned_ = true;
}

std::optional<RespParser::Outcome> RespParser::finish_owned_bulk() {
  if (owned_missing_ > 0) return Outcome::NeedMore;
  std::string& bulk = owned_.back();
  const auto length = static_cast<size_t>(bulk_length_);
  RAFT_ASSERT(bulk.size() == length + 2);
  if (bulk[length] != '\r' || bulk[length + 1] != '\n') {
    return fail("expected CRLF after bulk string");
  }
  bulk.resize(length);
  arg_spans_.push_back(ArgSpan{0, length, owned_.size() - 1});
  receiving_owned_ = false;
  bulk_length_ = -1;
  return std::nullopt;
}

bool RespParser::skip_bulk() {
  // Everything but the final CRLF, which parse_bulk checks as for any bulk string.
  const auto dropped =
      std::min(static_cast<size_t>(bulk_length_), buffer_.size() - position_);
  position_ += dropped;
  bulk_length_ -= static_cast<int64_t>(dropped);
  command_start_ = position_;
  return bulk_length_ == 0;
}

void RespParser::finish_command(std::vector<std::string_view>* args) {
  RAFT_ASSERT(arg_spans_.size() == args_expected_);
  RAFT_ASSERT(!arg_spans_.empty());
  const std::string_view command(buffer_.data() + command_start_, position_ - command_start_);
  returned_owned_ = std::move(owned_);
  owned_.clear();
  for (const ArgSpan& span : arg_spans_) {
    returned_owner_.push_back(span.owned);
    args->push_back(span.owned ? std::string_view(returned_owned_[*span.owned])
                               : command.substr(span.offset, span.length));
  }
  command_start_ = position_;
  state_ = State::Start;
}

std::optional<RespParser::Outcome> RespParser::parse_inline(
    std::vector<std::string_view>* args) {
  size_t line_end = 0;
  if (!find_line(&line_end)) {
    if (buffer_.size() - command_start_ > limits_.inline_bytes_max) {
      return fail("too big inline request");
    }
    return Outcome::NeedMore;
  }
  std::string_view line(buffer_.data() + command_start_, line_end - command_start_);
  // Checked here too (CR included, as above), so chunking never changes the outcome.
  if (line.size() > limits_.inline_bytes_max) return fail("too big inline request");
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  inline_storage_.clear();
  inline_spans_.clear();
  if (!split_inline_args(line, &inline_storage_, &inline_spans_)) {
    return fail("unbalanced quotes in request");
  }
  position_ = line_end + 1;
  command_start_ = position_;
  state_ = State::Start;
  if (inline_spans_.empty()) return std::nullopt;  // A blank line; Redis ignores it too.
  for (const auto& [offset, length] : inline_spans_) {
    args->push_back(std::string_view(inline_storage_).substr(offset, length));
  }
  return Outcome::Command;
}

RespParser::Outcome RespParser::fail(std::string message) {
  RAFT_ASSERT(!message.empty());
  error_ = kProtocolError + std::move(message);
  return Outcome::Error;
}

}  // namespace raftkv::net
