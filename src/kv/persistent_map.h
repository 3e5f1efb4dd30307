#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "common/assert.h"
#include "kv/ref.h"

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

  // Builds a perfectly balanced tree in O(n) from items in strictly ascending key order (the
  // caller checks the order; restoring a snapshot is the use).
  static PersistentTree from_sorted(std::vector<ItemRef> items) {
    for (size_t i = 1; i < items.size(); ++i) RAFT_ASSERT(items[i - 1]->key() < items[i]->key());
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
    const Node* node = root_.get();
    while (node != nullptr) {
      if (key < node->item->key()) {
        node = node->left.get();
      } else if (node->item->key() < key) {
        node = node->right.get();
      } else {
        return node->item.get();
      }
    }
    return nullptr;
  }

  // Adds `item`, or replaces the item with its key.
  void insert_or_assign(ItemRef item) {
    RAFT_ASSERT(item != nullptr);
    bool added = false;
    insert_in_place(root_, item, &added);
    if (added) ++size_;
    RAFT_ASSERT(root_ != nullptr);
  }

  // True when `key` was present.
  bool erase(const Key& key) {
    bool removed = false;
    root_ = remove(root_, key, &removed);
    if (removed) {
      RAFT_ASSERT(size_ > 0);
      --size_;
    }
    return removed;
  }

  // Calls visit(item.key(), item) for every item in ascending key order. Iterative, with a
  // stack bounded by the tree height.
  template <typename Visit>
  void for_each(Visit&& visit) const {
    for_each_from(nullptr, [&](const auto& key, const Item& item) {
      visit(key, item);
      return true;
    });
  }

  // Calls visit(item.key(), item) in ascending key order for the items whose key is not below
  // `*from` (every item when `from` is null), until visit returns false. O(log n) to start.
  template <typename Visit>
  void for_each_from(const Key* from, Visit&& visit) const {
    std::vector<const Node*> stack;
    const Node* node = root_.get();
    // The path to the first key >= *from: the nodes passed on the way left are still to visit.
    while (node != nullptr) {
      if (from != nullptr && node->item->key() < *from) {
        node = node->right.get();
      } else {
        stack.push_back(node);
        node = node->left.get();
      }
    }
    while (!stack.empty()) {
      node = stack.back();
      stack.pop_back();
      if (!visit(node->item->key(), *node->item)) return;
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

  // 40 bytes (jemalloc's 48-byte class), where shared_ptr links and a control block took 80.
  struct Node : RefCounted {
    Node(ItemRef item_in, NodeRef left_in, NodeRef right_in, int8_t height_in, size_t count_in)
        : height(height_in),
          item(std::move(item_in)),
          left(std::move(left_in)),
          right(std::move(right_in)),
          count(count_in) {}

    int8_t height;  // Leaves have height 1; an empty subtree 0.
    ItemRef item;
    NodeRef left;
    NodeRef right;
    size_t count;  // Items in this subtree, for nth() (RANDOMKEY, HRANDFIELD).
  };

  static int8_t height(const NodeRef& node) { return node ? node->height : 0; }
  static size_t count(const NodeRef& node) { return node ? node->count : 0; }

  static NodeRef make(ItemRef item, NodeRef left, NodeRef right) {
    const auto h = static_cast<int8_t>(1 + std::max(height(left), height(right)));
    const size_t n = 1 + count(left) + count(right);
    return NodeRef(new Node(std::move(item), std::move(left), std::move(right), h, n));
  }

  static int balance_of(const NodeRef& left, const NodeRef& right) {
    return height(left) - height(right);
  }

  // Builds a node from subtrees whose heights differ by at most 2, rotating to restore the
  // AVL bound (|balance| <= 1).
  static NodeRef rebalance(ItemRef item, NodeRef left, NodeRef right) {
    const int balance = balance_of(left, right);
    RAFT_ASSERT(balance >= -2 && balance <= 2);
    if (balance == 2) {
      if (balance_of(left->left, left->right) < 0) {  // Left-right case.
        const Node& pivot = *left->right;
        return make(pivot.item, make(left->item, left->left, pivot.left),
                    make(std::move(item), pivot.right, std::move(right)));
      }
      return make(left->item, left->left, make(std::move(item), left->right, std::move(right)));
    }
    if (balance == -2) {
      if (balance_of(right->left, right->right) > 0) {  // Right-left case.
        const Node& pivot = *right->left;
        return make(pivot.item, make(std::move(item), std::move(left), pivot.left),
                    make(right->item, pivot.right, right->right));
      }
      return make(right->item, make(std::move(item), std::move(left), right->left),
                  right->right);
    }
    return make(std::move(item), std::move(left), std::move(right));
  }

  // The balanced tree of items[lo, hi); consumes (moves from) those items.
  static NodeRef build(std::vector<ItemRef>& items, size_t lo, size_t hi) {
    if (lo >= hi) return nullptr;
    const size_t mid = lo + (hi - lo) / 2;
    NodeRef left = build(items, lo, mid);
    NodeRef right = build(items, mid + 1, hi);
    return make(std::move(items[mid]), std::move(left), std::move(right));
  }

  // Inserts into the subtree held by `slot`, which no other version reaches through its
  // parent: the node is changed in place if `slot` holds the only reference to it. Otherwise
  // another version (a snapshot) shares it and everything below it, and the path is copied.
  static void insert_in_place(NodeRef& slot, const ItemRef& item, bool* added) {
    if (!slot.unique()) {
      slot = insert(slot, item, added);
      return;
    }
    Node& node = *slot;
    if (item->key() < node.item->key()) {
      insert_in_place(node.left, item, added);
    } else if (node.item->key() < item->key()) {
      insert_in_place(node.right, item, added);
    } else {
      node.item = item;  // Same key: replace the item only.
      return;
    }
    if (const int balance = balance_of(node.left, node.right); balance >= -1 && balance <= 1) {
      node.height = static_cast<int8_t>(1 + std::max(height(node.left), height(node.right)));
      node.count = 1 + count(node.left) + count(node.right);
      return;
    }
    // Rotations build their nodes fresh: the subtrees they rearrange may be shared.
    slot = rebalance(node.item, std::move(node.left), std::move(node.right));
  }

  // The persistent insert: returns a new subtree, copying the path and sharing the rest.
  static NodeRef insert(const NodeRef& node, const ItemRef& item, bool* added) {
    if (!node) {
      *added = true;
      return make(item, nullptr, nullptr);
    }
    if (item->key() < node->item->key()) {
      return rebalance(node->item, insert(node->left, item, added), node->right);
    }
    if (node->item->key() < item->key()) {
      return rebalance(node->item, node->left, insert(node->right, item, added));
    }
    return make(item, node->left, node->right);  // Same key: replace the item only.
  }

  // Removes the smallest item of a non-empty subtree into *min.
  static NodeRef remove_min(const NodeRef& node, ItemRef* min) {
    RAFT_ASSERT(node != nullptr);
    if (!node->left) {
      *min = node->item;
      return node->right;
    }
    return rebalance(node->item, remove_min(node->left, min), node->right);
  }

  static NodeRef remove(const NodeRef& node, const Key& key, bool* removed) {
    if (!node) return nullptr;
    if (key < node->item->key()) {
      NodeRef left = remove(node->left, key, removed);
      return *removed ? rebalance(node->item, std::move(left), node->right) : node;
    }
    if (node->item->key() < key) {
      NodeRef right = remove(node->right, key, removed);
      return *removed ? rebalance(node->item, node->left, std::move(right)) : node;
    }
    *removed = true;
    if (!node->left) return node->right;
    if (!node->right) return node->left;
    ItemRef successor;
    NodeRef right = remove_min(node->right, &successor);
    return rebalance(std::move(successor), node->left, std::move(right));
  }

  // Height of the subtree, or -1 when an invariant is broken.
  static int check(const Node* node, const Key* low, const Key* high, size_t* count) {
    if (node == nullptr) return 0;
    ++*count;
    const auto& key = node->item->key();
    if (low != nullptr && !(*low < key)) return -1;
    if (high != nullptr && !(key < *high)) return -1;
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

// An ordered map from K to V over PersistentTree, each pair an item of its own.
template <typename K, typename V>
class PersistentMap {
 public:
  using Key = K;
  struct Item {
    K key;
    V value;
  };

  PersistentMap() = default;

  // Items in strictly ascending key order; see PersistentTree::from_sorted.
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

  // Calls visit(key, value) for every item in ascending key order.
  template <typename Visit>
  void for_each(Visit&& visit) const {
    tree_.for_each([&](const K& key, const Pair& pair) { visit(key, pair.item.value); });
  }
  // Calls visit(key, value) in ascending key order from the first key not below `*from`
  // (every item when `from` is null), until visit returns false.
  template <typename Visit>
  void for_each_from(const K* from, Visit&& visit) const {
    tree_.for_each_from(from, [&](const K& key, const Pair& pair) {
      return visit(key, pair.item.value);
    });
  }
  // The item at `rank` in key order. Precondition: rank < size().
  [[nodiscard]] const Item& nth(size_t rank) const { return tree_.nth(rank).item; }
  [[nodiscard]] bool check_invariants() const { return tree_.check_invariants(); }

 private:
  struct Pair : RefCounted {
    using Key = K;
    explicit Pair(Item item_in) : item(std::move(item_in)) {}
    [[nodiscard]] const K& key() const { return item.key; }
    Item item;
  };
  using Tree = PersistentTree<Pair>;

  Tree tree_;
};

}  // namespace raftkv::kv
