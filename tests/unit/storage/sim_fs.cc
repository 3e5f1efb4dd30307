#include "sim_fs.h"

#include <algorithm>

#include "common/prng.h"

namespace raftkv::storage::testing {
namespace {

Status crashed_error(const std::string& path) {
  return Status(ErrorCode::IoError, "simulated crash before an operation on " + path);
}

void apply(const SimFs::Inode::Op& op, std::string* data, size_t bytes_max) {
  if (op.resize) {
    data->resize(op.offset, '\0');
    return;
  }
  const size_t count = std::min(bytes_max, op.bytes.size());
  if (data->size() < op.offset + count) data->resize(op.offset + count, '\0');
  std::copy_n(op.bytes.begin(), count, data->begin() + static_cast<std::ptrdiff_t>(op.offset));
}

std::string dir_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

class SimFile final : public File {
 public:
  SimFile(SimFs& fs, std::shared_ptr<SimFs::Inode> inode, std::string path, bool writable)
      : fs_(fs), inode_(std::move(inode)), path_(std::move(path)), writable_(writable) {}

  Status write_at(uint64_t offset, std::string_view bytes) override {
    return change(SimFs::Inode::Op{false, offset, std::string(bytes)});
  }
  Result<size_t> read_at(uint64_t offset, char* out, size_t size) const override {
    std::lock_guard<std::mutex> lock(fs_.mu());
    const std::string& data = inode_->data;
    if (offset >= data.size()) return size_t{0};
    const size_t count = std::min<size_t>(size, data.size() - offset);
    std::copy_n(data.begin() + static_cast<std::ptrdiff_t>(offset), count, out);
    fs_.maybe_flip_locked(out, count);
    return count;
  }
  Status sync() override {
    std::lock_guard<std::mutex> lock(fs_.mu());
    if (!fs_.step_locked()) return crashed_error(path_);
    if (fs_.sync_fails_locked()) {
      return Status(ErrorCode::IoError, "fdatasync " + path_ + ": simulated Input/output error");
    }
    // The unsynced changes, applied in order, bring `durable` to `data` without copying the
    // whole file each time.
    for (const SimFs::Inode::Op& op : inode_->pending) apply(op, &inode_->durable, SIZE_MAX);
    inode_->pending.clear();
    return Status::ok();
  }
  void write_behind(uint64_t offset, uint64_t length) override {
    std::lock_guard<std::mutex> lock(fs_.mu());
    inode_->write_behinds.emplace_back(offset, length);
  }
  Status allocate(uint64_t size) override {
    uint64_t current = 0;
    {
      std::lock_guard<std::mutex> lock(fs_.mu());
      current = inode_->data.size();
    }
    return change(SimFs::Inode::Op{true, std::max(current, size), {}});
  }
  Status truncate(uint64_t size) override { return change(SimFs::Inode::Op{true, size, {}}); }
  Result<uint64_t> size() const override {
    std::lock_guard<std::mutex> lock(fs_.mu());
    return static_cast<uint64_t>(inode_->data.size());
  }
  const std::string& path() const override { return path_; }

 private:
  Status change(SimFs::Inode::Op op) {
    RAFT_ASSERT(writable_);
    std::lock_guard<std::mutex> lock(fs_.mu());
    if (!fs_.step_locked()) return crashed_error(path_);
    apply(op, &inode_->data, op.bytes.size());
    inode_->pending.push_back(std::move(op));
    return Status::ok();
  }

