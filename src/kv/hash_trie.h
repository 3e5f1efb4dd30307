#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <new>
#include <span>
#include <utility>
#include <vector>

#include "common/assert.h"
#include "kv/ref.h"
#include "kv/tag_order.h"

// The key space's map: a persistent hash array mapped trie over each key's 64-bit order tag
// (Item::order_tag, a hash: HashOrder in tag_order.h). Copies are O(1) and share structure,
// as PersistentTree's do, and its order is theirs, (tag, key): snapshots and SCAN cursors do
// not depend on which holds the keys.
//
// Why not the tree: a walk to one of a million keys visited about 20 tree nodes and missed the
// cache on most of the lower ones; a present key's find cost 1.8-4.2 us at 100k to 3M keys
// (bench/keyspace_bench) and the walk was the largest user-space item on every node. Here each
// level consumes 5 bits of the tag, so a million keys sit about 4 levels deep, and the top two
// levels (33 nodes) stay in the cache.
//
// A node is a branch or a bucket. A branch has up to 32 slots, one per value of the tag's bits
// at its depth (most significant first, so slot order is tag order); `bitmap` says which are
// used and only those are stored. A slot holds an item with its tag, or a child node. A bucket
// sits below the last level and holds items whose whole tags are equal, sorted by key:
// colliding hashes cost a search in the bucket, never the trie's shape.
//
// Writes change a node in place when nothing else can see it (its count is 1, reached from a
// root whose count is 1 through such nodes) and copy it otherwise, as PersistentTree does.
// Thread-safety as PersistentTree's: one version updated by one thread, other copies read by
// any number of others.
namespace raftkv::kv {

template <typename Item>
class PersistentHashTrie {
 public:
  using Key = typename Item::Key;
  using ItemRef = Ref<const Item>;

  PersistentHashTrie() = default;

  // True when an item keyed `a` comes before one keyed `b`: by tag, then by key.
  [[nodiscard]] static bool precedes(const Key& a, const Key& b) {
    return tag_order_precedes<Item>(a, b);
  }

  // The map of `items`, which are in strictly ascending order (precedes(); the caller checks,
  // as restoring a snapshot does).
  static PersistentHashTrie from_sorted(std::vector<ItemRef> items) {
    assert_tag_ordered(items);
    PersistentHashTrie trie;
    for (ItemRef& item : items) trie.insert_or_assign(std::move(item));
    return trie;
  }

  [[nodiscard]] size_t size() const { return root_ ? root_->count : 0; }
  [[nodiscard]] bool empty() const { return size() == 0; }

  // The item with `key`, or nullptr. Valid while this version (or a copy of it) lives.
  [[nodiscard]] const Item* find(const Key& key) const {
    const uint64_t tag = Item::order_tag(key);
    const Node* node = root_.get();
    for (int depth = 0; node != nullptr; ++depth) {
      if (depth == kBucketDepth) {
        const size_t at = bucket_position(*node, key);
        return at < node->size && node->slots()[at].item->key() == key ? node->slots()[at].item.get()
                                                                      : nullptr;
      }
      const uint32_t bit = bit_at(tag, depth);
      if ((node->bitmap & bit) == 0) return nullptr;
      const Slot& slot = node->slots()[position(*node, bit)];
      if (slot.child) {
        node = slot.child.get();
        continue;
      }
      return slot.tag == tag && slot.item->key() == key ? slot.item.get() : nullptr;
    }
    return nullptr;
  }

  // Adds `item`, or replaces the item with its key.
  void insert_or_assign(ItemRef item) {
    RAFT_ASSERT(item != nullptr);
    const uint64_t tag = Item::order_tag(item->key());
    insert(root_, 0, tag, std::move(item));
  }

