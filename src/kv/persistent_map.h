#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "common/assert.h"
#include "kv/ref.h"
#include "kv/tag_order.h"

// An ordered set of items whose copies are O(1) and share structure: a persistent (immutable,
// path-copying) AVL tree. Every update copies only the O(log n) nodes on the path from the
// root to the changed key and shares the rest, so a copy taken for a snapshot stays valid and
// unchanged while the original keeps being updated, without stopping the world and without
// doubling memory (the two versions share every node the later writes did not touch).
//
// Items are held through Ref<const Item>, so a path copy moves reference counts, never key or
// value bytes: rewriting one key does not copy the large values of its ancestors. An Item is
// RefCounted and has key(), comparable (operator<) with Item::Key, the type lookups take; the
// key space's Record keeps its key and value in one allocation this way (keyspace.h).
//
// Copying is only needed where another version can see the node. A node whose reference count
// is 1, reached through nodes whose counts are all 1 from a root whose count is 1, belongs to
// this version alone, and an insert changes it in place: between two snapshots, writes
// allocate nothing but their new item and leaf, instead of a whole root-to-leaf path (about 20
// nodes, and as many frees, per write at a million keys). The first write after a copy
// copies its path, as before, and shares the rest.
//
// Why AVL and not a treap or skip list: the height bound (<= 1.44 log2 n) holds for every key
// sequence, so clients cannot pick keys that degrade the tree, and recursion depth stays < 64.
//
// Items are in tag order (tag_order.h), the tag kept in the node. A walk compares tags and
// reads an item's key only where the tags are equal: one cache miss per level (the node)
// instead of two (the node, then the item). Hashes' fields use HashOrder; maps whose order
// clients see (sessions, ACL users) use KeyOrder, a tag of 0, and keep key order. Equal tags
// fall back to the keys, so colliding hashes cost comparisons, never balance. The key space
// is a hash trie in the same order (hash_trie.h), which is shallower at millions of keys.
//
// Thread-safety: one version may be updated by one thread while any number of other threads
// read *other* copies (nodes are immutable once shared; reference counts are atomic). A single
// object is not thread-safe.
namespace raftkv::kv {

template <typename Item>
class PersistentTree {
 public:
  using Key = typename Item::Key;
  using ItemRef = Ref<const Item>;

  PersistentTree() = default;

  // True when an item keyed `a` comes before one keyed `b` in this tree's order.
  [[nodiscard]] static bool precedes(const Key& a, const Key& b) {
    return tag_order_precedes<Item>(a, b);
  }

  // Builds a perfectly balanced tree in O(n) from items in strictly ascending order (see
  // precedes(); the caller checks the order; restoring a snapshot is the use).
  static PersistentTree from_sorted(std::vector<ItemRef> items) {
    assert_tag_ordered(items);
    PersistentTree tree;
    tree.root_ = build(items, 0, items.size());
    tree.size_ = items.size();
    RAFT_ASSERT(height(tree.root_) <= 64);
    return tree;
  }

  [[nodiscard]] size_t size() const { return size_; }
  [[nodiscard]] bool empty() const { return size_ == 0; }

  // The item with `key`, or nullptr. Valid while this version (or a copy of it) lives.
  [[nodiscard]] const Item* find(const Key& key) const {
    const uint64_t tag = Item::order_tag(key);
    const Node* node = root_.get();
    while (node != nullptr) {
      const int order = compare(tag, key, *node);
      if (order == 0) return node->item.get();
      node = order < 0 ? node->left.get() : node->right.get();
    }
    return nullptr;
  }

  // Adds `item`, or replaces the item with its key.
  void insert_or_assign(ItemRef item) {
    RAFT_ASSERT(item != nullptr);
    const Entry entry{Item::order_tag(item->key()), std::move(item)};
    bool added = false;
    insert_in_place(root_, entry, &added);
    if (added) ++size_;
    RAFT_ASSERT(root_ != nullptr);
  }

  // True when `key` was present.
  bool erase(const Key& key) {
    bool removed = false;
    root_ = remove(root_, Item::order_tag(key), key, &removed);
    if (removed) {
      RAFT_ASSERT(size_ > 0);
      --size_;
    }
    return removed;
  }

