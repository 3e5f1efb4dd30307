#include "net/resp_encoder.h"

#include <charconv>

#include "common/assert.h"

namespace raftkv::net {

namespace {

void append_line(std::string* out, char prefix, std::string_view text) {
  out->push_back(prefix);
  const size_t start = out->size();
  out->append(text);
  for (size_t i = start; i < out->size(); ++i) {
    if ((*out)[i] == '\r' || (*out)[i] == '\n') (*out)[i] = ' ';
  }
  out->append("\r\n");
}

template <typename T>
void append_number_line(std::string* out, char prefix, T value) {
  char digits[24];
  const auto [end, error] = std::to_chars(digits, digits + sizeof(digits), value);
  RAFT_ASSERT(error == std::errc());  // 24 bytes hold any 64-bit number.
  out->push_back(prefix);
  out->append(digits, static_cast<size_t>(end - digits));
  out->append("\r\n");
}

}  // namespace

void resp_append_simple(std::string* out, std::string_view text) { append_line(out, '+', text); }

void resp_append_error(std::string* out, std::string_view text) { append_line(out, '-', text); }

void resp_append_integer(std::string* out, int64_t value) {
  append_number_line(out, ':', value);
}

void resp_append_bulk(std::string* out, std::string_view value) {
  append_number_line(out, '$', value.size());
  out->append(value);
  out->append("\r\n");
}

void resp_append_nil(std::string* out) { out->append("$-1\r\n"); }

void resp_append_array_header(std::string* out, size_t count) {
  append_number_line(out, '*', count);
}

void resp_append_nil_array(std::string* out) { out->append("*-1\r\n"); }

}  // namespace raftkv::net
