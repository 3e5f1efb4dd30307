// The proto codec storage uses (proto/convert.h): round trips and validation of bad bytes.
#include "proto/convert.h"

#include <gtest/gtest.h>

namespace raftkv::proto {
namespace {

TEST(Convert, EntryRoundTripsAndPositionAgrees) {
  const raft::Entry entry{Term{7}, Index{42}, raft::EntryType::ConfChange, std::string(300, 'c')};
  std::string bytes;
  encode_entry(entry, &bytes);
  raft::Entry back;
  ASSERT_TRUE(decode_entry(bytes, &back).is_ok());
  EXPECT_EQ(back, entry);
  Index index;
  Term term;
  ASSERT_TRUE(decode_entry_position(bytes, &index, &term).is_ok());
  EXPECT_EQ(index, Index{42});
  EXPECT_EQ(term, Term{7});
}

// The head plus the data is the whole encoding, for every data size around the varint steps
// and for no data at all.
TEST(Convert, EntryHeadThenDataIsTheWholeEncoding) {
  for (size_t size : {0UL, 1UL, 127UL, 128UL, 16383UL, 16384UL, 300000UL}) {
    const raft::Entry entry{Term{3}, Index{1u << 20}, raft::EntryType::Normal,
                            std::string(size, 'd')};
    std::string whole;
    encode_entry(entry, &whole);
    std::string head;
    encode_entry_head(entry, &head);
    EXPECT_EQ(head + std::string(entry.data.view()), whole) << size << " bytes of data";
  }
}

TEST(Convert, HardStateAndSnapshotMetaRoundTrip) {
  const raft::HardState hard_state{Term{3}, NodeId{2}, Index{9}};
  std::string bytes;
  encode_hard_state(hard_state, &bytes);
  raft::HardState back;
  ASSERT_TRUE(decode_hard_state(bytes, &back).is_ok());
  EXPECT_EQ(back, hard_state);
  const raft::SnapshotMeta meta{Index{5}, Term{2}, {{NodeId{1}}, {NodeId{2}}, {NodeId{3}}}};
  bytes.clear();
  encode_snapshot_meta(meta, &bytes);
  raft::SnapshotMeta meta_back;
  ASSERT_TRUE(decode_snapshot_meta(bytes, &meta_back).is_ok());
  EXPECT_EQ(meta_back, meta);
}

TEST(Convert, UnknownEntryTypeIsCorruption) {
  const std::string bytes("\x18\x07", 2);  // type = 7.
  raft::Entry entry;
  EXPECT_EQ(decode_entry(bytes, &entry).code(), ErrorCode::Corruption);
  Index index;
  Term term;
  EXPECT_EQ(decode_entry_position(bytes, &index, &term).code(), ErrorCode::Corruption);
}

// Regression (found by wal_record_fuzz): a repeated field's last occurrence wins, so an unknown
// type followed by a known one is a valid entry for both decoders.
TEST(Convert, RepeatedTypeFieldLastOneWins) {
  const std::string bytes("\x18\x05\x18\x02", 4);
  raft::Entry entry;
  ASSERT_TRUE(decode_entry(bytes, &entry).is_ok());
  EXPECT_EQ(entry.type, raft::EntryType::ConfChange);
  Index index;
  Term term;
  EXPECT_TRUE(decode_entry_position(bytes, &index, &term).is_ok());
}

TEST(Convert, TruncatedBytesAreCorruption) {
  raft::Entry entry{Term{1}, Index{1}, raft::EntryType::Normal, "payload"};
  std::string bytes;
  encode_entry(entry, &bytes);
  bytes.pop_back();
  EXPECT_EQ(decode_entry(bytes, &entry).code(), ErrorCode::Corruption);
  Index index;
  Term term;
  EXPECT_EQ(decode_entry_position(bytes, &index, &term).code(), ErrorCode::Corruption);
}

}  // namespace
}  // namespace raftkv::proto