  // Calls visit(item.key(), item) for every item in order. Iterative, with a stack bounded by
  // the tree height.
  template <typename Visit>
  void for_each(Visit&& visit) const {
    for_each_from(0, [&](uint64_t /*tag*/, const auto& key, const Item& item) {
      visit(key, item);
      return true;
    });
  }

  // Calls visit(tag, item.key(), item) in order for the items whose tag is at least
  // `from_tag`, until visit returns false. O(log n) to start.
  template <typename Visit>
  void for_each_from(uint64_t from_tag, Visit&& visit) const {
    std::vector<const Node*> stack;
    const Node* node = root_.get();
    // The path to the first tag >= from_tag: the nodes passed on the way left are still to visit.
    while (node != nullptr) {
      if (node->tag < from_tag) {
        node = node->right.get();
      } else {
        stack.push_back(node);
        node = node->left.get();
      }
    }
    while (!stack.empty()) {
      node = stack.back();
      stack.pop_back();
      if (!visit(node->tag, node->item->key(), *node->item)) return;
      for (node = node->right.get(); node != nullptr; node = node->left.get()) {
        stack.push_back(node);
      }
    }
  }

  // The item at `rank` in key order (0 is the smallest). Precondition: rank < size(). O(log n).
  [[nodiscard]] const Item& nth(size_t rank) const {
    RAFT_ASSERT(rank < size_);
    const Node* node = root_.get();
    while (true) {
      RAFT_ASSERT(node != nullptr);
      const size_t left = count(node->left);
      if (rank == left) return *node->item;
      if (rank < left) {
        node = node->left.get();
      } else {
        rank -= left + 1;
        node = node->right.get();
      }
    }
  }

  // Checks the AVL and ordering invariants of the whole tree; O(n), for tests.
  [[nodiscard]] bool check_invariants() const {
    size_t count = 0;
    return check(root_.get(), nullptr, nullptr, &count) >= 0 && count == size_;
  }

 private:
  struct Node;
  using NodeRef = Ref<Node>;  // Changed in place only while unshared.

  // An item with its tag, as the updates pass them down.
  struct Entry {
    uint64_t tag = 0;
    ItemRef item;
  };

  // 48 bytes, jemalloc's 48-byte class, where shared_ptr links and a control block took 80.
  struct Node : RefCounted {
    Node(Entry entry, NodeRef left_in, NodeRef right_in, int8_t height_in, size_t count_in)
        : height(height_in),
          tag(entry.tag),
          item(std::move(entry.item)),
          left(std::move(left_in)),
          right(std::move(right_in)),
          count(count_in) {}

    [[nodiscard]] Entry entry() const { return {tag, item}; }

    int8_t height;  // Leaves have height 1; an empty subtree 0.
    uint64_t tag;   // Item::order_tag(item->key()).
    ItemRef item;
    NodeRef left;
    NodeRef right;
    size_t count;  // Items in this subtree, for nth() (RANDOMKEY, HRANDFIELD).
  };
  static_assert(sizeof(Node) <= 48, "a node outgrew jemalloc's 48-byte class");

  // <0, 0 or >0 as (tag, key) comes before, is, or comes after the node's item. The item's
  // key is read only when the tags are equal.
  static int compare(uint64_t tag, const Key& key, const Node& node) {
    if (tag != node.tag) return tag < node.tag ? -1 : 1;
    if (key < node.item->key()) return -1;
    return node.item->key() < key ? 1 : 0;
  }

  static int8_t height(const NodeRef& node) { return node ? node->height : 0; }
  static size_t count(const NodeRef& node) { return node ? node->count : 0; }

  static NodeRef make(Entry entry, NodeRef left, NodeRef right) {
    const auto h = static_cast<int8_t>(1 + std::max(height(left), height(right)));
    const size_t n = 1 + count(left) + count(right);
    return NodeRef(new Node(std::move(entry), std::move(left), std::move(right), h, n));
  }

  static int balance_of(const NodeRef& left, const NodeRef& right) {
    return height(left) - height(right);
  }

