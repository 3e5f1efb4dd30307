#include "storage/segment.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>

namespace raftkv::storage {
namespace {

constexpr std::string_view kMagic = "RKVWAL01";
constexpr std::string_view kSuffix = ".wal";
constexpr size_t kDigits = 20;

}  // namespace

std::string segment_file_name(uint64_t sequence) {
  char name[32];
  std::snprintf(name, sizeof(name), "%020" PRIu64 ".wal", sequence);
  return name;
}

bool parse_segment_file_name(std::string_view name, uint64_t* sequence) {
  if (name.size() != kDigits + kSuffix.size() || name.substr(kDigits) != kSuffix) return false;
  uint64_t value = 0;
  for (size_t i = 0; i < kDigits; ++i) {
    const char c = name[i];
    if (c < '0' || c > '9') return false;
    const auto digit = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return false;
    value = value * 10 + digit;
  }
  *sequence = value;
  return true;
}

std::string encode_segment_header(const SegmentHeader& header) {
  std::string out(kMagic);
  char raw[16];
  const uint64_t first_index = header.first_index.value();
  std::memcpy(raw, &header.sequence, 8);
  std::memcpy(raw + 8, &first_index, 8);
  out.append(raw, sizeof(raw));
  return out;
}

Status decode_segment_header(std::string_view payload, SegmentHeader* header) {
  if (payload.size() != kMagic.size() + 16 || payload.substr(0, kMagic.size()) != kMagic) {
    return Status(ErrorCode::Corruption, "malformed segment header");
  }
  uint64_t first_index = 0;
  std::memcpy(&header->sequence, payload.data() + 8, 8);
  std::memcpy(&first_index, payload.data() + 16, 8);
  header->first_index = Index{first_index};
  return Status::ok();
}

}  // namespace raftkv::storage
