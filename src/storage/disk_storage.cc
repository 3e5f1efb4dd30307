#include "storage/disk_storage.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "proto/convert.h"

namespace raftkv::storage {
namespace {

Logger& null_logger() {
  static NullLogger logger;
  return logger;
}

// Offsets are kept as u32 per entry (see the class comment); no write may reach past this.
constexpr uint64_t kSegmentOffsetMax = UINT32_MAX;
// Bound on records buffered for the next sync's pwrite (DiskStorage::pending_).
constexpr size_t kPendingBytesMax = 1u << 20;

// Sleeps while `word` holds `expected`; may return spuriously. Written by hand over
// std::atomic::wait on purpose: libstdc++ spins and calls sched_yield before it sleeps, and a
// group-commit waiter always waits an fdatasync (hundreds of microseconds), so the spin only
// burns the CPU the other writers need. With 64 writers on 2 cores the yields cost about two
// involuntary context switches per record (bench/storage, issue 3).
void futex_wait(std::atomic<uint32_t>& word, uint32_t expected) {
  static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));
  static_assert(std::atomic<uint32_t>::is_always_lock_free);
  (void)::syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT_PRIVATE, expected,
                  nullptr, nullptr, 0);
}

void futex_wake_all(std::atomic<uint32_t>& word) {
  (void)::syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAKE_PRIVATE, INT_MAX,
                  nullptr, nullptr, 0);
}

// Bytes of one contiguous read of consecutive entries (DiskStorage::EntryRun): large enough
// that a 1 MiB Append message of small entries costs one pread, not one per entry (issue 15).
constexpr uint64_t kRunReadBytesMax = 1u << 20;
// What is read of a record whose end is not known beforehand (the last entry of a sealed
// segment) before its header tells its size: most entries are small.
constexpr uint64_t kRecordReadGuessBytes = 4096;

// Appends `entry` to `out` unless it would take the entries past `bytes_max` (the first entry
// always fits, as LogStorage::entries() promises one). Returns whether it was appended.
bool append_within(raft::Entry entry, uint64_t bytes_max, std::vector<raft::Entry>* out,
                   uint64_t* bytes) {
  const uint64_t entry_bytes = entry.size_bytes();
  if (!out->empty() && *bytes + entry_bytes > bytes_max) return false;
  *bytes += entry_bytes;
  out->push_back(std::move(entry));
  return true;
}

}  // namespace

DiskStorage::DiskStorage(std::string dir, DiskStorageOptions options)
    : dir_(std::move(dir)),
      options_(options),
      fs_(options.fs != nullptr ? *options.fs : posix_fs()),
      logger_(options.logger != nullptr ? *options.logger : null_logger()),
      pipeline_(fs_, dir_, options.segment_bytes, options.background_threads, logger_) {}

Result<std::unique_ptr<DiskStorage>> DiskStorage::open(const std::string& dir,
                                                       DiskStorageOptions options) {
  RAFT_ASSERT(options.segment_bytes >= 4096);
  RAFT_ASSERT(options.segment_bytes <= (1u << 30));  // Leaves room for u32 offsets.
  RAFT_ASSERT(options.snapshots_kept >= 1);
  std::unique_ptr<DiskStorage> storage(new DiskStorage(dir, options));
  Status recovered = storage->recover();
  if (!recovered.is_ok()) return recovered;
  // Only now: recover() removed the *.tmp files a crash left, spares included.
  storage->pipeline_.start();
  if (options.background_threads) {
    DiskStorage* raw = storage.get();
    storage->sync_thread_ = std::thread([raw] { raw->sync_loop(); });
  }
  return storage;
}

DiskStorage::~DiskStorage() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  sync_wanted_.notify_all();
  if (sync_thread_.joinable()) sync_thread_.join();
  // Unsynced records reach the page cache, as if written at once (durable only if synced).
  std::lock_guard<std::mutex> lock(mu_);
  if (failed_.is_ok()) (void)flush_locked();
  RAFT_ASSERT(pending_.empty() || !failed_.is_ok());
}

