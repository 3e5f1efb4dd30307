// Recovery: torn tails are cut and logged; damage, gaps and contradictions are Corruption
// naming the file and offset.
#include <gtest/gtest.h>

#include "proto/convert.h"
#include "storage/disk_storage.h"
#include "storage/record.h"
#include "storage_test_util.h"

namespace raftkv::storage {
namespace {

using namespace testing;  // NOLINT: test helpers.

std::string segment_path(uint64_t sequence) {
  return std::string(kDir) + "/" + segment_file_name(sequence);
}

// Offsets of the records in a segment's bytes.
std::vector<uint64_t> record_offsets(const std::string& bytes) {
  std::vector<uint64_t> offsets;
  const ScanResult scan = scan_records(bytes, "s", true, [&](const RecordView& record) {
    offsets.push_back(record.offset);
    return Status::ok();
  });
  EXPECT_TRUE(scan.status.is_ok());
  offsets.push_back(scan.end_offset);
  return offsets;
}

Status open_status(SimFs& fs, Logger* logger = nullptr) {
  Result<std::unique_ptr<DiskStorage>> storage =
      DiskStorage::open(kDir, sim_options(fs, 4096, logger));
  return storage.is_ok() ? Status::ok() : storage.status();
}

TEST(Recovery, TornTailAtEveryByteOfTheLastRecordIsCut) {
  SimFs fs;
  {
    auto storage = open_or_die(sim_options(fs, 1 << 16));
    for (uint64_t i = 1; i <= 3; ++i)
      ASSERT_TRUE(storage->append(make_entries(i, i + 1, 1)).is_ok());
  }
  const std::string clean = fs.read_all(segment_path(1));
  const std::vector<uint64_t> offsets = record_offsets(clean);
  const uint64_t last_start = offsets[offsets.size() - 2];
  const uint64_t last_end = offsets.back();
  for (uint64_t cut = last_start; cut < last_end; ++cut) {
    for (bool preallocated : {true, false}) {
      std::string bytes = preallocated ? clean : clean.substr(0, cut);
      if (preallocated)
        std::fill(bytes.begin() + static_cast<std::ptrdiff_t>(cut), bytes.end(), '\0');
      SimFs damaged;
      damaged.overwrite_or_create(segment_path(1), bytes);
      CaptureLogger logger;
      {
        Result<std::unique_ptr<DiskStorage>> storage =
            DiskStorage::open(kDir, sim_options(damaged, 1 << 16, &logger));
        ASSERT_TRUE(storage.is_ok()) << "cut " << cut << ": " << storage.status().to_string();
        EXPECT_EQ(storage.value()->last_index(), Index{2}) << "cut " << cut;
        EXPECT_EQ(all_entries(*storage.value()), make_entries(1, 3, 1));
        if (cut > last_start) {
          EXPECT_TRUE(logger.contains(segment_path(1) + " at offset " + std::to_string(last_start)))
              << "cut " << cut;
        }
        // The log goes on from the cut, and the new record survives the next recovery.
        ASSERT_TRUE(storage.value()->append(make_entries(3, 4, 2)).is_ok());
      }
      auto reopened = open_or_die(sim_options(damaged, 1 << 16));
      ASSERT_EQ(reopened->last_index(), Index{3});
      EXPECT_EQ(reopened->term(Index{3}).value(), Term{2});
    }
  }
}

TEST(Recovery, BitFlipInASealedSegmentIsCorruptionNamingFileAndOffset) {
  SimFs fs;
  {
    auto storage = open_or_die(sim_options(fs, 4096));
    for (uint64_t i = 1; i < 200; i += 3) {
      ASSERT_TRUE(storage->append(make_entries(i, i + 3, 1, 40)).is_ok());
    }
    ASSERT_GT(storage->stats().segments, 2u);
  }
  std::string bytes = fs.read_all(segment_path(1));
  const std::vector<uint64_t> offsets = record_offsets(bytes);
  const uint64_t victim = offsets[offsets.size() / 2];
  bytes[victim + 20] = static_cast<char>(bytes[victim + 20] ^ 0x01);
  fs.overwrite(segment_path(1), bytes);
  const Status status = open_status(fs);
  EXPECT_EQ(status.code(), ErrorCode::Corruption);
  EXPECT_NE(status.message().find(segment_path(1) + " at offset " + std::to_string(victim)),
            std::string::npos)
      << status.message();
}

TEST(Recovery, BitFlipMidwayInTheLastSegmentIsCorruption) {
  SimFs fs;
  {
    auto storage = open_or_die(sim_options(fs, 1 << 16));
    ASSERT_TRUE(storage->append(make_entries(1, 20, 1, 40)).is_ok());
  }
  std::string bytes = fs.read_all(segment_path(1));
  const std::vector<uint64_t> offsets = record_offsets(bytes);
  const uint64_t victim = offsets[offsets.size() / 2];
  bytes[victim + 15] = static_cast<char>(bytes[victim + 15] ^ 0x80);
  fs.overwrite(segment_path(1), bytes);
  const Status status = open_status(fs);
  EXPECT_EQ(status.code(), ErrorCode::Corruption);
  EXPECT_NE(status.message().find("at offset " + std::to_string(victim)), std::string::npos)
      << status.message();
}

TEST(Recovery, MissingSegmentIsAGap) {
  SimFs fs;
  {
    auto storage = open_or_die(sim_options(fs, 4096));
    for (uint64_t i = 1; i < 200; i += 3) {
      ASSERT_TRUE(storage->append(make_entries(i, i + 3, 1, 40)).is_ok());
    }
  }
  ASSERT_TRUE(fs.remove(segment_path(2)).is_ok());
  const Status status = open_status(fs);
  EXPECT_EQ(status.code(), ErrorCode::Corruption);
  EXPECT_NE(status.message().find("gap"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find(segment_path(3)), std::string::npos) << status.message();
}

TEST(Recovery, MissingFirstSegmentWithoutSnapshotIsAGap) {
  SimFs fs;
  {
    auto storage = open_or_die(sim_options(fs, 4096));
    for (uint64_t i = 1; i < 200; i += 3) {
      ASSERT_TRUE(storage->append(make_entries(i, i + 3, 1, 40)).is_ok());
    }
  }
  ASSERT_TRUE(fs.remove(segment_path(1)).is_ok());
  const Status status = open_status(fs);
  EXPECT_EQ(status.code(), ErrorCode::Corruption);
  EXPECT_NE(status.message().find("gap"), std::string::npos) << status.message();
}

// Hand-built segment: header, then records as given.
std::string forged_segment(const std::vector<std::pair<RecordType, std::string>>& records) {
  std::string bytes;
  append_record(RecordType::SegmentHeader, encode_segment_header({1, Index{1}}), &bytes);
  for (const auto& [type, payload] : records) append_record(type, payload, &bytes);
  bytes.append(4096, '\0');
  return bytes;
}

std::string entry_payload(uint64_t index, uint64_t term) {
  std::string out;
  proto::encode_entry(make_entry(index, term), &out);
  return out;
}

TEST(Recovery, HardStateCommittingPastTheLogIsCorruption) {
  std::string hard_state;
  proto::encode_hard_state({Term{1}, kNoNode, Index{9}}, &hard_state);
  SimFs fs;
  fs.overwrite_or_create(segment_path(1), forged_segment({{RecordType::Entry, entry_payload(1, 1)},
                                                          {RecordType::Entry, entry_payload(2, 1)},
                                                          {RecordType::HardState, hard_state}}));
  const Status status = open_status(fs);
  EXPECT_EQ(status.code(), ErrorCode::Corruption);
  EXPECT_NE(status.message().find("commits index 9"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find(segment_path(1) + " at offset"), std::string::npos);
}

TEST(Recovery, EntryIndexGapIsCorruption) {
  SimFs fs;
  fs.overwrite_or_create(segment_path(1),
                         forged_segment({{RecordType::Entry, entry_payload(1, 1)},
                                         {RecordType::Entry, entry_payload(3, 1)}}));
  const Status status = open_status(fs);
  EXPECT_EQ(status.code(), ErrorCode::Corruption);
  EXPECT_NE(status.message().find("gap: entry 3"), std::string::npos) << status.message();
}

TEST(Recovery, TermGoingBackwardsIsCorruption) {
  SimFs fs;
  fs.overwrite_or_create(segment_path(1),
                         forged_segment({{RecordType::Entry, entry_payload(1, 2)},
                                         {RecordType::Entry, entry_payload(2, 1)}}));
  EXPECT_EQ(open_status(fs).code(), ErrorCode::Corruption);
}

TEST(Recovery, CorruptNewestSnapshotIsCorruption) {
  SimFs fs;
  {
    auto storage = open_or_die(sim_options(fs, 4096));
    ASSERT_TRUE(storage->append(make_entries(1, 50, 1)).is_ok());
    ASSERT_TRUE(storage->create_snapshot(Index{40}, {}, std::string(1000, 's')).is_ok());
  }
  const std::string path = std::string(kDir) + "/" + snapshot_file_name(Index{40}, Term{1});
  std::string bytes = fs.read_all(path);
  bytes[500] = static_cast<char>(bytes[500] ^ 0x02);
  fs.overwrite(path, bytes);
  const Status status = open_status(fs);
  EXPECT_EQ(status.code(), ErrorCode::Corruption);
  EXPECT_NE(status.message().find(path), std::string::npos) << status.message();
}

TEST(Recovery, LeftoverTemporaryFilesAreRemoved) {
  SimFs fs;
  { auto storage = open_or_die(sim_options(fs)); }
  fs.overwrite_or_create(std::string(kDir) + "/00000000000000000002.wal.tmp", "junk");
  auto storage = open_or_die(sim_options(fs));
  EXPECT_FALSE(fs.exists(std::string(kDir) + "/00000000000000000002.wal.tmp"));
}

// A killed process leaves written but unsynced (never acknowledged) records in the page cache.
// Once recovery has replayed them they are part of the log, so open makes them durable: a
// power loss after the restart must not take back a log the node has already acted on.
TEST(Recovery, ReplayedUnsyncedRecordsAreSyncedOnOpen) {
  SimFs fs;
  {
    auto storage = open_or_die(sim_options(fs, 1 << 16));
    ASSERT_TRUE(storage->append(make_entries(1, 3, 1)).is_ok());
    ASSERT_TRUE(storage->write(make_entries(3, 5, 1), std::nullopt).is_ok());
  }  // Closed without a sync: entries 3 and 4 are in the page cache only.
  {
    const std::unique_ptr<SimFs> power_loss_before_restart = fs.crash_image(0);
    auto recovered = open_or_die(sim_options(*power_loss_before_restart, 1 << 16));
    ASSERT_EQ(recovered->last_index(), Index{2});  // The premise: 3 and 4 were not durable.
  }
  auto restarted = open_or_die(sim_options(fs, 1 << 16));  // The page cache survived.
  ASSERT_EQ(restarted->last_index(), Index{4});
  const std::unique_ptr<SimFs> power_loss = fs.crash_image(0);
  auto recovered = open_or_die(sim_options(*power_loss, 1 << 16));
  EXPECT_EQ(recovered->last_index(), Index{4});
  EXPECT_EQ(all_entries(*recovered), make_entries(1, 5, 1));
}

}  // namespace
}  // namespace raftkv::storage
