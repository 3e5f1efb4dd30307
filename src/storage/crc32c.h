#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of every WAL record and
// snapshot file. Written here rather than taken from a package because Debian ships no small,
// maintained CRC32C library (crc32c/leveldb's copy is not packaged standalone), and this sits on
// the hot path of every append and every replayed byte: the SSE4.2 `crc32` instruction does
// 8 bytes per instruction, an order of magnitude faster than a table. The table (slicing-by-8)
// fallback serves CPUs without SSE4.2; both are checked against the RFC 3720 vectors in tests.

namespace raftkv::storage {

// Extends `crc` (the value returned for the bytes so far; 0 to start) over [data, data + size).
[[nodiscard]] uint32_t crc32c_extend(uint32_t crc, const void* data, size_t size);

[[nodiscard]] inline uint32_t crc32c(std::string_view bytes) {
  return crc32c_extend(0, bytes.data(), bytes.size());
}

// The portable path alone, so tests can compare both implementations on the same input.
[[nodiscard]] uint32_t crc32c_extend_portable(uint32_t crc, const void* data, size_t size);

// Whether crc32c_extend uses the SSE4.2 instruction on this CPU.
[[nodiscard]] bool crc32c_hardware_available();

}  // namespace raftkv::storage