raft::HardState DiskStorage::hard_state() const {
  std::lock_guard<std::mutex> lock(mu_);
  return hard_state_;
}

Index DiskStorage::first_index() const {
  std::lock_guard<std::mutex> lock(mu_);
  return compacted_index_ + 1;
}

Index DiskStorage::last_index() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_index_;
}

Result<Term> DiskStorage::term(Index index) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (index < compacted_index_ || index > last_index_) {
    return Status(ErrorCode::NotFound, "no term stored for index " + std::to_string(index.value()));
  }
  return term_locked(index);
}

Term DiskStorage::term_locked(Index index) const {
  RAFT_ASSERT(index >= compacted_index_);
  RAFT_ASSERT(index <= last_index_);
  return index == compacted_index_ ? compacted_term_ : term_of_.at(index);
}

// Consecutive uncached entries whose records lie in one segment: planned under mu_
// (plan_run_locked), then read with one contiguous read and decoded without it (read_run).
//
// Reading without mu_ is safe: `file` keeps the segment's file open even if a compaction
// removes the segment meanwhile (an unlinked file stays readable through an open descriptor),
// and no byte a segment file holds below its flushed end is ever written again: the WAL only
// appends (a suffix replacement appends new records after the old ones; only recovery, before
// open() returns, cuts a torn tail). What is not flushed yet was copied from pending_ under
// mu_ (`unflushed`). The terms are those stored when the run was planned, for the pair check.
struct DiskStorage::EntryRun {
  std::shared_ptr<File> file;
  std::string path;
  Index first_index;
  std::vector<uint64_t> offsets;  // Of each entry's record in the segment, increasing.
  std::vector<Term> terms;
  // [offsets.front(), read_end) is read: up to the next entry's record when that is in the
  // same segment, else up to the written end of the active segment (both bound the last
  // record), else a guess that read_run() extends if the last record is longer.
  uint64_t read_end = 0;
  bool read_end_bounds_last = true;
  uint64_t file_end = 0;  // [file_end, read_end) is `unflushed`, not yet in the file.
  std::string unflushed;
};

Result<std::vector<raft::Entry>> DiskStorage::entries(Index lo, Index hi,
                                                      uint64_t bytes_max) const {
  RAFT_ASSERT(lo < hi);
  std::vector<raft::Entry> out;
  uint64_t bytes = 0;
  Index next = lo;
  // Each turn copies cached entries, or plans one run of uncached ones, under mu_; a run is
  // read after mu_ is released, so a leader reading a long tail never blocks the writers
  // for more than the planning of one run.
  while (next < hi) {
    EntryRun run;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (next <= compacted_index_) {
        if (out.empty()) return Status(ErrorCode::NotFound, "entries compacted");
        return out;  // Compacted while we read: `out` is still the log's prefix from lo.
      }
      if (out.empty()) RAFT_ASSERT(hi <= last_index_ + 1);
      // Replaced while we read (never by the one thread that drives the core): stop at what
      // still is the log. Equal terms at next - 1 mean equal logs up to it (Raft §5.3).
      if (!out.empty() && (next > last_index_ || term_locked(next - 1) != out.back().term)) {
        return out;
      }
      if (!out.empty() && bytes >= bytes_max) return out;
      const Index end = std::min(hi, last_index_ + 1);
      const Index cache_first = cache_.empty() ? last_index_ + 1 : cache_.front().index;
      if (next >= cache_first) {
        for (; next < end; ++next) {
          if (!append_within(cache_[next - cache_first], bytes_max, &out, &bytes)) break;
        }
        return out;
      }
      const uint64_t bytes_left = out.empty() ? bytes_max : bytes_max - bytes;
      run = plan_run_locked(next, std::min(end, cache_first), bytes_left);
    }
    Result<std::vector<raft::Entry>> decoded = read_run(run);
    if (!decoded.is_ok()) return decoded.status();
    for (raft::Entry& entry : decoded.value()) {
      if (!append_within(std::move(entry), bytes_max, &out, &bytes)) return out;
    }
    next = run.first_index + run.offsets.size();
  }
  RAFT_ASSERT(!out.empty());
  return out;
}

