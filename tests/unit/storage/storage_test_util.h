#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/logger.h"
#include "raft/messages.h"
#include "sim_fs.h"
#include "storage/disk_storage.h"

// Helpers shared by the storage tests.
namespace raftkv::storage::testing {

inline constexpr const char* kDir = "/data";

inline raft::Entry make_entry(uint64_t index, uint64_t term, std::string data = "") {
  if (data.empty()) data = "entry-" + std::to_string(index) + "-" + std::to_string(term);
  return raft::Entry{Term{term}, Index{index}, raft::EntryType::Normal, std::move(data)};
}

// Entries [lo, hi) at `term`.
inline std::vector<raft::Entry> make_entries(uint64_t lo, uint64_t hi, uint64_t term,
                                             size_t data_bytes = 0) {
  std::vector<raft::Entry> out;
  for (uint64_t i = lo; i < hi; ++i) {
    out.push_back(make_entry(i, term, data_bytes == 0 ? "" : std::string(data_bytes, 'd')));
  }
  return out;
}

// Keeps every line, for tests that check what recovery reported.
class CaptureLogger final : public Logger {
 public:
  [[nodiscard]] bool enabled(LogLevel) const override { return true; }
  void write(LogLevel, std::string_view line) override {
    std::lock_guard<std::mutex> lock(mu_);
    lines_.emplace_back(line);
  }
  [[nodiscard]] bool contains(const std::string& needle) const {
    std::lock_guard<std::mutex> lock(mu_);
    for (const std::string& line : lines_) {
      if (line.find(needle) != std::string::npos) return true;
    }
    return false;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> lines_;
};

// On SimFs the next segment file is prepared on the rotating thread: every file-system step
// then comes in one order, so "crash after step n" names the same moment on every run.
inline DiskStorageOptions sim_options(Fs& fs, uint64_t segment_bytes = 8192,
                                      Logger* logger = nullptr) {
  DiskStorageOptions options;
  options.fs = &fs;
  options.segment_bytes = segment_bytes;
  options.logger = logger;
  options.background_threads = false;
  return options;
}

inline std::unique_ptr<DiskStorage> open_or_die(const DiskStorageOptions& options) {
  Result<std::unique_ptr<DiskStorage>> storage = DiskStorage::open(kDir, options);
  EXPECT_TRUE(storage.is_ok()) << storage.status().to_string();
  if (!storage.is_ok()) return nullptr;
  return std::move(storage.value());
}

// DiskStorage on `fs` with no entry cache: every entry is read back from the WAL.
inline std::unique_ptr<DiskStorage> open_uncached(Fs& fs, uint64_t segment_bytes) {
  DiskStorageOptions options = sim_options(fs, segment_bytes);
  options.cache_bytes_max = 0;
  return open_or_die(options);
}

// A fresh directory on the real file system, removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir() {
    std::string pattern = ::testing::TempDir() + "raftkv-storage-XXXXXX";
    char* made = ::mkdtemp(pattern.data());
    RAFT_ASSERT(made != nullptr);
    path_ = made;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// DiskStorage on a real directory (the pipeline's own thread prepares segment files).
inline std::unique_ptr<DiskStorage> open_real_or_die(const std::string& dir,
                                                     uint64_t segment_bytes) {
  DiskStorageOptions options;
  options.segment_bytes = segment_bytes;
  Result<std::unique_ptr<DiskStorage>> storage = DiskStorage::open(dir, options);
  EXPECT_TRUE(storage.is_ok()) << storage.status().to_string();
  if (!storage.is_ok()) return nullptr;
  return std::move(storage.value());
}

inline std::vector<raft::Entry> all_entries(const raft::LogStorage& storage) {
  if (storage.last_index() < storage.first_index()) return {};
  Result<std::vector<raft::Entry>> entries =
      storage.entries(storage.first_index(), storage.last_index() + 1, UINT64_MAX);
  EXPECT_TRUE(entries.is_ok()) << entries.status().to_string();
  return entries.is_ok() ? entries.value() : std::vector<raft::Entry>{};
}

// Names of the files in the data directory that start with `prefix`.
inline std::vector<std::string> names_starting(Fs& fs, const std::string& prefix) {
  std::vector<std::string> out;
  const std::vector<std::string> names = fs.list(kDir).value();
  for (const std::string& name : names) {
    if (name.starts_with(prefix)) out.push_back(name);
  }
  return out;
}

}  // namespace raftkv::storage::testing
