#include "runtime/snapshot_policy.h"

#include <gtest/gtest.h>

#include <set>

namespace raftkv::runtime {
namespace {

constexpr uint64_t kMiB = 1 << 20;

// Applies commands of `bytes` each until the policy calls for a snapshot; returns the count.
uint64_t entries_until_due(SnapshotPolicy& policy, uint64_t bytes) {
  uint64_t entries = 0;
  while (!policy.due()) {
    policy.on_applied(bytes);
    ++entries;
  }
  return entries;
}

TEST(SnapshotPolicyTest, SmallStateSnapshotsAtTheFloorPlusJitter) {
  SnapshotPolicy policy({.min_log_bytes = 4 * kMiB, .log_ratio = 4}, /*seed=*/1);
  EXPECT_GE(policy.threshold_bytes(), 4 * kMiB);
  EXPECT_LE(policy.threshold_bytes(), 5 * kMiB);
  const uint64_t per_entry = 1000 + SnapshotPolicy::kEntryOverheadBytes;
  const uint64_t entries = entries_until_due(policy, 1000);
  EXPECT_EQ(entries, (policy.threshold_bytes() + per_entry - 1) / per_entry);
}

// After a snapshot of `snapshot_bytes`, the next is due once the log reaches `base_bytes` plus
// the jitter (up to a quarter more): not before `base_bytes`, always at a quarter more.
void expect_due_after(SnapshotPolicy& policy, uint64_t snapshot_bytes, uint64_t base_bytes) {
  policy.on_snapshot_started();
  policy.on_snapshot_stored(snapshot_bytes);
  EXPECT_GE(policy.threshold_bytes(), base_bytes);
  EXPECT_LE(policy.threshold_bytes(), base_bytes + base_bytes / 4);
  policy.on_applied(base_bytes - kMiB);
  EXPECT_FALSE(policy.due());
  policy.on_applied(base_bytes / 4 + kMiB);
  EXPECT_TRUE(policy.due());
}

TEST(SnapshotPolicyTest, LargeStateWaitsForRatioTimesTheSnapshot) {
  SnapshotPolicy policy({.min_log_bytes = 4 * kMiB, .log_ratio = 4}, /*seed=*/2);
  expect_due_after(policy, 100 * kMiB, 400 * kMiB);
}

TEST(SnapshotPolicyTest, FractionalRatioSnapshotsBeforeTheLogReachesTheStateSize) {
  SnapshotPolicy policy({.min_log_bytes = 4 * kMiB, .log_ratio = 0.5}, /*seed=*/5);
  expect_due_after(policy, 100 * kMiB, 50 * kMiB);
}

TEST(SnapshotPolicyTest, FractionalRatioKeepsTheFloorForSmallStates) {
  SnapshotPolicy policy({.min_log_bytes = 4 * kMiB, .log_ratio = 0.5}, /*seed=*/6);
  policy.on_snapshot_started();
  policy.on_snapshot_stored(2 * kMiB);  // Half of it, 1 MiB, is under the floor.
  EXPECT_GE(policy.threshold_bytes(), 4 * kMiB);
  EXPECT_LE(policy.threshold_bytes(), 5 * kMiB);
}

TEST(SnapshotPolicyTest, StartingASnapshotRestartsTheCount) {
  SnapshotPolicy policy({.min_log_bytes = kMiB, .log_ratio = 4}, /*seed=*/3);
  policy.on_applied(2 * kMiB);
  ASSERT_TRUE(policy.due());
  policy.on_snapshot_started();
  EXPECT_FALSE(policy.due());
}

TEST(SnapshotPolicyTest, EntryLimitCountsEmptyEntries) {
  SnapshotPolicy policy({.min_log_bytes = 64 * kMiB, .log_ratio = 4, .max_entries = 100}, 4);
  EXPECT_EQ(entries_until_due(policy, 0), 100u);
}

TEST(SnapshotPolicyTest, SmallEntriesKeepTheEntryCount) {
  SnapshotPolicy policy({.min_log_bytes = kMiB, .log_ratio = 4}, /*seed=*/7);
  EXPECT_EQ(policy.entries_to_keep(10'000, 64 * kMiB), 10'000u);  // Nothing covered yet.
  entries_until_due(policy, 256);
  policy.on_snapshot_started();
  // 10,000 entries of 288 bytes are 2.9 MB, well under the byte bound.
  EXPECT_EQ(policy.entries_to_keep(10'000, 64 * kMiB), 10'000u);
}

TEST(SnapshotPolicyTest, LargeEntriesKeepAboutTheByteBound) {
  SnapshotPolicy policy({.min_log_bytes = 64 * kMiB, .log_ratio = 4}, /*seed=*/8);
  entries_until_due(policy, 16 * kMiB);
  policy.on_snapshot_started();
  EXPECT_EQ(policy.entries_to_keep(10'000, 64 * kMiB), 3u);  // 16 MiB + 32 bytes each.
  EXPECT_EQ(policy.entries_to_keep(2, 64 * kMiB), 2u);
  EXPECT_EQ(policy.entries_to_keep(10'000, 8 * kMiB), 0u);  // One entry is over the bound.
  // The bound follows the entries that snapshot covers, not the ones since.
  policy.on_applied(100);
  EXPECT_EQ(policy.entries_to_keep(10'000, 64 * kMiB), 3u);
}

TEST(SnapshotPolicyTest, NodesWithDifferentSeedsSpreadTheirThresholds) {
  std::set<uint64_t> thresholds;
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    SnapshotPolicy policy({.min_log_bytes = 64 * kMiB, .log_ratio = 4}, seed);
    thresholds.insert(policy.threshold_bytes());
  }
  EXPECT_EQ(thresholds.size(), 3u);
}

}  // namespace
}  // namespace raftkv::runtime
