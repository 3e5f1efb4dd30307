#pragma once

#include <algorithm>
#include <atomic>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "common/assert.h"

// An ordered map whose copies are O(1) and share structure: a persistent (immutable,
// path-copying) AVL tree. Every update copies only the O(log n) nodes on the path from the
// root to the changed key and shares the rest, so a copy taken for a snapshot stays valid and
// unchanged while the original keeps being updated, without stopping the world and without
// doubling memory (the two versions share every node the later writes did not touch).
//
// Items are held through shared_ptr<const Item>, so a path copy moves reference counts, never
// key or value bytes: rewriting one key does not copy the large values of its ancestors.
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
// read *other* copies (nodes are immutable; shared_ptr counts are atomic). A single object is
// not thread-safe.
namespace raftkv::kv {

template <typename K, typename V>
class PersistentMap {
 public:
  struct Item {
    K key;
    V value;
  };

  PersistentMap() = default;

  // Builds a perfectly balanced map in O(n) from items in strictly ascending key order (the
  // caller checks the order; restoring a snapshot is the use).
  static PersistentMap from_sorted(std::vector<Item> items) {
    for (size_t i = 1; i < items.size(); ++i) RAFT_ASSERT(items[i - 1].key < items[i].key);
    PersistentMap map;
    map.root_ = build(items, 0, items.size());
    map.size_ = items.size();
    RAFT_ASSERT(height(map.root_) <= 64);
    return map;
  }

  [[nodiscard]] size_t size() const { return size_; }
  [[nodiscard]] bool empty() const { return size_ == 0; }

  // The value for `key`, or nullptr. Valid while this version (or a copy of it) lives.
  // Every walk compares keys three-way (<=>): one string comparison per node instead of two.
  [[nodiscard]] const V* find(const K& key) const {
    const Node* node = root_.get();
    while (node != nullptr) {
      const auto order = key <=> node->item->key;
      if (order < 0) {
        node = node->left.get();
      } else if (order > 0) {
        node = node->right.get();
      } else {
        return &node->item->value;
      }
    }
    return nullptr;
  }

  void insert_or_assign(K key, V value) {
    auto item = std::make_shared<const Item>(Item{std::move(key), std::move(value)});
    bool added = false;
    insert_in_place(root_, item, &added);
    if (added) ++size_;
    RAFT_ASSERT(root_ != nullptr);
  }

  // True when `key` was present.
  bool erase(const K& key) {
    bool removed = false;
    root_ = remove(root_, key, &removed);
    if (removed) {
      RAFT_ASSERT(size_ > 0);
      --size_;
    }
    return removed;
  }

  // Calls visit(key, value) for every item in ascending key order. Iterative, with a stack
  // bounded by the tree height.
  template <typename Visit>
  void for_each(Visit&& visit) const {
    for_each_from(nullptr, [&](const K& key, const V& value) {
      visit(key, value);
      return true;
    });
  }

