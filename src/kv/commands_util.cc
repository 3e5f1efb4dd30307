#include "kv/commands_util.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "kv/redis_int.h"

namespace raftkv::kv::detail {
namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

// Redis' limit on the text of a long double (MAX_LONG_DOUBLE_CHARS).
constexpr size_t kLongDoubleCharsMax = 5 * 1024;

// One [...] class of a glob, pattern[at] == '['; sets *next past it.
bool match_class(std::string_view pattern, size_t at, char c, size_t* next) {
  size_t p = at + 1;
  const bool negate = p < pattern.size() && pattern[p] == '^';
  if (negate) ++p;
  bool matched = false;
  while (p < pattern.size() && pattern[p] != ']') {
    if (pattern[p] == '\\' && p + 1 < pattern.size()) {
      ++p;
      matched = matched || pattern[p] == c;
    } else if (p + 2 < pattern.size() && pattern[p + 1] == '-') {
      char start = pattern[p];
      char end = pattern[p + 2];
      if (start > end) std::swap(start, end);
      matched = matched || (c >= start && c <= end);
      p += 2;
    } else {
      matched = matched || pattern[p] == c;
    }
    ++p;
  }
  *next = p < pattern.size() ? p + 1 : p;  // Past the closing ']'.
  return negate ? !matched : matched;
}

// Whether the one-character element of `pattern` at `at` (not '*') matches c; *next is the
// element after it.
bool match_one(std::string_view pattern, size_t at, char c, size_t* next) {
  switch (pattern[at]) {
    case '?': *next = at + 1; return true;
    case '[': return match_class(pattern, at, c, next);
    case '\\':
      if (at + 1 < pattern.size()) {
        *next = at + 2;
        return pattern[at + 1] == c;
      }
      break;
    default: break;
  }
  *next = at + 1;
  return pattern[at] == c;
}

}  // namespace

bool equals_ignore_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

Reply invalid_expire(std::string_view name) {
  return Reply::error("ERR invalid expire time in '" + std::string(name) + "' command");
}

std::optional<int64_t> parse_int(std::string_view text) { return parse_redis_int64(text); }

std::optional<long double> parse_long_double(std::string_view text) {
  if (text.empty() || text.size() >= kLongDoubleCharsMax) return std::nullopt;
  const std::string buffer(text);  // strtold needs a terminated string.
  if (std::isspace(static_cast<unsigned char>(buffer[0])) != 0) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const long double value = std::strtold(buffer.c_str(), &end);
  if (end != buffer.c_str() + buffer.size()) return std::nullopt;  // Also rejects "\0" inside.
  if (std::isnan(value)) return std::nullopt;
  if (errno == ERANGE && (std::isinf(value) || value == 0)) return std::nullopt;
  return value;
}

std::string format_long_double(long double value) {
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buffer[kLongDoubleCharsMax];
  const int written = std::snprintf(buffer, sizeof(buffer), "%.17Lf", value);
  RAFT_ASSERT(written > 0);
  size_t length = std::min(static_cast<size_t>(written), sizeof(buffer) - 1);
  if (std::memchr(buffer, '.', length) != nullptr) {
    while (buffer[length - 1] == '0') --length;
    if (buffer[length - 1] == '.') --length;
  }
  std::string out(buffer, length);
  return out == "-0" ? "0" : out;
}

std::optional<int64_t> checked_add(int64_t a, int64_t b) {
  int64_t sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) return std::nullopt;
  return sum;
}

const Record* find_string(const Keyspace& keys, const std::string& key, int64_t now_ms,
                         Reply* error) {
  const Record* value = keys.find(key, now_ms);
  if (value != nullptr && value->kind() != Value::Kind::String) {
    *error = Reply::error(kWrongType);
    return nullptr;
  }
  return value;
}

const Record* find_hash(const Keyspace& keys, const std::string& key, int64_t now_ms,
                       Reply* error) {
  const Record* value = keys.find(key, now_ms);
  if (value != nullptr && value->kind() != Value::Kind::Hash) {
    *error = Reply::error(kWrongType);
    return nullptr;
  }
  return value;
}

std::optional<uint64_t> parse_cursor(std::string_view text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto digit = static_cast<uint64_t>(c - '0');
    if (value > (std::numeric_limits<uint64_t>::max() - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

std::optional<Reply> parse_scan_options(std::span<const std::string> args, size_t from,
                                        bool allow_type, ScanOptions* options) {
  for (size_t i = from; i < args.size(); i += 2) {
    const bool has_value = i + 1 < args.size();
    if (equals_ignore_case(args[i], "count") && has_value) {
      const std::optional<int64_t> count = parse_int(args[i + 1]);
      if (!count) return Reply::error(kNotInteger);
      if (*count < 1) return Reply::error(kSyntaxError);
      options->count = static_cast<size_t>(*count);
    } else if (equals_ignore_case(args[i], "match") && has_value) {
      options->match = args[i + 1];
    } else if (allow_type && equals_ignore_case(args[i], "type") && has_value) {
      options->type = args[i + 1];
    } else {
      return Reply::error(kSyntaxError);
    }
  }
  return std::nullopt;
}

Reply bulk_array(const std::vector<std::string>& items) {
  std::vector<Reply> elements;
  elements.reserve(items.size());
  for (const std::string& item : items) elements.push_back(Reply::bulk(item));
  return Reply::array(std::move(elements));
}

}  // namespace raftkv::kv::detail

namespace raftkv::kv {

// Iterative, resuming after the last '*' on a mismatch: O(pattern x text) at worst, where
// the recursive form is exponential in the number of stars (a KEYS pattern is a client's).
bool glob_match(std::string_view pattern, std::string_view text) {
  constexpr size_t kNone = std::string_view::npos;
  size_t p = 0;
  size_t t = 0;
  size_t star_p = kNone;  // The element after the last '*' seen, and where its match began.
  size_t star_t = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      while (p < pattern.size() && pattern[p] == '*') ++p;
      if (p == pattern.size()) return true;
      star_p = p;
      star_t = t;
      continue;
    }
    size_t next = 0;
    if (p < pattern.size() && detail::match_one(pattern, p, text[t], &next)) {
      p = next;
      ++t;
      continue;
    }
    if (star_p == kNone) return false;
    p = star_p;  // Let the last '*' take one more character.
    t = ++star_t;
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace raftkv::kv
