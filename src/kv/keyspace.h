#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/types.h"
#include "kv/hash_trie.h"
#include "kv/record.h"

// The key space of the key-value store: typed values (a string or a hash), each with an
// optional expiry deadline and a version, in a persistent tree of records (record.h) whose
// copies, for snapshots, are O(1).
//
// Time: deadlines are absolute, in ms since the Unix epoch, and are compared only with a time
// the caller passes in: the log time while applying (the leader's stamps, state_machine.h), the
// serving node's time for a read. Nothing here reads a clock.
//
// A key whose deadline is at or before `now` is logically gone: find() does not see it. It
// stays in the map until a replicated delete removes it (expire_if_due() while applying a
// write that touches it, or the leader's sweep), so every replica removes it at the same
// entry. Not thread-safe; snapshot copies of map() may be read from other threads.
namespace raftkv::kv {

// Key to record, in the order of the keys' hashes (Record::order_tag).
using KeyMap = PersistentHashTrie<Record>;

class Keyspace {
 public:
  Keyspace() = default;
  // Adopts a restored map; rebuilds the expiry index from it.
  explicit Keyspace(KeyMap map);

  // The live value of `key` at `now_ms`, or nullptr (missing or past its deadline). Valid
  // until the next change.
  [[nodiscard]] const Record* find(std::string_view key, int64_t now_ms) const;
  // Starts loading what finding, or storing, `keys` will touch (PersistentHashTrie::prefetch).
  void prefetch(std::span<const std::string_view> keys) const;
  // Stores `value` under `key` as changed by the entry at `index` (its version).
  void put(std::string_view key, Value value, Index index);
  // Removes `key`; true when it was in the map (expired or not).
  bool erase(std::string_view key);
  // Removes everything.
  void clear();
  // While applying a write: deletes `key` if it is past its deadline at `now_ms` (the lazy,
  // replicated half of expiry). True when it did.
  bool expire_if_due(std::string_view key, int64_t now_ms);
  // Up to `max` keys past their deadline at `now_ms`, soonest deadline first: what the
  // leader's sweep proposes to delete.
  [[nodiscard]] std::vector<std::string> due(int64_t now_ms, size_t max) const;
  // Keys with a deadline (expired or not), for INFO.
  [[nodiscard]] size_t expiring() const { return deadlines_.size(); }

  [[nodiscard]] size_t size() const { return map_.size(); }
  [[nodiscard]] const KeyMap& map() const { return map_; }

 private:
  void forget_deadline(const Record& old);

  KeyMap map_;
  // (deadline, key) of every key that has one. Derived from map_ (rebuilt on restore), so
  // not part of a snapshot. Invariant: holds exactly the keys of map_ with a deadline.
  std::set<std::pair<int64_t, std::string>> deadlines_;
};

}  // namespace raftkv::kv
