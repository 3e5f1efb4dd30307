#include "storage/snapshot_file.h"

#include <gtest/gtest.h>

#include "sim_fs.h"

namespace raftkv::storage {
namespace {

using testing::SimFs;

raft::SnapshotMeta meta_at(uint64_t index, uint64_t term) {
  raft::ConfState conf;
  conf.voters = {NodeId{1}, NodeId{2}, NodeId{3}};
  conf.learners = {NodeId{4}};
  return raft::SnapshotMeta{Index{index}, Term{term}, conf};
}

std::string write_snapshot(SimFs& fs, const raft::SnapshotMeta& meta, const std::string& data) {
  Result<std::unique_ptr<SnapshotWriter>> writer = SnapshotWriter::create(fs, "/d", meta);
  EXPECT_TRUE(writer.is_ok());
  // Streamed in uneven pieces.
  for (size_t at = 0; at < data.size(); at += 777) {
    EXPECT_TRUE(writer.value()->write(std::string_view(data).substr(at, 777)).is_ok());
  }
  EXPECT_TRUE(writer.value()->finish().is_ok());
  return writer.value()->path();
}

TEST(SnapshotFile, NameRoundTripsAndSorts) {
  Index index;
  Term term;
  const std::string name = snapshot_file_name(Index{42}, Term{7});
  ASSERT_TRUE(parse_snapshot_file_name(name, &index, &term));
  EXPECT_EQ(index, Index{42});
  EXPECT_EQ(term, Term{7});
  EXPECT_LT(snapshot_file_name(Index{9}, Term{9}), snapshot_file_name(Index{10}, Term{1}));
  EXPECT_FALSE(parse_snapshot_file_name(name + ".tmp", &index, &term));
  EXPECT_FALSE(parse_snapshot_file_name("x", &index, &term));
}

TEST(SnapshotFile, StreamsDataAndMetaBack) {
  SimFs fs;
  std::string data(100'000, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 31);
  const std::string path = write_snapshot(fs, meta_at(10, 2), data);
  EXPECT_FALSE(fs.exists(path + ".tmp"));
  Result<std::unique_ptr<SnapshotReader>> reader = SnapshotReader::open(fs, path);
  ASSERT_TRUE(reader.is_ok()) << reader.status().to_string();
  EXPECT_EQ(reader.value()->meta(), meta_at(10, 2));
  EXPECT_EQ(reader.value()->data_bytes(), data.size());
  std::string back;
  char buffer[1000];
  while (true) {
    Result<size_t> got = reader.value()->read(std::span<char>(buffer, sizeof(buffer)));
    ASSERT_TRUE(got.is_ok()) << got.status().to_string();
    if (got.value() == 0) break;
    back.append(buffer, got.value());
  }
  EXPECT_EQ(back, data);
  raft::SnapshotMeta meta;
  EXPECT_TRUE(check_snapshot_bytes(fs.read_all(path), path, &meta).is_ok());
}

TEST(SnapshotFile, ChunksReassembleTheFile) {
  SimFs fs;
  const std::string path = write_snapshot(fs, meta_at(5, 1), std::string(10'000, 'q'));
  Result<std::unique_ptr<SnapshotReader>> reader = SnapshotReader::open(fs, path);
  ASSERT_TRUE(reader.is_ok());
  std::string file;
  for (uint64_t offset = 0;;) {
    Result<std::string> chunk = reader.value()->read_chunk(offset, 4096);
    ASSERT_TRUE(chunk.is_ok());
    if (chunk.value().empty()) break;
    offset += chunk.value().size();
    file += chunk.value();
  }
  EXPECT_EQ(file, fs.read_all(path));
}

// The write-back requests cover the file from 0 in contiguous steps of at least
// kWriteBehindBytes, up to at least `bytes` minus one step.
void expect_paced(const std::vector<std::pair<uint64_t, uint64_t>>& requests, uint64_t bytes) {
  ASSERT_FALSE(requests.empty());
  uint64_t next = 0;
  for (const auto& [offset, length] : requests) {
    EXPECT_EQ(offset, next);
    EXPECT_GE(length, kWriteBehindBytes);
    next = offset + length;
  }
  EXPECT_GT(next + kWriteBehindBytes, bytes);
  EXPECT_LE(next, bytes);
}

TEST(SnapshotFile, WrittenAndReceivedSnapshotsAreWrittenBackAsTheyGo) {
  // So that a large snapshot never sits in the page cache whole, to be flushed at once ahead
  // of the WAL's next fdatasync.
  SimFs fs;
  const std::string data(3 * kWriteBehindBytes + 12'345, 'd');
  const std::string path = write_snapshot(fs, meta_at(10, 2), data);
  const std::string file = fs.read_all(path);
  expect_paced(fs.write_behinds(path), file.size());
  SimFs receiving;
  Result<std::unique_ptr<SnapshotReceiver>> receiver = SnapshotReceiver::create(receiving, "/r");
  ASSERT_TRUE(receiver.is_ok());
  for (size_t at = 0; at < file.size(); at += 64 << 10) {
    ASSERT_TRUE(receiver.value()->write_chunk(at, std::string_view(file).substr(at, 64 << 10))
                    .is_ok());
  }
  ASSERT_TRUE(receiver.value()->verify().is_ok());
  ASSERT_TRUE(receiver.value()->finish().is_ok());
  expect_paced(receiving.write_behinds(receiver.value()->path()), file.size());
}

TEST(SnapshotFile, BitFlipAnywhereIsDetected) {
  SimFs fs;
  const std::string path = write_snapshot(fs, meta_at(5, 1), std::string(3000, 'z'));
  const std::string clean = fs.read_all(path);
  for (size_t at = 0; at < clean.size(); at += 37) {
    std::string bytes = clean;
    bytes[at] = static_cast<char>(bytes[at] ^ 0x04);
    fs.overwrite(path, bytes);
    raft::SnapshotMeta meta;
    const Status checked = check_snapshot_bytes(bytes, path, &meta);
    EXPECT_EQ(checked.code(), ErrorCode::Corruption) << "byte " << at;
    Result<std::unique_ptr<SnapshotReader>> reader = SnapshotReader::open(fs, path);
    if (!reader.is_ok()) {
      EXPECT_EQ(reader.status().code(), ErrorCode::Corruption);
      EXPECT_NE(reader.status().message().find(path), std::string::npos);
      continue;
    }
    EXPECT_EQ(reader.value()->verify().code(), ErrorCode::Corruption) << "byte " << at;
  }
}

TEST(SnapshotFile, TruncatedFileIsCorruption) {
  SimFs fs;
  const std::string path = write_snapshot(fs, meta_at(5, 1), std::string(500, 'z'));
  const std::string clean = fs.read_all(path);
  for (size_t size : {size_t{0}, size_t{10}, clean.size() / 2, clean.size() - 1}) {
    fs.overwrite(path, clean.substr(0, size));
    Result<std::unique_ptr<SnapshotReader>> reader = SnapshotReader::open(fs, path);
    ASSERT_FALSE(reader.is_ok()) << size;
    EXPECT_EQ(reader.status().code(), ErrorCode::Corruption);
  }
}

TEST(SnapshotFile, UnfinishedWriterLeavesNothing) {
  SimFs fs;
  {
    Result<std::unique_ptr<SnapshotWriter>> writer =
        SnapshotWriter::create(fs, "/d", meta_at(3, 1));
    ASSERT_TRUE(writer.is_ok());
    ASSERT_TRUE(writer.value()->write("partial").is_ok());
  }
  Result<std::vector<std::string>> names = fs.list("/d");
  ASSERT_TRUE(names.is_ok());
  EXPECT_TRUE(names.value().empty());
}

TEST(SnapshotFile, CrashBeforeDirSyncLeavesNoFinalFile) {
  SimFs fs;
  const std::string path = write_snapshot(fs, meta_at(5, 1), "data");
  // Everything was synced, renamed and the directory synced: the image has the file.
  EXPECT_TRUE(fs.crash_image(0)->exists(path));
  SimFs fs2;
  fs2.crash_after(4);  // create, write header, write data, write footer, (sync fails).
  Result<std::unique_ptr<SnapshotWriter>> writer = SnapshotWriter::create(fs2, "/d", meta_at(5, 1));
  ASSERT_TRUE(writer.is_ok());
  ASSERT_TRUE(writer.value()->write("data").is_ok());
  EXPECT_FALSE(writer.value()->finish().is_ok());
  EXPECT_FALSE(fs2.crash_image(1)->exists(path));
}

}  // namespace
}  // namespace raftkv::storage
