#include "storage/segment_pipeline.h"

#include <cinttypes>
#include <cstdio>

namespace raftkv::storage {
namespace {

std::string spare_name(uint64_t number) {
  char name[48];
  std::snprintf(name, sizeof(name), "spare-%06" PRIu64 ".wal.tmp", number);
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

Result<SpareSegment> SegmentPipeline::prepare(uint64_t number) {
  const std::string path = join_path(dir_, spare_name(number));
  Result<std::unique_ptr<File>> opened = fs_.open(path, OpenMode::CreateNew);
  if (!opened.is_ok()) return opened.status();
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