DiskStorage::EntryRun DiskStorage::plan_run_locked(Index first, Index end,
                                                   uint64_t bytes_budget) const {
  RAFT_ASSERT(first > compacted_index_);
  RAFT_ASSERT(first < end && end <= last_index_ + 1);
  const uint64_t sequence = segment_of_.at(first);
  const auto segment = std::lower_bound(
      segments_.begin(), segments_.end(), sequence,
      [](const Segment& s, uint64_t sequence_wanted) { return s.sequence < sequence_wanted; });
  RAFT_ASSERT(segment != segments_.end() && segment->sequence == sequence);
  EntryRun run{.file = segment->file, .path = segment->path, .first_index = first};
  // A record's span is about its entry's size_bytes() (a hard state record may sit between
  // two entries): plan an eighth more, and entries() cuts at bytes_max exactly.
  const uint64_t span_max = std::min(bytes_budget, kRunReadBytesMax);
  const uint64_t start = offsets_[first - compacted_index_ - 1];
  bool next_in_segment = false;
  for (Index i = first;; ++i) {
    run.offsets.push_back(offsets_[i - compacted_index_ - 1]);
    run.terms.push_back(term_of_.at(i));
    next_in_segment = i < last_index_ && segment_of_.at(i + 1) == sequence;
    if (!next_in_segment) break;
    run.read_end = offsets_[i + 1 - compacted_index_ - 1];
    if (i + 1 >= end || run.read_end - start > span_max + span_max / 8) break;
  }
  const bool active = &*segment == &segments_.back();
  if (!next_in_segment) {
    run.read_end_bounds_last = active;
    run.read_end = active ? write_offset_ : run.offsets.back() + kRecordReadGuessBytes;
  }
  const uint64_t flushed = active ? write_offset_ - pending_.size() : run.read_end;
  run.file_end = std::clamp(flushed, start, run.read_end);
  if (run.file_end < run.read_end) {
    run.unflushed.resize(run.read_end - run.file_end);
    pending_.read(run.file_end - flushed, run.unflushed.data(), run.unflushed.size());
  }
  RAFT_ASSERT(run.read_end > start);
  return run;
}

Result<std::vector<raft::Entry>> DiskStorage::read_run(const EntryRun& run) {
  RAFT_ASSERT(!run.offsets.empty());
  RAFT_ASSERT(run.offsets.size() == run.terms.size());
  const uint64_t start = run.offsets.front();
  std::string bytes(run.file_end - start, '\0');
  Result<size_t> got = run.file->read_at(start, bytes.data(), bytes.size());
  if (!got.is_ok()) return got.status();
  // A short read (past the file's end) leaves zeros, which fail to decode below.
  bytes += run.unflushed;
  if (!run.read_end_bounds_last) {
    Status extended = extend_to_last_record(run, &bytes);
    if (!extended.is_ok()) return extended;
  }
  // The entries' payloads stay in the buffer they were read into and share it: one
  // allocation per run rather than one per entry.
  const auto buffer = std::make_shared<const std::string>(std::move(bytes));
  std::vector<raft::Entry> entries;
  entries.reserve(run.offsets.size());
  for (size_t k = 0; k < run.offsets.size(); ++k) {
    const auto corrupt = [&](const std::string& what) {
      return Status(ErrorCode::Corruption,
                    what + " in " + run.path + " at offset " + std::to_string(run.offsets[k]));
    };
    // Each record must end before the next entry's: a damaged length cannot reach past it.
    const uint64_t limit =
        k + 1 < run.offsets.size() ? run.offsets[k + 1] - start : buffer->size();
    const DecodeResult decoded =
        decode_record(std::string_view(*buffer).substr(0, limit), run.offsets[k] - start);
    if (decoded.outcome != DecodeOutcome::Ok || decoded.record.type != RecordType::Entry) {
      return corrupt("unreadable entry record");
    }
    proto::EntryView view;
    Status parsed = proto::decode_entry_view(decoded.record.payload, &view);
    if (!parsed.is_ok()) return corrupt(parsed.message());
    // Pair check: the bytes must be the entry the index says is there.
    const Index index = run.first_index + k;
    if (view.index != index || view.term != run.terms[k]) {
      return corrupt("entry " + std::to_string(index.value()) + " does not match its index");
    }
    entries.push_back(
        raft::Entry{view.term, view.index, view.type, SharedBytes(buffer, view.data)});
  }
  return entries;
}

