// The raftkv-wal inspector on a real directory: exit 0 when clean, 1 on corruption; and on
// every kind of damage it reaches recovery's verdict, naming the same file and offset.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "proto/convert.h"
#include "storage/disk_storage.h"
#include "storage/record.h"
#include "storage/wal_replay.h"
#include "storage_test_util.h"

namespace raftkv::storage {
namespace {

using namespace testing;  // NOLINT: test helpers.

struct ToolRun {
  int exit_code = -1;
  std::string output;
};

ToolRun inspect(const std::string& dir, const std::string& flags = "") {
  // A fresh file per run: ctest runs these tests as parallel processes.
  std::string out_path = ::testing::TempDir() + "raftkv-inspect-XXXXXX";
  const int fd = ::mkstemp(out_path.data());
  if (fd >= 0) ::close(fd);
  const std::string command =
      std::string(RAFTKV_WAL_TOOL) + " " + flags + " " + dir + " > " + out_path + " 2>&1";
  const int status = std::system(command.c_str());
  ToolRun run;
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(out_path);
  std::stringstream text;
  text << in.rdbuf();
  run.output = text.str();
  std::remove(out_path.c_str());
  return run;
}

TEST(Inspector, CleanDirectoryExitsZeroAndListsEverything) {
  char pattern[] = "/tmp/raftkv-inspect-XXXXXX";
  ASSERT_NE(::mkdtemp(pattern), nullptr);
  const std::string dir = std::string(pattern) + "/data";
  {
    DiskStorageOptions options;
    options.segment_bytes = 4096;
    Result<std::unique_ptr<DiskStorage>> storage = DiskStorage::open(dir, options);
    ASSERT_TRUE(storage.is_ok()) << storage.status().to_string();
    for (uint64_t i = 1; i < 60; i += 3) {
      ASSERT_TRUE(storage.value()->append(make_entries(i, i + 3, 2, 100)).is_ok());
    }
    ASSERT_TRUE(storage.value()->set_hard_state({Term{2}, NodeId{3}, Index{50}}).is_ok());
    ASSERT_TRUE(storage.value()->create_snapshot(Index{10}, {{NodeId{1}}, {}, {}}, "s").is_ok());
  }
  ToolRun clean = inspect(dir, "--entries");
  EXPECT_EQ(clean.exit_code, 0) << clean.output;
  EXPECT_NE(clean.output.find("index 59 term 2 normal 100 bytes"), std::string::npos);
  EXPECT_NE(clean.output.find("hard state: term 2 vote 3 commit 50"), std::string::npos);
  EXPECT_NE(clean.output.find("snapshot " + dir + "/" + snapshot_file_name(Index{10}, Term{2})),
            std::string::npos);
  EXPECT_NE(clean.output.find("RESULT: ok"), std::string::npos);

  // Flip one payload byte in the first (sealed) segment.
  const std::string path = dir + "/" + segment_file_name(1);
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  file.seekp(200);
  file.put('\x7f');
  file.close();
  ToolRun corrupt = inspect(dir);
  EXPECT_EQ(corrupt.exit_code, 1) << corrupt.output;
  EXPECT_NE(corrupt.output.find("CORRUPTION"), std::string::npos);
  EXPECT_NE(corrupt.output.find(path + " at offset"), std::string::npos) << corrupt.output;
  // The node itself refuses to start on the same directory.
  Result<std::unique_ptr<DiskStorage>> refused = DiskStorage::open(dir, {});
  EXPECT_EQ(refused.is_ok() ? ErrorCode::Ok : refused.status().code(), ErrorCode::Corruption);
  EXPECT_EQ(std::system(("rm -rf " + std::string(pattern)).c_str()), 0);
}

TEST(Inspector, MissingDirectoryIsAnError) {
  EXPECT_EQ(inspect("/nonexistent/raftkv").exit_code, 2);
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Where the valid records of a segment file end (the next append would go there).
uint64_t end_of_records(const std::string& bytes) {
  return scan_records(bytes, "segment", true, [](const RecordView&) { return Status::ok(); })
      .end_offset;
}

// Appends `record` after the last valid record of the segment at `path`, as a writer would.
void append_after_records(const std::string& path, const std::string& record) {
  std::string bytes = read_bytes(path);
  const uint64_t end = end_of_records(bytes);
  bytes.replace(end, record.size(), record);
  write_bytes(path, bytes);
}

constexpr uint64_t kLastIndex = 198;

// A data directory with entries [1, kLastIndex] at term 2 over several 4 KiB segments, a
// local snapshot at 10 and a hard state.
void build_directory(const std::string& dir) {
  auto storage = open_real_or_die(dir, 4096);
  ASSERT_NE(storage, nullptr);
  for (uint64_t i = 1; i < kLastIndex; i += 3) {
    ASSERT_TRUE(storage->append(make_entries(i, i + 3, 2, 100)).is_ok());
  }
  ASSERT_TRUE(storage->set_hard_state({Term{2}, NodeId{3}, Index{100}}).is_ok());
  ASSERT_TRUE(storage->create_snapshot(Index{10}, {{NodeId{1}}, {}, {}}, "s").is_ok());
  ASSERT_GE(storage->stats().segments, 5u);
}

struct Damage {
  const char* name;
  std::function<void(const std::string& dir)> apply;
};

std::vector<Damage> damages() {
  auto segment = [](const std::string& dir, uint64_t sequence) {
    return dir + "/" + segment_file_name(sequence);
  };
  return {
      {"bit flip in a sealed segment",
       [=](const std::string& dir) {
         std::string bytes = read_bytes(segment(dir, 2));
         bytes[300] = static_cast<char>(bytes[300] ^ 0x10);
         write_bytes(segment(dir, 2), bytes);
       }},
      {"missing segment",
       [=](const std::string& dir) { std::filesystem::remove(segment(dir, 3)); }},
      {"segment under another's name",
       [=](const std::string& dir) {
         std::filesystem::copy_file(segment(dir, 2), segment(dir, 3),
                                    std::filesystem::copy_options::overwrite_existing);
       }},
      {"term going backwards",
       [=](const std::string& dir) {
         std::string payload;
         proto::encode_entry(make_entry(kLastIndex + 1, 1), &payload);
         std::string record;
         append_record(RecordType::Entry, payload, &record);
         std::vector<uint64_t> sequences = list_data_dir(posix_fs(), dir).value().segment_sequences;
         append_after_records(segment(dir, sequences.back()), record);
       }},
      {"hard state committing past the log",
       [=](const std::string& dir) {
         std::string payload;
         proto::encode_hard_state({Term{2}, NodeId{3}, Index{500}}, &payload);
         std::string record;
         append_record(RecordType::HardState, payload, &record);
         std::vector<uint64_t> sequences = list_data_dir(posix_fs(), dir).value().segment_sequences;
         append_after_records(segment(dir, sequences.back()), record);
       }},
      {"damaged newest snapshot",
       [](const std::string& dir) {
         const std::string path = dir + "/" + snapshot_file_name(Index{10}, Term{2});
         std::string bytes = read_bytes(path);
         bytes[bytes.size() - 3] = static_cast<char>(bytes[bytes.size() - 3] ^ 1);
         write_bytes(path, bytes);
       }},
  };
}

// Goal: for each kind of damage, the inspector and recovery give the same verdict and name the
// same file and offset: the inspector prints recovery's own status, word for word.
TEST(Inspector, AgreesWithRecoveryOnEveryKindOfDamage) {
  TempDir temp;
  const std::string clean = temp.path() + "/clean";
  build_directory(clean);
  if (HasFatalFailure()) return;
  for (const Damage& damage : damages()) {
    const std::string dir = temp.path() + "/damaged";
    std::filesystem::remove_all(dir);
    std::filesystem::copy(clean, dir);
    damage.apply(dir);
    ToolRun tool = inspect(dir);  // First: recovery must not have repaired anything yet.
    Result<std::unique_ptr<DiskStorage>> opened = DiskStorage::open(dir, {});
    ASSERT_FALSE(opened.is_ok()) << damage.name;
    const Status refused = opened.status();
    EXPECT_EQ(refused.code(), ErrorCode::Corruption) << damage.name << ": " << refused.to_string();
    EXPECT_NE(refused.message().find(dir + "/"), std::string::npos) << refused.to_string();
    EXPECT_EQ(tool.exit_code, 1) << damage.name << "\n" << tool.output;
    EXPECT_NE(tool.output.find("CORRUPTION: " + refused.to_string() + "\n"), std::string::npos)
        << damage.name << ": recovery says\n  " << refused.to_string() << "\ninspector says\n"
        << tool.output;
  }
}

// A torn tail and a leftover spare segment file are what a crash leaves: both tools accept
// the directory, and the inspector names the offset recovery then cuts at.
TEST(Inspector, AgreesWithRecoveryOnWhatACrashLeaves) {
  TempDir temp;
  const std::string dir = temp.path() + "/data";
  build_directory(dir);
  if (HasFatalFailure()) return;
  const std::vector<uint64_t> sequences = list_data_dir(posix_fs(), dir).value().segment_sequences;
  const std::string last = dir + "/" + segment_file_name(sequences.back());
  std::string bytes = read_bytes(last);
  const uint64_t end = end_of_records(bytes);
  std::string record;
  append_record(RecordType::Entry, std::string(300, 'x'), &record);
  bytes.replace(end, record.size() / 2, record.substr(0, record.size() / 2));  // Torn.
  write_bytes(last, bytes);
  write_bytes(dir + "/spare-000007.wal.tmp", std::string(4096, '\0'));
  ToolRun tool = inspect(dir);
  EXPECT_EQ(tool.exit_code, 0) << tool.output;
  EXPECT_NE(tool.output.find("torn tail, cut on the next start"), std::string::npos);
  EXPECT_NE(tool.output.find(last + " at offset " + std::to_string(end)), std::string::npos)
      << tool.output;
  EXPECT_NE(tool.output.find("spare segment file spare-000007.wal.tmp"), std::string::npos);
  EXPECT_EQ(tool.output.find("CORRUPTION"), std::string::npos);
  CaptureLogger logger;
  DiskStorageOptions options;
  options.logger = &logger;
  Result<std::unique_ptr<DiskStorage>> opened = DiskStorage::open(dir, options);
  ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
  EXPECT_TRUE(logger.contains("torn tail of " + last + " at offset " + std::to_string(end)));
  EXPECT_TRUE(logger.contains("removing unfinished file spare-000007.wal.tmp"));
  EXPECT_EQ(opened.value()->last_index(), Index{kLastIndex});
}

}  // namespace
}  // namespace raftkv::storage
