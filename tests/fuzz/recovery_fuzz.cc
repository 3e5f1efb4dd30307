// libFuzzer target: full recovery (DiskStorage::open) of a data directory whose WAL segments
// are the fuzz input. Replay must never crash or assert on bytes from disk: it either
// recovers a consistent log or returns Corruption. The input is split at "SEGMENTSPLIT" into
// consecutive segment files, so gaps, resets and truncations across segments are reachable.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "sim_fs.h"
#include "storage/disk_storage.h"
#include "storage/segment.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace raftkv;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  storage::testing::SimFs fs;
  constexpr std::string_view kSplit = "SEGMENTSPLIT";
  for (uint64_t sequence = 1; sequence <= 4; ++sequence) {
    const size_t split = input.find(kSplit);
    const std::string_view part = input.substr(0, split);
    fs.overwrite_or_create("/d/" + storage::segment_file_name(sequence), std::string(part));
    if (split == std::string_view::npos) break;
    input.remove_prefix(split + kSplit.size());
  }
  storage::DiskStorageOptions options;
  options.fs = &fs;
  options.segment_bytes = 4096;
  options.background_threads = false;  // No threads: one input, one behaviour.
  Result<std::unique_ptr<storage::DiskStorage>> opened = storage::DiskStorage::open("/d", options);
  if (!opened.is_ok()) {
    RAFT_ASSERT(opened.status().code() == ErrorCode::Corruption ||
                opened.status().code() == ErrorCode::IoError);
    return 0;
  }
  storage::DiskStorage& storage = *opened.value();
  RAFT_ASSERT(storage.hard_state().commit <= storage.last_index());
  if (storage.last_index() >= storage.first_index()) {
    Result<std::vector<raft::Entry>> entries =
        storage.entries(storage.first_index(), storage.last_index() + 1, 1 << 20);
    RAFT_ASSERT(entries.is_ok());
  }
  // The recovered log must accept the next entry.
  const Index next = storage.last_index() + 1;
  Result<Term> last_term = storage.term(storage.last_index());
  RAFT_ASSERT(last_term.is_ok());
  RAFT_ASSERT(
      storage.append({raft::Entry{last_term.value(), next, raft::EntryType::Normal, "x"}}).is_ok());
  return 0;
}
