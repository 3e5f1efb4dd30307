// libFuzzer target: decoding one WAL record and the protobuf payload codecs.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "proto/convert.h"
#include "storage/record.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace raftkv;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  for (uint64_t offset : {uint64_t{0}, uint64_t{1}, uint64_t{size / 2}}) {
    const storage::DecodeResult decoded = storage::decode_record(bytes, offset);
    if (decoded.outcome != storage::DecodeOutcome::Ok) continue;
    RAFT_ASSERT(decoded.size >= storage::kRecordOverhead);
    RAFT_ASSERT(decoded.record.offset + decoded.size <= size);
  }
  // Payload decoders see arbitrary bytes too (a record's CRC can match by accident).
  raft::Entry entry;
  if (proto::decode_entry(bytes, &entry).is_ok()) {
    // Replay's in-place decoder must accept every valid entry and agree on all of it.
    proto::EntryView view;
    RAFT_ASSERT(proto::decode_entry_view(bytes, &view).is_ok());
    RAFT_ASSERT(view.index == entry.index);
    RAFT_ASSERT(view.term == entry.term);
    RAFT_ASSERT(view.type == entry.type);
    RAFT_ASSERT(view.data == entry.data.view());
  }
  raft::HardState hard_state;
  (void)proto::decode_hard_state(bytes, &hard_state);
  raft::SnapshotMeta meta;
  (void)proto::decode_snapshot_meta(bytes, &meta);
  Index index;
  Term term;
  (void)proto::decode_log_reset(bytes, &index, &term);
  return 0;
}
