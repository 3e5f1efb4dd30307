#include "net/peer_frame.h"

#include <limits>

#include "common/assert.h"
#include "proto/peer_codec.h"

namespace raftkv::net {

void encode_frame(const pb::PeerEnvelope& envelope, std::string* out) {
  const size_t size = envelope.ByteSizeLong();
  RAFT_ASSERT(size <= std::numeric_limits<uint32_t>::max());  // Queue bounds keep frames small.
  out->resize(kFrameHeaderBytes + size);
  for (size_t i = 0; i < kFrameHeaderBytes; ++i) (*out)[i] = static_cast<char>(size >> (8 * i));
  // ByteSizeLong() cached every message's size; SerializeToArray() would compute them again.
  uint8_t* end = envelope.SerializeWithCachedSizesToArray(
      reinterpret_cast<uint8_t*>(out->data() + kFrameHeaderBytes));
  RAFT_ASSERT(end == reinterpret_cast<uint8_t*>(out->data() + out->size()));
}

uint32_t frame_length(const std::array<uint8_t, kFrameHeaderBytes>& header) {
  uint32_t length = 0;
  for (size_t i = 0; i < kFrameHeaderBytes; ++i) length |= uint32_t{header[i]} << (8 * i);
  return length;
}

const std::string& BatchFrames::encode(pb::PeerBatch& pending) {
  pb::PeerBatch* batch = envelope_.mutable_batch();
  RAFT_ASSERT(batch->ByteSizeLong() == 0);  // recycle() ran after the previous frame.
  batch->Swap(&pending);
  encode_frame(envelope_, &bytes_);
  return bytes_;
}

std::string& BatchFrames::payload(uint32_t length) {
  bytes_.resize(length);
  return bytes_;
}

pb::PeerBatch* BatchFrames::decode() {
  // Merging into the empty batch parses exactly as ParseFromString() would, but keeps the
  // batch's allocations, which ParseFromString() frees first. Creating the batch up front makes
  // an envelope with no body read the same on every frame: as an empty batch.
  envelope_.mutable_batch();
  if (!envelope_.MergeFromString(bytes_) || !envelope_.has_batch()) return nullptr;
  return envelope_.mutable_batch();
}

void BatchFrames::recycle() {
  // Not a batch (a refused Hello, say): nothing worth keeping either.
  if (envelope_.has_batch() && bytes_.capacity() <= kReuseBytesMax) {
    envelope_.mutable_batch()->Clear();
  } else {
    envelope_.clear_body();
    bytes_ = std::string();
  }
  RAFT_ASSERT(envelope_.ByteSizeLong() <= 2);  // At most an empty batch: tag and length 0.
}

void deliver_batch(NodeId from, pb::PeerBatch& batch, runtime::PeerInbox& inbox, Logger& logger) {
  for (pb::RaftMessage& encoded : *batch.mutable_messages()) {
    raft::Message message;
    if (Status decoded = proto::from_proto(std::move(encoded), &message); !decoded.is_ok()) {
      log_to(logger, LogLevel::Warn, "dropped a malformed message from node ", from, ": ",
             decoded.message());
      continue;
    }
    inbox.on_message(from, std::move(message));
  }
  for (pb::SnapshotChunk& chunk : *batch.mutable_snapshot_chunks()) {
    inbox.on_snapshot_chunk(from, proto::from_proto(std::move(chunk)));
  }
  for (pb::SnapshotAck& ack : *batch.mutable_snapshot_acks()) {
    inbox.on_snapshot_ack(from, proto::from_proto(std::move(ack)));
  }
  for (pb::ForwardRequest& request : *batch.mutable_forward_requests()) {
    inbox.on_forward_request(from, proto::from_proto(std::move(request)));
  }
  for (pb::ForwardReply& reply : *batch.mutable_forward_replies()) {
    inbox.on_forward_reply(from, proto::from_proto(std::move(reply)));
  }
  inbox.on_batch_end();
}

}  // namespace raftkv::net
