#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/prng.h"
#include "storage/fs.h"

// A fault-injecting, in-memory file system for storage tests.
//
// It keeps two views: what reads see now (the page cache) and what a power loss would leave
// (durable). File::sync() makes a file's bytes and size durable; Fs::sync_dir() makes the
// directory's names durable (creations, renames, removals). Everything else is lost by a
// crash, except that crash_image() may keep a prefix of a file's unsynced writes with the last
// one cut at any byte: a torn write.
//
// Crash points: every mutating call (create, write, allocate, truncate, sync, rename, remove,
// sync_dir) is one step. With crash_after(n), steps after the n-th fail with IoError and
// change nothing: the process "stopped" there.
//
// Faults (set_faults): a file sync may fail (IoError, nothing made durable, as a real
// fdatasync error leaves the dirty pages' fate unknown), and a read may return one bit
// flipped (the bytes on "disk" stay intact: a bad transfer, not a bad sector). Thread-safe.
namespace raftkv::storage::testing {

class SimFs final : public Fs {
 public:
  struct Inode {
    std::string data;     // What reads see.
    std::string durable;  // What survives a crash.
    struct Op {
      bool resize = false;  // A size change (allocate/truncate) rather than a write.
      uint64_t offset = 0;  // Write offset, or new size for a resize.
      std::string bytes;
    };
    std::vector<Op> pending;  // Unsynced changes since `durable`, in order.
    // File::write_behind requests (offset, length), in order; advisory, so no step.
    std::vector<std::pair<uint64_t, uint64_t>> write_behinds;
  };

  SimFs() = default;

  void crash_after(int64_t steps) {
    std::lock_guard<std::mutex> lock(mu_);
    crash_after_ = steps;
  }
  [[nodiscard]] int64_t steps() const {
    std::lock_guard<std::mutex> lock(mu_);
    return steps_;
  }
  [[nodiscard]] bool crashed() const {
    std::lock_guard<std::mutex> lock(mu_);
    return crash_after_ >= 0 && steps_ > crash_after_;
  }

  // From now on, per mille of file syncs that fail and of reads that flip a bit, drawn from
  // `seed`. Zero for both turns faults off.
  void set_faults(uint32_t sync_fail_per_mille, uint32_t read_flip_per_mille, uint64_t seed);
  struct Injected {
    uint64_t syncs_failed = 0;
    uint64_t reads_flipped = 0;
  };
  [[nodiscard]] Injected injected() const {
    std::lock_guard<std::mutex> lock(mu_);
    return injected_;
  }

  // The file system a restart after a crash now would find. `seed` picks, per file, how many
  // unsynced changes survive and where the last surviving write is torn; seed 0 keeps none.
  [[nodiscard]] std::unique_ptr<SimFs> crash_image(uint64_t seed) const;

  // Direct access for tests that damage files (bit flips, truncation). Both views change.
  [[nodiscard]] std::string read_all(const std::string& path) const;
  void overwrite(const std::string& path, const std::string& bytes);
  // Like overwrite, creating the file (durably named) if missing.
  void overwrite_or_create(const std::string& path, const std::string& bytes);
  [[nodiscard]] bool exists(const std::string& path) const;
  // The write-back requests made on the file now named `path`, under any name.
  [[nodiscard]] std::vector<std::pair<uint64_t, uint64_t>> write_behinds(
      const std::string& path) const;

  // Fs.
  Result<std::unique_ptr<File>> open(const std::string& path, OpenMode mode) override;
  Status rename(const std::string& from, const std::string& to) override;
  Status remove(const std::string& path) override;
  Status sync_dir(const std::string& dir) override;
  Status create_dir(const std::string& dir) override;
  Result<std::vector<std::string>> list(const std::string& dir) override;

  // Called by SimFile with mu_ held: counts a step; false once crashed.
  [[nodiscard]] bool step_locked();
  // Called by SimFile with mu_ held: whether this sync fails; may flip a bit of a read.
  [[nodiscard]] bool sync_fails_locked();
  void maybe_flip_locked(char* out, size_t size);
  std::mutex& mu() const { return mu_; }

 private:
  mutable std::mutex mu_;
  int64_t crash_after_ = -1;
  int64_t steps_ = 0;
  uint32_t sync_fail_per_mille_ = 0;
  uint32_t read_flip_per_mille_ = 0;
  Prng fault_prng_{1};
  Injected injected_;
  std::map<std::string, std::shared_ptr<Inode>> names_;
  std::map<std::string, std::shared_ptr<Inode>> durable_names_;
};

// An Fs that passes every call to `inner`: tests derive from it and override the one call they
// change (fail a creation, hold a sync).
class ForwardingFs : public Fs {
 public:
  explicit ForwardingFs(Fs& inner) : inner_(inner) {}
  Result<std::unique_ptr<File>> open(const std::string& path, OpenMode mode) override {
    return inner_.open(path, mode);
  }
  Status rename(const std::string& from, const std::string& to) override {
    return inner_.rename(from, to);
  }
  Status remove(const std::string& path) override { return inner_.remove(path); }
  Status sync_dir(const std::string& dir) override { return inner_.sync_dir(dir); }
  Status create_dir(const std::string& dir) override { return inner_.create_dir(dir); }
  Result<std::vector<std::string>> list(const std::string& dir) override {
    return inner_.list(dir);
  }

 protected:
  Fs& inner_;
};

// A File that passes every call to `inner`: tests derive from it and override the call they
// watch or change.
class ForwardingFile : public File {
 public:
  explicit ForwardingFile(std::unique_ptr<File> inner) : inner_(std::move(inner)) {}
  Status write_at(uint64_t offset, std::string_view bytes) override {
    return inner_->write_at(offset, bytes);
  }
  Result<size_t> read_at(uint64_t offset, char* out, size_t size) const override {
    return inner_->read_at(offset, out, size);
  }
  Status sync() override { return inner_->sync(); }
  Status allocate(uint64_t size) override { return inner_->allocate(size); }
  Status truncate(uint64_t size) override { return inner_->truncate(size); }
  Result<uint64_t> size() const override { return inner_->size(); }
  const std::string& path() const override { return inner_->path(); }

 protected:
  std::unique_ptr<File> inner_;
};

}  // namespace raftkv::storage::testing
