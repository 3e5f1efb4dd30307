#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string_view>

namespace raftkv::kv {

// Parses an integer exactly as Redis' string2ll does, so that INCR on a stored value and
// INCRBY's argument accept and refuse what Redis does: an optional '-', then digits with no
// leading zero (except "0" itself); no spaces, no '+', no "-0"; within int64.
inline std::optional<int64_t> parse_redis_int64(std::string_view text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  if (text == "0") return 0;
  const size_t digits_at = text[0] == '-' ? 1 : 0;
  if (digits_at >= text.size() || text[digits_at] < '1' || text[digits_at] > '9') {
    return std::nullopt;
  }
  int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace raftkv::kv
