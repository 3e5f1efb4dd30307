#pragma once

#include <cstdint>
#include <functional>
#include <string>

// A client's request to a replicated state machine, and how it ended. The three outcomes are
// the whole contract a client needs for its delivery semantics (docs/semantics.md):
//   Ok            applied (a write) or answered (a read); `reply` is the state machine's reply.
//   NotApplied    certainly not applied: safe to retry.
//   MaybeApplied  may or may not have been applied (its leader died or timed out after the
//                 entry may have reached the log): an at-most-once client must not retry.
// src/protocol maps them to the Redis error codes TRYAGAIN and UNCERTAIN.
namespace raftkv::runtime {

enum class Outcome : uint8_t { Ok, NotApplied, MaybeApplied };

const char* outcome_name(Outcome outcome);

struct Request {
  std::string bytes;       // Opaque to the runtime: the state machine's request.
  bool read_only = false;  // Served by query() after ReadIndex, never logged.
};

struct Response {
  Outcome outcome = Outcome::Ok;
  // Ok: the state machine's reply. Otherwise why, in words for people (no reply codes).
  std::string reply;

  static Response ok(std::string reply) { return {Outcome::Ok, std::move(reply)}; }
  static Response not_applied(std::string why) { return {Outcome::NotApplied, std::move(why)}; }
  static Response maybe_applied(std::string why) {
    return {Outcome::MaybeApplied, std::move(why)};
  }
};

// Runs exactly once per submitted request, on the runtime's loop thread.
using Done = std::function<void(Response response)>;

}  // namespace raftkv::runtime
