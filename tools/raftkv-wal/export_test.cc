// raftkv-wal export on real directories written by DiskStorage: the state it writes is the
// snapshot plus every valid entry after it, read back through the node's own snapshot reader
// and state machine; and its edge cases: an empty dir, a snapshot with no entry after it, a
// log with no snapshot, a torn tail (left out), damage before the tail (refused).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>

#include "export.h"
#include "kv/command.h"
#include "kv/resp_state_machine.h"
#include "storage/disk_storage.h"
#include "storage/snapshot_file.h"

namespace raftkv::wal {
namespace {

class TempDir {
 public:
  TempDir() {
    std::string pattern = ::testing::TempDir() + "raftkv-export-XXXXXX";
    RAFT_ASSERT(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] std::string sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

raft::Entry set_entry(uint64_t index, uint64_t term, const std::string& key,
                      const std::string& value) {
  return raft::Entry{Term{term}, Index{index}, raft::EntryType::Normal,
                     kv::encode_command(kv::Command::call({"SET", key, value}))};
}

raft::Entry noop_entry(uint64_t index, uint64_t term) {
  return raft::Entry{Term{term}, Index{index}, raft::EntryType::NoOp, ""};
}

std::unique_ptr<storage::DiskStorage> open_storage(const std::string& dir) {
  Result<std::unique_ptr<storage::DiskStorage>> storage =
      storage::DiskStorage::open(dir, storage::DiskStorageOptions{.segment_bytes = 64 << 10});
  EXPECT_TRUE(storage.is_ok()) << storage.status().to_string();
  return storage.is_ok() ? std::move(storage.value()) : nullptr;
}

// A no-op at 1, then SET key<i> value<i> at index i + 1 for i in [0, keys).
std::vector<raft::Entry> set_entries(uint64_t keys, uint64_t term) {
  std::vector<raft::Entry> entries{noop_entry(1, term)};
  for (uint64_t i = 0; i < keys; ++i) {
    entries.push_back(set_entry(i + 2, term, "key" + std::to_string(i), "value" +
                                                                           std::to_string(i)));
  }
  return entries;
}

// The exported file, read as the node reads a snapshot: meta, then the state machine.
struct Restored {
  raft::SnapshotMeta meta;
  kv::RespStateMachine machine;
};

std::unique_ptr<Restored> read_back(const std::string& path) {
  Result<std::unique_ptr<storage::SnapshotReader>> reader =
      storage::SnapshotReader::open(storage::posix_fs(), path);
  EXPECT_TRUE(reader.is_ok()) << reader.status().to_string();
  if (!reader.is_ok()) return nullptr;
  auto restored = std::make_unique<Restored>();
  restored->meta = reader.value()->meta();
  const Status status = restored->machine.restore(*reader.value());
  EXPECT_TRUE(status.is_ok()) << status.to_string();
  return restored;
}

std::string get(const kv::RespStateMachine& machine, const std::string& key) {
  return machine.query(kv::encode_command(kv::Command::call({"GET", key})), 0);
}

TEST(Export, EmptyDirHasNothingToExport) {
  TempDir temp;
  std::filesystem::create_directories(temp.sub("raft"));
  Result<ExportReport> report =
      export_data_dir(storage::posix_fs(), temp.sub("raft"), temp.sub("out.snap"));
  ASSERT_FALSE(report.is_ok());
  EXPECT_EQ(report.status().code(), ErrorCode::InvalidArgument);
  EXPECT_NE(report.status().message().find("nothing to export"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(temp.sub("out.snap")));
}

TEST(Export, LogOnlyAppliesEveryEntryAndCountsThosePastCommit) {
  TempDir temp;
  {
    auto storage = open_storage(temp.sub("raft"));
    ASSERT_NE(storage, nullptr);
    ASSERT_TRUE(storage->append(set_entries(10, 3)).is_ok());
    ASSERT_TRUE(storage->set_hard_state({Term{3}, NodeId{1}, Index{8}}).is_ok());
  }
  Result<ExportReport> report =
      export_data_dir(storage::posix_fs(), temp.sub("raft"), temp.sub("out.snap"));
  ASSERT_TRUE(report.is_ok()) << report.status().to_string();
  EXPECT_EQ(report.value().snapshot_index, Index{0});
  EXPECT_EQ(report.value().entries_applied, 11u);
  EXPECT_EQ(report.value().last_index, Index{11});
  EXPECT_EQ(report.value().last_term, Term{3});
  EXPECT_EQ(report.value().commit_index, Index{8});
  EXPECT_EQ(report.value().past_commit, 3u);  // 9, 10, 11.
  EXPECT_EQ(report.value().keys, 10u);
  EXPECT_FALSE(report.value().torn_tail);
  std::unique_ptr<Restored> restored = read_back(temp.sub("out.snap"));
  ASSERT_NE(restored, nullptr);
  EXPECT_EQ(restored->meta.index, Index{11});
  EXPECT_EQ(restored->meta.term, Term{3});
  EXPECT_TRUE(restored->meta.conf_state.voters.empty());  // The new cluster brings its own.
  EXPECT_EQ(restored->machine.applied_index(), Index{11});
  EXPECT_EQ(get(restored->machine, "key0"), "$6\r\nvalue0\r\n");
  EXPECT_EQ(get(restored->machine, "key9"), "$6\r\nvalue9\r\n");
  // The data dir is untouched: the export refuses to overwrite, and a second one agrees.
  Result<ExportReport> again =
      export_data_dir(storage::posix_fs(), temp.sub("raft"), temp.sub("out.snap"));
  EXPECT_EQ(again.status().code(), ErrorCode::InvalidArgument);
  Result<ExportReport> second =
      export_data_dir(storage::posix_fs(), temp.sub("raft"), temp.sub("second.snap"));
  ASSERT_TRUE(second.is_ok()) << second.status().to_string();
  EXPECT_EQ(second.value().last_index, Index{11});
}

// Applies `entries` to a state machine and snapshots it at the last one, as the node does.
void snapshot_at_end(storage::DiskStorage& storage, const std::vector<raft::Entry>& entries) {
  kv::RespStateMachine machine;
  for (const raft::Entry& entry : entries) {
    if (entry.type == raft::EntryType::Normal) {
      (void)machine.apply(entry.index, entry.data);
    } else {
      machine.apply_empty(entry.index);
    }
  }
  const raft::SnapshotMeta meta{.index = entries.back().index, .term = entries.back().term,
                                .conf_state = {{NodeId{1}}, {}, {}}};
  ASSERT_TRUE(storage.save_snapshot(meta, *machine.snapshot()).is_ok());
  ASSERT_TRUE(storage.compact(meta.index).is_ok());
}

TEST(Export, SnapshotOnlyExportsTheSnapshotsState) {
  TempDir temp;
  {
    auto storage = open_storage(temp.sub("raft"));
    ASSERT_NE(storage, nullptr);
    const std::vector<raft::Entry> entries = set_entries(5, 2);
    ASSERT_TRUE(storage->append(entries).is_ok());
    ASSERT_TRUE(storage->set_hard_state({Term{2}, NodeId{1}, Index{6}}).is_ok());
    snapshot_at_end(*storage, entries);
  }
  Result<ExportReport> report =
      export_data_dir(storage::posix_fs(), temp.sub("raft"), temp.sub("out.snap"));
  ASSERT_TRUE(report.is_ok()) << report.status().to_string();
  EXPECT_EQ(report.value().snapshot_index, Index{6});
  EXPECT_EQ(report.value().entries_applied, 0u);
  EXPECT_EQ(report.value().last_index, Index{6});
  EXPECT_EQ(report.value().past_commit, 0u);
  EXPECT_EQ(report.value().keys, 5u);
  std::unique_ptr<Restored> restored = read_back(temp.sub("out.snap"));
  ASSERT_NE(restored, nullptr);
  EXPECT_EQ(get(restored->machine, "key4"), "$6\r\nvalue4\r\n");
}

TEST(Export, SnapshotThenLogAppliesTheEntriesAfterIt) {
  TempDir temp;
  {
    auto storage = open_storage(temp.sub("raft"));
    ASSERT_NE(storage, nullptr);
    const std::vector<raft::Entry> entries = set_entries(5, 2);
    ASSERT_TRUE(storage->append(entries).is_ok());
    snapshot_at_end(*storage, entries);
    // key0 overwritten after the snapshot: the entry must win over the snapshot's value.
    ASSERT_TRUE(storage->append({set_entry(7, 4, "key0", "newer"), set_entry(8, 4, "k", "v")})
                    .is_ok());
    ASSERT_TRUE(storage->set_hard_state({Term{4}, NodeId{1}, Index{8}}).is_ok());
  }
  Result<ExportReport> report =
      export_data_dir(storage::posix_fs(), temp.sub("raft"), temp.sub("out.snap"));
  ASSERT_TRUE(report.is_ok()) << report.status().to_string();
  EXPECT_EQ(report.value().snapshot_index, Index{6});
  EXPECT_EQ(report.value().entries_applied, 2u);
  EXPECT_EQ(report.value().last_index, Index{8});
  EXPECT_EQ(report.value().last_term, Term{4});
  EXPECT_EQ(report.value().keys, 6u);
  std::unique_ptr<Restored> restored = read_back(temp.sub("out.snap"));
  ASSERT_NE(restored, nullptr);
  EXPECT_EQ(get(restored->machine, "key0"), "$5\r\nnewer\r\n");
}

// The newest segment file of `dir`.
std::string last_segment(const std::string& dir) {
  std::string newest;
  for (const auto& item : std::filesystem::directory_iterator(dir)) {
    const std::string name = item.path().filename().string();
    if (name.ends_with(".wal") && name > newest) newest = name;
  }
  return dir + "/" + newest;
}

// Writes `bytes` over `path` at `offset`.
void overwrite(const std::string& path, uint64_t offset, const std::string& bytes) {
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  file.seekp(static_cast<std::streamoff>(offset));
  file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

TEST(Export, TornTailIsLeftOutAndDamageBeforeItRefuses) {
  TempDir temp;
  std::vector<uint64_t> ends;  // Segment offsets after each save.
  {
    auto storage = open_storage(temp.sub("raft"));
    ASSERT_NE(storage, nullptr);
    ASSERT_TRUE(storage->append(set_entries(3, 1)).is_ok());
    ASSERT_TRUE(storage->append({set_entry(5, 1, "last", std::string(100, 'x'))}).is_ok());
  }
  const std::string segment = last_segment(temp.sub("raft"));
  std::filesystem::copy(temp.sub("raft"), temp.sub("copy"),
                        std::filesystem::copy_options::recursive);
  Result<ExportReport> clean =
      export_data_dir(storage::posix_fs(), temp.sub("raft"), temp.sub("clean.snap"));
  ASSERT_TRUE(clean.is_ok()) << clean.status().to_string();
  ASSERT_EQ(clean.value().last_index, Index{5});
  // Zero the last entry's end (payload and end mark), as a write cut short leaves it.
  std::ifstream in(segment, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t last_x = bytes.rfind(std::string(100, 'x'));
  ASSERT_NE(last_x, std::string::npos);
  overwrite(segment, last_x + 50, std::string(51, '\0'));
  Result<ExportReport> torn =
      export_data_dir(storage::posix_fs(), temp.sub("raft"), temp.sub("torn.snap"));
  ASSERT_TRUE(torn.is_ok()) << torn.status().to_string();
  EXPECT_TRUE(torn.value().torn_tail);
  EXPECT_EQ(torn.value().last_index, Index{4});
  EXPECT_EQ(torn.value().keys, 3u);
  // Damage in an entry followed by a valid one is corruption: refused, nothing written.
  const std::string copy_segment = last_segment(temp.sub("copy"));
  const size_t key0 = bytes.find("value0");
  ASSERT_NE(key0, std::string::npos);
  overwrite(copy_segment, key0, "VALUE0");
  Result<ExportReport> corrupt =
      export_data_dir(storage::posix_fs(), temp.sub("copy"), temp.sub("corrupt.snap"));
  ASSERT_FALSE(corrupt.is_ok());
  EXPECT_EQ(corrupt.status().code(), ErrorCode::Corruption) << corrupt.status().to_string();
  EXPECT_NE(corrupt.status().message().find(copy_segment), std::string::npos)
      << corrupt.status().message();
  EXPECT_FALSE(std::filesystem::exists(temp.sub("corrupt.snap")));
}

TEST(Export, RefusesAnOutputInsideTheDataDir) {
  TempDir temp;
  {
    auto storage = open_storage(temp.sub("raft"));
    ASSERT_NE(storage, nullptr);
    ASSERT_TRUE(storage->append(set_entries(1, 1)).is_ok());
  }
  Result<ExportReport> report =
      export_data_dir(storage::posix_fs(), temp.sub("raft"), temp.sub("raft/out.snap"));
  ASSERT_FALSE(report.is_ok());
  EXPECT_EQ(report.status().code(), ErrorCode::InvalidArgument);
  EXPECT_NE(report.status().message().find("inside the data dir"), std::string::npos);
}

}  // namespace
}  // namespace raftkv::wal
