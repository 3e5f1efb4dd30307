#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#define XXH_INLINE_ALL  // Header-only: the hash inlines into the walks that call it.
#include <xxhash.h>

#include "common/assert.h"
#include "kv/ref.h"

// The order the persistent maps keep their items in: by (tag, key), where the tag is
// Item::order_tag(key), a 64-bit number the maps store beside each item so that a walk
// compares numbers and reads a key only when two tags are equal. PersistentTree
// (persistent_map.h) and PersistentHashTrie (hash_trie.h) share it, so snapshots and SCAN
// cursors do not depend on which of them holds a map.
namespace raftkv::kv {

// Orders by key alone: every tag is 0 (sessions, ACL users: orders clients see).
struct KeyOrder {
  template <typename Key>
  static uint64_t order_tag(const Key& /*key*/) {
    return 0;
  }
};

// Orders by a hash of the key, then the key (the key space, hashes' fields). XXH3's output is
// fixed across releases (since xxHash 0.8.0), so the order, which snapshots and SCAN cursors
// carry, is the same on every replica and after an upgrade.
struct HashOrder {
  static uint64_t order_tag(std::string_view key) { return XXH3_64bits(key.data(), key.size()); }
};

// True when an item keyed `a` comes before one keyed `b`: by tag, then by key.
template <typename Item>
bool tag_order_precedes(const typename Item::Key& a, const typename Item::Key& b) {
  const uint64_t tag_a = Item::order_tag(a);
  const uint64_t tag_b = Item::order_tag(b);
  return tag_a != tag_b ? tag_a < tag_b : a < b;
}

// Asserts that `items` are in strictly ascending order: what building a map from a restored
// snapshot assumes (the snapshot's decoder checks it first).
template <typename Item>
void assert_tag_ordered(const std::vector<Ref<const Item>>& items) {
  for (size_t i = 1; i < items.size(); ++i) {
    RAFT_ASSERT(tag_order_precedes<Item>(items[i - 1]->key(), items[i]->key()));
  }
}

}  // namespace raftkv::kv
