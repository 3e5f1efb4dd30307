#include "storage/record.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace raftkv::storage {
namespace {

struct Seen {
  RecordType type;
  std::string payload;
  uint64_t offset;
};

ScanResult scan(const std::string& bytes, bool last, std::vector<Seen>* seen) {
  return scan_records(bytes, "seg.wal", last, [&](const RecordView& record) {
    seen->push_back(Seen{record.type, std::string(record.payload), record.offset});
    return Status::ok();
  });
}

// Three records followed by preallocated zeros.
std::string three_records(std::vector<uint64_t>* offsets, size_t zeros = 4096) {
  std::string bytes;
  const std::vector<std::string> payloads = {"alpha", std::string(700, 'b'), "gamma-record"};
  for (const std::string& payload : payloads) {
    offsets->push_back(bytes.size());
    append_record(RecordType::Entry, payload, &bytes);
  }
  offsets->push_back(bytes.size());
  bytes.append(zeros, '\0');
  return bytes;
}

TEST(Record, RoundTripsAndStopsAtZeros) {
  std::vector<uint64_t> offsets;
  const std::string bytes = three_records(&offsets);
  std::vector<Seen> seen;
  const ScanResult result = scan(bytes, /*last=*/true, &seen);
  ASSERT_TRUE(result.status.is_ok()) << result.status.to_string();
  EXPECT_FALSE(result.torn);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[1].payload, std::string(700, 'b'));
  EXPECT_EQ(seen[2].offset, offsets[2]);
  EXPECT_EQ(result.end_offset, offsets[3]);
}

TEST(Record, HeadThenTailThenEndMarkIsTheSameRecord) {
  const std::string head = "head-bytes";
  const std::string tail(70000, 't');
  std::string whole;
  append_record(RecordType::Entry, head + tail, &whole);
  std::string split;
  append_record_head(RecordType::Entry, head, tail, &split);
  split += tail;
  split.push_back(static_cast<char>(kRecordEndMark));
  EXPECT_EQ(split, whole);
}

TEST(Record, EmptyInputIsACleanEnd) {
  std::vector<Seen> seen;
  const ScanResult result = scan("", true, &seen);
  EXPECT_TRUE(result.status.is_ok());
  EXPECT_EQ(result.end_offset, 0u);
  EXPECT_TRUE(seen.empty());
}

TEST(Record, BitFlipInTheMiddleIsCorruptionNamingFileAndOffset) {
  std::vector<uint64_t> offsets;
  const std::string clean = three_records(&offsets);
  for (uint64_t at = offsets[1]; at < offsets[2]; ++at) {
    for (int bit = 0; bit < 8; bit += 3) {
      std::string bytes = clean;
      bytes[at] = static_cast<char>(bytes[at] ^ (1 << bit));
      for (bool last : {false, true}) {
        std::vector<Seen> seen;
        const ScanResult result = scan(bytes, last, &seen);
        ASSERT_EQ(result.status.code(), ErrorCode::Corruption) << "byte " << at;
        EXPECT_NE(result.status.message().find("seg.wal at offset " + std::to_string(offsets[1])),
                  std::string::npos)
            << result.status.message();
        EXPECT_EQ(seen.size(), 1u);
      }
    }
  }
}

TEST(Record, BitFlipInTheLastRecordOfASealedSegmentIsCorruption) {
  std::vector<uint64_t> offsets;
  std::string bytes = three_records(&offsets);
  bytes[offsets[2] + 12] ^= 0x10;
  std::vector<Seen> seen;
  EXPECT_EQ(scan(bytes, false, &seen).status.code(), ErrorCode::Corruption);
  // In the last segment a damaged last record with its end mark intact is not a torn write.
  seen.clear();
  EXPECT_EQ(scan(bytes, true, &seen).status.code(), ErrorCode::Corruption);
}

TEST(Record, TornTailAtEveryByteIsCutAndEarlierRecordsKept) {
  std::vector<uint64_t> offsets;
  const std::string clean = three_records(&offsets);
  for (uint64_t cut = offsets[2]; cut < offsets[3]; ++cut) {
    // Preallocated file: the rest of the last record never reached the disk (zeros).
    std::string zeroed = clean;
    std::fill(zeroed.begin() + static_cast<std::ptrdiff_t>(cut), zeroed.end(), '\0');
    // Not preallocated: the file simply ends mid-record.
    const std::string short_file = clean.substr(0, cut);
    const std::string* const variants[] = {&zeroed, &short_file};
    for (const std::string* bytes : variants) {
      std::vector<Seen> seen;
      const ScanResult result = scan(*bytes, true, &seen);
      ASSERT_TRUE(result.status.is_ok()) << "cut " << cut << ": " << result.status.to_string();
      EXPECT_EQ(result.end_offset, offsets[2]);
      EXPECT_EQ(result.torn, cut != offsets[2]) << "cut " << cut;
      EXPECT_EQ(seen.size(), 2u);
    }
  }
}

TEST(Record, TornTailInASealedSegmentIsCorruption) {
  std::vector<uint64_t> offsets;
  const std::string clean = three_records(&offsets);
  std::vector<Seen> seen;
  const ScanResult result = scan(clean.substr(0, offsets[2] + 5), false, &seen);
  EXPECT_EQ(result.status.code(), ErrorCode::Corruption);
}

TEST(Record, ZeroSectorHoleInTheLastSegmentIsTorn) {
  // An unsynced multi-page write where a middle page never reached the disk.
  std::string bytes;
  append_record(RecordType::Entry, "first", &bytes);
  const uint64_t hole_record = bytes.size();
  append_record(RecordType::Entry, std::string(3000, 'x'), &bytes);
  append_record(RecordType::Entry, "after the hole", &bytes);
  bytes.append(4096, '\0');
  std::fill(bytes.begin() + 1024, bytes.begin() + 2048, '\0');
  std::vector<Seen> seen;
  const ScanResult result = scan(bytes, true, &seen);
  ASSERT_TRUE(result.status.is_ok()) << result.status.to_string();
  EXPECT_TRUE(result.torn);
  EXPECT_EQ(result.end_offset, hole_record);
  EXPECT_EQ(seen.size(), 1u);
}

TEST(Record, FlippedLengthBeforeValidRecordsIsCorruption) {
  std::vector<uint64_t> offsets;
  std::string bytes = three_records(&offsets);
  bytes[offsets[1] + 2] = 0x10;  // Length now runs far past the end of the data.
  std::vector<Seen> seen;
  EXPECT_EQ(scan(bytes, true, &seen).status.code(), ErrorCode::Corruption);
}

TEST(Record, VisitorErrorStopsTheScan) {
  std::vector<uint64_t> offsets;
  const std::string bytes = three_records(&offsets);
  int visits = 0;
  const ScanResult result = scan_records(bytes, "x", true, [&](const RecordView&) {
    return ++visits == 2 ? Status(ErrorCode::Corruption, "semantic") : Status::ok();
  });
  EXPECT_EQ(result.status.message(), "semantic");
  EXPECT_EQ(visits, 2);
}

}  // namespace
}  // namespace raftkv::storage
