// What the floor tools (bench/floor) share: failing with a reason, and a node's log file
// written the way raftkv writes its WAL segments.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace floor_file {

// Prints "<program>: <why>" and exits 1: the floor tools stop at the first failure.
[[noreturn]] inline void fail(const std::string& why) {
  std::fprintf(stderr, "%s: %s\n", program_invocation_short_name, why.c_str());
  std::exit(1);
}

[[noreturn]] inline void die(const std::string& what) {
  fail(what + ": " + std::strerror(errno));
}

// One node's log file of `file_bytes`: created, allocated and written with zeros, synced, as
// raftkv's WAL segments are before their first record, so no append allocates blocks or
// changes metadata that fdatasync would have to commit. Appends wrap at the end.
// Not thread-safe: one writer per file.
class LogFile {
 public:
  LogFile(const std::string& path, off_t file_bytes) : file_bytes_(file_bytes) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) die("open " + path);
    if (::posix_fallocate(fd_, 0, file_bytes_) != 0) die("fallocate " + path);
    const std::vector<char> zeros(1 << 20, 0);
    for (off_t at = 0; at < file_bytes_; at += static_cast<off_t>(zeros.size())) {
      if (::pwrite(fd_, zeros.data(), zeros.size(), at) != static_cast<ssize_t>(zeros.size())) {
        die("pwrite " + path);
      }
    }
    if (::fdatasync(fd_) != 0) die("fdatasync " + path);
  }
  LogFile(const LogFile&) = delete;
  LogFile& operator=(const LogFile&) = delete;
  ~LogFile() { ::close(fd_); }

  // Appends `record` (at most file_bytes) and makes it durable. pwrite may write less than
  // asked for large records, so it loops.
  void append_durably(const char* record, size_t size) {
    if (static_cast<off_t>(size) > file_bytes_) fail("a record larger than its log file");
    if (offset_ + static_cast<off_t>(size) > file_bytes_) offset_ = 0;
    for (size_t done = 0; done < size;) {
      const ssize_t put = ::pwrite(fd_, record + done, size - done,
                                   offset_ + static_cast<off_t>(done));
      if (put < 0 && errno == EINTR) continue;
      if (put <= 0) die("pwrite");
      done += static_cast<size_t>(put);
    }
    if (::fdatasync(fd_) != 0) die("fdatasync");
    offset_ += static_cast<off_t>(size);
  }

 private:
  off_t file_bytes_;
  int fd_ = -1;
  off_t offset_ = 0;
};

}  // namespace floor_file
