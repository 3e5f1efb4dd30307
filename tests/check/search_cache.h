#pragma once

#include <cstdint>
#include <span>
#include <vector>

// Lowe's memoization for the linearizability search (search.cc), with dominance for unknown
// operations.
namespace raftkv::lincheck::detail {

// One configuration of the search, as the cache compares them.
struct Config {
  std::span<const uint64_t> ok_key;   // Identifies the set of placed Ok operations exactly.
  uint64_t target;                    // The open block's target (search.cc), or kNoTarget.
  std::span<const uint64_t> unknown;  // Bitset of the placed unknown operations.
  std::span<const uint64_t> state;    // The model state, two ValueIds a word.
  uint64_t hash;                      // Of `ok_key` and `state` only.
};

constexpr uint64_t kNoTarget = ~uint64_t{0};

// The configurations already explored: which operations are placed and the model state they
// left. A configuration is dominated by a recorded one with the same placed Ok operations and
// state that placed a subset of its unknown operations, and that had no open block of unknown
// operations or one for the same target (search.cc explains blocks): whatever the newer one
// can still do, the recorded one could do too (an unknown operation may always be left out),
// and that was explored, or is being explored further up the stack.
//
// Entries live in one arena, [hash, ok key length, target, ok key..., unknown bits...,
// state...]; the table is open addressing over arena offsets. Not thread-safe.
class Cache {
 public:
  Cache(size_t unknown_words, size_t state_words);

  // Records `config` unless a recorded configuration dominates it; returns whether it did.
  [[nodiscard]] bool visit(const Config& config);

  [[nodiscard]] size_t bytes() const {
    return arena_.capacity() * sizeof(uint64_t) + table_.size() * sizeof(uint32_t);
  }

 private:
  [[nodiscard]] bool dominates(size_t offset, const Config& config) const;
  void grow();

  size_t unknown_words_;
  size_t state_words_;
  std::vector<uint64_t> arena_;
  std::vector<uint32_t> table_;  // 0: empty; else 1 + an arena offset. Size a power of two.
  size_t entries_ = 0;
};

}  // namespace raftkv::lincheck::detail