  // Calls visit(key, value) in ascending key order for the items whose key is not below
  // `*from` (every item when `from` is null), until visit returns false. O(log n) to start.
  template <typename Visit>
  void for_each_from(const K* from, Visit&& visit) const {
    std::vector<const Node*> stack;
    const Node* node = root_.get();
    // The path to the first key >= *from: the nodes passed on the way left are still to visit.
    while (node != nullptr) {
      if (from != nullptr && node->item->key < *from) {
        node = node->right.get();
      } else {
        stack.push_back(node);
        node = node->left.get();
      }
    }
    while (!stack.empty()) {
      node = stack.back();
      stack.pop_back();
      if (!visit(node->item->key, node->item->value)) return;
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
  using NodePtr = std::shared_ptr<Node>;  // Changed in place only while unshared.
  using ItemPtr = std::shared_ptr<const Item>;

  struct Node {
    ItemPtr item;
    NodePtr left;
    NodePtr right;
    int8_t height = 1;  // Leaves have height 1; an empty subtree 0.
    size_t count = 1;   // Items in this subtree, for nth() (RANDOMKEY, HRANDFIELD).
  };

  static int8_t height(const NodePtr& node) { return node ? node->height : 0; }
  static size_t count(const NodePtr& node) { return node ? node->count : 0; }

  static NodePtr make(ItemPtr item, NodePtr left, NodePtr right) {
    const int8_t h = static_cast<int8_t>(1 + std::max(height(left), height(right)));
    const size_t n = 1 + count(left) + count(right);
    return std::make_shared<Node>(
        Node{std::move(item), std::move(left), std::move(right), h, n});
  }

  static int balance_of(const NodePtr& left, const NodePtr& right) {
    return height(left) - height(right);
  }

  // Builds a node from subtrees whose heights differ by at most 2, rotating to restore the
  // AVL bound (|balance| <= 1).
  static NodePtr rebalance(ItemPtr item, NodePtr left, NodePtr right) {
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
  static NodePtr build(std::vector<Item>& items, size_t lo, size_t hi) {
    if (lo >= hi) return nullptr;
    const size_t mid = lo + (hi - lo) / 2;
    NodePtr left = build(items, lo, mid);
    NodePtr right = build(items, mid + 1, hi);
    return make(std::make_shared<const Item>(std::move(items[mid])), std::move(left),
                std::move(right));
  }

  // Inserts into the subtree held by `slot`, which no other version reaches through its
  // parent: the node is changed in place if `slot` holds the only reference to it. Otherwise
  // another version (a snapshot) shares it and everything below it, and the path is copied.
  static void insert_in_place(NodePtr& slot, const ItemPtr& item, bool* added) {
    if (!slot || slot.use_count() != 1) {
      slot = insert(slot, item, added);
      return;
    }
    // A snapshot thread that dropped the last other reference did so with a release
    // decrement; this pairs with it before the node's fields are written.
    std::atomic_thread_fence(std::memory_order_acquire);
    Node& node = *slot;
    const auto order = item->key <=> node.item->key;
    if (order < 0) {
      insert_in_place(node.left, item, added);
    } else if (order > 0) {
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
  static NodePtr insert(const NodePtr& node, const ItemPtr& item, bool* added) {
    if (!node) {
      *added = true;
      return make(item, nullptr, nullptr);
    }
    const auto order = item->key <=> node->item->key;
    if (order < 0) {
      return rebalance(node->item, insert(node->left, item, added), node->right);
    }
    if (order > 0) {
      return rebalance(node->item, node->left, insert(node->right, item, added));
    }
    return make(item, node->left, node->right);  // Same key: replace the item only.
  }

  // Removes the smallest item of a non-empty subtree into *min.
  static NodePtr remove_min(const NodePtr& node, ItemPtr* min) {
    RAFT_ASSERT(node != nullptr);
    if (!node->left) {
      *min = node->item;
      return node->right;
    }
    return rebalance(node->item, remove_min(node->left, min), node->right);
  }

  static NodePtr remove(const NodePtr& node, const K& key, bool* removed) {
    if (!node) return nullptr;
    const auto order = key <=> node->item->key;
    if (order < 0) {
      NodePtr left = remove(node->left, key, removed);
      return *removed ? rebalance(node->item, std::move(left), node->right) : node;
    }
    if (order > 0) {
      NodePtr right = remove(node->right, key, removed);
      return *removed ? rebalance(node->item, node->left, std::move(right)) : node;
    }
    *removed = true;
    if (!node->left) return node->right;
    if (!node->right) return node->left;
    ItemPtr successor;
    NodePtr right = remove_min(node->right, &successor);
    return rebalance(std::move(successor), node->left, std::move(right));
  }

  // Height of the subtree, or -1 when an invariant is broken.
  static int check(const Node* node, const K* low, const K* high, size_t* count) {
    if (node == nullptr) return 0;
    ++*count;
    if (low != nullptr && !(*low < node->item->key)) return -1;
    if (high != nullptr && !(node->item->key < *high)) return -1;
    const int left = check(node->left.get(), low, &node->item->key, count);
    const size_t before = *count;
    const int right = check(node->right.get(), &node->item->key, high, count);
    if (left < 0 || right < 0 || left - right > 1 || right - left > 1) return -1;
    // The subtree's items: this one, the left subtree's and those counted since `before`.
    const size_t left_items = node->left ? node->left->count : 0;
    if (node->count != 1 + left_items + (*count - before)) return -1;
    const int h = 1 + std::max(left, right);
    return h == node->height ? h : -1;
  }

  NodePtr root_;
  size_t size_ = 0;
};

}  // namespace raftkv::kv
