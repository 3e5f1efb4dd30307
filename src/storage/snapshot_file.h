#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "raft/messages.h"
#include "runtime/byte_stream.h"
#include "runtime/storage.h"
#include "storage/fs.h"

// Snapshot files: one state-machine image plus its metadata, written and read as streams so a
// snapshot never has to fit in memory.
//
// Layout (little-endian):
//   [8 bytes "RKVSNAP1"][u32 meta_length][u32 crc32c of meta][meta: proto SnapshotMeta]
//   [data ...]
//   [footer: u64 data_length][u32 crc32c of every byte before the footer][8 bytes "RKVSNEND"]
// The meta has its own checksum so that listing snapshots need not read whole files; the
// footer's checksum covers the whole file and is checked whenever the data is read through.
//
// Name: <index:020>-<term:020>.snap, so lexical order is index order. Written as <name>.tmp,
// fsynced, renamed, and the directory fsynced: a crash leaves either no snapshot or a whole
// one, never a partial file under the final name (leftover .tmp files are removed on open).

namespace raftkv::storage {

inline constexpr size_t kSnapshotHeaderBytes = 16;
inline constexpr size_t kSnapshotFooterBytes = 20;
inline constexpr uint32_t kSnapshotMetaMax = 16u << 20;

std::string snapshot_file_name(Index index, Term term);
// True when `name` is a final snapshot file name; fills index and term.
[[nodiscard]] bool parse_snapshot_file_name(std::string_view name, Index* index, Term* term);

// Streams one snapshot to a temporary file in `dir`; finish() makes it durable under its
// final name. Destroying an unfinished writer removes the temporary file. Not thread-safe.
class SnapshotWriter final : public runtime::ByteSink {
 public:
  // Writes into a new file, or over `reuse` when given: an old snapshot file that
  // DiskStorage set aside (renamed to a *.tmp name) so that its cached pages are written over
  // instead of fresh ones (DiskStorage::remove_doomed_files says why). finish() cuts it to
  // this snapshot's size.
  [[nodiscard]] static Result<std::unique_ptr<SnapshotWriter>> create(
      Fs& fs, const std::string& dir, const raft::SnapshotMeta& meta,
      const std::string& reuse = {});
  ~SnapshotWriter() override;
  SnapshotWriter(const SnapshotWriter&) = delete;
  SnapshotWriter& operator=(const SnapshotWriter&) = delete;

  // Appends state-machine bytes.
  [[nodiscard]] Status write(std::span<const char> data) override;
  // Footer, fsync, rename to the final name, directory fsync. Durable when ok.
  [[nodiscard]] Status finish();

  [[nodiscard]] const raft::SnapshotMeta& meta() const { return meta_; }
  // The final path (valid once finish() succeeded).
  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] uint64_t data_bytes() const { return data_bytes_; }

 private:
  SnapshotWriter(Fs& fs, std::string dir, raft::SnapshotMeta meta, std::unique_ptr<File> file);

  Fs& fs_;
  std::string dir_;
  raft::SnapshotMeta meta_;
  std::unique_ptr<File> file_;
  std::string temp_path_;
  std::string path_;
  bool reused_ = false;  // Written over an old file: finish() cuts what is left of it.
  uint64_t offset_ = 0;  // Next write position in the file.
  // Snapshots are large and written while the WAL syncs on the same disk: their pages go to
  // the disk step by step rather than all at finish().
  WriteBehind write_behind_;
  uint64_t data_bytes_ = 0;
  uint32_t crc_ = 0;  // Over every byte written so far.
  bool finished_ = false;
};

// Receives a snapshot file as raw chunks (InstallSnapshot from the leader, which reads them with
// SnapshotReader::read_chunk) into a temporary file, so memory stays bounded by one chunk.
// received_bytes() is where the sender resumes after a disconnect. verify() checks the whole
// file (meta, sizes, whole-file checksum: end to end, sender's disk to receiver's) before
// finish() gives it its final name. Destroying an unfinished receiver removes the temporary
// file; a crash leaves it behind as *.tmp, which DiskStorage::open removes, so a restarted
// follower asks for the snapshot from offset 0 again. Not thread-safe.
class SnapshotReceiver final : public runtime::IncomingSnapshot {
 public:
  [[nodiscard]] static Result<std::unique_ptr<SnapshotReceiver>> create(Fs& fs,
                                                                        const std::string& dir);
  ~SnapshotReceiver() override;
  SnapshotReceiver(const SnapshotReceiver&) = delete;
  SnapshotReceiver& operator=(const SnapshotReceiver&) = delete;

