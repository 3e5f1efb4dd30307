#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <string>
#include <string_view>

#include "kv/persistent_map.h"
#include "kv/ref.h"

// A key's value as commands build it (Value), and as the key space stores it (Record).
namespace raftkv::kv {

// A hash's fields, in the order of their hashes (see PersistentTree).
using HashMap = PersistentMap<std::string, std::string, HashOrder>;

// A deadline meaning "never expires".
inline constexpr int64_t kNoExpiry = -1;

// A value being built or changed: what Keyspace::put() takes and Record::to_value() gives.
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

// One key and its value as stored: immutable, shared by every map version that holds it.
//
// Memory is most of what a key costs, so a record is one allocation of the size it needs:
// this 32-byte header, then the key's bytes, then a string value's bytes. A 16-byte key with
// a 256-byte value takes 304 bytes (jemalloc's 320 class), where a shared_ptr'd item holding
// a std::string key and value took three allocations: 128 + 32 + 320 bytes. Strings longer
// than kInlineBytesMax stay the std::string the command decoded (moved, not copied: issue
// 21's large values), and a hash keeps its persistent map of fields; either sits between the
// header and the key.
class Record final : public RefCounted {
 public:
  using Key = std::string_view;
  // The key space is in hash order (HashOrder, tag_order.h).
  static uint64_t order_tag(std::string_view key) { return HashOrder::order_tag(key); }

  // Strings up to this length are copied into the record; longer ones are moved in. A copy
  // this size costs less than the allocation it saves.
  static constexpr size_t kInlineBytesMax = 4096;

  // Builds the record of `key` holding `value` (its version included).
  [[nodiscard]] static Ref<const Record> make(std::string_view key, Value value);

  ~Record();
  // A record's storage comes from ::operator new with its tail; see make().
  static void operator delete(void* memory) { ::operator delete(memory); }

  [[nodiscard]] std::string_view key() const { return {tail_bytes(), key_size_}; }
  [[nodiscard]] Value::Kind kind() const {
    return storage_ == Storage::Hash ? Value::Kind::Hash : Value::Kind::String;
  }
  // The value of a string key (empty for a hash). Valid while the record lives.
  [[nodiscard]] std::string_view string() const;
  // The fields of a hash key. Precondition: kind() == Value::Kind::Hash.
  [[nodiscard]] const HashMap& hash() const;
  [[nodiscard]] int64_t expire_at_ms() const { return expire_at_ms_; }
  [[nodiscard]] uint64_t version() const { return version_; }
  [[nodiscard]] bool has_expiry() const { return expire_at_ms_ != kNoExpiry; }
  [[nodiscard]] bool expired_at(int64_t now_ms) const {
    return has_expiry() && expire_at_ms_ <= now_ms;
  }
  // A copy to change and put back: O(1) for a hash (its fields are a persistent map), a
  // copy of the bytes for a string.
  [[nodiscard]] Value to_value() const;

 private:
  enum class Storage : uint8_t { InlineString, OwnedString, Hash };

  Record(Storage storage, uint32_t key_size, uint32_t inline_size, const Value& value);
  // Bytes of the object between the header and the key: a std::string or a HashMap.
  [[nodiscard]] static size_t object_bytes(Storage storage);
  [[nodiscard]] const char* tail_bytes() const {
    return reinterpret_cast<const char*>(this + 1) + object_bytes(storage_);
  }
  [[nodiscard]] void* object() { return this + 1; }
  [[nodiscard]] const void* object() const { return this + 1; }

  uint32_t key_size_;
  uint32_t inline_size_;  // Bytes of an InlineString after the key; 0 otherwise.
  Storage storage_;
  int64_t expire_at_ms_;
  uint64_t version_;
};

static_assert(sizeof(Record) == 32, "the header's size is part of the per-key figure above");
static_assert(alignof(std::string) <= alignof(Record) && alignof(HashMap) <= alignof(Record),
              "the object after the header needs no padding");

}  // namespace raftkv::kv
