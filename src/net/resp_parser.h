#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// Incremental parser for RESP2 requests: the byte stream of one client connection in, complete
// commands (argument vectors) out. Accepts what redis-cli, redis-benchmark and client
// libraries send: arrays of bulk strings ("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"), and inline
// commands as typed into telnet ("PING\r\n", "SET k \"a b\"\r\n", quotes as in Redis'
// sdssplitargs). Pure code: no sockets, no clock.
//
// Hot path (every byte every client sends passes here), so it is written by hand and kept
// allocation-light: the buffer grows geometrically and is compacted only when its consumed
// prefix is at least half of it (amortised O(1) per byte even when a 512 MiB bulk string
// trickles in); a partly received command is never re-scanned from its start; line ends are
// found with memchr; arguments are string_views into the parser's buffer, handed out in a
// vector the caller reuses, so a steady stream of commands allocates nothing; no virtual
// calls. A large bulk string (RespLimits::owned_bulk_bytes_min) still arriving when its header
// is read goes into a string of its own instead, sized once, which the caller may take over
// (take_argument) rather than copy: a 16 MiB value was copied twice more on the leader, by the
// buffer's growth and by the copy into the command's arguments.
//
// After an error the stream cannot be resynchronised (Redis behaves the same): the caller
// sends the error as a RESP error reply and closes the connection. A well-formed command over
// a size limit is different: it is refused as soon as its header shows it (before its bytes
// arrive), its bytes are then dropped as they come without being buffered, and the
// connection goes on with the command after it.
//
// Not thread-safe: one per connection, used by the connection's thread.

namespace raftkv::net {

// A bulk length past Redis's own default proto-max-bulk-len (512 MB) is a protocol error, as
// Redis answers it ("invalid bulk length", then the connection closes): no client means it.
// A length within it but past this node's RespLimits is refused and skipped instead, with the
// text Redis gives a value over its limit, and the connection goes on.
inline constexpr size_t kBulkLengthMax = 512u << 20;

struct RespLimits {
  // Longest bulk string (Redis' proto-max-bulk-len), and most bulk bytes in one command (all
  // its arguments: name, keys, values).
  size_t bulk_bytes_max = 512u << 20;
  size_t request_bytes_max = 512u << 20;
  // Longest inline command line, and longest "*<n>" / "$<n>" header line, counting every
  // byte before the '\n' (Redis: PROTO_INLINE_MAX_SIZE).
  size_t inline_bytes_max = 64u << 10;
  // Most arguments in one array request.
  size_t array_length_max = 1u << 20;
  // A bulk string at least this long that has not all arrived when its header is parsed is
  // received into a string of its own (take_argument). From the read size (64 KiB) on, a
  // bulk takes more than one read anyway; tests and the fuzzer set it small.
  size_t owned_bulk_bytes_min = 64u << 10;
};

class RespParser {
 public:
  enum class Outcome {
    Command,   // *args holds one complete command (at least one argument).
    NeedMore,  // Everything buffered is consumed or is an incomplete command: feed() more.
    Error,     // Malformed or over a limit; see error(). Final: close the connection.
    Refused,   // A command over bulk_bytes_max or request_bytes_max; refusal() is its reply.
               // Its remaining bytes are skipped; keep calling next().
  };

  explicit RespParser(RespLimits limits = {});

  // Appends bytes received from the client. Invalidates the views of earlier commands.
  void feed(std::string_view bytes);

  // Extracts the next complete command into *args (cleared first). The views point into the
  // parser and stay valid until the next call to feed() or next(). Pipelined commands come
  // out one per call, in order.
  [[nodiscard]] Outcome next(std::vector<std::string_view>* args);

  // Moves argument `index` of the command next() last returned into *out when the parser
  // received it into a string of its own (see RespLimits::owned_bulk_bytes_min); false
  // otherwise, and then the caller copies the view. Its view is then no longer valid.
  [[nodiscard]] bool take_argument(size_t index, std::string* out);

  // The Redis-style error text ("ERR Protocol error: ..."), set once next() returned Error.
  [[nodiscard]] const std::string& error() const { return error_; }
  [[nodiscard]] bool failed() const { return !error_.empty(); }
  // The Redis-style error reply for the command next() last reported Refused.
  [[nodiscard]] const std::string& refusal() const { return refusal_; }
  // Bytes held for commands not yet returned, for back-pressure and metrics.
  [[nodiscard]] size_t buffered_bytes() const;