  // Writes the chunk at `offset`. Bytes before received_bytes() are a retransmission and are
  // skipped; InvalidArgument if `offset` is past received_bytes() (a gap).
  [[nodiscard]] Status write_chunk(uint64_t offset, std::string_view bytes) override;
  [[nodiscard]] uint64_t received_bytes() const override { return received_bytes_; }
  // Syncs the file and validates it whole; Corruption if it is not a valid snapshot file.
  // Once it succeeded, later calls return ok at once.
  [[nodiscard]] Status verify() override;
  // After verify(): renames to the final name and syncs the directory. Durable when ok.
  [[nodiscard]] Status finish();

  // After verify().
  [[nodiscard]] const raft::SnapshotMeta& meta() const override { return meta_; }
  [[nodiscard]] uint64_t data_bytes() const { return data_bytes_; }       // After verify().
  [[nodiscard]] const std::string& path() const { return path_; }         // After finish().

 private:
  SnapshotReceiver(Fs& fs, std::string dir) : fs_(fs), dir_(std::move(dir)) {}

  Fs& fs_;
  std::string dir_;
  std::unique_ptr<File> file_;
  std::string temp_path_;
  std::string path_;
  raft::SnapshotMeta meta_;
  uint64_t received_bytes_ = 0;
  WriteBehind write_behind_;  // As SnapshotWriter's: received snapshots are as large.
  uint64_t data_bytes_ = 0;
  bool verified_ = false;
  bool finished_ = false;
};

// Reads one snapshot file: metadata at once, data as a stream (verifying the whole-file
// checksum when the stream ends), and raw chunks of the file by offset (what InstallSnapshot
// sends; the receiver verifies the same checksum end to end). Not thread-safe.
class SnapshotReader final : public runtime::SnapshotFile {
 public:
  // Validates the header, meta checksum and footer; Corruption names the file and offset.
  [[nodiscard]] static Result<std::unique_ptr<SnapshotReader>> open(Fs& fs,
                                                                    const std::string& path);

  [[nodiscard]] const raft::SnapshotMeta& meta() const override { return meta_; }
  [[nodiscard]] uint64_t data_bytes() const override { return data_bytes_; }
  [[nodiscard]] uint64_t file_bytes() const override { return file_bytes_; }
  [[nodiscard]] const std::string& path() const override { return path_; }

  // Next up to out.size() data bytes; 0 at the end. When the last data byte has been read the
  // whole-file checksum is compared: Corruption (naming the file) if it does not match.
  [[nodiscard]] Result<size_t> read(std::span<char> out) override;
  // Reads the rest of the data through read(), so the checksum is verified.
  [[nodiscard]] Status verify();
  // Kept alive as long as this reader: DiskStorage learns from it that the file is still read.
  void hold(std::shared_ptr<const void> lease) { lease_ = std::move(lease); }
  // Up to `bytes_max` raw file bytes at `offset` (empty at or past the end).
  [[nodiscard]] Result<std::string> read_chunk(uint64_t offset,
                                               uint64_t bytes_max) const override;

 private:
  SnapshotReader() = default;

  std::unique_ptr<File> file_;
  std::string path_;
  raft::SnapshotMeta meta_;
  uint64_t data_start_ = 0;
  uint64_t data_bytes_ = 0;
  uint64_t file_bytes_ = 0;
  uint64_t data_read_ = 0;
  uint32_t expected_crc_ = 0;
  uint32_t crc_ = 0;
  std::shared_ptr<const void> lease_;
};

// Validates a whole snapshot file held in memory (header, meta, footer, checksum); fills
// `meta` when ok. For the fuzzer and the inspector; readers of real files use SnapshotReader.
[[nodiscard]] Status check_snapshot_bytes(std::string_view bytes, const std::string& name,
                                          raft::SnapshotMeta* meta);

}  // namespace raftkv::storage
