#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/types.h"
#include "kv/persistent_map.h"

// The key space of the key-value store: typed values (a string or a hash), each with an
// optional expiry deadline and a version, in a persistent map (snapshots are O(1) copies).
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

using HashMap = PersistentMap<std::string, std::string>;

// A deadline meaning "never expires".
inline constexpr int64_t kNoExpiry = -1;

struct Value {
  enum class Kind : uint8_t { String = 0, Hash = 1 };
  Kind kind = Kind::String;
  std::string string;  // Kind::String.
  HashMap hash;        // Kind::Hash; never empty while stored (an empty hash is deleted).
  int64_t expire_at_ms = kNoExpiry;
  // Log index of the entry that last changed this key: WATCH compares it (0 for a key that
  // is missing). Part of the replicated state and of snapshots.
  uint64_t version = 0;

  [[nodiscard]] static Value of_string(std::string text) {
    Value value;
    value.string = std::move(text);
    return value;
  }
  [[nodiscard]] bool has_expiry() const { return expire_at_ms != kNoExpiry; }
  [[nodiscard]] bool expired_at(int64_t now_ms) const {
    return has_expiry() && expire_at_ms <= now_ms;
  }
};

using KeyMap = PersistentMap<std::string, Value>;

class Keyspace {
 public:
  Keyspace() = default;
  // Adopts a restored map; rebuilds the expiry index from it.
  explicit Keyspace(KeyMap map);

  // The live value of `key` at `now_ms`, or nullptr (missing or past its deadline). Valid
  // until the next change.
  [[nodiscard]] const Value* find(const std::string& key, int64_t now_ms) const;
  // Stores `value` under `key` as changed by the entry at `index` (its version).
  void put(std::string key, Value value, Index index);
  // Removes `key`; true when it was in the map (expired or not).
  bool erase(const std::string& key);
  // Removes everything.
  void clear();
  // While applying a write: deletes `key` if it is past its deadline at `now_ms` (the lazy,
  // replicated half of expiry). True when it did.
  bool expire_if_due(const std::string& key, int64_t now_ms);
  // Up to `max` keys past their deadline at `now_ms`, soonest deadline first: what the
  // leader's sweep proposes to delete.
  [[nodiscard]] std::vector<std::string> due(int64_t now_ms, size_t max) const;
  // Keys with a deadline (expired or not), for INFO.
  [[nodiscard]] size_t expiring() const { return deadlines_.size(); }

  [[nodiscard]] size_t size() const { return map_.size(); }
  [[nodiscard]] const KeyMap& map() const { return map_; }

 private:
  void forget_deadline(const std::string& key, const Value& old);

  KeyMap map_;
  // (deadline, key) of every key that has one. Derived from map_ (rebuilt on restore), so
  // not part of a snapshot. Invariant: holds exactly the keys of map_ with a deadline.
  std::set<std::pair<int64_t, std::string>> deadlines_;
};

}  // namespace raftkv::kv