  SimFs& fs_;
  std::shared_ptr<SimFs::Inode> inode_;
  std::string path_;
  bool writable_;
};

}  // namespace

bool SimFs::step_locked() {
  ++steps_;
  return crash_after_ < 0 || steps_ <= crash_after_;
}

void SimFs::set_faults(uint32_t sync_fail_per_mille, uint32_t read_flip_per_mille,
                       uint64_t seed) {
  std::lock_guard<std::mutex> lock(mu_);
  sync_fail_per_mille_ = sync_fail_per_mille;
  read_flip_per_mille_ = read_flip_per_mille;
  fault_prng_ = Prng(seed);
}

bool SimFs::sync_fails_locked() {
  if (sync_fail_per_mille_ == 0 || fault_prng_.uniform(1, 1000) > sync_fail_per_mille_) {
    return false;
  }
  ++injected_.syncs_failed;
  return true;
}

void SimFs::maybe_flip_locked(char* out, size_t size) {
  if (size == 0 || read_flip_per_mille_ == 0) return;
  if (fault_prng_.uniform(1, 1000) > read_flip_per_mille_) return;
  const uint64_t bit = fault_prng_.uniform(0, size * 8 - 1);
  out[bit / 8] = static_cast<char>(out[bit / 8] ^ (1 << (bit % 8)));
  ++injected_.reads_flipped;
}

std::unique_ptr<SimFs> SimFs::crash_image(uint64_t seed) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto image = std::make_unique<SimFs>();
  Prng prng(seed);
  for (const auto& [name, inode] : durable_names_) {
    auto copy = std::make_shared<Inode>();
    copy->data = inode->durable;
    if (seed != 0 && !inode->pending.empty()) {
      // Keep a random prefix of the unsynced changes; the last kept write may be torn.
      const size_t kept = static_cast<size_t>(prng.uniform(0, inode->pending.size()));
      for (size_t i = 0; i < kept; ++i) {
        const Inode::Op& op = inode->pending[i];
        const bool last = i + 1 == kept;
        const size_t bytes = last && !op.resize ? prng.uniform(0, op.bytes.size()) : SIZE_MAX;
        apply(op, &copy->data, bytes);
      }
    }
    copy->durable = copy->data;
    image->names_[name] = copy;
    image->durable_names_[name] = copy;
  }
  return image;
}

std::vector<std::pair<uint64_t, uint64_t>> SimFs::write_behinds(const std::string& path) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto found = names_.find(path);
  RAFT_ASSERT(found != names_.end());
  return found->second->write_behinds;
}

std::string SimFs::read_all(const std::string& path) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto found = names_.find(path);
  RAFT_ASSERT(found != names_.end());
  return found->second->data;
}

void SimFs::overwrite(const std::string& path, const std::string& bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  auto found = names_.find(path);
  RAFT_ASSERT(found != names_.end());
  found->second->data = bytes;
  found->second->durable = bytes;
  found->second->pending.clear();
}

void SimFs::overwrite_or_create(const std::string& path, const std::string& bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  auto inode = std::make_shared<Inode>();
  inode->data = bytes;
  inode->durable = bytes;
  names_[path] = inode;
  durable_names_[path] = inode;
}

bool SimFs::exists(const std::string& path) const {
  std::lock_guard<std::mutex> lock(mu_);
  return names_.count(path) > 0;
}

Result<std::unique_ptr<File>> SimFs::open(const std::string& path, OpenMode mode) {
  std::lock_guard<std::mutex> lock(mu_);
  auto found = names_.find(path);
  if (mode == OpenMode::CreateNew) {
    if (found != names_.end()) return Status(ErrorCode::IoError, "exists: " + path);
    if (!step_locked()) return crashed_error(path);
    auto inode = std::make_shared<Inode>();
    names_[path] = inode;
    return std::unique_ptr<File>(std::make_unique<SimFile>(*this, inode, path, true));
  }
  if (found == names_.end()) return Status(ErrorCode::NotFound, "no such file " + path);
  return std::unique_ptr<File>(
      std::make_unique<SimFile>(*this, found->second, path, mode == OpenMode::ReadWrite));
}

Status SimFs::rename(const std::string& from, const std::string& to) {
  std::lock_guard<std::mutex> lock(mu_);
  auto found = names_.find(from);
  if (found == names_.end()) return Status(ErrorCode::NotFound, "no such file " + from);
  if (!step_locked()) return crashed_error(from);
  names_[to] = found->second;
  names_.erase(from);
  return Status::ok();
}

Status SimFs::remove(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  if (names_.count(path) == 0) return Status(ErrorCode::NotFound, "no such file " + path);
  if (!step_locked()) return crashed_error(path);
  names_.erase(path);
  return Status::ok();
}

Status SimFs::sync_dir(const std::string& dir) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!step_locked()) return crashed_error(dir);
  // Names in `dir` become durable as they are now; names elsewhere keep their durable state.
  for (auto it = durable_names_.begin(); it != durable_names_.end();) {
    it = dir_of(it->first) == dir ? durable_names_.erase(it) : std::next(it);
  }
  for (const auto& [name, inode] : names_) {
    if (dir_of(name) == dir) durable_names_[name] = inode;
  }
  return Status::ok();
}

Status SimFs::create_dir(const std::string&) { return Status::ok(); }

Result<std::vector<std::string>> SimFs::list(const std::string& dir) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& [name, inode] : names_) {
    if (dir_of(name) == dir) out.push_back(name.substr(dir.size() + 1));
  }
  return out;
}

}  // namespace raftkv::storage::testing
