#include "storage/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace raftkv::storage {
namespace {

Status io_error(const std::string& what, const std::string& path, int error) {
  return Status(ErrorCode::IoError, what + " " + path + ": " + std::strerror(error));
}

class PosixFile final : public File {
 public:
  PosixFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixFile() override { ::close(fd_); }
  PosixFile(const PosixFile&) = delete;
  PosixFile& operator=(const PosixFile&) = delete;

  Status write_at(uint64_t offset, std::string_view bytes) override {
    while (!bytes.empty()) {
      const ssize_t written = ::pwrite(fd_, bytes.data(), bytes.size(), static_cast<off_t>(offset));
      if (written < 0) {
        if (errno == EINTR) continue;
        return io_error("pwrite", path_, errno);
      }
      RAFT_ASSERT(written > 0);  // pwrite of a non-empty buffer to a regular file progresses.
      bytes.remove_prefix(static_cast<size_t>(written));
      offset += static_cast<uint64_t>(written);
    }
    return Status::ok();
  }

  Result<size_t> read_at(uint64_t offset, char* out, size_t size) const override {
    size_t done = 0;
    while (done < size) {
      const ssize_t got = ::pread(fd_, out + done, size - done, static_cast<off_t>(offset + done));
      if (got < 0) {
        if (errno == EINTR) continue;
        return io_error("pread", path_, errno);
      }
      if (got == 0) break;  // EOF.
      done += static_cast<size_t>(got);
    }
    return done;
  }

  Status sync() override {
    if (::fdatasync(fd_) != 0) return io_error("fdatasync", path_, errno);
    return Status::ok();
  }

  Status allocate(uint64_t size) override {
    const int error = ::posix_fallocate(fd_, 0, static_cast<off_t>(size));
    if (error == 0) return Status::ok();
    if (error != EOPNOTSUPP && error != EINVAL) return io_error("fallocate", path_, error);
    // File systems without fallocate: extend sparsely; reads still return zeros.
    Result<uint64_t> current = this->size();
    if (!current.is_ok()) return current.status();
    if (current.value() >= size) return Status::ok();
    return truncate(size);
  }

  Status truncate(uint64_t size) override {
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
      return io_error("ftruncate", path_, errno);
    }
    return Status::ok();
  }

  Result<uint64_t> size() const override {
    struct stat info {};
    if (::fstat(fd_, &info) != 0) return io_error("fstat", path_, errno);
    return static_cast<uint64_t>(info.st_size);
  }

  const std::string& path() const override { return path_; }

  void prefetch() const override { (void)::posix_fadvise(fd_, 0, 0, POSIX_FADV_WILLNEED); }

  void write_behind(uint64_t offset, uint64_t length) override {
    const auto start = static_cast<off_t>(offset);
    (void)::sync_file_range(fd_, 0, start,
                            SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                                SYNC_FILE_RANGE_WAIT_AFTER);
    (void)::sync_file_range(fd_, start, static_cast<off_t>(length), SYNC_FILE_RANGE_WRITE);
  }

 private:
  int fd_;
  std::string path_;
};

class PosixFs final : public Fs {
 public:
  Result<std::unique_ptr<File>> open(const std::string& path, OpenMode mode) override {
    int flags = O_CLOEXEC;
    switch (mode) {
      case OpenMode::ReadOnly: flags |= O_RDONLY; break;
      case OpenMode::ReadWrite: flags |= O_RDWR; break;
      case OpenMode::CreateNew: flags |= O_RDWR | O_CREAT | O_EXCL; break;
    }
    const int fd = ::open(path.c_str(), flags, 0644);
    if (fd < 0) {
      const int error = errno;
      if (error == ENOENT) return Status(ErrorCode::NotFound, "no such file " + path);
      return io_error("open", path, error);
    }
    return std::unique_ptr<File>(std::make_unique<PosixFile>(fd, path));
  }

  Status rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return io_error("rename", from + " ->", errno);
    return Status::ok();
  }

  Status remove(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return io_error("unlink", path, errno);
    return Status::ok();
  }

  Status sync_dir(const std::string& dir) override {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return io_error("open dir", dir, errno);
    const int result = ::fsync(fd);
    const int error = errno;
    ::close(fd);
    if (result != 0) return io_error("fsync dir", dir, error);
    return Status::ok();
  }

  Status create_dir(const std::string& dir) override {
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return io_error("mkdir", dir, errno);
    return Status::ok();
  }

  Result<std::vector<std::string>> list(const std::string& dir) override {
    DIR* handle = ::opendir(dir.c_str());
    if (handle == nullptr) return io_error("opendir", dir, errno);
    std::vector<std::string> names;
    while (const dirent* item = ::readdir(handle)) {
      const std::string name = item->d_name;
      if (name == "." || name == "..") continue;
      struct stat info {};
      if (::stat(join_path(dir, name).c_str(), &info) == 0 && S_ISREG(info.st_mode)) {
        names.push_back(name);
      }
    }
    ::closedir(handle);
    std::sort(names.begin(), names.end());
    return names;
  }
};

}  // namespace

Fs& posix_fs() {
  static PosixFs fs;
  return fs;
}

Result<std::string> read_file(Fs& fs, const std::string& path) {
  std::string bytes;
  Status read = read_file_into(fs, path, &bytes);
  if (!read.is_ok()) return read;
  return bytes;
}

Status read_file_into(Fs& fs, const std::string& path, std::string* buffer) {
  Result<std::unique_ptr<File>> file = fs.open(path, OpenMode::ReadOnly);
  if (!file.is_ok()) return file.status();
  Result<uint64_t> size = file.value()->size();
  if (!size.is_ok()) return size.status();
  buffer->resize(size.value());
  Result<size_t> got = file.value()->read_at(0, buffer->data(), buffer->size());
  if (!got.is_ok()) return got.status();
  buffer->resize(got.value());
  return Status::ok();
}

Status write_zeros(File& file, uint64_t offset, uint64_t end) {
  const std::string zeros(kWriteBehindBytes, '\0');
  WriteBehind pacing(offset);
  while (offset < end) {
    const uint64_t length = std::min(kWriteBehindBytes, end - offset);
    Status status = file.write_at(offset, std::string_view(zeros).substr(0, length));
    if (!status.is_ok()) return status;
    offset += length;
    pacing.wrote_up_to(file, offset);
  }
  return Status::ok();
}

std::string join_path(const std::string& dir, std::string_view name) {
  std::string path = dir;
  if (!path.empty() && path.back() != '/') path.push_back('/');
  path.append(name);
  return path;
}

}  // namespace raftkv::storage
