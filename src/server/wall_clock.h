#pragma once

#include <chrono>
#include <cstdint>

// The servers' wall clock, one definition for the client server and the HTTP listener, which
// share the failed-authentication limiter and so must read the same clock.
namespace raftkv::server {

// Milliseconds since the Unix epoch (system_clock: may step when the clock is set).
[[nodiscard]] inline uint64_t wall_clock_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace raftkv::server
