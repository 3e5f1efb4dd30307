// Peer frames (src/net/peer_frame.h) and the peer message codec (proto/peer_codec.h): entry
// data travels after the envelope and comes back as each entry's own payload; buffers reused
// from frame to frame give exactly what fresh ones give; lengths that lie are refused.
#include "net/peer_frame.h"

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "proto/peer_codec.h"

namespace raftkv::net {
namespace {

using google::protobuf::util::MessageDifferencer;

raft::Message append(uint64_t first_index, int entries, size_t entry_bytes) {
  raft::Message message;
  message.type = raft::MessageType::Append;
  message.from = NodeId{1};
  message.to = NodeId{2};
  message.term = Term{3};
  message.log_term = Term{3};
  message.index = Index{first_index - 1};
  message.commit = Index{first_index - 1};
  for (int i = 0; i < entries; ++i) {
    const uint64_t index = first_index + static_cast<uint64_t>(i);
    message.entries.push_back(raft::Entry{Term{3}, Index{index}, raft::EntryType::Normal,
                                          std::string(entry_bytes, static_cast<char>('a' + i))});
  }
  return message;
}

// Sets every kind of field, so that a leftover from a reused batch would show.
PendingBatch large_batch() {
  PendingBatch pending;
  pending.add_message(append(10, 64, 256));
  raft::Message snapshot = append(1, 0, 0);
  snapshot.type = raft::MessageType::InstallSnapshot;
  snapshot.snapshot = raft::Snapshot{{Index{9}, Term{2}, {{NodeId{1}, NodeId{2}}, {}, {}}},
                                     "snapshot bytes"};
  pending.add_message(snapshot);
  pb::ForwardRequest* request = pending.batch.add_forward_requests();
  request->set_request_id(7);
  request->set_command(std::string(300, 'r'));
  pending.batch.add_forward_replies()->set_reply("+OK\r\n");
  pb::SnapshotChunk* chunk = pending.batch.add_snapshot_chunks();
  chunk->set_offset(4096);
  chunk->set_data(std::string(1000, 'c'));
  pending.batch.add_snapshot_acks()->set_error("disk full");
  return pending;
}

// Fewer messages and entries, shorter strings, and fields left at their defaults.
PendingBatch small_batch() {
  PendingBatch pending;
  raft::Message response;
  response.type = raft::MessageType::AppendResponse;
  response.from = NodeId{2};
  response.to = NodeId{1};
  pending.add_message(response);
  pending.add_message(append(80, 2, 3));
  return pending;
}

// Entries on both sides of BatchFrames::kGatherBytesMin, in two messages.
std::vector<raft::Message> mixed_messages() {
  std::vector<raft::Message> messages{append(5, 3, 100),
                                      append(8, 2, BatchFrames::kGatherBytesMin)};
  messages[0].entries.push_back(
      raft::Entry{Term{3}, Index{8}, raft::EntryType::NoOp, SharedBytes()});
  messages[0].entries.push_back(raft::Entry{Term{3}, Index{9}, raft::EntryType::Normal,
                                            std::string(3 * BatchFrames::kGatherBytesMin, 'L')});
  messages[1].index = Index{9};
  messages[1].entries[0].index = Index{10};
  messages[1].entries[1].index = Index{11};
  return messages;
}

std::string concat(const std::vector<std::string_view>& pieces) {
  std::string bytes;
  for (std::string_view piece : pieces) bytes.append(piece);
  return bytes;
}

// The whole frame `pending` encodes to, through a fresh writer.
std::string frame_of(PendingBatch pending) {
  BatchFrames frames;
  return concat(frames.encode(pending));
}

// Reads one whole frame (header included) through `frames`, as the read loop does.
Result<pb::PeerBatch*> decode_frame(BatchFrames& frames, const std::string& frame) {
  std::array<uint8_t, kBatchHeaderBytes> header{};
  std::copy_n(frame.begin(), kBatchHeaderBytes, header.begin());
  const Result<BatchHeader> lengths = parse_batch_header(header, 1u << 30);
  EXPECT_TRUE(lengths.is_ok());
  const BatchHeader sizes = lengths.value();
  EXPECT_EQ(uint64_t{sizes.envelope_bytes} + sizes.data_bytes, frame.size() - kBatchHeaderBytes);
  frame.copy(frames.envelope(sizes.envelope_bytes).data(), sizes.envelope_bytes,
             kBatchHeaderBytes);
  frame.copy(frames.entry_data(sizes.data_bytes).data(), sizes.data_bytes,
             kBatchHeaderBytes + sizes.envelope_bytes);
  return frames.decode();
}

// A frame built by hand: `envelope` as it is, then `data`, with these header lengths.
std::string raw_frame(const pb::PeerBatch& batch, const std::string& data) {
  pb::PeerEnvelope envelope;
  *envelope.mutable_batch() = batch;
  const std::string encoded = envelope.SerializeAsString();
  std::string frame(kBatchHeaderBytes, '\0');
  for (size_t i = 0; i < 4; ++i) {
    frame[i] = static_cast<char>(encoded.size() >> (8 * i));
    frame[4 + i] = static_cast<char>(data.size() >> (8 * i));
  }
  return frame + encoded + data;
}

struct RecordingInbox final : runtime::PeerInbox {
  void on_message(NodeId, raft::Message message) override { messages.push_back(message); }
  void on_forward_request(NodeId, runtime::ForwardRequest) override { ++others; }
  void on_forward_reply(NodeId, runtime::ForwardReply) override { ++others; }
  void on_snapshot_chunk(NodeId, runtime::SnapshotChunk) override { ++others; }
  void on_snapshot_ack(NodeId, const runtime::SnapshotAck&) override { ++others; }
  void on_batch_end() override { ++batch_ends; }
  void on_peer_unreachable(NodeId) override {}
  void on_peer_disconnected(NodeId) override {}
  void on_peer_hello(NodeId, const std::string&, const std::string&) override {}
  std::vector<raft::Message> messages;
  int others = 0;
  int batch_ends = 0;
};

void expect_same_message(const raft::Message& got, const raft::Message& sent) {
  EXPECT_EQ(got.type, sent.type);
  EXPECT_EQ(got.index, sent.index);
  EXPECT_EQ(got.term, sent.term);
  EXPECT_EQ(got.commit, sent.commit);
  EXPECT_EQ(got.entries, sent.entries);  // Term, index, type and data.
  EXPECT_EQ(got.snapshot.has_value(), sent.snapshot.has_value());
}

TEST(BatchFrames, RoundTrip_EntryDataComesBackAsEachEntrysPayload) {
  const std::vector<raft::Message> sent = mixed_messages();
  PendingBatch pending;
  for (const raft::Message& message : sent) pending.add_message(message);
  pending.batch.add_forward_requests()->set_command("forwarded");
  BatchFrames writer;
  BatchFrames reader;
  Result<pb::PeerBatch*> batch = decode_frame(reader, concat(writer.encode(pending)));
  ASSERT_TRUE(batch.is_ok()) << batch.status().message();
  ASSERT_EQ(reader.received_entry_data().size(), 7u);
  RecordingInbox inbox;
  NullLogger logger;
  deliver_batch(NodeId{1}, *batch.value(), reader.received_entry_data(), inbox, logger);
  ASSERT_EQ(inbox.messages.size(), sent.size());
  for (size_t i = 0; i < sent.size(); ++i) expect_same_message(inbox.messages[i], sent[i]);
  EXPECT_EQ(inbox.others, 1);
  EXPECT_EQ(inbox.batch_ends, 1);
  // The received payloads view one buffer, back to back, rather than copies of their own.
  const SharedBytes& first = inbox.messages[0].entries[0].data;
  const SharedBytes& last = inbox.messages[1].entries[1].data;
  const size_t data_bytes = 3 * 100 + 5 * BatchFrames::kGatherBytesMin;
  EXPECT_EQ(last.data() + last.size() - first.data(), static_cast<std::ptrdiff_t>(data_bytes));
}

TEST(BatchFrames, Encode_WritesLargeEntryDataFromWhereItIs) {
  const std::vector<raft::Message> sent = mixed_messages();
  PendingBatch pending;
  for (const raft::Message& message : sent) pending.add_message(message);
  BatchFrames writer;
  const std::vector<std::string_view>& pieces = writer.encode(pending);
  // Head (header, envelope, the small data), then each large entry's own bytes in place.
  std::vector<const char*> large;
  for (const raft::Message& message : sent) {
    for (const raft::Entry& entry : message.entries) {
      if (entry.data.size() >= BatchFrames::kGatherBytesMin) large.push_back(entry.data.data());
    }
  }
  ASSERT_EQ(large.size(), 3u);
  ASSERT_EQ(pieces.size(), 4u);
  for (size_t i = 0; i < large.size(); ++i) EXPECT_EQ(pieces[i + 1].data(), large[i]);
  // The small data was copied to the end of the head, in order.
  const std::string small = std::string(100, 'a') + std::string(100, 'b') + std::string(100, 'c');
  ASSERT_GT(pieces[0].size(), small.size());
  EXPECT_EQ(pieces[0].substr(pieces[0].size() - small.size()), small);
}

TEST(BatchFrames, Decode_ReusedMatchesFreshAfterLargerFrame) {
  BatchFrames frames;
  for (PendingBatch (*make)() : {&large_batch, &small_batch, +[] { return PendingBatch(); }}) {
    const PendingBatch sent = make();
    Result<pb::PeerBatch*> received = decode_frame(frames, frame_of(make()));
    ASSERT_TRUE(received.is_ok()) << received.status().message();
    EXPECT_TRUE(MessageDifferencer::Equals(*received.value(), sent.batch))
        << received.value()->DebugString();
    EXPECT_EQ(frames.received_entry_data().size(), sent.entry_data.size());
    frames.recycle();
  }
}

TEST(BatchFrames, Decode_WorksAfterFramePastReuseLimit) {
  BatchFrames frames;
  PendingBatch huge;
  huge.batch.add_snapshot_chunks()->set_data(std::string(BatchFrames::kReuseBytesMax + 1, 'h'));
  ASSERT_TRUE(decode_frame(frames, frame_of(std::move(huge))).is_ok());
  frames.recycle();
  Result<pb::PeerBatch*> received = decode_frame(frames, frame_of(small_batch()));
  ASSERT_TRUE(received.is_ok());
  EXPECT_TRUE(MessageDifferencer::Equals(*received.value(), small_batch().batch));
}

TEST(BatchFrames, Decode_RefusesHelloAndGarbage) {
  BatchFrames frames;
  pb::PeerEnvelope hello;
  hello.mutable_hello()->set_from(1);
  frames.envelope(0) = hello.SerializeAsString();
  EXPECT_FALSE(frames.decode().is_ok());
  frames.recycle();
  frames.envelope(3) = "\xff\xff\xff";  // A truncated varint tag.
  EXPECT_FALSE(frames.decode().is_ok());
}

TEST(BatchFrames, Encode_ReusedMatchesFreshAfterLargerFrame) {
  BatchFrames frames;
  for (PendingBatch (*make)() : {&large_batch, &small_batch, +[] { return PendingBatch(); }}) {
    PendingBatch pending = make();
    EXPECT_EQ(concat(frames.encode(pending)), frame_of(make()));
    EXPECT_TRUE(pending.empty());  // Taken out, leaving an empty batch to fill.
    EXPECT_TRUE(pending.entry_data.empty());
    frames.recycle();
  }
}

// The data a frame carries must be exactly its entries': one byte short (a truncated frame
// whose header was rewritten to match), one byte over, a count off by one, or a length past
// all the data (overflowing if added up naively) are each refused, and nothing is delivered.
TEST(BatchFrames, Decode_RefusesEntryDataLengthsThatLie) {
  PendingBatch pending;
  pending.add_message(append(5, 2, 10));
  const std::string data(20, 'd');
  struct Case {
    const char* name;
    std::vector<uint64_t> lengths;
    std::string data;
  };
  const std::vector<Case> cases = {
      {"truncated data", {10, 10}, data.substr(0, 19)},
      {"data past the entries", {10, 10}, data + "x"},
      {"one length too few", {20}, data},
      {"one length too many", {10, 10, 0}, data},
      {"a length past the data", {10, 11}, data},
      {"lengths that overflow", {std::numeric_limits<uint64_t>::max(), 21}, data},
  };
  for (const Case& c : cases) {
    pb::PeerBatch batch = pending.batch;
    batch.clear_entry_data_bytes();
    for (uint64_t length : c.lengths) batch.add_entry_data_bytes(length);
    BatchFrames frames;
    EXPECT_FALSE(decode_frame(frames, raw_frame(batch, c.data)).is_ok()) << c.name;
    EXPECT_TRUE(frames.received_entry_data().empty()) << c.name;
  }
  BatchFrames frames;
  EXPECT_TRUE(decode_frame(frames, raw_frame(pending.batch, data)).is_ok());
}

TEST(BatchFrames, Decode_RefusesEntryDataInsideTheEnvelope) {
  PendingBatch pending;
  pending.add_message(append(5, 1, 4));
  pending.batch.mutable_messages(0)->mutable_entries(0)->set_data("dddd");
  pending.batch.set_entry_data_bytes(0, 0);
  BatchFrames frames;
  const Result<pb::PeerBatch*> decoded = decode_frame(frames, raw_frame(pending.batch, ""));
  ASSERT_FALSE(decoded.is_ok());
  EXPECT_NE(decoded.status().message().find("inside the envelope"), std::string::npos);
}

TEST(BatchHeader, RefusesFramesPastTheLimitWithoutOverflow) {
  auto header = [](uint32_t envelope_bytes, uint32_t data_bytes) {
    std::array<uint8_t, kBatchHeaderBytes> bytes{};
    for (size_t i = 0; i < 4; ++i) {
      bytes[i] = static_cast<uint8_t>(envelope_bytes >> (8 * i));
      bytes[4 + i] = static_cast<uint8_t>(data_bytes >> (8 * i));
    }
    return bytes;
  };
  const Result<BatchHeader> at_limit = parse_batch_header(header(100, 900), 1000);
  ASSERT_TRUE(at_limit.is_ok());
  EXPECT_EQ(at_limit.value().envelope_bytes, 100u);
  EXPECT_EQ(at_limit.value().data_bytes, 900u);
  const Result<BatchHeader> over = parse_batch_header(header(100, 901), 1000);
  ASSERT_FALSE(over.is_ok());
  EXPECT_NE(over.status().message().find("exceeds the limit of 1000"), std::string::npos);
  // Each half fits in 32 bits but not their sum: still refused, not wrapped round.
  const uint32_t max = std::numeric_limits<uint32_t>::max();
  EXPECT_FALSE(parse_batch_header(header(max, max), max).is_ok());
  EXPECT_FALSE(parse_batch_header(header(0, 1001), 1000).is_ok());
}

TEST(DeliverBatch, MalformedMessageKeepsLaterEntriesWithTheirData) {
  PendingBatch pending;
  pending.add_message(append(5, 2, 10));
  pending.add_message(append(7, 1, 30));
  pending.batch.mutable_messages(0)->set_type(99);  // No such message type.
  BatchFrames frames;
  Result<pb::PeerBatch*> batch = decode_frame(frames, frame_of(std::move(pending)));
  ASSERT_TRUE(batch.is_ok());
  RecordingInbox inbox;
  NullLogger logger;
  deliver_batch(NodeId{1}, *batch.value(), frames.received_entry_data(), inbox, logger);
  ASSERT_EQ(inbox.messages.size(), 1u);
  expect_same_message(inbox.messages[0], append(7, 1, 30));
}

TEST(PeerCodec, ToProto_LeavesEntryDataOutInOrder) {
  const raft::Message message = append(10, 3, 5);
  pb::RaftMessage encoded;
  std::vector<SharedBytes> entry_data{SharedBytes("earlier")};
  proto::to_proto(message, &encoded, &entry_data);
  ASSERT_EQ(entry_data.size(), 4u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(encoded.entries(static_cast<int>(i)).data().empty());
    EXPECT_EQ(entry_data[i + 1].data(), message.entries[i].data.data());  // Shared, not copied.
  }
  raft::Message decoded;
  ASSERT_TRUE(proto::from_proto(std::move(encoded), &decoded).is_ok());
  ASSERT_EQ(decoded.entries.size(), 3u);
  EXPECT_EQ(decoded.entries[2].index, Index{12});
}

TEST(PeerCodec, FromProto_ReusedMessageHoldsNothingFromBefore) {
  PendingBatch pending = large_batch();
  raft::Message message;
  ASSERT_TRUE(proto::from_proto(std::move(*pending.batch.mutable_messages(1)), &message).is_ok());
  ASSERT_TRUE(proto::from_proto(std::move(*pending.batch.mutable_messages(0)), &message).is_ok());
  EXPECT_FALSE(message.snapshot.has_value());
  EXPECT_EQ(message.entries.size(), 64u);
  pb::RaftMessage back;
  std::vector<SharedBytes> entry_data;
  proto::to_proto(message, &back, &entry_data);
  EXPECT_TRUE(MessageDifferencer::Equals(back, large_batch().batch.messages(0)));
}

TEST(PeerCodec, FromProto_UnknownEntryTypeIsCorruption) {
  PendingBatch pending;
  pending.add_message(append(5, 1, 8));
  pending.batch.mutable_messages(0)->mutable_entries(0)->set_type(static_cast<pb::EntryType>(7));
  raft::Message message;
  EXPECT_EQ(proto::from_proto(std::move(*pending.batch.mutable_messages(0)), &message).code(),
            ErrorCode::Corruption);
}

}  // namespace
}  // namespace raftkv::net