  // Loads into the cache the nodes and items on the paths to the keys of `tags`, one level
  // at a time across all of them. A lone find or insert waits for each level's cache miss
  // before it can start the next; here the misses of many paths are in flight at once, so the
  // finds and inserts that follow mostly hit the cache. With the trie out of the cache, a run
  // of 128 overwrites cost 2.0x less per key at 10,000 keys and 2.9x less at a million, finds
  // 1.6x and 2.2x (bench/keyspace_bench BM_ColdRun). A hint only: it reads, never changes, and
  // a path that an insert changes before another's costs a wasted load.
  void prefetch(std::span<const uint64_t> tags) const {
    for (size_t begin = 0; begin < tags.size(); begin += kPrefetchWidth) {
      prefetch_group(tags.subspan(begin, std::min(kPrefetchWidth, tags.size() - begin)));
    }
  }

  // True when `key` was present.
  bool erase(const Key& key) {
    if (find(key) == nullptr) return false;  // Absent: copy nothing.
    remove(root_, 0, Item::order_tag(key), key);
    return true;
  }

  // Calls visit(item.key(), item) for every item in order.
  template <typename Visit>
  void for_each(Visit&& visit) const {
    for_each_from(0, [&](uint64_t /*tag*/, const auto& key, const Item& item) {
      visit(key, item);
      return true;
    });
  }

  // Calls visit(tag, item.key(), item) in order for the items whose tag is at least
  // `from_tag`, until visit returns false.
  template <typename Visit>
  void for_each_from(uint64_t from_tag, Visit&& visit) const {
    if (root_) walk(*root_, 0, from_tag, true, visit);
  }

  // The item at `rank` in order (0 is the first). Precondition: rank < size().
  [[nodiscard]] const Item& nth(size_t rank) const {
    RAFT_ASSERT(rank < size());
    const Node* node = root_.get();
    while (true) {
      for (size_t i = 0;; ++i) {
        RAFT_ASSERT(i < node->size);
        const Slot& slot = node->slots()[i];
        const size_t below = slot.child ? slot.child->count : 1;
        if (rank >= below) {
          rank -= below;
          continue;
        }
        if (!slot.child) return *slot.item;
        node = slot.child.get();
        break;
      }
    }
  }

  // Checks the trie's invariants (slots where their tags say, counts, buckets sorted, no
  // empty node); O(n), for tests.
  [[nodiscard]] bool check_invariants() const {
    return !root_ || (root_->count > 0 && check(*root_, 0, 0));
  }

 private:
  // Levels of 5 bits consume the tag from its most significant bit: 12 of them take 60 bits
  // and the 13th the last 4. Below them, items with equal tags share a bucket.
  static constexpr int kBucketDepth = 13;

  struct Node;
  using NodeRef = Ref<Node>;

  // An item with its tag, or a child node (then `item` is null and `tag` unused).
  struct Slot {
    uint64_t tag = 0;
    ItemRef item;
    NodeRef child;
  };

  // A branch or a bucket (kBucketDepth tells which: the depth a node sits at): a 24-byte
  // header and its `size` slots right after it, one allocation.
  struct Node : RefCounted {
    uint32_t bitmap = 0;  // Branches: bit i set when the slot for bits value i is used.
    uint32_t size = 0;    // Slots.
    size_t count = 0;     // Items in this subtree.

    Slot* slots() { return std::launder(reinterpret_cast<Slot*>(this + 1)); }
    const Slot* slots() const { return std::launder(reinterpret_cast<const Slot*>(this + 1)); }

    // `delete` on the last reference: the slots first, then the one allocation.
    static void operator delete(Node* node, std::destroying_delete_t) {
      for (uint32_t i = 0; i < node->size; ++i) node->slots()[i].~Slot();
      node->~Node();
      ::operator delete(node);
    }
  };
  static_assert(sizeof(Node) % alignof(Slot) == 0, "slots follow the header, aligned");

  // A node with `size` empty slots.
  static NodeRef make(uint32_t size) {
    RAFT_ASSERT(size >= 1);
    Node* node = new (::operator new(sizeof(Node) + size * sizeof(Slot))) Node();
    for (uint32_t i = 0; i < size; ++i) new (&node->slots()[i]) Slot();
    node->size = size;
    return NodeRef(node);
  }