// The run's last record ends where its header says: read what the guess left out (a sealed
// segment, so all from the file). A length past kRecordPayloadMax is damage, left to decode.
Status DiskStorage::extend_to_last_record(const EntryRun& run, std::string* bytes) {
  RAFT_ASSERT(run.unflushed.empty());
  const uint64_t start = run.offsets.front();
  const uint64_t at = run.offsets.back() - start;
  if (at + kRecordHeaderBytes > bytes->size()) return Status::ok();
  uint32_t length = 0;
  std::memcpy(&length, bytes->data() + at, sizeof(length));
  const uint64_t framed = kRecordOverhead + uint64_t{length};
  if (length > kRecordPayloadMax || at + framed <= bytes->size()) return Status::ok();
  const size_t have = bytes->size();
  bytes->resize(at + framed);
  Result<size_t> got = run.file->read_at(start + have, bytes->data() + have, bytes->size() - have);
  return got.is_ok() ? Status::ok() : got.status();
}

Status DiskStorage::check_save_locked(const std::vector<raft::Entry>& entries,
                                      const std::optional<raft::HardState>& hard_state) const {
  if (!failed_.is_ok()) return failed_;
  Index new_last = last_index_;
  if (!entries.empty()) {
    const Index first_new = entries.front().index;
    if (first_new <= compacted_index_) {
      return Status(ErrorCode::InvalidArgument, "append below the snapshot");
    }
    if (first_new > last_index_ + 1) {
      return Status(ErrorCode::InvalidArgument, "append would leave a gap");
    }
    // Terms never decrease along a log (replay treats a decrease as corruption, so it must
    // never be written).
    if (entries.front().term < term_locked(first_new - 1)) {
      return Status(ErrorCode::InvalidArgument, "entry term lower than its predecessor's");
    }
    for (size_t i = 1; i < entries.size(); ++i) {
      RAFT_ASSERT(entries[i].index == entries[i - 1].index + 1);  // The core's own invariant.
      RAFT_ASSERT(entries[i].term >= entries[i - 1].term);
    }
    new_last = entries.back().index;
  }
  if (hard_state.has_value() && hard_state->commit > new_last) {
    return Status(ErrorCode::InvalidArgument, "hard state commits past the last index");
  }
  return Status::ok();
}

// A save's records, framed and encoded outside the lock.
struct DiskStorage::Batch {
  WalBuffer records;
  std::vector<uint64_t> entry_offsets;  // Of each entry's record within `records`.
};

