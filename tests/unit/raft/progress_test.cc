#include "raft/progress.h"

#include <gtest/gtest.h>

namespace raftkv::raft {
namespace {

Progress make(uint64_t next) { return Progress(Index{next}, 4, 1 << 20); }

TEST(Progress, MaybeUpdate_IgnoresStaleAcks) {
  Progress progress = make(5);
  EXPECT_TRUE(progress.maybe_update(Index{7}));
  EXPECT_FALSE(progress.maybe_update(Index{6}));
  EXPECT_EQ(progress.match_index, Index{7});
  EXPECT_EQ(progress.next_index, Index{8});
}

TEST(Progress, MaybeDecreaseTo_ProbeUsesHint) {
  Progress progress = make(101);
  EXPECT_TRUE(progress.maybe_decrease_to(Index{100}, Index{40}));
  EXPECT_EQ(progress.next_index, Index{41});
  // A second rejection of the same, older message is stale.
  EXPECT_FALSE(progress.maybe_decrease_to(Index{100}, Index{10}));
}

TEST(Progress, MaybeDecreaseTo_NeverBelowMatch) {
  Progress progress = make(10);
  ASSERT_TRUE(progress.maybe_update(Index{5}));
  progress.next_index = Index{10};
  EXPECT_TRUE(progress.maybe_decrease_to(Index{9}, Index{1}));
  EXPECT_EQ(progress.next_index, Index{6});
}

TEST(Progress, MaybeDecreaseTo_ReplicateFallsBackToMatch) {
  Progress progress = make(1);
  ASSERT_TRUE(progress.maybe_update(Index{5}));
  progress.become_replicate();
  progress.sent_append(Index{9}, 10, true);
  EXPECT_FALSE(progress.maybe_decrease_to(Index{4}, Index{0}));  // At or below match: stale.
  EXPECT_TRUE(progress.maybe_decrease_to(Index{8}, Index{0}));
  EXPECT_EQ(progress.next_index, Index{6});
}

TEST(Progress, IsPaused_PerState) {
  Progress progress = make(1);
  EXPECT_FALSE(progress.is_paused());
  progress.sent_append(Index{3}, 10, true);  // Probe: one message per interval.
  EXPECT_TRUE(progress.is_paused());
  progress.become_replicate();
  for (uint64_t index = 1; index <= 4; ++index) progress.sent_append(Index{index}, 1, true);
  EXPECT_TRUE(progress.is_paused());  // Window of 4 full.
  progress.become_snapshot(Index{50});
  EXPECT_TRUE(progress.is_paused());
  progress.become_probe();
  EXPECT_EQ(progress.next_index, Index{51});
  EXPECT_FALSE(progress.is_paused());
}

}  // namespace
}  // namespace raftkv::raft
