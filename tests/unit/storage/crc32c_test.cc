#include "storage/crc32c.h"

#include <gtest/gtest.h>

#include <string>

#include "common/prng.h"

namespace raftkv::storage {
namespace {

// RFC 3720 (iSCSI) appendix B.4 test vectors, plus the classic "123456789" check value.
TEST(Crc32c, KnownVectors) {
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(crc32c(std::string(32, '\xFF')), 0x62A8AB43u);
  std::string ascending(32, '\0');
  std::string descending(32, '\0');
  for (int i = 0; i < 32; ++i) {
    ascending[static_cast<size_t>(i)] = static_cast<char>(i);
    descending[static_cast<size_t>(i)] = static_cast<char>(31 - i);
  }
  EXPECT_EQ(crc32c(ascending), 0x46DD794Eu);
  EXPECT_EQ(crc32c(descending), 0x113FDB5Cu);
  EXPECT_EQ(crc32c(""), 0u);
}

TEST(Crc32c, PortableMatchesKnownVectors) {
  const std::string check = "123456789";
  EXPECT_EQ(crc32c_extend_portable(0, check.data(), check.size()), 0xE3069283u);
  const std::string zeros(32, '\0');
  EXPECT_EQ(crc32c_extend_portable(0, zeros.data(), zeros.size()), 0x8A9136AAu);
}

TEST(Crc32c, HardwareAndPortableAgreeOnRandomSplits) {
  Prng prng(42);
  for (int round = 0; round < 200; ++round) {
    std::string data(prng.uniform(0, 300), '\0');
    for (char& c : data) c = static_cast<char>(prng.next());
    const size_t split = static_cast<size_t>(prng.uniform(0, data.size()));
    const uint32_t whole = crc32c(data);
    EXPECT_EQ(whole, crc32c_extend_portable(0, data.data(), data.size()));
    const uint32_t first = crc32c_extend(0, data.data(), split);
    EXPECT_EQ(crc32c_extend(first, data.data() + split, data.size() - split), whole);
    const uint32_t first_portable = crc32c_extend_portable(0, data.data(), split);
    EXPECT_EQ(crc32c_extend_portable(first_portable, data.data() + split, data.size() - split),
              whole);
  }
}

TEST(Crc32c, ReportsHardwareOnThisMachine) {
  // Informational: the SSE4.2 path is what CI measures on x86-64.
  RecordProperty("hardware", crc32c_hardware_available() ? "yes" : "no");
  SUCCEED();
}

}  // namespace
}  // namespace raftkv::storage