 private:
  enum class State {
    Start,       // At the first byte of a command.
    ArrayBulk,   // Inside "*<n>": reading the next "$<len>" header or its payload.
    Inline,      // Inside an inline command line.
  };

  // Each returns an outcome for next() to report, or nullopt to go on parsing (a command
  // header consumed, or an empty command skipped). Loops, not recursion: a chunk of a
  // million "*0\r\n" must not deepen the stack.
  std::optional<Outcome> parse_array_header();
  std::optional<Outcome> parse_bulk(std::vector<std::string_view>* args);
  // Reads a "$<len>" header into bulk_length_; an outcome when it is malformed, incomplete
  // or makes the command too large.
  std::optional<Outcome> parse_bulk_header();
  // Drops what has arrived of the refused command's current bulk string; false while more
  // of it is due.
  bool skip_bulk();
  // The current bulk string (bulk_length_ bytes and its CRLF), of which only a part has been
  // buffered, is received into owned_ from here on: the part moves there, and feed() appends
  // to it until it is whole.
  void start_owned_bulk();
  // The current owned bulk string, once whole: its CRLF checked and cut off, its argument
  // recorded; an outcome when more of it is due or the CRLF is missing.
  std::optional<Outcome> finish_owned_bulk();
  std::optional<Outcome> parse_inline(std::vector<std::string_view>* args);
  // Reads the number of the header line at position_ ("*<n>\r\n" or "$<n>\r\n") into
  // *number (nullopt when the line is malformed) and its '\n' into *line_end; an outcome
  // when the line has not all arrived, or is longer than inline_bytes_max (`too_big`).
  std::optional<Outcome> read_header_number(const char* too_big, std::optional<int64_t>* number,
                                            size_t* line_end);
  // Finds the end of the line starting at position_; false when not yet buffered.
  // *line_end is the index of its '\n'. Scans each byte at most once per line.
  bool find_line(size_t* line_end);
  void finish_command(std::vector<std::string_view>* args);
  Outcome fail(std::string message);
  void compact();

  RespLimits limits_;
  std::string buffer_;
  // Start of the command being parsed; everything before it has been consumed.
  size_t command_start_ = 0;
  // Next unparsed byte; command_start_ <= position_ <= buffer_.size().
  size_t position_ = 0;
  // Where find_line resumes its search for '\n' (bytes before it contain none).
  size_t scan_from_ = 0;
  State state_ = State::Start;
  // Array requests: arguments announced by "*<n>", and each one's place once read: in
  // buffer_ (offset from command_start_, which survives compaction), or owned_[owned].
  struct ArgSpan {
    size_t offset = 0;
    size_t length = 0;
    std::optional<size_t> owned;
  };
  size_t args_expected_ = 0;
  std::vector<ArgSpan> arg_spans_;
  // Bulk strings of the command being parsed received into strings of their own; the last
  // one is still arriving while owned_missing_ > 0 (bytes due, its CRLF included).
  std::vector<std::string> owned_;
  size_t owned_missing_ = 0;
  bool receiving_owned_ = false;  // The current bulk string is owned_.back().
  // Those of the command next() last returned, for take_argument(): its argument i is
  // returned_owned_[returned_owner_[i]] when that is set.
  std::vector<std::string> returned_owned_;
  std::vector<std::optional<size_t>> returned_owner_;
  // Length from the last "$<len>" header, or -1 when the next thing is a header.
  int64_t bulk_length_ = -1;
  // Bulk bytes announced so far by the array command being parsed.
  uint64_t request_bytes_ = 0;
  // The array command being parsed was refused: its arguments are skipped, not kept.
  bool refusing_ = false;
  std::string refusal_;
  // Inline arguments after quote processing; args view it.
  std::string inline_storage_;
  std::vector<std::pair<size_t, size_t>> inline_spans_;
  std::string error_;
};

// Parses an inline command line like Redis' sdssplitargs: arguments separated by spaces or
// tabs; "double quotes" with \n \r \t \b \a \\ \" \xHH escapes; 'single quotes' with \'.
// Appends the arguments to *storage and their (offset, length) in it to *spans. False for
// unbalanced quotes (or a closing quote not followed by a space). Exposed for tests.
[[nodiscard]] bool split_inline_args(std::string_view line, std::string* storage,
                                     std::vector<std::pair<size_t, size_t>>* spans);

}  // namespace raftkv::net
