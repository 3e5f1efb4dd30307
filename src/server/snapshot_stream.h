#pragma once

#include "kv/snapshot_io.h"
#include "storage/snapshot_file.h"

// Adapters between the state machine's streaming snapshot interfaces and snapshot files, so a
// snapshot goes from the key-value map to disk (and back at start-up) without ever being held
// whole in memory.
namespace raftkv::server {

class SnapshotFileSink final : public kv::SnapshotWriter {
 public:
  explicit SnapshotFileSink(storage::SnapshotWriter& file) : file_(file) {}
  [[nodiscard]] Status write(std::span<const char> bytes) override {
    return file_.write(std::string_view(bytes.data(), bytes.size()));
  }

 private:
  storage::SnapshotWriter& file_;
};

class SnapshotFileSource final : public kv::SnapshotReader {
 public:
  explicit SnapshotFileSource(storage::SnapshotReader& file) : file_(file) {}
  [[nodiscard]] Result<size_t> read(std::span<char> out) override {
    return file_.read(out.data(), out.size());
  }

 private:
  storage::SnapshotReader& file_;
};

}  // namespace raftkv::server
