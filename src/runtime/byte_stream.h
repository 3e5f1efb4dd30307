#pragma once

#include <algorithm>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "common/status.h"

// The byte streams a snapshot travels through: a state machine saves its image into a
// ByteSink and restores from a ByteSource, and storage adapts both to files, so a snapshot
// is never held whole in memory. The string versions serve tests and small snapshots.
namespace raftkv::runtime {

class ByteSink {
 public:
  virtual ~ByteSink() = default;
  // Appends all of `bytes`; an error aborts the save and is returned from it unchanged.
  [[nodiscard]] virtual Status write(std::span<const char> bytes) = 0;
};

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Fills up to out.size() bytes and returns how many; 0 only at the end of the stream.
  // An error aborts the restore and is returned from it unchanged.
  [[nodiscard]] virtual Result<size_t> read(std::span<char> out) = 0;
};

// Collects a stream in a string.
class StringSink final : public ByteSink {
 public:
  [[nodiscard]] Status write(std::span<const char> bytes) override {
    data_.append(bytes.data(), bytes.size());
    return Status::ok();
  }
  [[nodiscard]] const std::string& data() const { return data_; }
  [[nodiscard]] std::string take() { return std::move(data_); }

 private:
  std::string data_;
};

// Reads a borrowed buffer, at most `chunk_bytes_max` per call (tests use small chunks to
// exercise the streaming paths).
class StringSource final : public ByteSource {
 public:
  explicit StringSource(std::string_view data, size_t chunk_bytes_max = 64 * 1024)
      : data_(data), chunk_bytes_max_(std::max<size_t>(chunk_bytes_max, 1)) {}

  [[nodiscard]] Result<size_t> read(std::span<char> out) override {
    const size_t count = std::min({out.size(), data_.size() - offset_, chunk_bytes_max_});
    std::copy_n(data_.data() + offset_, count, out.data());
    offset_ += count;
    return count;
  }

 private:
  std::string_view data_;
  size_t chunk_bytes_max_;
  size_t offset_ = 0;
};

}  // namespace raftkv::runtime