  // Builds a node from subtrees whose heights differ by at most 2, rotating to restore the
  // AVL bound (|balance| <= 1).
  static NodeRef rebalance(Entry entry, NodeRef left, NodeRef right) {
    const int balance = balance_of(left, right);
    RAFT_ASSERT(balance >= -2 && balance <= 2);
    if (balance == 2) {
      if (balance_of(left->left, left->right) < 0) {  // Left-right case.
        const Node& pivot = *left->right;
        return make(pivot.entry(), make(left->entry(), left->left, pivot.left),
                    make(std::move(entry), pivot.right, std::move(right)));
      }
      return make(left->entry(), left->left,
                  make(std::move(entry), left->right, std::move(right)));
    }
    if (balance == -2) {
      if (balance_of(right->left, right->right) > 0) {  // Right-left case.
        const Node& pivot = *right->left;
        return make(pivot.entry(), make(std::move(entry), std::move(left), pivot.left),
                    make(right->entry(), pivot.right, right->right));
      }
      return make(right->entry(), make(std::move(entry), std::move(left), right->left),
                  right->right);
    }
    return make(std::move(entry), std::move(left), std::move(right));
  }

  // The balanced tree of items[lo, hi); consumes (moves from) those items.
  static NodeRef build(std::vector<ItemRef>& items, size_t lo, size_t hi) {
    if (lo >= hi) return nullptr;
    const size_t mid = lo + (hi - lo) / 2;
    NodeRef left = build(items, lo, mid);
    NodeRef right = build(items, mid + 1, hi);
    const uint64_t tag = Item::order_tag(items[mid]->key());
    return make(Entry{tag, std::move(items[mid])}, std::move(left), std::move(right));
  }

  // Inserts into the subtree held by `slot`, which no other version reaches through its
  // parent: the node is changed in place if `slot` holds the only reference to it. Otherwise
  // another version (a snapshot) shares it and everything below it, and the path is copied.
  static void insert_in_place(NodeRef& slot, const Entry& entry, bool* added) {
    if (!slot.unique()) {
      slot = insert(slot, entry, added);
      return;
    }
    Node& node = *slot;
    const int order = compare(entry.tag, entry.item->key(), node);
    if (order < 0) {
      insert_in_place(node.left, entry, added);
    } else if (order > 0) {
      insert_in_place(node.right, entry, added);
    } else {
      node.item = entry.item;  // Same key: replace the item only.
      return;
    }
    if (const int balance = balance_of(node.left, node.right); balance >= -1 && balance <= 1) {
      node.height = static_cast<int8_t>(1 + std::max(height(node.left), height(node.right)));
      node.count = 1 + count(node.left) + count(node.right);
      return;
    }
    // Rotations build their nodes fresh: the subtrees they rearrange may be shared.
    slot = rebalance(node.entry(), std::move(node.left), std::move(node.right));
  }

  // The persistent insert: returns a new subtree, copying the path and sharing the rest.
  static NodeRef insert(const NodeRef& node, const Entry& entry, bool* added) {
    if (!node) {
      *added = true;
      return make(entry, nullptr, nullptr);
    }
    const int order = compare(entry.tag, entry.item->key(), *node);
    if (order < 0) return rebalance(node->entry(), insert(node->left, entry, added), node->right);
    if (order > 0) return rebalance(node->entry(), node->left, insert(node->right, entry, added));
    return make(entry, node->left, node->right);  // Same key: replace the item only.
  }

  // Removes the smallest item of a non-empty subtree into *min.
  static NodeRef remove_min(const NodeRef& node, Entry* min) {
    RAFT_ASSERT(node != nullptr);
    if (!node->left) {
      *min = node->entry();
      return node->right;
    }
    return rebalance(node->entry(), remove_min(node->left, min), node->right);
  }

  static NodeRef remove(const NodeRef& node, uint64_t tag, const Key& key, bool* removed) {
    if (!node) return nullptr;
    const int order = compare(tag, key, *node);
    if (order < 0) {
      NodeRef left = remove(node->left, tag, key, removed);
      return *removed ? rebalance(node->entry(), std::move(left), node->right) : node;
    }
    if (order > 0) {
      NodeRef right = remove(node->right, tag, key, removed);
      return *removed ? rebalance(node->entry(), node->left, std::move(right)) : node;
    }
    *removed = true;
    if (!node->left) return node->right;
    if (!node->right) return node->left;
    Entry successor;
    NodeRef right = remove_min(node->right, &successor);
    return rebalance(std::move(successor), node->left, std::move(right));
  }

