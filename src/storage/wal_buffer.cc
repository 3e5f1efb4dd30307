#include "storage/wal_buffer.h"

#include <algorithm>
#include <cstring>

#include "common/assert.h"

namespace raftkv::storage {

void WalBuffer::append(std::string_view bytes) {
  if (bytes.empty()) return;
  if (pieces_.empty() || !pieces_.back().shared.empty()) pieces_.emplace_back();
  pieces_.back().owned.append(bytes);
  size_ += bytes.size();
  owned_bytes_ += bytes.size();
}

void WalBuffer::append_shared(SharedBytes bytes) {
  if (bytes.empty()) return;
  size_ += bytes.size();
  // An emptied first piece (kept by clear() for its allocation) is reused, not left empty in
  // front: every piece holds bytes.
  if (pieces_.size() == 1 && pieces_.front().owned.empty() && pieces_.front().shared.empty()) {
    pieces_.front().shared = std::move(bytes);
    return;
  }
  pieces_.push_back(Piece{{}, std::move(bytes)});
}

void WalBuffer::take(WalBuffer& other) {
  for (Piece& piece : other.pieces_) {
    if (piece.shared.empty()) {
      append(piece.owned);
    } else {
      append_shared(std::move(piece.shared));
    }
  }
  other.pieces_.clear();
  other.size_ = 0;
  other.owned_bytes_ = 0;
}

void WalBuffer::read(uint64_t offset, char* out, size_t count) const {
  RAFT_ASSERT(offset + count <= size_);
  uint64_t start = 0;  // Of the current piece within the buffer.
  for (const Piece& piece : pieces_) {
    const std::string_view bytes = piece.bytes();
    const uint64_t end = start + bytes.size();
    if (count > 0 && offset < end) {
      const auto skip = static_cast<size_t>(offset - start);
      const size_t take = std::min(count, bytes.size() - skip);
      std::memcpy(out, bytes.data() + skip, take);
      out += take;
      offset += take;
      count -= take;
    }
    start = end;
  }
  RAFT_ASSERT(count == 0);
}

Status WalBuffer::write_to(File& file, uint64_t file_offset) const {
  for (const Piece& piece : pieces_) {
    const std::string_view bytes = piece.bytes();
    if (bytes.empty()) continue;
    Status written = file.write_at(file_offset, bytes);
    if (!written.is_ok()) return written;
    file_offset += bytes.size();
  }
  return Status::ok();
}

void WalBuffer::clear() {
  if (pieces_.size() > 1) pieces_.resize(1);
  if (!pieces_.empty()) {
    pieces_.front().owned.clear();
    pieces_.front().shared = SharedBytes();
  }
  size_ = 0;
  owned_bytes_ = 0;
}

}  // namespace raftkv::storage
