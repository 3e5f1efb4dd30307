// Pacing of large background writes (WriteBehind) and the zero-filling of spare WAL segments
// (write_zeros): which write-back requests a file sees, in which order.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "storage/fs.h"

namespace raftkv::storage {
namespace {

// Records what the code under test asks of a file: every write and every write-back request.
class RecordingFile final : public File {
 public:
  std::vector<std::pair<uint64_t, std::string>> writes;
  std::vector<std::pair<uint64_t, uint64_t>> write_behinds;

  Status write_at(uint64_t offset, std::string_view bytes) override {
    writes.emplace_back(offset, std::string(bytes));
    return Status::ok();
  }
  Result<size_t> read_at(uint64_t, char*, size_t) const override { return size_t{0}; }
  Status sync() override { return Status::ok(); }
  Status allocate(uint64_t) override { return Status::ok(); }
  Status truncate(uint64_t) override { return Status::ok(); }
  Result<uint64_t> size() const override { return uint64_t{0}; }
  void write_behind(uint64_t offset, uint64_t length) override {
    write_behinds.emplace_back(offset, length);
  }
  const std::string& path() const override { return path_; }

 private:
  std::string path_ = "recording";
};

TEST(WriteZeros, WritesTheRangeInStepsStartingEachFullStepsWriteBack) {
  RecordingFile file;
  const uint64_t begin = 100;
  const uint64_t end = begin + 3 * kWriteBehindBytes + 200;  // Three full steps, a short one.
  ASSERT_TRUE(write_zeros(file, begin, end).is_ok());
  // Contiguous steps, all zeros, exactly covering [begin, end); each full step's write-back is
  // requested before the next step is written (the short tail is left to the caller's sync).
  ASSERT_EQ(file.writes.size(), 4u);
  ASSERT_EQ(file.write_behinds.size(), 3u);
  uint64_t next = begin;
  for (size_t i = 0; i < file.writes.size(); ++i) {
    const auto& [offset, bytes] = file.writes[i];
    EXPECT_EQ(offset, next);
    EXPECT_EQ(bytes, std::string(i < 3 ? kWriteBehindBytes : 200, '\0'));
    if (i < 3) {
      EXPECT_EQ(file.write_behinds[i], std::make_pair(offset, kWriteBehindBytes));
    }
    next += bytes.size();
  }
  EXPECT_EQ(next, end);
  RecordingFile empty;
  ASSERT_TRUE(write_zeros(empty, 10, 10).is_ok());
  EXPECT_TRUE(empty.writes.empty());
}

TEST(WriteBehind, StartsWriteBackOncePerFullStep_FromWhereItStarted) {
  RecordingFile file;
  WriteBehind pacing(1000);
  pacing.wrote_up_to(file, 1000 + kWriteBehindBytes - 1);  // Not a full step yet.
  EXPECT_TRUE(file.write_behinds.empty());
  pacing.wrote_up_to(file, 1000 + kWriteBehindBytes + 10);  // One step and a bit.
  ASSERT_EQ(file.write_behinds.size(), 1u);
  EXPECT_EQ(file.write_behinds[0], std::make_pair(uint64_t{1000}, kWriteBehindBytes + 10));
  pacing.wrote_up_to(file, 1000 + 4 * kWriteBehindBytes);  // A big write: one request for it.
  ASSERT_EQ(file.write_behinds.size(), 2u);
  EXPECT_EQ(file.write_behinds[1],
            std::make_pair(1000 + kWriteBehindBytes + 10, 3 * kWriteBehindBytes - 10));
}

}  // namespace
}  // namespace raftkv::storage
