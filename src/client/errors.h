#pragma once

#include <string_view>

// What an error reply from raftkv-server means for a retry. Its code (the first word) says
// whether the request may have taken effect (src/protocol/reply_codes.h); this is the one
// place in the client that reads it.

namespace raftkv::client {

enum class ErrorClass {
  // A definite answer from the state machine or the command parser (WRONGTYPE, syntax,
  // unknown command): the request was handled; retrying changes nothing.
  Application,
  // TRYAGAIN: the request was certainly not applied (no leader, busy, overwritten by another
  // leader's entry, a forward that reached a node no longer leader): safe to send again under
  // every semantics, at-most-once included.
  NotApplied,
  // UNCERTAIN: the request may or may not have been applied (its entry may have reached the
  // log before its leader died or timed out).
  Ambiguous,
  // "SESSION_EXPIRED ...": the exactly-once session is gone; the request was not applied
  // under it, and re-sending under a new session is the caller's decision.
  SessionExpired,
};

// `text` is the error reply without its leading '-' ("TRYAGAIN no leader").
[[nodiscard]] ErrorClass classify_error(std::string_view text);

[[nodiscard]] const char* error_class_name(ErrorClass error_class);

}  // namespace raftkv::client
