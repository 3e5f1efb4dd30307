#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/shared_bytes.h"
#include "common/status.h"
#include "storage/fs.h"

// WAL bytes on their way to a segment file, as a sequence of pieces: small records coalesced
// into owned strings, and between them the payloads of large entries, shared with the log
// rather than copied (a 16 MiB value is written to the file from where the client's request
// put it). Holds one batch while it is encoded, and the records written but not yet in the
// file (DiskStorage::pending_).
//
// Not thread-safe; DiskStorage guards it with its mutex.
namespace raftkv::storage {

class WalBuffer {
 public:
  // Payloads at least this large are shared, not copied, by append_shared's callers.
  static constexpr size_t kShareBytesMin = 64u << 10;

  // Appends a copy of `bytes`.
  void append(std::string_view bytes);
  // Appends `bytes` by reference.
  void append_shared(SharedBytes bytes);
  // Appends every piece of `other`, which is left empty.
  void take(WalBuffer& other);

  [[nodiscard]] uint64_t size() const { return size_; }
  [[nodiscard]] bool empty() const { return size_ == 0; }
  // Bytes held as copies (what the buffer itself costs in memory).
  [[nodiscard]] uint64_t owned_bytes() const { return owned_bytes_; }

  // Copies bytes [offset, offset + count) of the buffer to `out`; count must fit.
  void read(uint64_t offset, char* out, size_t count) const;
  // Writes the whole buffer to `file` at `file_offset`, one write per piece.
  [[nodiscard]] Status write_to(File& file, uint64_t file_offset) const;
  // Empties the buffer, keeping the first piece's allocation for the next batch.
  void clear();

 private:
  struct Piece {
    std::string owned;   // Used when `shared` is empty.
    SharedBytes shared;
    [[nodiscard]] std::string_view bytes() const {
      return shared.empty() ? std::string_view(owned) : shared.view();
    }
  };
  std::vector<Piece> pieces_;
  uint64_t size_ = 0;
  uint64_t owned_bytes_ = 0;
};

}  // namespace raftkv::storage
