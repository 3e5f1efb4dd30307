// The raftkv-wal inspector on a real directory: exit 0 when clean, 1 on corruption.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "storage/disk_storage.h"
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

}  // namespace
}  // namespace raftkv::storage
