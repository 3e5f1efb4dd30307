// Peer frames (src/net/peer_frame.h) and the peer message codec (proto/peer_codec.h): buffers
// reused from frame to frame must give exactly what fresh ones give, whatever came before.
#include "net/peer_frame.h"

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <string>
#include <utility>

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
pb::PeerBatch large_batch() {
  pb::PeerBatch batch;
  proto::to_proto(append(10, 64, 256), batch.add_messages());
  raft::Message snapshot = append(1, 0, 0);
  snapshot.type = raft::MessageType::InstallSnapshot;
  snapshot.snapshot = raft::Snapshot{{Index{9}, Term{2}, {{NodeId{1}, NodeId{2}}, {}, {}}},
                                     "snapshot bytes"};
  proto::to_proto(snapshot, batch.add_messages());
  pb::ForwardRequest* request = batch.add_forward_requests();
  request->set_request_id(7);
  request->set_command(std::string(300, 'r'));
  batch.add_forward_replies()->set_reply("+OK\r\n");
  pb::SnapshotChunk* chunk = batch.add_snapshot_chunks();
  chunk->set_offset(4096);
  chunk->set_data(std::string(1000, 'c'));
  batch.add_snapshot_acks()->set_error("disk full");
  return batch;
}

// Fewer messages and entries, shorter strings, and fields left at their defaults.
pb::PeerBatch small_batch() {
  pb::PeerBatch batch;
  raft::Message response;
  response.type = raft::MessageType::AppendResponse;
  response.from = NodeId{2};
  response.to = NodeId{1};
  proto::to_proto(response, batch.add_messages());
  proto::to_proto(append(80, 2, 3), batch.add_messages());
  return batch;
}

std::string frame_of(const pb::PeerBatch& batch) {
  pb::PeerEnvelope envelope;
  *envelope.mutable_batch() = batch;
  std::string bytes;
  encode_frame(envelope, &bytes);
  return bytes;
}

// Decodes one whole frame (header included) through `frames`, as the read loop does.
pb::PeerBatch* decode_frame(BatchFrames& frames, const std::string& frame) {
  std::array<uint8_t, kFrameHeaderBytes> header{};
  std::copy_n(frame.begin(), kFrameHeaderBytes, header.begin());
  const uint32_t length = frame_length(header);
  EXPECT_EQ(length, frame.size() - kFrameHeaderBytes);
  frame.copy(frames.payload(length).data(), length, kFrameHeaderBytes);
  return frames.decode();
}

TEST(BatchFrames, Decode_ReusedMatchesFreshAfterLargerFrame) {
  BatchFrames frames;
  for (const pb::PeerBatch& sent : {large_batch(), small_batch(), pb::PeerBatch()}) {
    const pb::PeerBatch* received = decode_frame(frames, frame_of(sent));
    ASSERT_NE(received, nullptr);
    EXPECT_TRUE(MessageDifferencer::Equals(*received, sent)) << received->DebugString();
    frames.recycle();
  }
}

TEST(BatchFrames, Decode_WorksAfterFramePastReuseLimit) {
  BatchFrames frames;
  pb::PeerBatch huge;
  huge.add_snapshot_chunks()->set_data(std::string(BatchFrames::kReuseBytesMax + 1, 'h'));
  ASSERT_NE(decode_frame(frames, frame_of(huge)), nullptr);
  frames.recycle();
  const pb::PeerBatch* received = decode_frame(frames, frame_of(small_batch()));
  ASSERT_NE(received, nullptr);
  EXPECT_TRUE(MessageDifferencer::Equals(*received, small_batch()));
}

TEST(BatchFrames, Decode_RefusesHelloAndGarbage) {
  BatchFrames frames;
  pb::PeerEnvelope hello;
  hello.mutable_hello()->set_from(1);
  std::string frame;
  encode_frame(hello, &frame);
  EXPECT_EQ(decode_frame(frames, frame), nullptr);
  frames.recycle();
  frames.payload(3) = "\xff\xff\xff";  // A truncated varint tag.
  EXPECT_EQ(frames.decode(), nullptr);
}

TEST(BatchFrames, Encode_ReusedMatchesFreshAfterLargerFrame) {
  BatchFrames frames;
  for (const pb::PeerBatch& sent : {large_batch(), small_batch(), pb::PeerBatch()}) {
    pb::PeerBatch pending = sent;
    EXPECT_EQ(frames.encode(pending), frame_of(sent));
    EXPECT_EQ(pending.ByteSizeLong(), 0u);  // Taken out, leaving an empty batch to fill.
    frames.recycle();
  }
}

TEST(PeerCodec, FromProto_RoundTripsAndTakesPayloads) {
  pb::PeerBatch batch = large_batch();
  for (pb::RaftMessage& encoded : *batch.mutable_messages()) {
    const pb::RaftMessage original = encoded;
    raft::Message moved;
    ASSERT_TRUE(proto::from_proto(std::move(encoded), &moved).is_ok());
    pb::RaftMessage from_moved;
    proto::to_proto(moved, &from_moved);
    EXPECT_TRUE(MessageDifferencer::Equals(from_moved, original));
    for (const pb::Entry& entry : encoded.entries()) EXPECT_TRUE(entry.data().empty());
    EXPECT_TRUE(encoded.snapshot_data().empty());
  }
}

TEST(PeerCodec, FromProto_ReusedMessageHoldsNothingFromBefore) {
  pb::PeerBatch batch = large_batch();
  raft::Message message;
  ASSERT_TRUE(proto::from_proto(std::move(*batch.mutable_messages(1)), &message).is_ok());
  ASSERT_TRUE(proto::from_proto(std::move(*batch.mutable_messages(0)), &message).is_ok());
  EXPECT_FALSE(message.snapshot.has_value());
  EXPECT_EQ(message.entries.size(), 64u);
  pb::RaftMessage back;
  proto::to_proto(message, &back);
  EXPECT_TRUE(MessageDifferencer::Equals(back, large_batch().messages(0)));
}

TEST(PeerCodec, FromProto_UnknownEntryTypeIsCorruption) {
  pb::RaftMessage encoded;
  proto::to_proto(append(5, 1, 8), &encoded);
  encoded.mutable_entries(0)->set_type(static_cast<pb::EntryType>(7));
  raft::Message message;
  EXPECT_EQ(proto::from_proto(std::move(encoded), &message).code(), ErrorCode::Corruption);
}

}  // namespace
}  // namespace raftkv::net