Status DiskStorage::encode_batch(const std::vector<raft::Entry>& entries,
                                 const std::optional<raft::HardState>& hard_state, Batch* batch) {
  batch->entry_offsets.reserve(entries.size());
  std::string payload;
  std::string framed;
  for (const raft::Entry& entry : entries) {
    payload.clear();
    framed.clear();
    batch->entry_offsets.push_back(batch->records.size());
    // The record's header and the encoding's head, then the data from where it is (copied
    // once into the batch when small, shared when large), then the end mark: the data is
    // never serialized into a message and framed again (for 256-byte values, four copies).
    proto::encode_entry_head(entry, &payload);
    if (payload.size() + entry.data.size() > kRecordPayloadMax) {
      return Status(ErrorCode::InvalidArgument, "entry too large for one WAL record");
    }
    append_record_head(RecordType::Entry, payload, entry.data, &framed);
    batch->records.append(framed);
    if (entry.data.size() < WalBuffer::kShareBytesMin) {
      batch->records.append(entry.data);
    } else {
      batch->records.append_shared(entry.data);
    }
    batch->records.append(std::string_view(reinterpret_cast<const char*>(&kRecordEndMark), 1));
  }
  // After the entries: a torn write may keep the entries and lose the hard state (harmless),
  // never keep a commit index whose entries are lost.
  if (hard_state.has_value()) {
    payload.clear();
    framed.clear();
    proto::encode_hard_state(*hard_state, &payload);
    append_record(RecordType::HardState, payload, &framed);
    batch->records.append(framed);
  }
  if (batch->records.size() > kSegmentOffsetMax / 2) {
    return Status(ErrorCode::InvalidArgument, "batch too large for one write");
  }
  return Status::ok();
}

Status DiskStorage::save_locked(const std::vector<raft::Entry>& entries,
                                const std::optional<raft::HardState>& hard_state,
                                Batch& batch) {
  Status checked = check_save_locked(entries, hard_state);
  if (!checked.is_ok()) return checked;
  const Index first_new = entries.empty() ? last_index_ + 1 : entries.front().index;
  uint64_t base = 0;
  Status written = write_locked(batch.records, first_new, &base);
  if (!written.is_ok()) return written;
  const uint64_t sequence = segments_.back().sequence;
  for (size_t i = 0; i < entries.size(); ++i) {
    index_entry_locked(entries[i], sequence, base + batch.entry_offsets[i]);
    cache_locked(entries[i]);
  }
  if (hard_state.has_value()) hard_state_ = *hard_state;
  return Status::ok();
}

Result<SyncTicket> DiskStorage::write(const std::vector<raft::Entry>& entries,
                                      const std::optional<raft::HardState>& hard_state) {
  Batch batch;
  Status encoded = encode_batch(entries, hard_state, &batch);
  if (!encoded.is_ok()) return encoded;
  std::lock_guard<std::mutex> lock(mu_);
  Status saved = save_locked(entries, hard_state, batch);
  if (!saved.is_ok()) return saved;
  return SyncTicket{written_};
}

// Leader/follower group commit: a waiter finding no sync in flight runs one for everything
// written so far (no thread hand-off: a lone writer pays exactly one fdatasync); the others
// sleep in the cohort of the sync that covers them: the one in flight if they wrote before it
// started, else the next, which the sync thread starts as soon as the one in flight ends
// (without a sync thread every call comes from one thread, so no sync is ever in flight).
Status DiskStorage::wait_durable(SyncTicket ticket) {
  if (synced_.load(std::memory_order_acquire) >= ticket.position) return Status::ok();
  std::unique_lock<std::mutex> lock(mu_);
  RAFT_ASSERT(ticket.position <= written_);
  while (synced_.load(std::memory_order_relaxed) < ticket.position) {
    if (!failed_.is_ok()) return failed_;
    if (!sync_running_) {
      const uint32_t generation = run_sync_locked(lock);
      lock.unlock();
      wake_cohort(generation);
      if (synced_.load(std::memory_order_acquire) >= ticket.position) return Status::ok();
      lock.lock();
      continue;
    }
    const uint32_t cohort = sync_generation_ + (ticket.position > sync_target_ ? 1u : 0u);
    std::atomic<uint32_t>& epoch = cohort_epoch_[cohort % 2];
    const uint32_t seen = epoch.load(std::memory_order_acquire);
    lock.unlock();
    futex_wait(epoch, seen);
    // Covered: done without touching mu_. Otherwise (a failure, or a bump for the other
    // cohort's sake) look at the state again.
    if (synced_.load(std::memory_order_acquire) >= ticket.position) return Status::ok();
    lock.lock();
  }
  return Status::ok();
}

