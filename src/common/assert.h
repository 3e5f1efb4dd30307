#pragma once

// RAFT_ASSERT checks an invariant in every build type, release included. A broken invariant
// means the node's state can no longer be trusted, so it logs file:line and the expression,
// then aborts: crashing beats replicating corrupt state. Never use it on bytes that came from
// the network or disk; validate those and return a Status instead.

namespace raftkv {

[[noreturn]] void assert_failed(const char* expression, const char* file, int line,
                                const char* function);

}  // namespace raftkv

#define RAFT_ASSERT(condition)                                                   \
  do {                                                                           \
    if (!(condition)) [[unlikely]] {                                             \
      ::raftkv::assert_failed(#condition, __FILE__, __LINE__, __func__);         \
    }                                                                            \
  } while (false)
