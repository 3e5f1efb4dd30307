// libFuzzer target: scanning a whole segment, as recovery and the inspector do, with the
// torn-tail rules of the last segment and the strict rules of a sealed one.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "proto/convert.h"
#include "storage/record.h"
#include "storage/segment.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace raftkv;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  for (bool last : {false, true}) {
    uint64_t previous_end = 0;
    const storage::ScanResult result =
        storage::scan_records(bytes, "fuzz.wal", last, [&](const storage::RecordView& record) {
          RAFT_ASSERT(record.offset == previous_end);  // Records are contiguous.
          previous_end = record.offset + storage::kRecordOverhead + record.payload.size();
          if (record.type == storage::RecordType::SegmentHeader) {
            storage::SegmentHeader header;
            return storage::decode_segment_header(record.payload, &header);
          }
          raft::Entry entry;
          (void)proto::decode_entry(record.payload, &entry);
          return Status::ok();
        });
    RAFT_ASSERT(result.end_offset <= size);
    if (result.torn) RAFT_ASSERT(last);
  }
  return 0;
}