uint32_t DiskStorage::run_sync_locked(std::unique_lock<std::mutex>& lock) {
  RAFT_ASSERT(!sync_running_);
  RAFT_ASSERT(failed_.is_ok());
  sync_requested_ = false;
  const uint32_t generation = ++sync_generation_;
  sync_target_ = written_;  // Everything written before the sync starts.
  const uint64_t target = sync_target_;
  // The batch goes to the page cache under the lock (one pwrite), so that the file always
  // holds every record but those in pending_; only the fdatasync runs without it.
  Status synced = flush_locked();
  if (synced.is_ok()) {
    sync_running_ = true;
    const std::shared_ptr<File> file = segments_.back().file;
    lock.unlock();
    synced = file->sync();
    lock.lock();
    RAFT_ASSERT(sync_running_ && generation == sync_generation_);  // Nobody else ran one.
    sync_running_ = false;
    ++syncs_;
  }
  if (synced.is_ok()) {
    if (target > synced_.load(std::memory_order_relaxed)) {
      synced_.store(target, std::memory_order_release);
    }
    // Written meanwhile: the next sync starts now, on the sync thread, so that its writers
    // wait for no more than the sync that was in flight when they wrote.
    if (written_ > target) sync_requested_ = true;
  } else {
    (void)fail_locked(synced);
  }
  if (sync_requested_) {
    // The sync thread starts the next sync; without one, the writers waiting for it are woken
    // to look again, and one of them runs it.
    if (sync_thread_.joinable()) {
      sync_wanted_.notify_one();
    } else {
      wake_all_locked();
    }
  }
  return generation;
}

void DiskStorage::wake_cohort(uint32_t generation) {
  std::atomic<uint32_t>& epoch = cohort_epoch_[generation % 2];
  epoch.fetch_add(1, std::memory_order_release);
  futex_wake_all(epoch);
}

void DiskStorage::wake_all_locked() {
  for (std::atomic<uint32_t>& epoch : cohort_epoch_) {
    epoch.fetch_add(1, std::memory_order_release);
    futex_wake_all(epoch);
  }
}

Status DiskStorage::save(const std::vector<raft::Entry>& entries,
                         const std::optional<raft::HardState>& hard_state) {
  Result<SyncTicket> ticket = write(entries, hard_state);
  if (!ticket.is_ok()) return ticket.status();
  return wait_durable(ticket.value());
}

Status DiskStorage::append(const std::vector<raft::Entry>& entries) {
  if (entries.empty()) return Status::ok();
  return save(entries, std::nullopt);
}

Status DiskStorage::set_hard_state(const raft::HardState& hard_state) {
  return save({}, hard_state);
}

Status DiskStorage::sync() {
  SyncTicket ticket;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!failed_.is_ok()) return failed_;
    ticket.position = written_;
  }
  return wait_durable(ticket);
}

Status DiskStorage::write_locked(WalBuffer& records, Index first_index, uint64_t* offset) {
  RAFT_ASSERT(!segments_.empty());
  if (!failed_.is_ok()) return failed_;
  if (write_offset_ > head_bytes_ && write_offset_ + records.size() > options_.segment_bytes) {
    Status rotated = rotate_locked(first_index, "");
    if (!rotated.is_ok()) return rotated;
  }
  RAFT_ASSERT(write_offset_ + records.size() <= kSegmentOffsetMax);
  *offset = write_offset_;
  write_offset_ += records.size();
  written_ += records.size();
  pending_.take(records);  // Written by the next sync, with the rest of its batch.
  // Shared payloads cost nothing here (the log holds them anyway); only copies are bounded.
  if (pending_.owned_bytes() >= kPendingBytesMax) return flush_locked();
  return Status::ok();
}

