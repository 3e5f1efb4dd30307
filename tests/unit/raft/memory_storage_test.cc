#include "raft/memory_storage.h"

#include <gtest/gtest.h>

namespace raftkv::raft {
namespace {

std::vector<Entry> entries(uint64_t from, uint64_t to, uint64_t term) {
  std::vector<Entry> out;
  for (uint64_t index = from; index <= to; ++index) {
    out.push_back(Entry{Term{term}, Index{index}, EntryType::Normal, "x"});
  }
  return out;
}

TEST(MemoryStorage, Append_ReplacesConflictingSuffix) {
  MemoryStorage storage;
  ASSERT_TRUE(storage.append(entries(1, 5, 1)).is_ok());
  ASSERT_TRUE(storage.append(entries(3, 4, 2)).is_ok());
  EXPECT_EQ(storage.last_index(), Index{4});
  EXPECT_EQ(storage.term(Index{3}).value(), Term{2});
  EXPECT_EQ(storage.term(Index{2}).value(), Term{1});
}

TEST(MemoryStorage, Append_RejectsGap) {
  MemoryStorage storage;
  ASSERT_TRUE(storage.append(entries(1, 2, 1)).is_ok());
  EXPECT_EQ(storage.append(entries(4, 5, 1)).code(), ErrorCode::InvalidArgument);
}

TEST(MemoryStorage, Compact_KeepsTermOfCompactionPoint) {
  MemoryStorage storage;
  ASSERT_TRUE(storage.append(entries(1, 10, 3)).is_ok());
  ASSERT_TRUE(storage.create_snapshot(Index{6}, ConfState{{NodeId{1}}, {}, {}}, "s").is_ok());
  ASSERT_TRUE(storage.compact(Index{6}).is_ok());
  EXPECT_EQ(storage.first_index(), Index{7});
  EXPECT_EQ(storage.term(Index{6}).value(), Term{3});
  EXPECT_FALSE(storage.term(Index{5}).is_ok());
  EXPECT_FALSE(storage.entries(Index{5}, Index{8}, UINT64_MAX).is_ok());
}

TEST(MemoryStorage, Entries_StopsAtByteBudgetButReturnsOne) {
  MemoryStorage storage;
  ASSERT_TRUE(storage.append(entries(1, 10, 1)).is_ok());
  EXPECT_EQ(storage.entries(Index{1}, Index{11}, 1).value().size(), 1u);
  const uint64_t two = 2 * entries(1, 1, 1)[0].size_bytes();
  EXPECT_EQ(storage.entries(Index{1}, Index{11}, two).value().size(), 2u);
}

TEST(MemoryStorage, Compact_PastSnapshotRefused) {
  MemoryStorage storage;
  ASSERT_TRUE(storage.append(entries(1, 10, 1)).is_ok());
  EXPECT_EQ(storage.compact(Index{5}).code(), ErrorCode::InvalidArgument);
}

}  // namespace
}  // namespace raftkv::raft