  // Height of the subtree, or -1 when an invariant is broken.
  static int check(const Node* node, const Key* low, const Key* high, size_t* count) {
    if (node == nullptr) return 0;
    ++*count;
    const auto& key = node->item->key();
    if (node->tag != Item::order_tag(key)) return -1;
    if (low != nullptr && !precedes(*low, key)) return -1;
    if (high != nullptr && !precedes(key, *high)) return -1;
    const int left = check(node->left.get(), low, &key, count);
    const size_t before = *count;
    const int right = check(node->right.get(), &key, high, count);
    if (left < 0 || right < 0 || left - right > 1 || right - left > 1) return -1;
    // The subtree's items: this one, the left subtree's and those counted since `before`.
    const size_t left_items = node->left ? node->left->count : 0;
    if (node->count != 1 + left_items + (*count - before)) return -1;
    const int h = 1 + std::max(left, right);
    return h == node->height ? h : -1;
  }

  NodeRef root_;
  size_t size_ = 0;
};

// A map from K to V over PersistentTree, each pair an item of its own, in Order's order
// (KeyOrder or HashOrder).
template <typename K, typename V, typename Order = KeyOrder>
class PersistentMap {
 public:
  using Key = K;
  struct Item {
    K key;
    V value;
  };

  PersistentMap() = default;

  // True when key `a` comes before key `b` in this map's order.
  [[nodiscard]] static bool precedes(const K& a, const K& b) { return Tree::precedes(a, b); }

  // Items in strictly ascending order (precedes()); see PersistentTree::from_sorted.
  static PersistentMap from_sorted(std::vector<Item> items) {
    std::vector<Ref<const Pair>> pairs;
    pairs.reserve(items.size());
    for (Item& item : items) pairs.emplace_back(new Pair(std::move(item)));
    PersistentMap map;
    map.tree_ = Tree::from_sorted(std::move(pairs));
    return map;
  }

  [[nodiscard]] size_t size() const { return tree_.size(); }
  [[nodiscard]] bool empty() const { return tree_.empty(); }

  // The value for `key`, or nullptr. Valid while this version (or a copy of it) lives.
  [[nodiscard]] const V* find(const K& key) const {
    const Pair* pair = tree_.find(key);
    return pair != nullptr ? &pair->item.value : nullptr;
  }
  void insert_or_assign(K key, V value) {
    tree_.insert_or_assign(Ref<const Pair>(new Pair(Item{std::move(key), std::move(value)})));
  }
  // True when `key` was present.
  bool erase(const K& key) { return tree_.erase(key); }

  // Calls visit(key, value) for every item in order.
  template <typename Visit>
  void for_each(Visit&& visit) const {
    tree_.for_each([&](const K& key, const Pair& pair) { visit(key, pair.item.value); });
  }
  // Calls visit(tag, key, value) in order for the items whose tag is at least `from_tag`,
  // until visit returns false.
  template <typename Visit>
  void for_each_from(uint64_t from_tag, Visit&& visit) const {
    tree_.for_each_from(from_tag, [&](uint64_t tag, const K& key, const Pair& pair) {
      return visit(tag, key, pair.item.value);
    });
  }
  // The item at `rank` in order. Precondition: rank < size().
  [[nodiscard]] const Item& nth(size_t rank) const { return tree_.nth(rank).item; }
  [[nodiscard]] bool check_invariants() const { return tree_.check_invariants(); }

 private:
  struct Pair : RefCounted {
    using Key = K;
    explicit Pair(Item item_in) : item(std::move(item_in)) {}
    static uint64_t order_tag(const K& key) { return Order::order_tag(key); }
    [[nodiscard]] const K& key() const { return item.key; }
    Item item;
  };
  using Tree = PersistentTree<Pair>;

  Tree tree_;
};

}  // namespace raftkv::kv