  static uint32_t bit_at(uint64_t tag, int depth) {
    RAFT_ASSERT(depth < kBucketDepth);
    const uint64_t index = depth < kBucketDepth - 1 ? (tag >> (59 - 5 * depth)) & 31 : tag & 15;
    return uint32_t{1} << index;
  }
  static size_t position(const Node& node, uint32_t bit) {
    return static_cast<size_t>(std::popcount(node.bitmap & (bit - 1)));
  }
  // The first slot of a bucket whose key is not below `key`.
  static size_t bucket_position(const Node& node, const Key& key) {
    size_t at = 0;
    while (at < node.size && node.slots()[at].item->key() < key) ++at;
    return at;
  }

  static constexpr size_t kNoSlot = SIZE_MAX;

  // Paths prefetched together: enough misses in flight to cover the memory's latency, few
  // enough that the first lines are still cached when their inserts run.
  static constexpr size_t kPrefetchWidth = 16;

  // Loads the cache line at `address`. A volatile read: the compiler must keep it, though
  // nothing uses the byte. Why not __builtin_prefetch: on this project's machines (KVM guests
  // on AMD EPYC) prefetch instructions brought almost nothing: a cold find after them cost
  // 538 ns against 670 without, as if they were dropped where the TLB misses. Plain loads
  // that do not depend on each other overlap out of order: 391 ns, prefetch included
  // (bench/keyspace_bench BM_ColdRun, 10,000 keys).
  static void touch(const void* address) { (void)*static_cast<const volatile char*>(address); }

  // prefetch() for at most kPrefetchWidth tags. Each level takes two passes over them, whose
  // loads do not depend on each other within a pass: the first reads each node's bitmap and
  // touches the slot it points to, the second reads those slots and touches the next node, or
  // the item (its header and key, which an insert compares) where the path ends. The bytes
  // touched are never written while other versions may read them (a count would be).
  void prefetch_group(std::span<const uint64_t> tags) const {
    std::array<const Node*, kPrefetchWidth> nodes{};
    std::array<const Slot*, kPrefetchWidth> slots{};
    nodes.fill(root_.get());
    for (int depth = 0; depth < kBucketDepth; ++depth) {
      for (size_t i = 0; i < tags.size(); ++i) {
        slots[i] = nullptr;
        const Node* node = nodes[i];
        const uint32_t bit = bit_at(tags[i], depth);
        if (node == nullptr || (node->bitmap & bit) == 0) continue;
        slots[i] = &node->slots()[position(*node, bit)];
        touch(&slots[i]->tag);
      }
      bool deeper = false;
      for (size_t i = 0; i < tags.size(); ++i) {
        nodes[i] = nullptr;
        if (slots[i] == nullptr) continue;
        if (slots[i]->child) {
          nodes[i] = slots[i]->child.get();
          touch(&nodes[i]->bitmap);
          deeper = true;
        } else if (const auto& key = slots[i]->item->key(); !key.empty()) {
          touch(key.data());
        }
      }
      if (!deeper) return;
    }
  }

  // A new node holding `ref`'s slots, plus `add` at `add_at` or less the one at `erase_at` (at
  // most one of the two; neither: a plain copy). Moves the slots out of a node no one else
  // holds; copies them otherwise.
  static NodeRef resized(NodeRef& ref, size_t add_at, Slot* add, size_t erase_at) {
    Node& old = *ref;
    const bool adding = add != nullptr;
    const bool erasing = erase_at != kNoSlot;
    RAFT_ASSERT(!(adding && erasing));
    const auto size = static_cast<uint32_t>(old.size + (adding ? 1 : 0) - (erasing ? 1 : 0));
    NodeRef fresh = make(size);
    fresh->bitmap = old.bitmap;
    fresh->count = old.count;
    const bool mine = ref.unique();
    size_t to = 0;
    for (size_t from = 0; from < old.size; ++from) {
      if (adding && from == add_at) fresh->slots()[to++] = std::move(*add);
      if (from == erase_at) continue;
      Slot& slot = old.slots()[from];
      fresh->slots()[to++] = mine ? std::move(slot) : slot;
    }
    if (adding && add_at == old.size) fresh->slots()[to++] = std::move(*add);
    RAFT_ASSERT(to == size);
    return fresh;
  }

