#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/status.h"

// WAL record framing, and the scan of one segment's bytes that recovery, the inspector and the
// fuzzers share. Pure functions over bytes: no I/O.
//
// Record layout (little-endian), kRecordOverhead = 10 bytes around the payload:
//   [u32 payload_length][u32 crc32c][u8 type][payload ...][u8 kRecordEndMark]
// The CRC covers the length, the type and the payload, so a flipped length bit is caught too.
// The end mark is never zero: a complete record never ends in a zero byte, so a record whose
// last bytes are zero is recognizably cut short (torn), not damaged in place (see scan).

namespace raftkv::storage {

enum class RecordType : uint8_t {
  SegmentHeader = 1,  // First record of every segment: magic, sequence, first index.
  Entry = 2,          // A proto Entry.
  HardState = 3,      // A proto HardState; the last one replayed wins.
  LogReset = 4,       // A proto LogReset: a leader's snapshot replaced the log.
};

inline constexpr size_t kRecordHeaderBytes = 9;
inline constexpr size_t kRecordOverhead = kRecordHeaderBytes + 1;
inline constexpr uint8_t kRecordEndMark = 0xA5;
// No legitimate record is larger; a bigger length is damage (bounds what a reader allocates).
inline constexpr uint32_t kRecordPayloadMax = 256u << 20;

[[nodiscard]] const char* record_type_name(RecordType type);

// Appends one framed record to `out`. Precondition: payload.size() <= kRecordPayloadMax.
void append_record(RecordType type, std::string_view payload, std::string* out);
// The first part of a record whose payload is `head` followed by `tail`: appends its header
// and `head`; the caller appends `tail` and then kRecordEndMark. So a large payload is framed
// without being copied. Precondition: head.size() + tail.size() <= kRecordPayloadMax.
void append_record_head(RecordType type, std::string_view head, std::string_view tail,
                        std::string* out);

// One record as found in a segment.
struct RecordView {
  RecordType type = RecordType::Entry;
  std::string_view payload;
  uint64_t offset = 0;  // Of the record's first byte within the segment.
};

enum class DecodeOutcome {
  Ok,       // `record` holds a valid record; `size` is its framed size.
  End,      // An all-zero header: the written data ends here (preallocated zeros follow).
  Damaged,  // Bad checksum, end mark, type or length, or cut off by the end of the bytes.
};

struct DecodeResult {
  DecodeOutcome outcome = DecodeOutcome::End;
  RecordView record;
  uint64_t size = 0;         // Framed size when Ok.
  const char* problem = "";  // Why, when Damaged.
};

// Decodes the record starting at `offset` in `bytes`.
[[nodiscard]] DecodeResult decode_record(std::string_view bytes, uint64_t offset);

// How a segment scan ended.
struct ScanResult {
  Status status;            // Corruption (naming `name` and the offset) or ok.
  uint64_t end_offset = 0;  // Where valid records end: the next append goes here.
  bool torn = false;        // A torn tail was found at end_offset and must be cut away.
  std::string torn_reason;  // Human-readable, for the recovery log line.
};

// Scans `bytes` (a whole segment file named `name`) record by record, calling `visit` on each
// valid one in order. A Status error from `visit` stops the scan and is returned as is.
//
// Damage policy. In a sealed segment (`last_segment` false) any damaged record is Corruption:
// sealed segments were synced whole before the next one was started. In the last segment a
// damaged record at offset X is a torn tail, cut away, when either
//   (a) the record's declared end runs into the trailing all-zero region of the file and no
//       valid record starts after X (a write cut short by a crash), or
//   (b) its byte range contains a whole zero 512-byte sector (a page of an unsynced write
//       that never reached the disk while a later page did).
// Neither can result from a bit flip in synced data, which stays Corruption. Unsynced data is
// all a torn tail can hold: a sync covers every earlier write, so a record followed by synced
// data was itself synced and cannot be torn.
[[nodiscard]] ScanResult scan_records(std::string_view bytes, const std::string& name,
                                      bool last_segment,
                                      const std::function<Status(const RecordView&)>& visit);

}  // namespace raftkv::storage
