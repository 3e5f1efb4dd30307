// UnsyncedWrites on a plain temp directory (no FUSE, no root): what drop() leaves is exactly
// each file's state at its last sync.

#include "unsynced_writes.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/falloc.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace raftkv::lazyfs {
namespace {

class UnsyncedWritesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/lazyfs-unit-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    dir_fd_ = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ASSERT_GE(dir_fd_, 0);
  }
  void TearDown() override {
    for (int fd : fds_) ::close(fd);
    ::close(dir_fd_);
    std::filesystem::remove_all(dir_);
  }

  int open_file(const std::string& name) {
    const int fd = ::openat(dir_fd_, name.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    EXPECT_GE(fd, 0) << name;
    fds_.push_back(fd);
    return fd;
  }
  void write(int fd, const std::string& bytes, off_t offset) {
    EXPECT_EQ(unsynced_.write(fd, bytes.data(), bytes.size(), offset, /*append=*/false),
              static_cast<ssize_t>(bytes.size()));
  }
  std::string contents(const std::string& name) const {
    std::ifstream in(dir_ + "/" + name, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  std::string dir_;
  int dir_fd_ = -1;
  std::vector<int> fds_;
  UnsyncedWrites unsynced_;
};

TEST_F(UnsyncedWritesTest, Drop_NewFileNeverSynced_IsEmptyAgain) {
  const int fd = open_file("a");
  write(fd, "hello", 0);
  write(fd, " world", 5);
  EXPECT_EQ(contents("a"), "hello world");  // Written through at once.
  EXPECT_EQ(unsynced_.stats().files, 1u);
  EXPECT_EQ(unsynced_.stats().saved_bytes, 0u);  // Nothing synced was overwritten.
  EXPECT_EQ(unsynced_.drop(), 1);
  EXPECT_EQ(contents("a"), "");
  EXPECT_EQ(unsynced_.stats().files, 0u);
}

TEST_F(UnsyncedWritesTest, Drop_KeepsSyncedBytes_RestoresOverwrittenOnes) {
  const int fd = open_file("a");
  write(fd, "0123456789", 0);
  EXPECT_EQ(unsynced_.sync(fd), 0);
  write(fd, "AB", 2);
  write(fd, "xyz", 3);   // Overlaps the first overwrite: only bytes 4 and 5 are saved anew.
  write(fd, "tail", 10);  // Past the synced size: undone by the size alone.
  EXPECT_EQ(contents("a"), "01Axyz6789tail");
  EXPECT_EQ(unsynced_.stats().saved_bytes, 4u);
  EXPECT_EQ(unsynced_.drop(), 1);
  EXPECT_EQ(contents("a"), "0123456789");
}

TEST_F(UnsyncedWritesTest, Sync_MakesLaterDropKeepEverything) {
  const int fd = open_file("a");
  write(fd, "first", 0);
  EXPECT_EQ(unsynced_.sync(fd), 0);
  write(fd, "FI", 0);
  EXPECT_EQ(unsynced_.sync(fd), 0);
  EXPECT_EQ(unsynced_.drop(), 0);
  EXPECT_EQ(contents("a"), "FIrst");
  EXPECT_EQ(unsynced_.stats().syncs, 2u);
}

TEST_F(UnsyncedWritesTest, Truncate_ShrinkThenGrow_DropBringsBackTheCutBytes) {
  const int fd = open_file("a");
  write(fd, "abcdefgh", 0);
  EXPECT_EQ(unsynced_.sync(fd), 0);
  EXPECT_EQ(unsynced_.truncate(fd, 3), 0);
  EXPECT_EQ(unsynced_.truncate(fd, 6), 0);
  EXPECT_EQ(contents("a"), std::string("abc\0\0\0", 6));
  EXPECT_EQ(unsynced_.drop(), 1);
  EXPECT_EQ(contents("a"), "abcdefgh");
}

TEST_F(UnsyncedWritesTest, WritePastEnd_HoleOverSyncedRangeIsRestored) {
  const int fd = open_file("a");
  write(fd, "abcdefgh", 0);
  EXPECT_EQ(unsynced_.sync(fd), 0);
  EXPECT_EQ(unsynced_.truncate(fd, 2), 0);
  write(fd, "Z", 5);  // [2, 5) becomes a hole of zeros.
  EXPECT_EQ(contents("a"), std::string("ab\0\0\0Z", 6));
  EXPECT_EQ(unsynced_.drop(), 1);
  EXPECT_EQ(contents("a"), "abcdefgh");
}

TEST_F(UnsyncedWritesTest, Append_WritesAtTheEndWhateverTheOffset) {
  const int fd = open_file("a");
  write(fd, "abc", 0);
  EXPECT_EQ(unsynced_.write(fd, "de", 2, /*offset=*/0, /*append=*/true), 2);
  EXPECT_EQ(contents("a"), "abcde");
}

TEST_F(UnsyncedWritesTest, Allocate_GrowsTheSize_DropShrinksItBack) {
  const int fd = open_file("a");
  write(fd, "abc", 0);
  EXPECT_EQ(unsynced_.sync(fd), 0);
  EXPECT_EQ(unsynced_.allocate(fd, 0, 0, 4096), 0);
  EXPECT_EQ(std::filesystem::file_size(dir_ + "/a"), 4096u);
  EXPECT_EQ(unsynced_.allocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 1),
            -EOPNOTSUPP);
  EXPECT_EQ(unsynced_.drop(), 1);
  EXPECT_EQ(contents("a"), "abc");
}

TEST_F(UnsyncedWritesTest, Rename_RecordFollowsTheFile_VictimIsForgotten) {
  const int victim = open_file("old");
  write(victim, "victim", 0);
  const int fd = open_file("new.tmp");
  write(fd, "synced", 0);
  EXPECT_EQ(unsynced_.sync(fd), 0);
  write(fd, "UNSYNC", 0);
  EXPECT_EQ(unsynced_.rename(dir_fd_, "new.tmp", "old", 0), 0);
  EXPECT_EQ(unsynced_.stats().files, 1u);  // The replaced file's record went with its name.
  EXPECT_EQ(unsynced_.drop(), 1);
  EXPECT_EQ(contents("old"), "synced");
}

TEST_F(UnsyncedWritesTest, Unlink_LastNameGone_RecordGone) {
  const int fd = open_file("a");
  write(fd, "data", 0);
  EXPECT_EQ(::linkat(dir_fd_, "a", dir_fd_, "b", 0), 0);
  EXPECT_EQ(unsynced_.unlink(dir_fd_, "a"), 0);
  EXPECT_EQ(unsynced_.stats().files, 1u);  // Still reachable as "b".
  EXPECT_EQ(unsynced_.unlink(dir_fd_, "b"), 0);
  EXPECT_EQ(unsynced_.stats().files, 0u);
  EXPECT_EQ(unsynced_.unlink(dir_fd_, "b"), -ENOENT);
}

}  // namespace
}  // namespace raftkv::lazyfs