  // Makes `ref` one this version alone holds, copying it if another version shares it.
  static Node& own(NodeRef& ref) {
    if (!ref.unique()) ref = resized(ref, 0, nullptr, kNoSlot);
    return *ref;
  }

  // The subtree at `depth` holding the two items (of different keys).
  static NodeRef pair(int depth, Slot a, Slot b) {
    if (depth == kBucketDepth) {
      RAFT_ASSERT(a.tag == b.tag);
      if (b.item->key() < a.item->key()) std::swap(a, b);
      NodeRef bucket = make(2);
      bucket->count = 2;
      bucket->slots()[0] = std::move(a);
      bucket->slots()[1] = std::move(b);
      return bucket;
    }
    const uint32_t bit_a = bit_at(a.tag, depth);
    const uint32_t bit_b = bit_at(b.tag, depth);
    if (bit_a == bit_b) {
      NodeRef branch = make(1);
      branch->bitmap = bit_a;
      branch->count = 2;
      branch->slots()[0].child = pair(depth + 1, std::move(a), std::move(b));
      return branch;
    }
    if (bit_b < bit_a) std::swap(a, b);
    NodeRef branch = make(2);
    branch->bitmap = bit_a | bit_b;
    branch->count = 2;
    branch->slots()[0] = std::move(a);
    branch->slots()[1] = std::move(b);
    return branch;
  }

  // Inserts into the subtree held by `ref` (null: empty); returns true when the key is new.
  static bool insert(NodeRef& ref, int depth, uint64_t tag, ItemRef item) {
    if (!ref) {
      RAFT_ASSERT(depth == 0);  // Only the root is ever empty.
      ref = make(1);
      ref->bitmap = bit_at(tag, 0);
      ref->count = 1;
      ref->slots()[0] = Slot{tag, std::move(item), nullptr};
      return true;
    }
    if (depth == kBucketDepth) {
      const size_t at = bucket_position(*ref, item->key());
      if (at < ref->size && ref->slots()[at].item->key() == item->key()) {
        own(ref).slots()[at].item = std::move(item);
        return false;
      }
      Slot added{tag, std::move(item), nullptr};
      ref = resized(ref, at, &added, kNoSlot);
      ++ref->count;
      return true;
    }
    const uint32_t bit = bit_at(tag, depth);
    const size_t at = position(*ref, bit);
    if ((ref->bitmap & bit) == 0) {
      Slot added{tag, std::move(item), nullptr};
      ref = resized(ref, at, &added, kNoSlot);
      ref->bitmap |= bit;
      ++ref->count;
      return true;
    }
    Node& node = own(ref);
    Slot& slot = node.slots()[at];
    if (slot.child) {
      const bool added = insert(slot.child, depth + 1, tag, std::move(item));
      if (added) ++node.count;
      return added;
    }
    if (slot.tag == tag && slot.item->key() == item->key()) {
      slot.item = std::move(item);  // Same key: replace the item only.
      return false;
    }
    Slot old{slot.tag, std::move(slot.item), nullptr};
    slot.child = pair(depth + 1, std::move(old), Slot{tag, std::move(item), nullptr});
    ++node.count;
    return true;
  }

