#pragma once

#include <cstdint>

#include "common/assert.h"

// A small, fast, seedable generator (xoshiro256** seeded through splitmix64). Everything random
// in the core and the simulator draws from an instance of this, so one seed replays a run.

namespace raftkv {

class Prng {
 public:
  explicit Prng(uint64_t seed) {
    for (uint64_t& word : state_) word = splitmix64(seed);
  }

  uint64_t next() {
    const uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  // Uniform in [lo, hi]. The modulo bias is below 2^-40 for the small ranges used here.
  uint64_t uniform(uint64_t lo, uint64_t hi) {
    RAFT_ASSERT(lo <= hi);
    return lo + next() % (hi - lo + 1);
  }

  // True with probability numerator / denominator.
  bool chance(uint64_t numerator, uint64_t denominator) {
    RAFT_ASSERT(denominator > 0);
    return next() % denominator < numerator;
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static uint64_t splitmix64(uint64_t& x) {
    uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  uint64_t state_[4]{};
};

}  // namespace raftkv