Status DiskStorage::flush_locked() {
  if (pending_.empty()) return Status::ok();
  RAFT_ASSERT(failed_.is_ok());
  RAFT_ASSERT(pending_.size() <= write_offset_);
  Status written = pending_.write_to(*segments_.back().file, write_offset_ - pending_.size());
  if (!written.is_ok()) return fail_locked(written);
  pending_.clear();  // Keeps its first piece's capacity for the next batch.
  return Status::ok();
}

Status DiskStorage::rotate_locked(Index first_index, const std::string& extra_records) {
  // Seal the active segment first: recovery treats damage in a sealed segment as corruption,
  // which is only sound if a sealed segment was synced whole before its successor got data.
  Status flushed = flush_locked();
  if (!flushed.is_ok()) return flushed;
  // Nothing written since the last sync (a lone writer's case): the segment is sealed already
  // (what recovery replayed was synced on open), and another fdatasync would only cost a
  // device cache flush on the appender's path.
  if (synced_.load(std::memory_order_relaxed) < written_) {
    Status sealed = segments_.back().file->sync();
    if (!sealed.is_ok()) return fail_locked(sealed);
    synced_.store(written_, std::memory_order_release);
    wake_all_locked();
  }
  ++rotations_;
  return create_segment_locked(first_index, extra_records);
}

Status DiskStorage::create_segment_locked(Index first_index, const std::string& extra_records) {
  const uint64_t sequence = segments_.empty() ? 1 : segments_.back().sequence + 1;
  const std::string path = join_path(dir_, segment_file_name(sequence));
  std::string head;
  append_record(RecordType::SegmentHeader,
                encode_segment_header(SegmentHeader{sequence, first_index}), &head);
  std::string hard_state;
  proto::encode_hard_state(hard_state_, &hard_state);
  append_record(RecordType::HardState, hard_state, &head);
  head += extra_records;
  RAFT_ASSERT(head.size() < options_.segment_bytes);
  // The file was created under a temporary name, preallocated and synced ahead of time (off
  // this path); it is renamed once its head is synced: a segment file either exists whole
  // with its header or not at all, so a missing header is always corruption.
  Result<SpareSegment> spare = pipeline_.take();
  if (!spare.is_ok()) return fail_locked(spare.status());
  Status status = spare.value().file->write_at(0, head);
  if (status.is_ok()) status = spare.value().file->sync();
  if (status.is_ok()) status = fs_.rename(spare.value().temp_path, path);
  if (status.is_ok()) status = fs_.sync_dir(dir_);
  if (!status.is_ok()) return fail_locked(status);
  pipeline_.prepare_next();
  // Reopened under its final name, which error messages then report (same inode, no I/O).
  Result<std::unique_ptr<File>> file = fs_.open(path, OpenMode::ReadWrite);
  if (!file.is_ok()) return fail_locked(file.status());
  segments_.push_back(Segment{sequence, first_index, path, std::move(file.value())});
  write_offset_ = head.size();
  head_bytes_ = head.size();
  log_to(logger_, LogLevel::Info, "wal: started segment ", path, " at index ", first_index);
  return Status::ok();
}

Status DiskStorage::fail_locked(Status status) {
  RAFT_ASSERT(!status.is_ok());
  if (failed_.is_ok()) {
    failed_ = status;
    log_to(logger_, LogLevel::Error,
           "wal: write path failed, storage unusable: ", status.to_string());
  }
  wake_all_locked();
  return failed_;
}

void DiskStorage::index_entry_locked(const raft::Entry& entry, uint64_t sequence, uint64_t offset) {
  RAFT_ASSERT(entry.index > compacted_index_);
  RAFT_ASSERT(entry.index <= last_index_ + 1);
  RAFT_ASSERT(offset <= kSegmentOffsetMax);
  truncate_from_locked(entry.index);
  offsets_.push_back(static_cast<uint32_t>(offset));
  term_of_.set(entry.index, entry.term);
  segment_of_.set(entry.index, sequence);
  last_index_ = entry.index;
  RAFT_ASSERT(offsets_.size() == last_index_ - compacted_index_);
}