  // Removes `key`, which the subtree held by `ref` holds. A child holds two items or more (one
  // alone sits in its parent's slot), so a child left with one item gives it to that slot,
  // and only the root can be left empty.
  static void remove(NodeRef& ref, int depth, uint64_t tag, const Key& key) {
    if (depth == kBucketDepth) {
      const size_t at = bucket_position(*ref, key);
      RAFT_ASSERT(ref->size >= 2 && at < ref->size && ref->slots()[at].item->key() == key);
      ref = resized(ref, 0, nullptr, at);
      --ref->count;
      return;
    }
    const uint32_t bit = bit_at(tag, depth);
    const size_t at = position(*ref, bit);
    RAFT_ASSERT((ref->bitmap & bit) != 0);
    if (ref->slots()[at].child) {
      Node& node = own(ref);
      Slot& slot = node.slots()[at];
      remove(slot.child, depth + 1, tag, key);
      --node.count;
      if (slot.child->size == 1 && !slot.child->slots()[0].child) {
        Slot last = slot.child->slots()[0];  // A lone item moves up a level.
        slot = std::move(last);
      }
      return;
    }
    // The item in this slot is the one that goes.
    if (ref->size == 1) {
      ref = nullptr;
      return;
    }
    ref = resized(ref, 0, nullptr, at);
    ref->bitmap &= ~bit;
    --ref->count;
  }

  template <typename Visit>
  static bool walk(const Node& node, int depth, uint64_t from_tag, bool bounded, Visit& visit) {
    if (depth == kBucketDepth) {
      if (bounded && node.slots()[0].tag < from_tag) return true;
      for (uint32_t i = 0; i < node.size; ++i) {
        const Slot& slot = node.slots()[i];
        if (!visit(slot.tag, slot.item->key(), *slot.item)) return false;
      }
      return true;
    }
    const uint32_t from_bit = bounded ? bit_at(from_tag, depth) : 1;
    uint32_t bits = node.bitmap;
    for (uint32_t i = 0; i < node.size; ++i) {
      const uint32_t bit = bits & (~bits + 1);  // The lowest set bit: this slot's.
      bits &= ~bit;
      if (bit < from_bit) continue;
      const Slot& slot = node.slots()[i];
      const bool edge = bounded && bit == from_bit;  // Only this slot can hold smaller tags.
      if (slot.child) {
        if (!walk(*slot.child, depth + 1, from_tag, edge, visit)) return false;
      } else if (!(edge && slot.tag < from_tag)) {
        if (!visit(slot.tag, slot.item->key(), *slot.item)) return false;
      }
    }
    return true;
  }

  // True when the subtree at `depth`, whose tags all start with `prefix` (its bits above
  // this depth), keeps the invariants.
  static bool check(const Node& node, int depth, uint64_t prefix) {
    if (node.size == 0) return false;
    size_t count = 0;
    if (depth == kBucketDepth) {
      for (uint32_t i = 0; i < node.size; ++i) {
        const Slot& slot = node.slots()[i];
        if (slot.child || !slot.item || slot.tag != Item::order_tag(slot.item->key())) return false;
        if (slot.tag != prefix) return false;
        if (i > 0 && !(node.slots()[i - 1].item->key() < slot.item->key())) return false;
      }
      return node.size >= 2 && node.count == node.size;
    }
    if (std::popcount(node.bitmap) != static_cast<int>(node.size)) return false;
    const int shift = depth < kBucketDepth - 1 ? 59 - 5 * depth : 0;
    uint32_t bits = node.bitmap;
    for (uint32_t i = 0; i < node.size; ++i) {
      const uint32_t bit = bits & (~bits + 1);
      bits &= ~bit;
      const auto index = static_cast<uint64_t>(std::countr_zero(bit));
      const uint64_t here = prefix | (index << shift);
      const Slot& slot = node.slots()[i];
      if (slot.child) {
        if (slot.item || !check(*slot.child, depth + 1, here)) return false;
        count += slot.child->count;
        // A child holds two items or more: one alone would sit in this slot.
        if (slot.child->count < 2) return false;
      } else {
        if (!slot.item || slot.tag != Item::order_tag(slot.item->key())) return false;
        if (bit_at(slot.tag, depth) != bit) return false;
        const uint64_t above = depth == 0 ? 0 : ~uint64_t{0} << (64 - 5 * depth);
        if ((slot.tag & above) != (prefix & above)) return false;
        ++count;
      }
    }
    return count == node.count;
  }

  NodeRef root_;
};

}  // namespace raftkv::kv
