#pragma once

#include <string>
#include <string_view>

// The error codes that tell a client whether a failed request took effect, shared by the
// server (which sends them) and the client library (which reads them), so that neither
// matches error texts. A Redis error reply's first word is its code.
//
//   TRYAGAIN   certainly not applied: safe to send again. Redis Cluster clients (redis-py,
//              ioredis) retry it by themselves, which is what Redis means by it too.
//   UNCERTAIN  may or may not have been applied (its leader died or timed out after the write
//              may have reached the log). No standard client retries an unknown code, so an
//              at-most-once write stays at most once; raftkv's client reports it as Unknown.
// Every other error is the command's own answer (it ran, or was refused as invalid).
namespace raftkv::protocol {

inline constexpr std::string_view kNotAppliedCode = "TRYAGAIN";
inline constexpr std::string_view kMaybeAppliedCode = "UNCERTAIN";

enum class ErrorKind : uint8_t {
  Application,   // The command's own error: it was executed (or refused before the log).
  NotApplied,    // TRYAGAIN.
  MaybeApplied,  // UNCERTAIN.
};

// The kind of an error reply's text (without the leading '-').
[[nodiscard]] inline ErrorKind error_kind(std::string_view error) {
  const auto code_is = [&](std::string_view code) {
    return error.starts_with(code) && (error.size() == code.size() || error[code.size()] == ' ');
  };
  if (code_is(kNotAppliedCode)) return ErrorKind::NotApplied;
  if (code_is(kMaybeAppliedCode)) return ErrorKind::MaybeApplied;
  return ErrorKind::Application;
}

// The error text for a request that was not applied / may have been: code, space, why.
[[nodiscard]] inline std::string not_applied_error(std::string_view why) {
  return std::string(kNotAppliedCode) + " " + std::string(why);
}
[[nodiscard]] inline std::string maybe_applied_error(std::string_view why) {
  return std::string(kMaybeAppliedCode) + " " + std::string(why);
}

}  // namespace raftkv::protocol
