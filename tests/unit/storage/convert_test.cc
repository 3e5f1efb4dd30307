// The proto codec storage uses (proto/convert.h): round trips and validation of bad bytes.
#include "proto/convert.h"

#include <gtest/gtest.h>

namespace raftkv::proto {
namespace {

TEST(Convert, EntryRoundTripsAndViewAgrees) {
  const raft::Entry entry{Term{7}, Index{42}, raft::EntryType::ConfChange, std::string(300, 'c')};
  std::string bytes;
  encode_entry(entry, &bytes);
  raft::Entry back;
  ASSERT_TRUE(decode_entry(bytes, &back).is_ok());
  EXPECT_EQ(back, entry);
  EntryView view;
  ASSERT_TRUE(decode_entry_view(bytes, &view).is_ok());
  EXPECT_EQ(view.index, Index{42});
  EXPECT_EQ(view.term, Term{7});
  EXPECT_EQ(view.type, raft::EntryType::ConfChange);
  EXPECT_EQ(view.data, entry.data.view());
  // In place: the payload is the tail of the encoding, not a copy.
  EXPECT_EQ(view.data.data() + view.data.size(), bytes.data() + bytes.size());
}

// The view parses the data field itself: a repeated one's last occurrence wins, as in
// ParseFromArray, and an entry without one has empty data.
TEST(Convert, ViewTakesTheLastDataFieldAndEmptyData) {
  const std::string twice("\x22\x02" "ab" "\x22\x03" "xyz", 9);
  raft::Entry entry;
  ASSERT_TRUE(decode_entry(twice, &entry).is_ok());
  EntryView view;
  ASSERT_TRUE(decode_entry_view(twice, &view).is_ok());
  EXPECT_EQ(view.data, "xyz");
  EXPECT_EQ(view.data, entry.data.view());
  ASSERT_TRUE(decode_entry_view(std::string_view("\x10\x05", 2), &view).is_ok());
  EXPECT_EQ(view.index, Index{5});
  EXPECT_TRUE(view.data.empty());
}

TEST(Convert, DataLongerThanTheEntryIsCorruption) {
  const std::string bytes("\x22\x05" "ab", 4);  // Five bytes of data announced, two present.
  raft::Entry entry;
  EXPECT_EQ(decode_entry(bytes, &entry).code(), ErrorCode::Corruption);
  EntryView view;
  EXPECT_EQ(decode_entry_view(bytes, &view).code(), ErrorCode::Corruption);
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
  EntryView view;
  EXPECT_EQ(decode_entry_view(bytes, &view).code(), ErrorCode::Corruption);
}

// Regression (found by wal_record_fuzz): a repeated field's last occurrence wins, so an unknown
// type followed by a known one is a valid entry for both decoders.
TEST(Convert, RepeatedTypeFieldLastOneWins) {
  const std::string bytes("\x18\x05\x18\x02", 4);
  raft::Entry entry;
  ASSERT_TRUE(decode_entry(bytes, &entry).is_ok());
  EXPECT_EQ(entry.type, raft::EntryType::ConfChange);
  EntryView view;
  ASSERT_TRUE(decode_entry_view(bytes, &view).is_ok());
  EXPECT_EQ(view.type, raft::EntryType::ConfChange);
}

TEST(Convert, TruncatedBytesAreCorruption) {
  raft::Entry entry{Term{1}, Index{1}, raft::EntryType::Normal, "payload"};
  std::string bytes;
  encode_entry(entry, &bytes);
  bytes.pop_back();
  EXPECT_EQ(decode_entry(bytes, &entry).code(), ErrorCode::Corruption);
  EntryView view;
  EXPECT_EQ(decode_entry_view(bytes, &view).code(), ErrorCode::Corruption);
}

}  // namespace
}  // namespace raftkv::proto
