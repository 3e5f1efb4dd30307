#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "common/types.h"

// WAL segment naming and the payload of a segment's first record.
//
// A segment is one preallocated file <sequence:020>.wal; sequences are consecutive, so a
// missing file is detected as a gap. Its first record (RecordType::SegmentHeader) repeats the
// sequence and records first_index: the index the next entry had when the segment was
// started. Every segment's second record is the hard state current at that moment, so
// deleting older segments never loses the latest hard state.

namespace raftkv::storage {

inline constexpr uint64_t kSegmentBytesDefault = 64u << 20;

struct SegmentHeader {
  uint64_t sequence = 0;
  Index first_index;
};

std::string segment_file_name(uint64_t sequence);
// True when `name` is a final segment file name (not a .tmp); fills the sequence.
[[nodiscard]] bool parse_segment_file_name(std::string_view name, uint64_t* sequence);

std::string encode_segment_header(const SegmentHeader& header);
[[nodiscard]] Status decode_segment_header(std::string_view payload, SegmentHeader* header);

}  // namespace raftkv::storage
