#include "kv/record.h"

#include <cstring>
#include <limits>
#include <utility>

namespace raftkv::kv {

Ref<const Record> Record::make(std::string_view key, Value value) {
  // Keys and values arrive within the RESP limits (512 MiB), far below 4 GiB.
  RAFT_ASSERT(key.size() <= std::numeric_limits<uint32_t>::max());
  Storage storage = Storage::Hash;
  if (value.kind == Value::Kind::String) {
    storage = value.string.size() <= kInlineBytesMax ? Storage::InlineString
                                                     : Storage::OwnedString;
  }
  const size_t inline_size = storage == Storage::InlineString ? value.string.size() : 0;
  void* memory = ::operator new(sizeof(Record) + object_bytes(storage) + key.size() + inline_size);
  auto* record = new (memory) Record(storage, static_cast<uint32_t>(key.size()),
                                     static_cast<uint32_t>(inline_size), value);
  if (storage == Storage::OwnedString) new (record->object()) std::string(std::move(value.string));
  if (storage == Storage::Hash) new (record->object()) HashMap(std::move(value.hash));
  char* tail = const_cast<char*>(record->tail_bytes());
  std::memcpy(tail, key.data(), key.size());
  if (inline_size > 0) std::memcpy(tail + key.size(), value.string.data(), inline_size);
  RAFT_ASSERT(record->key() == key);
  return Ref<const Record>(record);
}

Record::Record(Storage storage, uint32_t key_size, uint32_t inline_size, const Value& value)
    : key_size_(key_size),
      inline_size_(inline_size),
      storage_(storage),
      expire_at_ms_(value.expire_at_ms),
      version_(value.version) {}

Record::~Record() {
  if (storage_ == Storage::OwnedString) static_cast<std::string*>(object())->~basic_string();
  if (storage_ == Storage::Hash) static_cast<HashMap*>(object())->~HashMap();
}

size_t Record::object_bytes(Storage storage) {
  switch (storage) {
    case Storage::InlineString: return 0;
    case Storage::OwnedString: return sizeof(std::string);
    case Storage::Hash: return sizeof(HashMap);
  }
  RAFT_ASSERT(false);
  return 0;
}

std::string_view Record::string() const {
  if (storage_ == Storage::OwnedString) return *static_cast<const std::string*>(object());
  return {tail_bytes() + key_size_, inline_size_};
}

const HashMap& Record::hash() const {
  RAFT_ASSERT(storage_ == Storage::Hash);
  return *static_cast<const HashMap*>(object());
}

Value Record::to_value() const {
  Value value;
  value.kind = kind();
  if (storage_ == Storage::Hash) {
    value.hash = hash();
  } else {
    value.string = std::string(string());
  }
  value.expire_at_ms = expire_at_ms_;
  value.version = version_;
  return value;
}

}  // namespace raftkv::kv
