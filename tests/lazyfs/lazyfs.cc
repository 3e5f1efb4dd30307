// lazyfs: a FUSE file system for tests that loses what was not synced, on command.
//
//   lazyfs BACKING_DIR MOUNTPOINT [-f] [-o OPTIONS]      (root, or fusermount3 setuid)
//
// Everything under MOUNTPOINT is the backing directory's, passed through, except that lazyfs
// remembers, per file, what was written since its last fsync/fdatasync (unsynced_writes.h).
// A control file at the root of the mount, MOUNTPOINT/.lazyfs, takes one command per write;
// the write returns once the command is done, so `echo drop > MOUNTPOINT/.lazyfs` returning
// means the power loss has happened:
//   drop             every file goes back to its state at its last sync, as after a power
//                    loss (run it while no process writes: after kill -9 of the writers)
//   stall-sync MS    every later fsync/fdatasync (of files and directories) first waits MS
//                    milliseconds, [0, 600000]: a slow disk. 0 ends the stall. A sync whose
//                    caller is killed (SIGKILL) while it waits never completes.
// Reading it gives counters, one "name value" per line (unsynced_files, saved_bytes, syncs,
// drops, files_dropped, stall_sync_ms, syncs_stalled). An unknown command fails with EINVAL.
//
// File data goes straight to the backing file (direct_io: the kernel keeps no page cache of
// it, so nothing survives a drop in the kernel either), attributes and names are not cached.
// What is not modelled: directory entries are durable at once (see unsynced_writes.h);
// O_SYNC/O_DSYNC writes count as written and then synced; mmap is not supported.

#define FUSE_USE_VERSION 35
#include <dirent.h>
#include <fcntl.h>
#include <fuse.h>
#include <signal.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "unsynced_writes.h"

namespace raftkv::lazyfs {
namespace {

constexpr std::string_view kControlPath = "/.lazyfs";
constexpr uint64_t kControlHandle = UINT64_MAX;  // fi->fh of the control file; others are fds.
constexpr uint32_t kStallMsMax = 600'000;

struct LazyFs {
  int backing_fd = -1;  // The backing directory; every path is resolved relative to it.
  UnsyncedWrites unsynced;
  std::atomic<uint32_t> stall_sync_ms{0};
  std::atomic<uint64_t> syncs_stalled{0};
};

LazyFs& fs() { return *static_cast<LazyFs*>(fuse_get_context()->private_data); }

// "/a/b" -> "a/b", "/" -> ".": relative to the backing directory.
std::string relative(const char* path) {
  return path[1] == '\0' ? std::string(".") : std::string(path + 1);
}

bool is_control(const char* path) { return path != nullptr && path == kControlPath; }
bool is_control(const fuse_file_info* fi) { return fi != nullptr && fi->fh == kControlHandle; }
int handle(const fuse_file_info* fi) { return static_cast<int>(fi->fh); }

std::string control_text() {
  const UnsyncedStats stats = fs().unsynced.stats();
  return "unsynced_files " + std::to_string(stats.files) + "\nsaved_bytes " +
         std::to_string(stats.saved_bytes) + "\nsyncs " + std::to_string(stats.syncs) +
         "\ndrops " + std::to_string(stats.drops) + "\nfiles_dropped " +
         std::to_string(stats.files_dropped) + "\nstall_sync_ms " +
         std::to_string(fs().stall_sync_ms.load()) + "\nsyncs_stalled " +
         std::to_string(fs().syncs_stalled.load()) + "\n";
}

// One command written to the control file. 0 or -errno.
int run_command(std::string_view command) {
  while (!command.empty() && (command.back() == '\n' || command.back() == ' ')) {
    command.remove_suffix(1);
  }
  if (command == "drop") {
    const int dropped = fs().unsynced.drop();
    std::fprintf(stderr, "lazyfs: drop: %d files back to their last sync\n", dropped);
    return dropped < 0 ? dropped : 0;
  }
  constexpr std::string_view kStall = "stall-sync ";
  if (command.substr(0, kStall.size()) == kStall) {
    const std::string_view number = command.substr(kStall.size());
    uint32_t ms = 0;
    const auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), ms);
    if (error != std::errc() || end != number.data() + number.size() || ms > kStallMsMax) {
      return -EINVAL;
    }
    fs().stall_sync_ms.store(ms);
    std::fprintf(stderr, "lazyfs: syncs stall %u ms\n", ms);
    return 0;
  }
  return -EINVAL;
}

