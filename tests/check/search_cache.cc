#include "check/search_cache.h"

#include <algorithm>
#include <limits>

#include "common/assert.h"

namespace raftkv::lincheck::detail {

Cache::Cache(size_t unknown_words, size_t state_words)
    : unknown_words_(unknown_words), state_words_(state_words), table_(1024, 0) {}

bool Cache::visit(const Config& config) {
  RAFT_ASSERT(config.unknown.size() == unknown_words_);
  RAFT_ASSERT(config.state.size() == state_words_);
  const size_t mask = table_.size() - 1;
  size_t at = config.hash & mask;
  for (; table_[at] != 0; at = (at + 1) & mask) {
    if (dominates(table_[at] - 1, config)) return false;
  }
  const size_t offset = arena_.size();
  RAFT_ASSERT(offset < std::numeric_limits<uint32_t>::max());
  arena_.push_back(config.hash);
  arena_.push_back(config.ok_key.size());
  arena_.push_back(config.target);
  arena_.insert(arena_.end(), config.ok_key.begin(), config.ok_key.end());
  arena_.insert(arena_.end(), config.unknown.begin(), config.unknown.end());
  arena_.insert(arena_.end(), config.state.begin(), config.state.end());
  table_[at] = static_cast<uint32_t>(offset + 1);
  if (++entries_ * 2 > table_.size()) grow();
  return true;
}

bool Cache::dominates(size_t offset, const Config& config) const {
  const uint64_t* entry = &arena_[offset];
  if (entry[0] != config.hash || entry[1] != config.ok_key.size()) return false;
  if (entry[2] != kNoTarget && entry[2] != config.target) return false;
  entry += 3;
  if (!std::equal(config.ok_key.begin(), config.ok_key.end(), entry)) return false;
  entry += config.ok_key.size();
  for (size_t i = 0; i < config.unknown.size(); ++i) {
    if ((entry[i] & ~config.unknown[i]) != 0) return false;  // Not a subset.
  }
  entry += config.unknown.size();
  return std::equal(config.state.begin(), config.state.end(), entry);
}

void Cache::grow() {
  std::vector<uint32_t> old(table_.size() * 2, 0);
  old.swap(table_);
  const size_t mask = table_.size() - 1;
  for (const uint32_t slot : old) {
    if (slot == 0) continue;
    size_t at = arena_[slot - 1] & mask;
    while (table_[at] != 0) at = (at + 1) & mask;
    table_[at] = slot;
  }
}

}  // namespace raftkv::lincheck::detail
