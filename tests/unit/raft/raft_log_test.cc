#include "raft/raft_log.h"

#include <gtest/gtest.h>

#include "raft/memory_storage.h"

namespace raftkv::raft {
namespace {

std::vector<Entry> run(uint64_t from, uint64_t to, uint64_t term) {
  std::vector<Entry> out;
  for (uint64_t index = from; index <= to; ++index) {
    out.push_back(Entry{Term{term}, Index{index}, EntryType::Normal, "e"});
  }
  return out;
}

class RaftLogTest : public ::testing::Test {
 protected:
  MemoryStorage storage;
};

TEST_F(RaftLogTest, MaybeAppend_MismatchChangesNothing) {
  RaftLog log(storage);
  log.append(run(1, 3, 1));
  Index last_new;
  EXPECT_EQ(log.maybe_append(Index{3}, Term{2}, run(4, 5, 2), &last_new),
            RaftLog::AppendOutcome::Mismatch);
  EXPECT_EQ(log.last_index(), Index{3});
}

TEST_F(RaftLogTest, MaybeAppend_TruncatesConflictingSuffix) {
  RaftLog log(storage);
  log.append(run(1, 5, 1));
  Index last_new;
  ASSERT_EQ(log.maybe_append(Index{2}, Term{1}, run(3, 3, 2), &last_new),
            RaftLog::AppendOutcome::Appended);
  EXPECT_EQ(last_new, Index{3});
  EXPECT_EQ(log.last_index(), Index{3});
  EXPECT_EQ(log.term(Index{3}).value(), Term{2});
}

TEST_F(RaftLogTest, MaybeAppend_KeepsLongerMatchingLog) {
  // A delayed, shorter Append must not cut entries that a later Append already added.
  RaftLog log(storage);
  log.append(run(1, 5, 1));
  Index last_new;
  ASSERT_EQ(log.maybe_append(Index{1}, Term{1}, run(2, 3, 1), &last_new),
            RaftLog::AppendOutcome::Appended);
  EXPECT_EQ(last_new, Index{3});
  EXPECT_EQ(log.last_index(), Index{5});
}

TEST_F(RaftLogTest, MaybeAppend_RefusesToRewriteCommittedEntries) {
  RaftLog log(storage);
  log.append(run(1, 5, 1));
  log.commit_to(Index{4});
  Index last_new;
  EXPECT_EQ(log.maybe_append(Index{2}, Term{1}, run(3, 4, 2), &last_new),
            RaftLog::AppendOutcome::ConflictsWithCommitted);
  EXPECT_EQ(log.term(Index{3}).value(), Term{1});
}

TEST_F(RaftLogTest, TruncationReachesIntoStableEntries) {
  ASSERT_TRUE(storage.append(run(1, 5, 1)).is_ok());
  RaftLog log(storage);
  Index last_new;
  ASSERT_EQ(log.maybe_append(Index{2}, Term{1}, run(3, 4, 2), &last_new),
            RaftLog::AppendOutcome::Appended);
  EXPECT_EQ(log.last_index(), Index{4});
  EXPECT_EQ(log.unstable_entries().front().index, Index{3});
  EXPECT_EQ(log.entries_from(Index{1}, UINT64_MAX).value().size(), 4u);
}

TEST_F(RaftLogTest, FindConflictByTerm_SkipsWholeTerms) {
  RaftLog log(storage);
  log.append(run(1, 10, 1));
  log.append(run(11, 60, 3));
  // A leader whose entry at 60 has term 2: nothing of term 3 can match, jump to 10.
  EXPECT_EQ(log.find_conflict_by_term(Index{60}, Term{2}), std::make_pair(Index{10}, Term{1}));
  EXPECT_EQ(log.find_conflict_by_term(Index{60}, Term{3}), std::make_pair(Index{60}, Term{3}));
}

TEST_F(RaftLogTest, IsUpToDate_ComparesTermThenIndex) {
  RaftLog log(storage);
  log.append(run(1, 5, 2));
  EXPECT_TRUE(log.is_up_to_date(Index{1}, Term{3}));
  EXPECT_FALSE(log.is_up_to_date(Index{9}, Term{1}));
  EXPECT_TRUE(log.is_up_to_date(Index{5}, Term{2}));
  EXPECT_FALSE(log.is_up_to_date(Index{4}, Term{2}));
}

TEST_F(RaftLogTest, StableTo_IgnoresReplacedEntries) {
  RaftLog log(storage);
  log.append(run(1, 3, 1));
  Index last_new;
  ASSERT_EQ(log.maybe_append(Index{1}, Term{1}, run(2, 3, 2), &last_new),
            RaftLog::AppendOutcome::Appended);
  log.stable_to(Index{3}, Term{1});  // The Ready that held term-1 entries is out of date.
  EXPECT_EQ(log.unstable_entries().size(), 3u);
  log.stable_to(Index{3}, Term{2});
  EXPECT_TRUE(log.unstable_entries().empty());
}

TEST_F(RaftLogTest, NextCommittedEntries_BoundedByBytes) {
  RaftLog log(storage);
  log.append(run(1, 10, 1));
  log.commit_to(Index{10});
  EXPECT_EQ(log.next_committed_entries(1).value().size(), 1u);
  EXPECT_EQ(log.next_committed_entries(UINT64_MAX).value().size(), 10u);
  log.applied_to(Index{10});
  EXPECT_FALSE(log.has_next_committed_entries());
}

TEST_F(RaftLogTest, Restore_ReplacesLogWithSnapshot) {
  RaftLog log(storage);
  log.append(run(1, 3, 1));
  log.restore(Snapshot{SnapshotMeta{Index{50}, Term{4}, ConfState{}}, "state"});
  EXPECT_EQ(log.last_index(), Index{50});
  EXPECT_EQ(log.first_index(), Index{51});
  EXPECT_EQ(log.committed(), Index{50});
  EXPECT_EQ(log.last_term(), Term{4});
  EXPECT_FALSE(log.term(Index{3}).is_ok());
  EXPECT_FALSE(log.has_next_committed_entries());  // The snapshot is applied, not entries.
}

}  // namespace
}  // namespace raftkv::raft