// Whether thread `tid` has SIGKILL pending (it is being killed), or is gone.
bool being_killed(pid_t tid) {
  std::ifstream status("/proc/" + std::to_string(tid) + "/status");
  if (!status) return true;
  std::string line;
  uint64_t pending = 0;
  while (std::getline(status, line)) {
    // SigPnd: the thread's own pending signals; ShdPnd: the whole process's. Hex masks.
    if (line.rfind("SigPnd:", 0) == 0 || line.rfind("ShdPnd:", 0) == 0) {
      pending |= std::strtoull(line.c_str() + 7, nullptr, 16);
    }
  }
  return (pending & (uint64_t{1} << (SIGKILL - 1))) != 0;
}

// A slow disk: a sync first waits (outside any lock, so other calls go on meanwhile). If the
// caller is killed meanwhile, the sync never completes: returns false, and what it would have
// made durable stays unsynced, as when the power fails while the disk is still flushing.
// (The kernel makes a killed process wait for an answer to a call already handed to us, so
// without this a sync under way when kill -9 lands would still complete.)
bool stall_sync() {
  const uint32_t ms = fs().stall_sync_ms.load();
  if (ms == 0) return true;
  fs().syncs_stalled.fetch_add(1);
  const pid_t caller = fuse_get_context()->pid;
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < end) {
    if (being_killed(caller)) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// The backing file is always open for reading and writing, whatever the caller asked: saving
// overwritten bytes reads them. O_TRUNC, O_APPEND and the sync flags are carried out here.
int backing_flags(int flags) { return (flags & (O_CREAT | O_EXCL)) | O_RDWR | O_CLOEXEC; }

// After opening `fd` for `flags`: O_TRUNC empties it as a recorded change.
int finish_open(int fd, int flags, fuse_file_info* fi) {
  if ((flags & O_TRUNC) != 0) {
    if (const int cut = fs().unsynced.truncate(fd, 0); cut < 0) {
      ::close(fd);
      return cut;
    }
  }
  fi->fh = static_cast<uint64_t>(fd);
  fi->direct_io = 1;
  return 0;
}

void* on_init(fuse_conn_info* conn, fuse_config* config) {
  (void)conn;
  config->use_ino = 1;
  config->hard_remove = 1;   // Unlink at once; no .fuse_hidden files in directory listings.
  config->nullpath_ok = 1;   // Calls on open files use the handle, not the (maybe gone) name.
  config->direct_io = 1;
  config->kernel_cache = 0;
  config->attr_timeout = 0;  // Sizes change under the kernel at a drop.
  config->entry_timeout = 0;
  config->negative_timeout = 0;
  return fuse_get_context()->private_data;
}

int on_getattr(const char* path, struct stat* out, fuse_file_info* fi) {
  if (is_control(path) || is_control(fi)) {
    *out = {};
    out->st_mode = S_IFREG | 0600;
    out->st_nlink = 1;
    return 0;
  }
  if (fi != nullptr) return ::fstat(handle(fi), out) == 0 ? 0 : -errno;
  return ::fstatat(fs().backing_fd, relative(path).c_str(), out, AT_SYMLINK_NOFOLLOW) == 0
             ? 0
             : -errno;
}

// With nullpath_ok, directory calls after opendir get no path: the handle is the directory.
int on_opendir(const char* path, fuse_file_info* fi) {
  const int fd = ::openat(fs().backing_fd, relative(path).c_str(),
                          O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -errno;
  fi->fh = static_cast<uint64_t>(fd);
  return 0;
}

int on_readdir(const char* path, void* buffer, fuse_fill_dir_t fill, off_t offset,
               fuse_file_info* fi, fuse_readdir_flags flags) {
  (void)path, (void)offset, (void)flags;  // Offset 0 for every entry: all in one call.
  const int fd = ::fcntl(handle(fi), F_DUPFD_CLOEXEC, 0);
  if (fd < 0) return -errno;
  DIR* dir = ::fdopendir(fd);
  if (dir == nullptr) {
    ::close(fd);
    return -errno;
  }
  ::rewinddir(dir);  // The duplicate shares the handle's position: start from the top.
  while (const dirent* entry = ::readdir(dir)) {
    if (fill(buffer, entry->d_name, nullptr, 0, static_cast<fuse_fill_dir_flags>(0)) != 0) break;
  }
  ::closedir(dir);
  return 0;
}

int on_releasedir(const char* path, fuse_file_info* fi) {
  (void)path;
  ::close(handle(fi));
  return 0;
}

int on_mkdir(const char* path, mode_t mode) {
  return ::mkdirat(fs().backing_fd, relative(path).c_str(), mode) == 0 ? 0 : -errno;
}

int on_rmdir(const char* path) {
  return ::unlinkat(fs().backing_fd, relative(path).c_str(), AT_REMOVEDIR) == 0 ? 0 : -errno;
}

int on_unlink(const char* path) {
  if (is_control(path)) return -EPERM;
  return fs().unsynced.unlink(fs().backing_fd, relative(path).c_str());
}

int on_rename(const char* from, const char* to, unsigned flags) {
  if (is_control(from) || is_control(to)) return -EPERM;
  return fs().unsynced.rename(fs().backing_fd, relative(from).c_str(), relative(to).c_str(),
                              flags);
}

int on_chmod(const char* path, mode_t mode, fuse_file_info* fi) {
  if (fi != nullptr) return ::fchmod(handle(fi), mode) == 0 ? 0 : -errno;
  return ::fchmodat(fs().backing_fd, relative(path).c_str(), mode, 0) == 0 ? 0 : -errno;
}

int on_utimens(const char* path, const struct timespec times[2], fuse_file_info* fi) {
  if (is_control(path) || is_control(fi)) return 0;
  if (fi != nullptr) return ::futimens(handle(fi), times) == 0 ? 0 : -errno;
  return ::utimensat(fs().backing_fd, relative(path).c_str(), times, AT_SYMLINK_NOFOLLOW) == 0
             ? 0
             : -errno;
}

int on_create(const char* path, mode_t mode, fuse_file_info* fi) {
  if (is_control(path)) return -EEXIST;
  const int fd = ::openat(fs().backing_fd, relative(path).c_str(),
                          backing_flags(fi->flags) | O_CREAT, mode);
  if (fd < 0) return -errno;
  return finish_open(fd, fi->flags, fi);
}

int on_open(const char* path, fuse_file_info* fi) {
  if (is_control(path)) {
    fi->fh = kControlHandle;
    fi->direct_io = 1;
    return 0;
  }
  const int fd = ::openat(fs().backing_fd, relative(path).c_str(), backing_flags(fi->flags));
  if (fd < 0) return -errno;
  return finish_open(fd, fi->flags, fi);
}

int on_read(const char* path, char* out, size_t size, off_t offset, fuse_file_info* fi) {
  (void)path;
  if (is_control(fi)) {
    const std::string text = control_text();
    const auto from = std::min(static_cast<size_t>(offset), text.size());
    const size_t count = std::min(size, text.size() - from);
    std::memcpy(out, text.data() + from, count);
    return static_cast<int>(count);
  }
  const ssize_t got = ::pread(handle(fi), out, size, offset);
  return got < 0 ? -errno : static_cast<int>(got);
}

int on_write(const char* path, const char* data, size_t size, off_t offset, fuse_file_info* fi) {
  (void)path;
  if (is_control(fi)) {
    const int done = run_command(std::string_view(data, size));
    return done < 0 ? done : static_cast<int>(size);
  }
  const ssize_t written = fs().unsynced.write(handle(fi), data, size, offset,
                                              (fi->flags & O_APPEND) != 0);
  if (written >= 0 && (fi->flags & O_DSYNC) != 0) {  // O_SYNC includes O_DSYNC's bit.
    if (const int synced = fs().unsynced.sync(handle(fi)); synced < 0) return synced;
  }
  return static_cast<int>(written);
}

int on_truncate(const char* path, off_t size, fuse_file_info* fi) {
  if (is_control(path) || is_control(fi)) return 0;  // `echo cmd > .lazyfs` truncates first.
  if (fi != nullptr) return fs().unsynced.truncate(handle(fi), size);
  const int fd = ::openat(fs().backing_fd, relative(path).c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return -errno;
  const int result = fs().unsynced.truncate(fd, size);
  ::close(fd);
  return result;
}

int on_fallocate(const char* path, int mode, off_t offset, off_t length, fuse_file_info* fi) {
  (void)path;
  if (is_control(fi)) return -EOPNOTSUPP;
  return fs().unsynced.allocate(handle(fi), mode, offset, length);
}

int on_statfs(const char* path, struct statvfs* out) {
  (void)path;
  return ::fstatvfs(fs().backing_fd, out) == 0 ? 0 : -errno;
}

int on_flush(const char* path, fuse_file_info* fi) {
  (void)path, (void)fi;
  return 0;  // close() is not a sync.
}

int on_release(const char* path, fuse_file_info* fi) {
  (void)path;
  if (!is_control(fi)) ::close(handle(fi));
  return 0;
}

int on_fsync(const char* path, int datasync, fuse_file_info* fi) {
  (void)path, (void)datasync;  // fdatasync keeps the size too, so both are the same here.
  if (is_control(fi)) return 0;
  if (!stall_sync()) return -EIO;  // The caller is dying; it never sees this.
  return fs().unsynced.sync(handle(fi));
}

int on_fsyncdir(const char* path, int datasync, fuse_file_info* fi) {
  (void)path, (void)datasync, (void)fi;
  // Directory entries are durable at once; only the slow disk applies.
  return stall_sync() ? 0 : -EIO;
}

fuse_operations operations() {
  fuse_operations ops{};
  ops.getattr = on_getattr;
  ops.mkdir = on_mkdir;
  ops.unlink = on_unlink;
  ops.rmdir = on_rmdir;
  ops.rename = on_rename;
  ops.chmod = on_chmod;
  ops.truncate = on_truncate;
  ops.open = on_open;
  ops.read = on_read;
  ops.write = on_write;
  ops.statfs = on_statfs;
  ops.flush = on_flush;
  ops.release = on_release;
  ops.fsync = on_fsync;
  ops.opendir = on_opendir;
  ops.readdir = on_readdir;
  ops.releasedir = on_releasedir;
  ops.fsyncdir = on_fsyncdir;
  ops.init = on_init;
  ops.create = on_create;
  ops.utimens = on_utimens;
  ops.fallocate = on_fallocate;
  return ops;
}

}  // namespace
}  // namespace raftkv::lazyfs

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s BACKING_DIR MOUNTPOINT [-f] [-o OPTIONS]\n", argv[0]);
    return 2;
  }
  raftkv::lazyfs::LazyFs state;
  state.backing_fd = ::open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (state.backing_fd < 0) {
    std::fprintf(stderr, "lazyfs: cannot open %s: %s\n", argv[1], std::strerror(errno));
    return 1;
  }
  // libfuse parses the rest: the mount point and its options, without the backing directory.
  std::vector<char*> fuse_args = {argv[0]};
  fuse_args.insert(fuse_args.end(), argv + 2, argv + argc);
  const fuse_operations ops = raftkv::lazyfs::operations();
  return fuse_main(static_cast<int>(fuse_args.size()), fuse_args.data(), &ops, &state);
}
