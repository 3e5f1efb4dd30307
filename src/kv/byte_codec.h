#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

// Little-endian fixed-width integers and u32-length-prefixed strings, for command entries and
// snapshots. The reader is bounds-checked on every call and reports failure instead of
// asserting, because what it reads came from a log, a peer or a disk.

namespace raftkv::kv {

inline void put_u8(std::string* out, uint8_t value) { out->push_back(static_cast<char>(value)); }

inline void put_u32(std::string* out, uint32_t value) {
  char bytes[4];
  for (size_t i = 0; i < 4; ++i) bytes[i] = static_cast<char>((value >> (8 * i)) & 0xff);
  out->append(bytes, 4);
}

inline void put_u64(std::string* out, uint64_t value) {
  char bytes[8];
  for (size_t i = 0; i < 8; ++i) bytes[i] = static_cast<char>((value >> (8 * i)) & 0xff);
  out->append(bytes, 8);
}

inline void put_i64(std::string* out, int64_t value) { put_u64(out, static_cast<uint64_t>(value)); }

// Precondition (asserted by callers): value.size() fits in u32.
inline void put_string(std::string* out, std::string_view value) {
  put_u32(out, static_cast<uint32_t>(value.size()));
  out->append(value);
}

// Reads from a borrowed buffer; every getter returns false (and leaves the output unset) when
// fewer bytes remain than it needs.
class ByteReader {
 public:
  explicit ByteReader(std::string_view bytes) : bytes_(bytes) {}

  [[nodiscard]] size_t remaining() const { return bytes_.size() - offset_; }
  [[nodiscard]] size_t offset() const { return offset_; }

  [[nodiscard]] bool get_u8(uint8_t* value) {
    if (remaining() < 1) return false;
    *value = static_cast<uint8_t>(bytes_[offset_]);
    offset_ += 1;
    return true;
  }

  [[nodiscard]] bool get_u32(uint32_t* value) {
    if (remaining() < 4) return false;
    uint32_t result = 0;
    for (size_t i = 0; i < 4; ++i) {
      result |= static_cast<uint32_t>(static_cast<uint8_t>(bytes_[offset_ + i])) << (8 * i);
    }
    *value = result;
    offset_ += 4;
    return true;
  }

  [[nodiscard]] bool get_u64(uint64_t* value) {
    if (remaining() < 8) return false;
    uint64_t result = 0;
    for (size_t i = 0; i < 8; ++i) {
      result |= static_cast<uint64_t>(static_cast<uint8_t>(bytes_[offset_ + i])) << (8 * i);
    }
    *value = result;
    offset_ += 8;
    return true;
  }

  [[nodiscard]] bool get_i64(int64_t* value) {
    uint64_t raw = 0;
    if (!get_u64(&raw)) return false;
    *value = static_cast<int64_t>(raw);
    return true;
  }

  // A u32 length, then that many bytes; fails when the length exceeds what remains, so a
  // corrupt length never causes a large allocation.
  [[nodiscard]] bool get_string(std::string* value) {
    std::string_view view;
    if (!get_view(&view)) return false;
    value->assign(view);
    return true;
  }

  // get_string() without the copy: `value` points into the buffer.
  [[nodiscard]] bool get_view(std::string_view* value) {
    uint32_t length = 0;
    if (!get_u32(&length)) return false;
    if (length > remaining()) return false;
    *value = bytes_.substr(offset_, length);
    offset_ += length;
    return true;
  }

 private:
  std::string_view bytes_;
  size_t offset_ = 0;
};

}  // namespace raftkv::kv
