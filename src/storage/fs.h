#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

// The file-system seam of src/storage. Every byte the WAL and snapshot code reads or writes
// goes through Fs/File, so tests can substitute a fault-injecting file system that stops at
// any write / sync / rename and then "crashes", keeping only what was made durable.
//
// Durability contract (Linux semantics, which PosixFs passes through):
//  - File::sync() makes the file's written bytes and size durable (fdatasync).
//  - A created, renamed or removed directory entry is durable only after Fs::sync_dir().
// Errors are IoError with the path and errno text; nothing here asserts on the OS.

namespace raftkv::storage {

class File {
 public:
  virtual ~File() = default;
  // Writes all of `bytes` at `offset`, extending the file if needed.
  [[nodiscard]] virtual Status write_at(uint64_t offset, std::string_view bytes) = 0;
  // Reads up to `size` bytes at `offset` into `out`; returns the count, short only at EOF.
  [[nodiscard]] virtual Result<size_t> read_at(uint64_t offset, char* out, size_t size) const = 0;
  // fdatasync: everything written so far is durable when this returns ok.
  [[nodiscard]] virtual Status sync() = 0;
  // Reserves [0, size) so appends do not allocate (and do not need size metadata syncs);
  // reads of the reserved range return zeros. Never shrinks the file.
  [[nodiscard]] virtual Status allocate(uint64_t size) = 0;
  // Sets the size; bytes past it are gone, a later extension reads as zeros.
  [[nodiscard]] virtual Status truncate(uint64_t size) = 0;
  [[nodiscard]] virtual Result<uint64_t> size() const = 0;
  // Advisory: the whole file will be read soon (start reading it ahead). Errors are ignored:
  // only speed depends on it.
  virtual void prefetch() const {}
  // Advisory: starts writing [offset, offset + length) back to the disk, after waiting for the
  // write-back of everything before `offset`. Durability still comes only from sync(). A large
  // writer calling this every few MiB keeps its dirty pages few, so its final sync() does not
  // flood the disk queue and stall other files' fdatasyncs behind it. Errors are ignored.
  virtual void write_behind(uint64_t offset, uint64_t length) { (void)offset, (void)length; }
  [[nodiscard]] virtual const std::string& path() const = 0;
};

enum class OpenMode {
  ReadOnly,   // Must exist.
  ReadWrite,  // Must exist.
  CreateNew,  // Must not exist; created empty, read-write.
};

class Fs {
 public:
  virtual ~Fs() = default;
  [[nodiscard]] virtual Result<std::unique_ptr<File>> open(const std::string& path,
                                                           OpenMode mode) = 0;
  // Atomically replaces `to` with `from` (rename(2)); durable after sync_dir().
  [[nodiscard]] virtual Status rename(const std::string& from, const std::string& to) = 0;
  [[nodiscard]] virtual Status remove(const std::string& path) = 0;
  // fsync of the directory itself: makes creations, renames and removals in it durable.
  [[nodiscard]] virtual Status sync_dir(const std::string& dir) = 0;
  // Creates the directory if missing (not recursive beyond one level).
  [[nodiscard]] virtual Status create_dir(const std::string& dir) = 0;
  // Names (not paths) of the regular files in `dir`, sorted.
  [[nodiscard]] virtual Result<std::vector<std::string>> list(const std::string& dir) = 0;
};

// The real file system (POSIX calls). Thread-safe: it keeps no state.
Fs& posix_fs();

// Reads the whole file at `path` (snapshot and segment readers bound what they pass here).
[[nodiscard]] Result<std::string> read_file(Fs& fs, const std::string& path);
// The same into `buffer`, reusing its memory: replay reads segment after segment into one
// buffer instead of faulting in (and zeroing) fresh pages for each.
[[nodiscard]] Status read_file_into(Fs& fs, const std::string& path, std::string* buffer);

// Pacing for a file written front to back in the background (a snapshot being written or
// received, a spare segment's zeros): every kWriteBehindBytes, start that step's write-back once
// the previous step's is done (File::write_behind). So at most one step of it is ever queued
// ahead of another file's fdatasync, such as the WAL's, and its final sync() has little left.
// 256 KiB: with 8 MiB steps a WAL fdatasync beside three snapshots stalled up to 15-58 ms
// (now 2-4 ms), with 1 MiB steps a concurrent group commit's p99 doubled
// (bench/results/2026-11-26-zero-fill.md).
inline constexpr uint64_t kWriteBehindBytes = 256u << 10;
class WriteBehind {
 public:
  // Pacing a file written from `from` on.
  explicit WriteBehind(uint64_t from = 0) : started_(from) {}
  // The file now holds everything before `end`; starts write-back if a step is complete.
  void wrote_up_to(File& file, uint64_t end) {
    if (end - started_ < kWriteBehindBytes) return;
    file.write_behind(started_, end - started_);
    started_ = end;
  }

 private:
  uint64_t started_;  // Write-back was started for everything before it.
};

// Writes zeros over [offset, end) of `file`, paced by WriteBehind from `offset` on.
// Why WAL segments are zero-filled rather than only allocated: on ext4 an allocated block is
// "unwritten", and the first fdatasync covering a write into it must also commit a journal
// transaction that marks it written. Into blocks already written with zeros, fdatasync is the
// data write and a cache flush: 4 KiB appends got a third faster
// (bench/results/2026-11-26-zero-fill.md).
[[nodiscard]] Status write_zeros(File& file, uint64_t offset, uint64_t end);

std::string join_path(const std::string& dir, std::string_view name);

}  // namespace raftkv::storage
