#include "raft/inflights.h"

#include <gtest/gtest.h>

namespace raftkv::raft {
namespace {

TEST(Inflights, Full_WhenCountReached) {
  Inflights inflights(2, 1000);
  inflights.add(Index{1}, 10);
  EXPECT_FALSE(inflights.full());
  inflights.add(Index{2}, 10);
  EXPECT_TRUE(inflights.full());
}

TEST(Inflights, Full_WhenBytesReached) {
  Inflights inflights(100, 50);
  inflights.add(Index{1}, 30);
  EXPECT_FALSE(inflights.full());
  inflights.add(Index{2}, 30);
  EXPECT_TRUE(inflights.full());
  EXPECT_EQ(inflights.bytes(), 60u);
}

TEST(Inflights, FreeUpTo_ReleasesAcknowledgedMessages) {
  Inflights inflights(3, 1000);
  inflights.add(Index{5}, 10);
  inflights.add(Index{9}, 20);
  inflights.add(Index{12}, 30);
  inflights.free_up_to(Index{9});
  EXPECT_EQ(inflights.count(), 1u);
  EXPECT_EQ(inflights.bytes(), 30u);
  inflights.free_up_to(Index{100});
  EXPECT_EQ(inflights.count(), 0u);
}

TEST(Inflights, OversizedMessage_FitsAnEmptyWindow) {
  Inflights inflights(4, 10);
  EXPECT_FALSE(inflights.full());
  inflights.add(Index{1}, 1000);
  EXPECT_TRUE(inflights.full());
}

}  // namespace
}  // namespace raftkv::raft
