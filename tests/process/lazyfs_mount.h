#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "common/status.h"

// A lazyfs mount (tests/lazyfs) for a process test: a file system that keeps what was written
// but not yet fsynced, and drops it on command, as a power loss would. Backing directory and
// mount point live in a temp dir of their own, removed once unmounted. Needs root, /dev/fuse,
// CAP_SYS_ADMIN and the lazyfs binary: unavailable_reason() says which is missing, for a
// clear failure. The lazyfs binary: $RAFTKV_LAZYFS if set, else the one CMake built.
// Not thread-safe.

namespace raftkv::process_test {

class LazyMount {
 public:
  // "" if lazyfs can be mounted here, else why not.
  [[nodiscard]] static std::string unavailable_reason();
  // Mounts a fresh one; lazyfs's own output goes to `log_path`. Fails, quoting that output,
  // if it is not mounted within 10 s.
  [[nodiscard]] static Result<std::unique_ptr<LazyMount>> mount(const std::string& log_path);
  // Unmounts (SIGTERM to lazyfs, which unmounts; a lazy unmount if it is still there) and
  // removes the temp dir. Whatever still uses the mount must have stopped.
  ~LazyMount();
  LazyMount(const LazyMount&) = delete;
  LazyMount& operator=(const LazyMount&) = delete;

  // The mount point.
  [[nodiscard]] const std::string& path() const { return mount_point_; }
  // One command to the control file (tests/lazyfs/lazyfs.cc lists them); done when it
  // returns. IoError if lazyfs refused it.
  [[nodiscard]] Status command(const std::string& text);
  // The power loss: every file back to its last fsync. Only once its writers are dead.
  [[nodiscard]] Status drop();
  // Every later fsync/fdatasync waits this long first (a slow disk); 0 ends it.
  [[nodiscard]] Status stall_sync(std::chrono::milliseconds stall);
  // The control file's counters (unsynced_files, files_dropped, syncs, ...).
  [[nodiscard]] Result<std::map<std::string, uint64_t>> counters() const;

 private:
  LazyMount(std::string dir, pid_t pid, std::string log_path);
  [[nodiscard]] bool mounted() const;

  std::string dir_;          // Holds backing/ and mnt/.
  std::string mount_point_;  // dir_/mnt.
  pid_t pid_;                // lazyfs, in the foreground (-f): its exit unmounts.
  std::string log_path_;
};

}  // namespace raftkv::process_test
