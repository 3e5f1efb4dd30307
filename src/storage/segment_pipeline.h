#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/logger.h"
#include "common/status.h"
#include "storage/fs.h"

// SegmentPipeline keeps the next WAL segment file prepared ahead of rotation, as etcd's
// filePipeline does: creating and preallocating a file (and syncing its new size) takes
// several milliseconds of metadata I/O, which must not stall appenders at every rotation.
//
// A spare is <dir>/spare-<n>.wal.tmp: created, preallocated to segment_bytes, filled with zeros
// (write_zeros: appends then sync no metadata) and fdatasynced, with no record in it. It is
// never a segment until DiskStorage's rotation writes its head, syncs it and renames it to its
// final name (then syncs the directory). A crash leaves at most one or two spares behind; like
// every *.tmp file they are removed by the next open, and raftkv-wal lists them without calling
// them damage.
//
// Segments the snapshot covers are recycled into spares rather than removed (recycle()): one
// waits as recycled-<n>.wal.tmp (also removed by the next open) until a spare is made of it,
// overwritten with zeros. Why: zeros written over pages the page cache still holds cost a
// memory copy, while a new file's pages come fresh from the allocator. On a virtual machine
// that hands freed memory back to its host (virtio free page reporting), each first touch of
// such a page also faults in the host: zero-filling a new 64 MiB spare took 100-165 ms of a
// node's CPU under a large-value load, over a recycled segment 15-23 ms
// (bench/results/2026-12-07-recycling.md).
//
// Threads: with `background` a thread prepares the next spare when prepare_next() asks for it.
// Without it, prepare_next() prepares it on the caller's thread before returning, so every
// file-system step happens in one deterministic order (the crash-point tests use this).
//
// Thread-safe. Its mutex is its own and it never calls back into its owner, so the owner may
// hold its locks across take() (DiskStorage holds mu_ while rotating).
namespace raftkv::storage {

// A prepared segment file, handed over by SegmentPipeline::take().
struct SpareSegment {
  std::string temp_path;       // Where it is now; the rotation renames it.
  std::unique_ptr<File> file;  // Open read-write; [0, segment_bytes) allocated, all zeros.
};

class SegmentPipeline {
 public:
  // Counters for tests and the benchmark.
  struct Stats {
    uint64_t prepared = 0;         // Spares prepared ahead, before the take() using them.
    uint64_t recycled = 0;         // Spares made from a recycled segment (ahead or inline).
    uint64_t waited = 0;           // take() calls that waited for the background thread.
    uint64_t prepared_inline = 0;  // take() calls that prepared their own spare.
  };

  SegmentPipeline(Fs& fs, std::string dir, uint64_t segment_bytes, bool background,
                  Logger& logger);
  // Stops the thread and removes the unused spare, if any (best effort: open removes it too).
  ~SegmentPipeline();
  SegmentPipeline(const SegmentPipeline&) = delete;
  SegmentPipeline& operator=(const SegmentPipeline&) = delete;

  // Starts keeping a spare ready. Call once, after the directory's leftover *.tmp files were
  // removed (the cleanup would remove this pipeline's spare too). take() works before it.
  void start();
  // Hands over a spare: the ready one at once, the one being prepared once it is ready, or
  // (before start(), when the background attempt failed, or when prepare_next() was not called
  // since the last take) one prepared now. IoError (with the path) if this call had to prepare
  // one and could not.
  [[nodiscard]] Result<SpareSegment> take();
  // Asks for the next spare, once the taken one is in place (renamed, its directory synced):
  // preparing it writes a whole segment of zeros, which would otherwise queue ahead of the
  // rotation's own syncs (measured: a rotating append took 2x as long). A no-op before start()
  // or while a spare is ready or in preparation.
  void prepare_next();
  // Takes over `segment_path`, a whole segment the snapshot covers, in place of removing it:
  // renames it to recycled-<n>.wal.tmp, for a later spare. The caller syncs the directory,
  // as after a removal. Beyond kRecycledMax waiting files, removes it instead. Recycled files
  // are the log the last compaction dropped, which the log regrows through before the next
  // snapshot: the data directory stays at the size it had before that compaction instead of
  // shrinking and growing back, and never above it.
  [[nodiscard]] Status recycle(const std::string& segment_path);
  [[nodiscard]] Stats stats() const;

  static constexpr size_t kRecycledMax = 16;

 private:
  // Makes spare number `number`, from a recycled file if one waits (else a new file):
  // preallocated, zero-filled and synced; removes it again on failure.
  [[nodiscard]] Result<SpareSegment> prepare(uint64_t number);
  // Opens the file that becomes spare `path`: a recycled one renamed to it and cut to
  // segment_bytes (a segment holding an oversized record grew past it), or a new one.
  [[nodiscard]] Result<std::unique_ptr<File>> open_spare(const std::string& path);
  // The background thread is asked for the next spare, or (without one) it is prepared now.
  // A failure is only logged: the next take() tries again.
  void request_next(std::unique_lock<std::mutex>& lock);
  // Without the lock: prepares spare `number` and installs it as ready_ (or logs why not).
  void prepare_into_ready(std::unique_lock<std::mutex>& lock);
  void run();

  Fs& fs_;
  const std::string dir_;
  const uint64_t segment_bytes_;
  const bool background_;
  Logger& logger_;

  mutable std::mutex mu_;
  std::condition_variable changed_;  // ready_, wanted_ or stopping_ changed.
  bool started_ = false;
  // A spare was asked of the background thread and it has not delivered (or failed) yet.
  // Invariant: wanted_ implies !ready_.
  bool wanted_ = false;
  bool stopping_ = false;
  std::optional<SpareSegment> ready_;
  std::deque<std::string> recycled_;  // Paths of recycled segments waiting, oldest first.
  uint64_t next_number_ = 0;  // Of the next spare's or recycled file's name; never reused.
  Stats stats_;
  std::thread thread_;  // Only with background_, from start() on.
};

}  // namespace raftkv::storage
