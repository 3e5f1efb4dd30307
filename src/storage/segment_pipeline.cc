#include "storage/segment_pipeline.h"

#include <cinttypes>
#include <cstdio>

namespace raftkv::storage {
namespace {

std::string temp_name(const char* kind, uint64_t number) {
  char name[48];
  std::snprintf(name, sizeof(name), "%s-%06" PRIu64 ".wal.tmp", kind, number);
  return name;
}

}  // namespace

SegmentPipeline::SegmentPipeline(Fs& fs, std::string dir, uint64_t segment_bytes,
                                 bool background, Logger& logger)
    : fs_(fs),
      dir_(std::move(dir)),
      segment_bytes_(segment_bytes),
      background_(background),
      logger_(logger) {
  RAFT_ASSERT(segment_bytes_ > 0);
  RAFT_ASSERT(!dir_.empty());
}

SegmentPipeline::~SegmentPipeline() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
  RAFT_ASSERT(!thread_.joinable());
  if (ready_.has_value()) {
    const std::string path = ready_->temp_path;
    ready_.reset();  // Closes the file first.
    (void)fs_.remove(path);
  }
  for (const std::string& path : recycled_) (void)fs_.remove(path);
}

void SegmentPipeline::start() {
  std::unique_lock<std::mutex> lock(mu_);
  RAFT_ASSERT(!started_);
  started_ = true;
  if (background_) thread_ = std::thread([this] { run(); });
  if (!ready_.has_value()) request_next(lock);
}

Result<SpareSegment> SegmentPipeline::take() {
  std::unique_lock<std::mutex> lock(mu_);
  RAFT_ASSERT(!stopping_);
  if (!ready_.has_value() && wanted_) {
    ++stats_.waited;
    changed_.wait(lock, [this] { return ready_.has_value() || !wanted_; });
  }
  std::optional<SpareSegment> spare = std::move(ready_);
  ready_.reset();
  if (!spare.has_value()) {
    // Not started yet (recovery creates segments before start()), or the background attempt
    // failed: the rotation prepares its own, as it did before there was a pipeline.
    const uint64_t number = next_number_++;
    lock.unlock();
    Result<SpareSegment> prepared = prepare(number);
    lock.lock();
    if (!prepared.is_ok()) return prepared.status();
    spare = std::move(prepared.value());
    ++stats_.prepared_inline;
  }
  RAFT_ASSERT(spare->file != nullptr);
  return std::move(*spare);
}

void SegmentPipeline::prepare_next() {
  std::unique_lock<std::mutex> lock(mu_);
  RAFT_ASSERT(!stopping_);
  if (started_ && !ready_.has_value() && !wanted_) request_next(lock);
}

SegmentPipeline::Stats SegmentPipeline::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

Status SegmentPipeline::recycle(const std::string& segment_path) {
  std::unique_lock<std::mutex> lock(mu_);
  if (recycled_.size() >= kRecycledMax) {
    lock.unlock();
    return fs_.remove(segment_path);
  }
  const std::string path = join_path(dir_, temp_name("recycled", next_number_++));
  lock.unlock();
  Status renamed = fs_.rename(segment_path, path);
  if (!renamed.is_ok()) return renamed;
  lock.lock();
  recycled_.push_back(path);
  return Status::ok();
}

Result<std::unique_ptr<File>> SegmentPipeline::open_spare(const std::string& path) {
  std::optional<std::string> recycled;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!recycled_.empty()) {
      recycled = std::move(recycled_.front());
      recycled_.pop_front();
    }
  }
  if (!recycled.has_value()) return fs_.open(path, OpenMode::CreateNew);
  Status status = fs_.rename(*recycled, path);
  if (!status.is_ok()) {
    (void)fs_.remove(*recycled);  // Best effort, as for a failed spare.
    return status;
  }
  Result<std::unique_ptr<File>> opened = fs_.open(path, OpenMode::ReadWrite);
  if (!opened.is_ok()) return opened;
  Result<uint64_t> size = opened.value()->size();
  status = size.is_ok() ? Status::ok() : size.status();
  if (status.is_ok() && size.value() > segment_bytes_) {
    status = opened.value()->truncate(segment_bytes_);
  }
  if (!status.is_ok()) return status;
  std::lock_guard<std::mutex> lock(mu_);
  ++stats_.recycled;
  return opened;
}

Result<SpareSegment> SegmentPipeline::prepare(uint64_t number) {
  const std::string path = join_path(dir_, temp_name("spare", number));
  Result<std::unique_ptr<File>> opened = open_spare(path);
  if (!opened.is_ok()) {
    (void)fs_.remove(path);  // Best effort: a recycled file renamed before the failure.
    return opened.status();
  }
  RAFT_ASSERT(opened.value() != nullptr);
  // Allocated (contiguous), then written with zeros and synced: the size and every block are
  // durable, so an append's fdatasync carries no metadata of its own (see write_zeros).
  Status status = opened.value()->allocate(segment_bytes_);
  if (status.is_ok()) status = write_zeros(*opened.value(), 0, segment_bytes_);
  if (status.is_ok()) status = opened.value()->sync();
  if (!status.is_ok()) {
    opened.value().reset();
    (void)fs_.remove(path);  // Best effort: a leftover *.tmp is removed by the next open.
    return status;
  }
  return SpareSegment{path, std::move(opened.value())};
}

void SegmentPipeline::request_next(std::unique_lock<std::mutex>& lock) {
  RAFT_ASSERT(lock.owns_lock());
  RAFT_ASSERT(!ready_.has_value());
  if (background_) {
    wanted_ = true;
    changed_.notify_all();
    return;
  }
  prepare_into_ready(lock);
}

void SegmentPipeline::prepare_into_ready(std::unique_lock<std::mutex>& lock) {
  RAFT_ASSERT(lock.owns_lock());
  const uint64_t number = next_number_++;
  lock.unlock();
  Result<SpareSegment> prepared = prepare(number);
  lock.lock();
  if (prepared.is_ok()) {
    RAFT_ASSERT(!ready_.has_value());  // Only one preparation is ever in progress.
    ready_ = std::move(prepared.value());
    ++stats_.prepared;
  } else {
    log_to(logger_, LogLevel::Warn, "wal: could not prepare the next segment file (",
           prepared.status().to_string(), "); the next rotation tries again");
  }
}

// The background thread: prepares a spare whenever one is wanted.
void SegmentPipeline::run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    changed_.wait(lock, [this] { return stopping_ || wanted_; });
    if (stopping_) return;
    RAFT_ASSERT(!ready_.has_value());  // wanted_ implies !ready_.
    prepare_into_ready(lock);
    wanted_ = false;
    changed_.notify_all();
  }
}

}  // namespace raftkv::storage
