#include "storage/record.h"

#include <algorithm>
#include <cstring>

#include "storage/crc32c.h"

namespace raftkv::storage {
namespace {

constexpr uint64_t kSectorBytes = 512;

uint32_t load_u32(std::string_view bytes, uint64_t offset) {
  uint32_t value = 0;
  std::memcpy(&value, bytes.data() + offset, sizeof(value));
  return value;
}

void store_u32(uint32_t value, std::string* out) {
  char raw[sizeof(value)];
  std::memcpy(raw, &value, sizeof(value));
  out->append(raw, sizeof(raw));
}

bool is_known_type(uint8_t type) {
  return type >= static_cast<uint8_t>(RecordType::SegmentHeader) &&
         type <= static_cast<uint8_t>(RecordType::LogReset);
}

uint32_t record_crc(std::string_view bytes, uint64_t offset, uint32_t length) {
  uint32_t crc = crc32c_extend(0, bytes.data() + offset, 4);  // The length field.
  return crc32c_extend(crc, bytes.data() + offset + 8, 1 + static_cast<size_t>(length));
}

// Start of the trailing run of zero bytes: bytes[result, size) are all zero.
uint64_t trailing_zero_start(std::string_view bytes) {
  uint64_t end = bytes.size();
  while (end >= 8) {
    uint64_t word = 0;
    std::memcpy(&word, bytes.data() + end - 8, sizeof(word));
    if (word != 0) break;
    end -= 8;
  }
  while (end > 0 && bytes[end - 1] == '\0') --end;
  return end;
}

bool has_zero_sector(std::string_view bytes, uint64_t lo, uint64_t hi) {
  hi = std::min<uint64_t>(hi, bytes.size());
  for (uint64_t sector = (lo + kSectorBytes - 1) / kSectorBytes * kSectorBytes;
       sector + kSectorBytes <= hi; sector += kSectorBytes) {
    const std::string_view block = bytes.substr(sector, kSectorBytes);
    if (std::all_of(block.begin(), block.end(), [](char c) { return c == '\0'; })) return true;
  }
  return false;
}

bool valid_record_in(std::string_view bytes, uint64_t lo, uint64_t hi) {
  for (uint64_t offset = lo; offset < hi; ++offset) {
    if (decode_record(bytes, offset).outcome == DecodeOutcome::Ok) return true;
  }
  return false;
}

// Whether the damaged record at `offset` (last segment) is a torn tail; see scan_records.
bool is_torn(std::string_view bytes, uint64_t offset) {
  uint64_t declared_end = bytes.size() + 1;  // Header cut off: treat as running past the end.
  if (offset + kRecordHeaderBytes <= bytes.size()) {
    declared_end = offset + kRecordOverhead + load_u32(bytes, offset);
  }
  const uint64_t zero_start = trailing_zero_start(bytes);
  if (declared_end > zero_start && !valid_record_in(bytes, offset + 1, zero_start)) return true;
  // Only a hole with written data after it counts; the trailing zeros are not a hole.
  return has_zero_sector(bytes, offset, std::min(declared_end, zero_start));
}

std::string where(const std::string& name, uint64_t offset) {
  return name + " at offset " + std::to_string(offset);
}

}  // namespace

const char* record_type_name(RecordType type) {
  switch (type) {
    case RecordType::SegmentHeader: return "segment-header";
    case RecordType::Entry: return "entry";
    case RecordType::HardState: return "hard-state";
    case RecordType::LogReset: return "log-reset";
  }
  return "unknown";
}

void append_record_head(RecordType type, std::string_view head, std::string_view tail,
                        std::string* out) {
  RAFT_ASSERT(head.size() + tail.size() <= kRecordPayloadMax);
  const size_t start = out->size();
  const auto length = static_cast<uint32_t>(head.size() + tail.size());
  store_u32(length, out);
  store_u32(0, out);  // CRC placeholder, filled below once the bytes are in place.
  out->push_back(static_cast<char>(type));
  out->append(head);
  // The CRC covers the length, then the type and the payload: record_crc's ranges, with the
  // payload in two parts.
  uint32_t crc = crc32c_extend(0, out->data() + start, 4);
  crc = crc32c_extend(crc, out->data() + start + 8, 1 + head.size());
  crc = crc32c_extend(crc, tail.data(), tail.size());
  std::memcpy(out->data() + start + 4, &crc, sizeof(crc));
}

void append_record(RecordType type, std::string_view payload, std::string* out) {
  const size_t start = out->size();
  append_record_head(type, payload, {}, out);
  out->push_back(static_cast<char>(kRecordEndMark));
  RAFT_ASSERT(out->size() == start + kRecordOverhead + payload.size());
}

DecodeResult decode_record(std::string_view bytes, uint64_t offset) {
  DecodeResult result;
  if (offset >= bytes.size()) return result;  // End.
  const uint64_t available = bytes.size() - offset;
  const uint64_t header_bytes = std::min<uint64_t>(available, kRecordHeaderBytes);
  const std::string_view header = bytes.substr(offset, header_bytes);
  if (std::all_of(header.begin(), header.end(), [](char c) { return c == '\0'; })) {
    return result;  // End: preallocated zeros (or the file ends).
  }
  result.outcome = DecodeOutcome::Damaged;
  if (available < kRecordOverhead) {
    result.problem = "record header cut off";
    return result;
  }
  const uint32_t length = load_u32(bytes, offset);
  if (length > kRecordPayloadMax || length > available - kRecordOverhead) {
    result.problem = "record length past the end";
    return result;
  }
  const auto type = static_cast<uint8_t>(bytes[offset + 8]);
  if (static_cast<uint8_t>(bytes[offset + kRecordHeaderBytes + length]) != kRecordEndMark) {
    result.problem = "bad record end mark";
    return result;
  }
  if (record_crc(bytes, offset, length) != load_u32(bytes, offset + 4)) {
    result.problem = "bad record checksum";
    return result;
  }
  if (!is_known_type(type)) {
    result.problem = "unknown record type";
    return result;
  }
  result.outcome = DecodeOutcome::Ok;
  result.record = RecordView{static_cast<RecordType>(type),
                             bytes.substr(offset + kRecordHeaderBytes, length), offset};
  result.size = kRecordOverhead + length;
  return result;
}

ScanResult scan_records(std::string_view bytes, const std::string& name, bool last_segment,
                        const std::function<Status(const RecordView&)>& visit) {
  ScanResult result;
  uint64_t offset = 0;
  while (true) {
    const DecodeResult decoded = decode_record(bytes, offset);
    if (decoded.outcome == DecodeOutcome::Ok) {
      Status visited = visit(decoded.record);
      if (!visited.is_ok()) {
        result.status = std::move(visited);
        result.end_offset = offset;
        return result;
      }
      offset += decoded.size;
      continue;
    }
    result.end_offset = offset;
    const bool data_follows = trailing_zero_start(bytes) > offset;
    if (decoded.outcome == DecodeOutcome::End && !data_follows) return result;  // Clean end.
    const char* problem =
        decoded.outcome == DecodeOutcome::End ? "zero header before more data" : decoded.problem;
    if (last_segment && (decoded.outcome == DecodeOutcome::End || is_torn(bytes, offset))) {
      result.torn = true;
      result.torn_reason = std::string(problem) + " in " + where(name, offset);
      return result;
    }
    result.status =
        Status(ErrorCode::Corruption, std::string(problem) + " in " + where(name, offset));
    return result;
  }
}

}  // namespace raftkv::storage
