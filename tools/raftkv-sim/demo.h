#pragma once

// The narrated simulation behind the README's first command: three nodes elect a leader,
// heartbeats flow, the leader is killed and another is elected, and a client's entry travels
// to the leader's log, the followers' logs, and is applied everywhere. Every step is checked;
// the return value is the process exit code (0 when every step held).
#include <cstdint>

namespace raftkv::sim {

// The seed the README's demo uses; any seed passes the same checks.
inline constexpr uint64_t kDemoSeed = 2026;

int run_demo(bool colour, uint64_t seed = kDemoSeed);

}  // namespace raftkv::sim