void DiskStorage::truncate_from_locked(Index index) {
  RAFT_ASSERT(index > compacted_index_);
  if (index > last_index_) return;
  offsets_.resize(index - compacted_index_ - 1);
  term_of_.truncate_from(index);
  segment_of_.truncate_from(index);
  while (!cache_.empty() && cache_.back().index >= index) {
    cache_bytes_ -= cache_.back().size_bytes();
    cache_.pop_back();
  }
  last_index_ = index - 1;
}

void DiskStorage::reset_log_locked(Index index, Term term) {
  offsets_.clear();
  term_of_.clear();
  segment_of_.clear();
  cache_.clear();
  cache_bytes_ = 0;
  compacted_index_ = index;
  compacted_term_ = term;
  last_index_ = index;
}

void DiskStorage::drop_through_locked(Index index) {
  RAFT_ASSERT(index > compacted_index_);
  RAFT_ASSERT(index <= last_index_);
  const Term term_at = term_of_.at(index);
  offsets_.erase(offsets_.begin(),
                 offsets_.begin() + static_cast<std::ptrdiff_t>(index - compacted_index_));
  term_of_.drop_before(index + 1);
  segment_of_.drop_before(index + 1);
  drop_cached_through_locked(index);
  compacted_index_ = index;
  compacted_term_ = term_at;
  if (index == last_index_) {
    term_of_.clear();
    segment_of_.clear();
  }
}

void DiskStorage::release_cached_through(Index index) {
  std::lock_guard<std::mutex> lock(mu_);
  drop_cached_through_locked(index);
}

void DiskStorage::drop_cached_through_locked(Index index) {
  while (!cache_.empty() && cache_.front().index <= index) {
    cache_bytes_ -= cache_.front().size_bytes();
    cache_.pop_front();
  }
  if (cache_.empty()) RAFT_ASSERT(cache_bytes_ == 0);
}

void DiskStorage::cache_locked(const raft::Entry& entry) {
  if (!cache_.empty()) RAFT_ASSERT(cache_.back().index + 1 == entry.index);
  cache_.push_back(entry);
  cache_bytes_ += entry.size_bytes();
  while (cache_bytes_ > options_.cache_bytes_max && !cache_.empty()) {
    cache_bytes_ -= cache_.front().size_bytes();
    cache_.pop_front();
  }
}

bool DiskStorage::sync_needed_locked() const {
  const uint64_t synced = synced_.load(std::memory_order_relaxed);
  if (!failed_.is_ok() || sync_running_ || written_ <= synced) return false;
  return sync_requested_;
}

// The sync thread: runs the next sync as soon as the last one ends when data was written while
// it ran, so that those writers (asleep in the next cohort) wait for no more than the sync that
// was in flight when they wrote; then wakes them outside the lock.
void DiskStorage::sync_loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    sync_wanted_.wait(lock, [this] { return stopping_ || sync_needed_locked(); });
    if (stopping_) return;
    const uint32_t generation = run_sync_locked(lock);
    lock.unlock();
    wake_cohort(generation);
    lock.lock();
  }
}

runtime::StorageStats DiskStorage::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return runtime::StorageStats{.syncs = syncs_,
                               .bytes_written = written_,
                               .segments = segments_.size(),
                               .rotations = rotations_,
                               .snapshots_written = snapshots_written_,
                               .snapshots_received = snapshots_received_};
}

DiskStorage::Details DiskStorage::details() const {
  std::lock_guard<std::mutex> lock(mu_);
  return Details{.cached_entries = cache_.size(),
                 .cached_bytes = cache_bytes_,
                 .pipeline = pipeline_.stats()};
}

}  // namespace raftkv::storage
