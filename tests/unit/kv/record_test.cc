#include "kv/record.h"

#include <gtest/gtest.h>

#include <string>

namespace raftkv::kv {
namespace {

Value string_value(std::string text, int64_t expire_at_ms, uint64_t version) {
  Value value = Value::of_string(std::move(text));
  value.expire_at_ms = expire_at_ms;
  value.version = version;
  return value;
}

TEST(Record, Make_ShortStringKeepsKeyValueAndHeader) {
  const std::string text(256, 'v');
  const Ref<const Record> record = Record::make("key:0000000001", string_value(text, 77, 9));
  EXPECT_EQ(record->key(), "key:0000000001");
  EXPECT_EQ(record->kind(), Value::Kind::String);
  EXPECT_EQ(record->string(), text);
  EXPECT_EQ(record->expire_at_ms(), 77);
  EXPECT_EQ(record->version(), 9u);
  EXPECT_TRUE(record->expired_at(77));
  EXPECT_FALSE(record->expired_at(76));
}

TEST(Record, Make_EmptyKeyAndValue) {
  const Ref<const Record> record = Record::make("", string_value("", kNoExpiry, 1));
  EXPECT_EQ(record->key(), "");
  EXPECT_EQ(record->string(), "");
  EXPECT_FALSE(record->has_expiry());
}

TEST(Record, Make_LongStringMovesInWithoutCopy) {
  std::string text(Record::kInlineBytesMax + 1, 'x');
  const char* bytes = text.data();
  const Ref<const Record> record = Record::make("big", string_value(std::move(text), 5, 2));
  EXPECT_EQ(record->string().data(), bytes);  // Issue 21: large values are not copied.
  EXPECT_EQ(record->string().size(), Record::kInlineBytesMax + 1);
  EXPECT_EQ(record->key(), "big");
  EXPECT_EQ(record->expire_at_ms(), 5);
}

TEST(Record, Make_HashSharesItsFields) {
  Value value;
  value.kind = Value::Kind::Hash;
  value.hash.insert_or_assign("field", "text");
  value.version = 4;
  const Ref<const Record> record = Record::make("h", value);
  EXPECT_EQ(record->kind(), Value::Kind::Hash);
  EXPECT_EQ(record->key(), "h");
  EXPECT_EQ(record->string(), "");
  ASSERT_NE(record->hash().find("field"), nullptr);
  EXPECT_EQ(record->hash().find("field"), value.hash.find("field"));  // Same item: shared.
}

TEST(Record, ToValue_RoundTripsEveryStorage) {
  for (const size_t size : {size_t{0}, size_t{300}, Record::kInlineBytesMax + 10}) {
    const std::string text(size, 'a');
    const Value copy = Record::make("k", string_value(text, 123, 8))->to_value();
    EXPECT_EQ(copy.kind, Value::Kind::String);
    EXPECT_EQ(copy.string, text);
    EXPECT_EQ(copy.expire_at_ms, 123);
    EXPECT_EQ(copy.version, 8u);
  }
}

TEST(Record, Ref_LastReferenceFreesAndCopiesShare) {
  Ref<const Record> first = Record::make("k", string_value("v", kNoExpiry, 1));
  const Ref<const Record> second = first;
  EXPECT_FALSE(second.unique());
  first = nullptr;
  EXPECT_TRUE(second.unique());
  EXPECT_EQ(second->string(), "v");
}

}  // namespace
}  // namespace raftkv::kv
