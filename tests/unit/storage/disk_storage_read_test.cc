// DiskStorage::entries() reading entries back past its cache: runs of consecutive records read
// with one contiguous read each (issue 15), checked against MemoryStorage's answers.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>

#include "raft/memory_storage.h"
#include "storage/disk_storage.h"
#include "storage_test_util.h"

namespace raftkv::storage {
namespace {

using namespace testing;  // NOLINT: test helpers.

// Counts File::read_at calls on every file it opens.
class CountingReadsFs final : public ForwardingFs {
 public:
  using ForwardingFs::ForwardingFs;
  Result<std::unique_ptr<File>> open(const std::string& path, OpenMode mode) override {
    Result<std::unique_ptr<File>> file = inner_.open(path, mode);
    if (!file.is_ok()) return file;
    return std::unique_ptr<File>(new CountingFile(std::move(file.value()), reads_));
  }
  [[nodiscard]] uint64_t reads() const { return reads_.load(); }

 private:
  class CountingFile final : public ForwardingFile {
   public:
    CountingFile(std::unique_ptr<File> inner, std::atomic<uint64_t>& reads)
        : ForwardingFile(std::move(inner)), reads_(reads) {}
    Result<size_t> read_at(uint64_t offset, char* out, size_t size) const override {
      reads_.fetch_add(1);
      return ForwardingFile::read_at(offset, out, size);
    }

