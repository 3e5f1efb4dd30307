#include "unsynced_writes.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "common/assert.h"

namespace raftkv::lazyfs {
namespace {

// Reads [offset, offset + size) into `out`; bytes past the end of the file stay as they are
// (zeros in the caller's buffer). 0 or -errno.
int read_fully(int fd, char* out, size_t size, uint64_t offset) {
  size_t done = 0;
  while (done < size) {
    const ssize_t got = ::pread(fd, out + done, size - done, static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return -errno;
    if (got == 0) break;
    done += static_cast<size_t>(got);
  }
  return 0;
}

// Writes all of [data, data + size) at `offset`. The count written, or -errno if none was.
ssize_t write_fully(int fd, const char* data, size_t size, uint64_t offset) {
  size_t done = 0;
  while (done < size) {
    const ssize_t put = ::pwrite(fd, data + done, size - done, static_cast<off_t>(offset + done));
    if (put < 0 && errno == EINTR) continue;
    if (put < 0) return done > 0 ? static_cast<ssize_t>(done) : -errno;
    done += static_cast<size_t>(put);
  }
  return static_cast<ssize_t>(done);
}

}  // namespace

UnsyncedWrites::~UnsyncedWrites() {
  for (auto& [key, record] : records_) ::close(record.fd);
}

ssize_t UnsyncedWrites::write(int fd, const char* data, size_t size, off_t offset, bool append) {
  if (offset < 0) return -EINVAL;
  const std::lock_guard lock(mutex_);
  struct stat info {};
  if (::fstat(fd, &info) != 0) return -errno;
  const auto current = static_cast<uint64_t>(info.st_size);
  const uint64_t at = append ? current : static_cast<uint64_t>(offset);
  int error = 0;
  Record* record = record_for(fd, info, &error);
  if (record == nullptr) return error;
  // Writing past the end also turns [current, at) into zeros.
  if (int saved = save(*record, std::min(at, current), at + size); saved < 0) return saved;
  return write_fully(fd, data, size, at);
}

int UnsyncedWrites::truncate(int fd, off_t size) {
  if (size < 0) return -EINVAL;
  const std::lock_guard lock(mutex_);
  struct stat info {};
  if (::fstat(fd, &info) != 0) return -errno;
  const auto current = static_cast<uint64_t>(info.st_size);
  const auto wanted = static_cast<uint64_t>(size);
  int error = 0;
  Record* record = record_for(fd, info, &error);
  if (record == nullptr) return error;
  // Shrinking cuts [wanted, current); growing zero-fills [current, wanted).
  if (int saved = save(*record, std::min(wanted, current), std::max(wanted, current));
      saved < 0) {
    return saved;
  }
  return ::ftruncate(fd, size) == 0 ? 0 : -errno;
}

int UnsyncedWrites::allocate(int fd, int mode, off_t offset, off_t length) {
  if ((mode & ~FALLOC_FL_KEEP_SIZE) != 0) return -EOPNOTSUPP;
  if (offset < 0 || length <= 0) return -EINVAL;
  const std::lock_guard lock(mutex_);
  struct stat info {};
  if (::fstat(fd, &info) != 0) return -errno;
  const auto current = static_cast<uint64_t>(info.st_size);
  const auto end = static_cast<uint64_t>(offset) + static_cast<uint64_t>(length);
  if ((mode & FALLOC_FL_KEEP_SIZE) == 0 && end > current) {  // The size grows: remember it.
    int error = 0;
    Record* record = record_for(fd, info, &error);
    if (record == nullptr) return error;
    if (int saved = save(*record, current, end); saved < 0) return saved;
  }
  return ::fallocate(fd, mode, offset, length) == 0 ? 0 : -errno;
}

int UnsyncedWrites::sync(int fd) {
  const std::lock_guard lock(mutex_);
  struct stat info {};
  if (::fstat(fd, &info) != 0) return -errno;
  ++syncs_;
  const auto found = records_.find({info.st_dev, info.st_ino});
  if (found != records_.end()) erase(found);
  return 0;
}

int UnsyncedWrites::unlink(int dir_fd, const char* path) {
  const std::lock_guard lock(mutex_);
  struct stat victim {};
  const bool known = ::fstatat(dir_fd, path, &victim, AT_SYMLINK_NOFOLLOW) == 0;
  if (::unlinkat(dir_fd, path, 0) != 0) return -errno;
  if (known) forget_if_last_name(victim);
  return 0;
}

int UnsyncedWrites::rename(int dir_fd, const char* from, const char* to, unsigned flags) {
  const std::lock_guard lock(mutex_);
  struct stat source {};
  struct stat victim {};
  // An exchange keeps both files; a rename onto another name of the same file keeps it too.
  const bool replaces = (flags & RENAME_EXCHANGE) == 0 &&
                        ::fstatat(dir_fd, to, &victim, AT_SYMLINK_NOFOLLOW) == 0 &&
                        ::fstatat(dir_fd, from, &source, AT_SYMLINK_NOFOLLOW) == 0 &&
                        (source.st_dev != victim.st_dev || source.st_ino != victim.st_ino);
  if (::renameat2(dir_fd, from, dir_fd, to, flags) != 0) return -errno;
  if (replaces) forget_if_last_name(victim);
  return 0;
}

int UnsyncedWrites::drop() {
  const std::lock_guard lock(mutex_);
  ++drops_;
  int first_error = 0;
  int restored = 0;
  for (auto at = records_.begin(); at != records_.end(); at = records_.begin()) {
    const int result = restore(at->second);
    if (result < 0 && first_error == 0) first_error = result;
    ++restored;
    erase(at);
  }
  files_dropped_ += static_cast<uint64_t>(restored);
  return first_error < 0 ? first_error : restored;
}

UnsyncedStats UnsyncedWrites::stats() const {
  const std::lock_guard lock(mutex_);
  return {records_.size(), saved_bytes_, syncs_, drops_, files_dropped_};
}

UnsyncedWrites::Record* UnsyncedWrites::record_for(int fd, const struct stat& info, int* error) {
  const Key key{info.st_dev, info.st_ino};
  const auto found = records_.find(key);
  if (found != records_.end()) return &found->second;
  const int own = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (own < 0) {
    *error = -errno;
    return nullptr;
  }
  Record& record = records_[key];
  RAFT_ASSERT(record.saved.empty());
  record.fd = own;
  record.synced_size = static_cast<uint64_t>(info.st_size);  // No record: all of it is synced.
  return &record;
}

int UnsyncedWrites::save(Record& record, uint64_t lo, uint64_t hi) {
  RAFT_ASSERT(lo <= hi);
  hi = std::min(hi, record.synced_size);  // Past the synced size, going back to it is enough.
  uint64_t at = lo;
  auto next = record.saved.lower_bound(lo);
  if (next != record.saved.begin()) {
    const auto previous = std::prev(next);
    at = std::max(at, previous->first + previous->second.size());
  }
  // Invariant: `next` is the first saved range starting at or after `at`.
  while (at < hi) {
    RAFT_ASSERT(next == record.saved.end() || next->first >= at);
    const uint64_t gap_end = next == record.saved.end() ? hi : std::min(hi, next->first);
    if (gap_end > at) {
      std::string bytes(gap_end - at, '\0');
      if (int read = read_fully(record.fd, bytes.data(), bytes.size(), at); read < 0) return read;
      saved_bytes_ += bytes.size();
      record.saved.emplace_hint(next, at, std::move(bytes));
    }
    if (next == record.saved.end()) break;
    at = std::max(at, next->first + next->second.size());
    ++next;
  }
  return 0;
}

void UnsyncedWrites::forget_if_last_name(const struct stat& victim) {
  if (!S_ISREG(victim.st_mode) || victim.st_nlink > 1) return;
  const auto found = records_.find({victim.st_dev, victim.st_ino});
  if (found != records_.end()) erase(found);
}

int UnsyncedWrites::restore(const Record& record) {
  if (::ftruncate(record.fd, static_cast<off_t>(record.synced_size)) != 0) return -errno;
  for (const auto& [offset, bytes] : record.saved) {
    const ssize_t put = write_fully(record.fd, bytes.data(), bytes.size(), offset);
    if (put < 0) return static_cast<int>(put);
    if (static_cast<size_t>(put) != bytes.size()) return -EIO;
  }
  return 0;
}

void UnsyncedWrites::erase(std::map<Key, Record>::iterator at) {
  for (const auto& [offset, bytes] : at->second.saved) {
    RAFT_ASSERT(saved_bytes_ >= bytes.size());
    saved_bytes_ -= bytes.size();
  }
  ::close(at->second.fd);
  records_.erase(at);
}

}  // namespace raftkv::lazyfs
