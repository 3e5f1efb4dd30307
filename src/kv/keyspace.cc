#include "kv/keyspace.h"

namespace raftkv::kv {

Keyspace::Keyspace(KeyMap map) : map_(std::move(map)) {
  map_.for_each([&](std::string_view key, const Record& record) {
    if (record.has_expiry()) deadlines_.insert({record.expire_at_ms(), std::string(key)});
  });
}

const Record* Keyspace::find(std::string_view key, int64_t now_ms) const {
  const Record* record = map_.find(key);
  if (record == nullptr || record->expired_at(now_ms)) return nullptr;
  return record;
}

void Keyspace::prefetch(std::span<const std::string_view> keys) const {
  std::vector<uint64_t> tags;
  tags.reserve(keys.size());
  for (std::string_view key : keys) tags.push_back(Record::order_tag(key));
  map_.prefetch(tags);
}

void Keyspace::put(std::string_view key, Value value, Index index) {
  RAFT_ASSERT(value.kind != Value::Kind::Hash || !value.hash.empty());
  // Without any deadline stored, the old value has none to forget: skip that lookup.
  if (!deadlines_.empty()) {
    if (const Record* old = map_.find(key)) forget_deadline(*old);
  }
  if (value.has_expiry()) deadlines_.insert({value.expire_at_ms, std::string(key)});
  value.version = index.value();
  map_.insert_or_assign(Record::make(key, std::move(value)));
}

bool Keyspace::erase(std::string_view key) {
  const Record* old = map_.find(key);
  if (old == nullptr) return false;
  forget_deadline(*old);
  const bool erased = map_.erase(key);
  RAFT_ASSERT(erased);
  return true;
}

void Keyspace::clear() {
  map_ = KeyMap();
  deadlines_.clear();
}

bool Keyspace::expire_if_due(std::string_view key, int64_t now_ms) {
  // Every write asks, and mostly nothing at all is due: answer that from the soonest deadline
  // rather than with one more walk of the map.
  if (deadlines_.empty() || deadlines_.begin()->first > now_ms) return false;
  const Record* record = map_.find(key);
  if (record == nullptr || !record->expired_at(now_ms)) return false;
  return erase(key);
}

std::vector<std::string> Keyspace::due(int64_t now_ms, size_t max) const {
  std::vector<std::string> keys;
  for (auto it = deadlines_.begin(); it != deadlines_.end() && keys.size() < max; ++it) {
    if (it->first > now_ms) break;
    keys.push_back(it->second);
  }
  return keys;
}

void Keyspace::forget_deadline(const Record& old) {
  if (!old.has_expiry()) return;
  const size_t erased = deadlines_.erase({old.expire_at_ms(), std::string(old.key())});
  RAFT_ASSERT(erased == 1);
}

}  // namespace raftkv::kv
