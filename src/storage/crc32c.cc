#include "storage/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace raftkv::storage {
namespace {

constexpr uint32_t kPolynomial = 0x82F63B78u;  // Castagnoli, bit-reversed.

// Slicing-by-8 tables: table[k][b] is the CRC of byte b followed by k zero bytes.
using Tables = std::array<std::array<uint32_t, 256>, 8>;

constexpr Tables make_tables() {
  Tables tables{};
  for (uint32_t byte = 0; byte < 256; ++byte) {
    uint32_t crc = byte;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1u) != 0 ? kPolynomial : 0u);
    tables[0][byte] = crc;
  }
  for (size_t k = 1; k < 8; ++k) {
    for (size_t byte = 0; byte < 256; ++byte) {
      const uint32_t previous = tables[k - 1][byte];
      tables[k][byte] = (previous >> 8) ^ tables[0][previous & 0xFFu];
    }
  }
  return tables;
}

constexpr Tables kTables = make_tables();

uint64_t load_u64_le(const uint8_t* bytes) {
  uint64_t value = 0;
  std::memcpy(&value, bytes, sizeof(value));  // x86 and the targets we build for are LE.
  return value;
}

#if defined(__x86_64__)
// Compiled for SSE4.2 only in this function; called only after the cpuid check.
__attribute__((target("sse4.2"))) uint32_t extend_hardware(uint32_t crc, const uint8_t* bytes,
                                                           size_t size) {
  uint64_t state = crc;
  while (size >= 8) {
    state = _mm_crc32_u64(state, load_u64_le(bytes));
    bytes += 8;
    size -= 8;
  }
  uint32_t state32 = static_cast<uint32_t>(state);
  while (size > 0) {
    state32 = _mm_crc32_u8(state32, *bytes);
    ++bytes;
    --size;
  }
  return state32;
}

bool detect_hardware() { return __builtin_cpu_supports("sse4.2") != 0; }
#else
bool detect_hardware() { return false; }
#endif

const bool kHardware = detect_hardware();

}  // namespace

uint32_t crc32c_extend_portable(uint32_t crc, const void* data, size_t size) {
  const auto* bytes = static_cast<const uint8_t*>(data);
  uint32_t state = ~crc;
  while (size >= 8) {
    const uint64_t word = load_u64_le(bytes) ^ state;
    state = kTables[7][word & 0xFF] ^ kTables[6][(word >> 8) & 0xFF] ^
            kTables[5][(word >> 16) & 0xFF] ^ kTables[4][(word >> 24) & 0xFF] ^
            kTables[3][(word >> 32) & 0xFF] ^ kTables[2][(word >> 40) & 0xFF] ^
            kTables[1][(word >> 48) & 0xFF] ^ kTables[0][word >> 56];
    bytes += 8;
    size -= 8;
  }
  while (size > 0) {
    state = (state >> 8) ^ kTables[0][(state ^ *bytes) & 0xFFu];
    ++bytes;
    --size;
  }
  return ~state;
}

uint32_t crc32c_extend(uint32_t crc, const void* data, size_t size) {
#if defined(__x86_64__)
  if (kHardware) {
    // The instruction works on the un-inverted register; keep the same pre/post inversion as
    // the table path so both produce standard CRC32C values and can extend each other.
    return ~extend_hardware(~crc, static_cast<const uint8_t*>(data), size);
  }
#endif
  return crc32c_extend_portable(crc, data, size);
}

bool crc32c_hardware_available() { return kHardware; }

}  // namespace raftkv::storage
