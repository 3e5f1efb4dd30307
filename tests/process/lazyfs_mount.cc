#include "lazyfs_mount.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "common/assert.h"
#include "local_cluster.h"
#include "process.h"

namespace raftkv::process_test {
namespace {

using std::chrono::milliseconds;

constexpr long kFuseSuperMagic = 0x65735546;  // statfs f_type of a FUSE mount.
constexpr int kCapSysAdmin = 21;

std::string lazyfs_path() {
  if (const char* from_env = std::getenv("RAFTKV_LAZYFS")) return from_env;
#ifdef LAZYFS_PATH
  return LAZYFS_PATH;
#else
  return "";
#endif
}

// Whether this process holds CAP_SYS_ADMIN (mount(2) needs it; root in a container may not).
bool can_mount() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("CapEff:", 0) != 0) continue;
    const uint64_t caps = std::strtoull(line.c_str() + 7, nullptr, 16);
    return ((caps >> kCapSysAdmin) & 1u) != 0;
  }
  return false;
}

}  // namespace

std::string LazyMount::unavailable_reason() {
  if (::geteuid() != 0) return "mounting lazyfs (FUSE) needs root";
  if (!can_mount()) return "no CAP_SYS_ADMIN here, so no mounts (a container without it?)";
  const int fuse = ::open("/dev/fuse", O_RDWR | O_CLOEXEC);
  if (fuse < 0) return std::string("cannot open /dev/fuse: ") + std::strerror(errno);
  ::close(fuse);
  const std::string path = lazyfs_path();
  if (path.empty() || ::access(path.c_str(), X_OK) != 0) {
    return "lazyfs is not built (it needs libfuse3-dev; scripts/setup.sh installs it)" +
           (path.empty() ? std::string() : ": no " + path);
  }
  return "";
}

LazyMount::LazyMount(std::string dir, pid_t pid, std::string log_path)
    : dir_(std::move(dir)),
      mount_point_(dir_ + "/mnt"),
      pid_(pid),
      log_path_(std::move(log_path)) {}

Result<std::unique_ptr<LazyMount>> LazyMount::mount(const std::string& log_path) {
  RAFT_ASSERT(unavailable_reason().empty());
  char pattern[] = "/tmp/raftkv-lazyfs-XXXXXX";
  if (::mkdtemp(pattern) == nullptr) return Status(ErrorCode::IoError, "mkdtemp failed");
  const std::string dir = pattern;
  for (const char* name : {"/backing", "/mnt"}) {
    if (::mkdir((dir + name).c_str(), 0755) != 0) {
      return Status(ErrorCode::IoError, "cannot make " + dir + name + ": " + std::strerror(errno));
    }
  }
  Result<tools::Spawned> spawned = tools::spawn(
      {lazyfs_path(), {dir + "/backing", dir + "/mnt", "-f", "-o", "fsname=lazyfs"}, log_path,
       false, false});
  if (!spawned.is_ok()) return spawned.status();
  std::unique_ptr<LazyMount> mounted(new LazyMount(dir, spawned.value().pid, log_path));
  const auto deadline = std::chrono::steady_clock::now() + milliseconds(10'000);
  struct stat control {};
  while (!(mounted->mounted() &&
           ::stat((mounted->path() + "/.lazyfs").c_str(), &control) == 0)) {
    std::optional<std::string> how = tools::reap_if_exited(mounted->pid_);
    if (how.has_value() || std::chrono::steady_clock::now() > deadline) {
      if (how.has_value()) mounted->pid_ = -1;
      return Status(ErrorCode::Unavailable, "lazyfs did not mount (" + how.value_or("timed out") +
                                                "):\n" + tools::tail_lines(log_path, 10));
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
  RAFT_ASSERT(mounted->mounted());
  return mounted;
}

LazyMount::~LazyMount() {
  if (pid_ > 0) (void)tools::stop_process(pid_, SIGTERM, milliseconds(5000));
  // lazyfs unmounts as it exits; if it could not (killed), detach the dead mount.
  if (::umount2(mount_point_.c_str(), MNT_DETACH) == 0) {
    std::cerr << "lazyfs: " << mount_point_ << " was still mounted; detached it\n";
  }
  std::error_code error;
  std::filesystem::remove_all(dir_, error);
  if (error) std::cerr << "lazyfs: cannot remove " << dir_ << ": " << error.message() << "\n";
}

bool LazyMount::mounted() const {
  struct statfs info {};
  return ::statfs(mount_point_.c_str(), &info) == 0 && info.f_type == kFuseSuperMagic;
}

Status LazyMount::command(const std::string& text) {
  const std::string control = mount_point_ + "/.lazyfs";
  const int fd = ::open(control.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Status(ErrorCode::IoError, control + ": " + std::strerror(errno));
  // lazyfs carries the command out before the write returns.
  const ssize_t written = ::write(fd, text.data(), text.size());
  const int error = errno;
  ::close(fd);
  if (written != static_cast<ssize_t>(text.size())) {
    return Status(ErrorCode::IoError, "lazyfs refused \"" + text + "\": " + std::strerror(error));
  }
  return Status::ok();
}

Status LazyMount::drop() { return command("drop"); }

Status LazyMount::stall_sync(milliseconds stall) {
  return command("stall-sync " + std::to_string(stall.count()));
}

Result<std::map<std::string, uint64_t>> LazyMount::counters() const {
  std::ifstream control(mount_point_ + "/.lazyfs");
  if (!control) return Status(ErrorCode::IoError, "cannot read " + mount_point_ + "/.lazyfs");
  std::map<std::string, uint64_t> out;
  std::string name;
  uint64_t value = 0;
  while (control >> name >> value) out[name] = value;
  if (out.empty()) return Status(ErrorCode::IoError, "lazyfs gave no counters");
  return out;
}

}  // namespace raftkv::process_test
