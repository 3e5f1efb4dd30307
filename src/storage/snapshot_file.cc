#include "storage/snapshot_file.h"

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "proto/convert.h"
#include "storage/crc32c.h"

namespace raftkv::storage {
namespace {

constexpr std::string_view kHeaderMagic = "RKVSNAP1";
constexpr std::string_view kFooterMagic = "RKVSNEND";
constexpr std::string_view kSuffix = ".snap";

template <typename T>
T load(std::string_view bytes, size_t offset) {
  T value{};
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

template <typename T>
void store(T value, std::string* out) {
  char raw[sizeof(T)];
  std::memcpy(raw, &value, sizeof(T));
  out->append(raw, sizeof(T));
}

Status corrupt(const std::string& name, uint64_t offset, const std::string& what) {
  return Status(ErrorCode::Corruption,
                what + " in snapshot " + name + " at offset " + std::to_string(offset));
}

struct Frame {
  uint32_t meta_length = 0;
  uint64_t data_bytes = 0;
  uint32_t file_crc = 0;
};

// Checks the fixed header and footer against the file size. `header` holds the first
// kSnapshotHeaderBytes, `footer` the last kSnapshotFooterBytes.
Status parse_frame(std::string_view header, std::string_view footer, uint64_t file_bytes,
                   const std::string& name, Frame* frame) {
  if (file_bytes < kSnapshotHeaderBytes + kSnapshotFooterBytes) {
    return corrupt(name, 0, "file too short (" + std::to_string(file_bytes) + " bytes)");
  }
  if (header.substr(0, kHeaderMagic.size()) != kHeaderMagic) return corrupt(name, 0, "bad magic");
  frame->meta_length = load<uint32_t>(header, 8);
  const uint64_t footer_at = file_bytes - kSnapshotFooterBytes;
  if (footer.substr(12) != kFooterMagic) return corrupt(name, footer_at, "bad footer magic");
  if (frame->meta_length > kSnapshotMetaMax ||
      kSnapshotHeaderBytes + frame->meta_length > footer_at) {
    return corrupt(name, 8, "meta length out of range");
  }
  frame->data_bytes = load<uint64_t>(footer, 0);
  frame->file_crc = load<uint32_t>(footer, 8);
  if (kSnapshotHeaderBytes + frame->meta_length + frame->data_bytes != footer_at) {
    return corrupt(name, footer_at, "data length does not match the file size");
  }
  return Status::ok();
}

Status parse_meta(std::string_view header, std::string_view meta_bytes, const std::string& name,
                  raft::SnapshotMeta* meta) {
  if (crc32c(meta_bytes) != load<uint32_t>(header, 12)) {
    return corrupt(name, kSnapshotHeaderBytes, "bad meta checksum");
  }
  Status decoded = proto::decode_snapshot_meta(meta_bytes, meta);
  if (!decoded.is_ok()) return corrupt(name, kSnapshotHeaderBytes, decoded.message());
  return Status::ok();
}

}  // namespace

std::string snapshot_file_name(Index index, Term term) {
  char name[64];
  std::snprintf(name, sizeof(name), "%020" PRIu64 "-%020" PRIu64 ".snap", index.value(),
                term.value());
  return name;
}

bool parse_snapshot_file_name(std::string_view name, Index* index, Term* term) {
  if (name.size() != 20 + 1 + 20 + kSuffix.size() || name.substr(41) != kSuffix) return false;
  if (name[20] != '-') return false;
  uint64_t values[2] = {0, 0};
  for (int part = 0; part < 2; ++part) {
    for (size_t i = 0; i < 20; ++i) {
      const char c = name[static_cast<size_t>(part) * 21 + i];
      if (c < '0' || c > '9') return false;
      const auto digit = static_cast<uint64_t>(c - '0');
      if (values[part] > (UINT64_MAX - digit) / 10) return false;
      values[part] = values[part] * 10 + digit;
    }
  }
  *index = Index{values[0]};
  *term = Term{values[1]};
  return true;
}

SnapshotWriter::SnapshotWriter(Fs& fs, std::string dir, raft::SnapshotMeta meta,
                               std::unique_ptr<File> file)
    : fs_(fs), dir_(std::move(dir)), meta_(std::move(meta)), file_(std::move(file)) {}

Result<std::unique_ptr<SnapshotWriter>> SnapshotWriter::create(Fs& fs, const std::string& dir,
                                                               const raft::SnapshotMeta& meta,
                                                               const std::string& reuse) {
  const std::string temp_path = join_path(dir, snapshot_file_name(meta.index, meta.term) + ".tmp");
  // A leftover from a crashed attempt at the same snapshot is garbage: start over.
  (void)fs.remove(temp_path);
  Status renamed = reuse.empty() ? Status::ok() : fs.rename(reuse, temp_path);
  if (!renamed.is_ok()) (void)fs.remove(reuse);  // Best effort; a new file will do.
  const bool reused = !reuse.empty() && renamed.is_ok();
  Result<std::unique_ptr<File>> file =
      fs.open(temp_path, reused ? OpenMode::ReadWrite : OpenMode::CreateNew);
  if (!file.is_ok()) {
    if (reused) (void)fs.remove(temp_path);
    return file.status();
  }
  std::unique_ptr<SnapshotWriter> writer(
      new SnapshotWriter(fs, dir, meta, std::move(file.value())));
  writer->temp_path_ = temp_path;
  writer->reused_ = reused;
  std::string meta_bytes;
  proto::encode_snapshot_meta(meta, &meta_bytes);
  RAFT_ASSERT(meta_bytes.size() <= kSnapshotMetaMax);
  std::string header(kHeaderMagic);
  store(static_cast<uint32_t>(meta_bytes.size()), &header);
  store(crc32c(meta_bytes), &header);
  header += meta_bytes;
  Status written = writer->file_->write_at(0, header);
  if (!written.is_ok()) return written;
  writer->offset_ = header.size();
  writer->crc_ = crc32c(header);
  return writer;
}

SnapshotWriter::~SnapshotWriter() {
  if (!finished_) {
    file_.reset();
    (void)fs_.remove(temp_path_);  // Best effort: open() also removes leftovers.
  }
}

Status SnapshotWriter::write(std::span<const char> bytes) {
  const std::string_view data(bytes.data(), bytes.size());
  RAFT_ASSERT(!finished_);
  Status written = file_->write_at(offset_, data);
  if (!written.is_ok()) return written;
  offset_ += data.size();
  data_bytes_ += data.size();
  crc_ = crc32c_extend(crc_, data.data(), data.size());
  write_behind_.wrote_up_to(*file_, offset_);
  return Status::ok();
}

Status SnapshotWriter::finish() {
  RAFT_ASSERT(!finished_);
  std::string footer;
  store(data_bytes_, &footer);
  store(crc_, &footer);
  footer += kFooterMagic;
  RAFT_ASSERT(footer.size() == kSnapshotFooterBytes);
  Status status = file_->write_at(offset_, footer);
  if (status.is_ok() && reused_) status = file_->truncate(offset_ + footer.size());
  if (status.is_ok()) status = file_->sync();
  if (!status.is_ok()) return status;
  path_ = join_path(dir_, snapshot_file_name(meta_.index, meta_.term));
  status = fs_.rename(temp_path_, path_);
  if (!status.is_ok()) return status;
  finished_ = true;  // The temp name is gone; nothing left to clean up.
  return fs_.sync_dir(dir_);
}

Result<std::unique_ptr<SnapshotReader>> SnapshotReader::open(Fs& fs, const std::string& path) {
  Result<std::unique_ptr<File>> file = fs.open(path, OpenMode::ReadOnly);
  if (!file.is_ok()) return file.status();
  std::unique_ptr<SnapshotReader> reader(new SnapshotReader());
  reader->file_ = std::move(file.value());
  reader->path_ = path;
  Result<uint64_t> size = reader->file_->size();
  if (!size.is_ok()) return size.status();
  const uint64_t file_bytes = size.value();
  char header[kSnapshotHeaderBytes] = {};
  char footer[kSnapshotFooterBytes] = {};
  if (file_bytes >= kSnapshotHeaderBytes + kSnapshotFooterBytes) {
    Result<size_t> got = reader->file_->read_at(0, header, sizeof(header));
    if (!got.is_ok()) return got.status();
    got = reader->file_->read_at(file_bytes - sizeof(footer), footer, sizeof(footer));
    if (!got.is_ok()) return got.status();
  }
  const std::string_view header_view(header, sizeof(header));
  Frame frame;
  Status framed =
      parse_frame(header_view, std::string_view(footer, sizeof(footer)), file_bytes, path, &frame);
  if (!framed.is_ok()) return framed;
  std::string meta_bytes(frame.meta_length, '\0');
  Result<size_t> got =
      reader->file_->read_at(kSnapshotHeaderBytes, meta_bytes.data(), meta_bytes.size());
  if (!got.is_ok()) return got.status();
  Status parsed = parse_meta(header_view, meta_bytes, path, &reader->meta_);
  if (!parsed.is_ok()) return parsed;
  reader->data_start_ = kSnapshotHeaderBytes + frame.meta_length;
  reader->data_bytes_ = frame.data_bytes;
  reader->file_bytes_ = file_bytes;
  reader->expected_crc_ = frame.file_crc;
  reader->crc_ = crc32c_extend(crc32c(header_view), meta_bytes.data(), meta_bytes.size());
  return reader;
}

Result<size_t> SnapshotReader::read(std::span<char> buffer) {
  char* out = buffer.data();
  const size_t size = buffer.size();
  const uint64_t left = data_bytes_ - data_read_;
  if (left == 0 || size == 0) return size_t{0};
  const auto want = static_cast<size_t>(std::min<uint64_t>(left, size));
  Result<size_t> got = file_->read_at(data_start_ + data_read_, out, want);
  if (!got.is_ok()) return got.status();
  if (got.value() != want) return corrupt(path_, data_start_ + data_read_, "file shrank");
  crc_ = crc32c_extend(crc_, out, want);
  data_read_ += want;
  if (data_read_ == data_bytes_ && crc_ != expected_crc_) {
    return corrupt(path_, file_bytes_ - kSnapshotFooterBytes, "bad whole-file checksum");
  }
  return want;
}

Status SnapshotReader::verify() {
  std::string buffer(1 << 20, '\0');
  if (data_bytes_ == 0 && crc_ != expected_crc_) {
    return corrupt(path_, file_bytes_ - kSnapshotFooterBytes, "bad whole-file checksum");
  }
  while (true) {
    Result<size_t> got = read(std::span<char>(buffer.data(), buffer.size()));
    if (!got.is_ok()) return got.status();
    if (got.value() == 0) return Status::ok();
  }
}

Result<std::string> SnapshotReader::read_chunk(uint64_t offset, uint64_t bytes_max) const {
  if (offset >= file_bytes_) return std::string();
  std::string chunk(static_cast<size_t>(std::min(bytes_max, file_bytes_ - offset)), '\0');
  Result<size_t> got = file_->read_at(offset, chunk.data(), chunk.size());
  if (!got.is_ok()) return got.status();
  chunk.resize(got.value());
  return chunk;
}

Result<std::unique_ptr<SnapshotReceiver>> SnapshotReceiver::create(Fs& fs, const std::string& dir) {
  std::unique_ptr<SnapshotReceiver> receiver(new SnapshotReceiver(fs, dir));
  // A name of its own: a verified file may still wait for the core to install it while the
  // next transfer begins. Leftovers of a crash are removed by DiskStorage::open (*.tmp).
  static std::atomic<uint64_t> next_receiver{1};
  receiver->temp_path_ = join_path(
      dir, "incoming-" + std::to_string(next_receiver.fetch_add(1)) + ".snap.tmp");
  (void)fs.remove(receiver->temp_path_);  // A leftover of an earlier process.
  Result<std::unique_ptr<File>> file = fs.open(receiver->temp_path_, OpenMode::CreateNew);
  if (!file.is_ok()) return file.status();
  receiver->file_ = std::move(file.value());
  return receiver;
}

SnapshotReceiver::~SnapshotReceiver() {
  if (!finished_) {
    file_.reset();
    (void)fs_.remove(temp_path_);  // Best effort: open() also removes leftovers.
  }
}

Status SnapshotReceiver::write_chunk(uint64_t offset, std::string_view bytes) {
  RAFT_ASSERT(!verified_);
  if (offset > received_bytes_) {
    return Status(ErrorCode::InvalidArgument, "snapshot chunk at offset " + std::to_string(offset) +
                                                  " leaves a gap after " +
                                                  std::to_string(received_bytes_));
  }
  const uint64_t skip = std::min<uint64_t>(received_bytes_ - offset, bytes.size());
  bytes.remove_prefix(static_cast<size_t>(skip));
  if (bytes.empty()) return Status::ok();
  Status written = file_->write_at(received_bytes_, bytes);
  if (!written.is_ok()) return written;
  received_bytes_ += bytes.size();
  write_behind_.wrote_up_to(*file_, received_bytes_);
  return Status::ok();
}

Status SnapshotReceiver::verify() {
  if (verified_) return Status::ok();
  Status synced = file_->sync();
  if (!synced.is_ok()) return synced;
  Result<std::unique_ptr<SnapshotReader>> reader = SnapshotReader::open(fs_, temp_path_);
  if (!reader.is_ok()) return reader.status();
  Status checked = reader.value()->verify();
  if (!checked.is_ok()) return checked;
  meta_ = reader.value()->meta();
  data_bytes_ = reader.value()->data_bytes();
  verified_ = true;
  return Status::ok();
}

Status SnapshotReceiver::finish() {
  RAFT_ASSERT(verified_);
  RAFT_ASSERT(!finished_);
  path_ = join_path(dir_, snapshot_file_name(meta_.index, meta_.term));
  Status renamed = fs_.rename(temp_path_, path_);
  if (!renamed.is_ok()) return renamed;
  finished_ = true;
  return fs_.sync_dir(dir_);
}

Status check_snapshot_bytes(std::string_view bytes, const std::string& name,
                            raft::SnapshotMeta* meta) {
  const uint64_t file_bytes = bytes.size();
  if (file_bytes < kSnapshotHeaderBytes + kSnapshotFooterBytes) {
    return corrupt(name, 0, "file too short (" + std::to_string(file_bytes) + " bytes)");
  }
  const std::string_view header = bytes.substr(0, kSnapshotHeaderBytes);
  const std::string_view footer = bytes.substr(bytes.size() - kSnapshotFooterBytes);
  Frame frame;
  Status framed = parse_frame(header, footer, file_bytes, name, &frame);
  if (!framed.is_ok()) return framed;
  Status parsed =
      parse_meta(header, bytes.substr(kSnapshotHeaderBytes, frame.meta_length), name, meta);
  if (!parsed.is_ok()) return parsed;
  if (crc32c(bytes.substr(0, bytes.size() - kSnapshotFooterBytes)) != frame.file_crc) {
    return corrupt(name, file_bytes - kSnapshotFooterBytes, "bad whole-file checksum");
  }
  return Status::ok();
}

}  // namespace raftkv::storage
