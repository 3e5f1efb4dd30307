#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

// RESP2 reply encoding into a connection's output buffer. Pure code: the caller owns the
// buffer and flushes it to the socket once per batch of pipelined replies. Appends only, no
// intermediate strings (integers go through std::to_chars on the stack).

namespace raftkv::net {

// "+OK\r\n". A line cannot hold CR or LF, so any in `text` are written as spaces (Redis
// does the same for error texts).
void resp_append_simple(std::string* out, std::string_view text);
// "-ERR unknown command\r\n". `text` includes its prefix ("ERR", "TRYAGAIN", ...); CR and LF
// become spaces as above.
void resp_append_error(std::string* out, std::string_view text);
// ":42\r\n".
void resp_append_integer(std::string* out, int64_t value);
// "$5\r\nhello\r\n"; any bytes.
void resp_append_bulk(std::string* out, std::string_view value);
// "$-1\r\n": a missing value.
void resp_append_nil(std::string* out);
// "*3\r\n", followed by the caller appending `count` replies.
void resp_append_array_header(std::string* out, size_t count);
// "*-1\r\n": a nil array (EXEC aborted).
void resp_append_nil_array(std::string* out);

}  // namespace raftkv::net
