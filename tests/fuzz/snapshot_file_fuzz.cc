// libFuzzer target: reading a snapshot file, both whole in memory and through SnapshotReader
// on an in-memory file system (header, meta, footer, streamed checksum, chunks).
#include <cstddef>
#include <cstdint>
#include <string>

#include "sim_fs.h"
#include "storage/snapshot_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace raftkv;
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  raft::SnapshotMeta meta;
  const Status whole = storage::check_snapshot_bytes(bytes, "fuzz.snap", &meta);
  storage::testing::SimFs fs;
  fs.overwrite_or_create("/d/fuzz.snap", bytes);
  Result<std::unique_ptr<storage::SnapshotReader>> reader =
      storage::SnapshotReader::open(fs, "/d/fuzz.snap");
  if (!reader.is_ok()) {
    RAFT_ASSERT(!whole.is_ok());
    return 0;
  }
  const Status streamed = reader.value()->verify();
  RAFT_ASSERT(streamed.is_ok() == whole.is_ok());  // Both paths agree on every input.
  Result<std::string> chunk = reader.value()->read_chunk(size / 3, 64);
  RAFT_ASSERT(chunk.is_ok());
  return 0;
}