   private:
    std::atomic<uint64_t>& reads_;
  };
  std::atomic<uint64_t> reads_{0};
};

// Entries [lo, hi) of `term`, each with `data_bytes` of payload distinct per index.
std::vector<raft::Entry> distinct_entries(uint64_t lo, uint64_t hi, uint64_t term,
                                          size_t data_bytes) {
  std::vector<raft::Entry> out;
  for (uint64_t i = lo; i < hi; ++i) {
    std::string data = std::to_string(i) + ":";
    data.resize(data_bytes, static_cast<char>('a' + i % 26));
    out.push_back(make_entry(i, term, std::move(data)));
  }
  return out;
}

// Appends `entries` a few at a time, so that they spread over small segments.
void append_in_batches(DiskStorage& storage, const std::vector<raft::Entry>& entries) {
  for (size_t at = 0; at < entries.size(); at += 4) {
    const size_t end = std::min(at + 4, entries.size());
    ASSERT_TRUE(storage.append({entries.begin() + static_cast<std::ptrdiff_t>(at),
                                entries.begin() + static_cast<std::ptrdiff_t>(end)})
                    .is_ok());
  }
}

// `disk` answers entries(lo, hi, bytes_max) exactly as MemoryStorage holding `log` does, for
// every lo and a spread of byte budgets (cuts inside runs, at their ends, none at all).
void expect_reads_match(const DiskStorage& disk, const std::vector<raft::Entry>& log) {
  raft::MemoryStorage memory;
  ASSERT_TRUE(memory.append(log).is_ok());
  const Index hi = log.back().index + 1;
  for (Index lo = log.front().index; lo < hi; ++lo) {
    for (uint64_t bytes_max : {uint64_t{1}, uint64_t{500}, uint64_t{4000}, UINT64_MAX}) {
      Result<std::vector<raft::Entry>> got = disk.entries(lo, hi, bytes_max);
      ASSERT_TRUE(got.is_ok()) << got.status().to_string();
      ASSERT_EQ(got.value(), memory.entries(lo, hi, bytes_max).value())
          << "lo " << lo << " bytes_max " << bytes_max;
    }
  }
}

TEST(DiskStorageRead, Entries_SpanCachedAndUncachedEntries) {
  SimFs fs;
  DiskStorageOptions options = sim_options(fs, 1 << 20);
  options.cache_bytes_max = 3000;  // About the newest 20 of the 60 entries.
  auto storage = open_or_die(options);
  std::vector<raft::Entry> log;
  for (uint64_t lo = 1; lo <= 60; lo += 6) {
    const std::vector<raft::Entry> batch = distinct_entries(lo, lo + 6, 1, 120);
    // A hard state record after each batch: runs read over records that are not entries.
    ASSERT_TRUE(storage->save(batch, raft::HardState{Term{1}, kNoNode, Index{lo}}).is_ok());
    log.insert(log.end(), batch.begin(), batch.end());
  }
  ASSERT_GT(storage->details().cached_entries, 0u);
  ASSERT_LT(storage->details().cached_entries, 60u);
  expect_reads_match(*storage, log);
}

TEST(DiskStorageRead, Entries_SpanSegmentsAndReplacedSuffixes) {
  SimFs fs;
  auto storage = open_uncached(fs, 4096);
  append_in_batches(*storage, distinct_entries(1, 41, 1, 90));
  // Entries 31.. are replaced: their old records stay in the file before the new ones.
  append_in_batches(*storage, distinct_entries(31, 81, 2, 70));
  ASSERT_GE(storage->stats().segments, 3u);
  std::vector<raft::Entry> log = distinct_entries(1, 31, 1, 90);
  for (const raft::Entry& entry : distinct_entries(31, 81, 2, 70)) log.push_back(entry);
  expect_reads_match(*storage, log);
}

TEST(DiskStorageRead, Entries_ReadsARunWithOneRead) {
  SimFs sim;
  CountingReadsFs fs(sim);
  auto storage = open_uncached(fs, 1 << 20);
  ASSERT_TRUE(storage->append(distinct_entries(1, 1001, 1, 300)).is_ok());
  const uint64_t reads_before = fs.reads();
  Result<std::vector<raft::Entry>> got = storage->entries(Index{1}, Index{1001}, 100'000);
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  EXPECT_EQ(got.value().size(), 100'000u / 324);  // size_bytes() is 300 + 24.
  EXPECT_EQ(fs.reads() - reads_before, 1u);
}

TEST(DiskStorageRead, Entries_ReadsRecordsNotWrittenToTheFileYet) {
  SimFs fs;
  auto storage = open_uncached(fs, 1 << 20);
  ASSERT_TRUE(storage->append(distinct_entries(1, 21, 1, 50)).is_ok());
  // Not waited for: these stay in the next sync's batch, not in the file.
  ASSERT_TRUE(storage->write(distinct_entries(21, 51, 1, 50), std::nullopt).is_ok());
  expect_reads_match(*storage, distinct_entries(1, 51, 1, 50));
}

TEST(DiskStorageRead, Entries_LastRecordOfASegmentLargerThanTheFirstGuess) {
  SimFs fs;
  auto storage = open_uncached(fs, 16384);
  std::vector<raft::Entry> log = distinct_entries(1, 3, 1, 100);
  log.push_back(make_entry(3, 1, std::string(9000, 'L')));  // Longer than the 4 KiB guess.
  log.push_back(make_entry(4, 1, std::string(12000, 'n')));  // Rotates: 3 ends segment 1.
  ASSERT_TRUE(storage->append({log.begin(), log.end() - 1}).is_ok());
  ASSERT_TRUE(storage->append({log.back()}).is_ok());
  ASSERT_EQ(storage->stats().segments, 2u);
  expect_reads_match(*storage, log);
}

TEST(DiskStorageRead, Entries_DamagedRecordInsideARunIsCorruptionNamingItsOffset) {
  SimFs fs;
  auto storage = open_uncached(fs, 1 << 20);
  ASSERT_TRUE(storage->append(distinct_entries(1, 11, 1, 200)).is_ok());
  const std::string path = std::string(kDir) + "/" + segment_file_name(1);
  std::string bytes = fs.read_all(path);
  std::vector<uint64_t> entry_offsets;
  const ScanResult scan = scan_records(bytes, path, true, [&](const RecordView& record) {
    if (record.type == RecordType::Entry) entry_offsets.push_back(record.offset);
    return Status::ok();
  });
  ASSERT_TRUE(scan.status.is_ok());
  ASSERT_EQ(entry_offsets.size(), 10u);
  bytes[entry_offsets[5] + 40] ^= 1;  // Inside entry 6's payload.
  fs.overwrite(path, bytes);

  Result<std::vector<raft::Entry>> damaged = storage->entries(Index{1}, Index{11}, UINT64_MAX);
  ASSERT_FALSE(damaged.is_ok());
  EXPECT_EQ(damaged.status().code(), ErrorCode::Corruption);
  EXPECT_NE(damaged.status().message().find(path + " at offset " +
                                            std::to_string(entry_offsets[5])),
            std::string::npos)
      << damaged.status().to_string();
  // The records around it still read back.
  EXPECT_EQ(storage->entries(Index{1}, Index{6}, UINT64_MAX).value(),
            distinct_entries(1, 6, 1, 200));
  EXPECT_EQ(storage->entries(Index{7}, Index{11}, UINT64_MAX).value(),
            distinct_entries(7, 11, 1, 200));
}

}  // namespace
}  // namespace raftkv::storage
