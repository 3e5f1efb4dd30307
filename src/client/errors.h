#pragma once

#include <string_view>

// What an error reply from raftkv-server means for a retry. The server's TRYAGAIN texts say
// whether the request may have taken effect; this is the one place that reads them.

namespace raftkv::client {

enum class ErrorClass {
  // A definite answer from the state machine or the command parser (WRONGTYPE, syntax,
  // unknown command): the request was handled; retrying changes nothing.
  Application,
  // The request was certainly not applied ("TRYAGAIN no leader", "TRYAGAIN busy", "... it
  // was not applied", a forward that reached a node no longer leader): safe to send again
  // under every semantics, at-most-once included.
  NotApplied,
  // The request may or may not have been applied ("TRYAGAIN timed out; the write may or may
  // not have been applied", a forward the leader did not answer in time). Any TRYAGAIN text
  // not recognised as NotApplied lands here: when unsure, assume it may have been applied.
  Ambiguous,
  // "SESSION_EXPIRED ...": the exactly-once session is gone; the request was not applied
  // under it, and re-sending under a new session is the caller's decision.
  SessionExpired,
};

// `text` is the error reply without its leading '-' ("TRYAGAIN no leader").
[[nodiscard]] ErrorClass classify_error(std::string_view text);

[[nodiscard]] const char* error_class_name(ErrorClass error_class);

}  // namespace raftkv::client
