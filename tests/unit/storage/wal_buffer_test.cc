// WalBuffer: owned and shared pieces read back and write out as one contiguous byte range.
#include "storage/wal_buffer.h"

#include <gtest/gtest.h>

#include <string>

#include "sim_fs.h"

namespace raftkv::storage {
using testing::SimFs;
namespace {

// "aaa" + shared "SSSS..." + "bb" + "cc" (coalesced) + shared "TT": the bytes in order.
WalBuffer mixed(std::string* expected) {
  WalBuffer buffer;
  const std::string shared(100, 'S');
  buffer.append("aaa");
  buffer.append_shared(SharedBytes(shared));
  buffer.append("bb");
  buffer.append("cc");
  buffer.append_shared(SharedBytes("TT"));
  *expected = "aaa" + shared + "bbcc" + "TT";
  return buffer;
}

TEST(WalBuffer, ReadsAnyRangeAcrossPieces) {
  std::string expected;
  const WalBuffer buffer = mixed(&expected);
  ASSERT_EQ(buffer.size(), expected.size());
  EXPECT_EQ(buffer.owned_bytes(), 7u);  // Only the copies count.
  for (size_t from = 0; from < expected.size(); from += 7) {
    for (size_t count : {size_t{0}, size_t{1}, size_t{5}, expected.size() - from}) {
      if (from + count > expected.size()) continue;
      std::string out(count, '\0');
      buffer.read(from, out.data(), count);
      EXPECT_EQ(out, expected.substr(from, count)) << from << "+" << count;
    }
  }
}

TEST(WalBuffer, WritesEveryPieceInOrderAtTheOffset) {
  std::string expected;
  const WalBuffer buffer = mixed(&expected);
  SimFs fs;
  auto file = fs.open("/f", OpenMode::CreateNew);
  ASSERT_TRUE(file.is_ok());
  ASSERT_TRUE(buffer.write_to(*file.value(), 10).is_ok());
  std::string out(10 + expected.size(), '\0');
  ASSERT_EQ(file.value()->read_at(0, out.data(), out.size()).value(), out.size());
  EXPECT_EQ(out.substr(10), expected);
}

TEST(WalBuffer, TakeMovesEverythingAndClearStartsOver) {
  std::string expected;
  WalBuffer batch = mixed(&expected);
  WalBuffer pending;
  pending.append("x");
  pending.take(batch);
  EXPECT_TRUE(batch.empty());
  ASSERT_EQ(pending.size(), 1 + expected.size());
  std::string out(pending.size(), '\0');
  pending.read(0, out.data(), out.size());
  EXPECT_EQ(out, "x" + expected);
  pending.clear();
  EXPECT_TRUE(pending.empty());
  pending.append_shared(SharedBytes("later"));
  out.assign(5, '\0');
  pending.read(0, out.data(), 5);
  EXPECT_EQ(out, "later");
}

}  // namespace
}  // namespace raftkv::storage
