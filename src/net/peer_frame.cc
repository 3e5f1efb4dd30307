#include "net/peer_frame.h"

#include <limits>
#include <memory>
#include <utility>

#include "common/assert.h"
#include "proto/peer_codec.h"

namespace raftkv::net {
namespace {

void put_u32(uint32_t value, char* out) {
  for (size_t i = 0; i < 4; ++i) out[i] = static_cast<char>(value >> (8 * i));
}

uint32_t get_u32(const uint8_t* in) {
  uint32_t value = 0;
  for (size_t i = 0; i < 4; ++i) value |= uint32_t{in[i]} << (8 * i);
  return value;
}

uint32_t checked_u32(size_t size) {
  RAFT_ASSERT(size <= std::numeric_limits<uint32_t>::max());  // Queue bounds keep frames small.
  return static_cast<uint32_t>(size);
}

}  // namespace

void encode_frame(const pb::PeerEnvelope& envelope, std::string* out) {
  const uint32_t size = checked_u32(envelope.ByteSizeLong());
  out->resize(kFrameHeaderBytes + size);
  put_u32(size, out->data());
  // ByteSizeLong() cached every message's size; SerializeToArray() would compute them again.
  uint8_t* end = envelope.SerializeWithCachedSizesToArray(
      reinterpret_cast<uint8_t*>(out->data() + kFrameHeaderBytes));
  RAFT_ASSERT(end == reinterpret_cast<uint8_t*>(out->data() + out->size()));
}

uint32_t frame_length(const std::array<uint8_t, kFrameHeaderBytes>& header) {
  return get_u32(header.data());
}

Result<BatchHeader> parse_batch_header(const std::array<uint8_t, kBatchHeaderBytes>& header,
                                       uint64_t frame_bytes_max) {
  const BatchHeader parsed{get_u32(header.data()), get_u32(header.data() + 4)};
  const uint64_t frame_bytes = uint64_t{parsed.envelope_bytes} + parsed.data_bytes;
  if (frame_bytes > frame_bytes_max) {
    return Status(ErrorCode::InvalidArgument,
                  "frame of " + std::to_string(parsed.envelope_bytes) + " + " +
                      std::to_string(parsed.data_bytes) + " bytes exceeds the limit of " +
                      std::to_string(frame_bytes_max));
  }
  return parsed;
}

void PendingBatch::add_message(const raft::Message& message) {
  const size_t first = entry_data.size();
  proto::to_proto(message, batch.add_messages(), &entry_data);
  for (size_t i = first; i < entry_data.size(); ++i) {
    batch.add_entry_data_bytes(entry_data[i].size());
  }
}

bool PendingBatch::empty() const {
  return batch.messages_size() == 0 && batch.forward_requests_size() == 0 &&
         batch.forward_replies_size() == 0 && batch.snapshot_chunks_size() == 0 &&
         batch.snapshot_acks_size() == 0;
}

void PendingBatch::clear() {
  batch.Clear();
  entry_data.clear();
}

const std::vector<std::string_view>& BatchFrames::encode(PendingBatch& pending) {
  pb::PeerBatch* batch = envelope_.mutable_batch();
  RAFT_ASSERT(batch->ByteSizeLong() == 0);  // recycle() ran after the previous frame.
  RAFT_ASSERT(sent_.empty());
  batch->Swap(&pending.batch);
  sent_.swap(pending.entry_data);
  RAFT_ASSERT(static_cast<size_t>(batch->entry_data_bytes_size()) == sent_.size());
  size_t copied_bytes = 0;
  size_t data_bytes = 0;
  for (const SharedBytes& data : sent_) {
    data_bytes += data.size();
    if (data.size() < kGatherBytesMin) copied_bytes += data.size();
  }
  const uint32_t envelope_bytes = checked_u32(envelope_.ByteSizeLong());
  // Reserved up front so that appending the small data never moves the views taken below.
  bytes_.reserve(kBatchHeaderBytes + envelope_bytes + copied_bytes);
  bytes_.resize(kBatchHeaderBytes + envelope_bytes);
  put_u32(envelope_bytes, bytes_.data());
  put_u32(checked_u32(data_bytes), bytes_.data() + 4);
  uint8_t* end = envelope_.SerializeWithCachedSizesToArray(
      reinterpret_cast<uint8_t*>(bytes_.data() + kBatchHeaderBytes));
  RAFT_ASSERT(end == reinterpret_cast<uint8_t*>(bytes_.data() + bytes_.size()));
  pieces_.clear();
  size_t run_start = 0;  // Where the piece of bytes_ not yet in pieces_ starts.
  for (const SharedBytes& data : sent_) {
    if (data.size() < kGatherBytesMin) {
      bytes_.append(data.view());
      continue;
    }
    if (run_start < bytes_.size()) {
      pieces_.emplace_back(bytes_.data() + run_start, bytes_.size() - run_start);
    }
    pieces_.push_back(data.view());
    run_start = bytes_.size();
  }
  if (run_start < bytes_.size()) {
    pieces_.emplace_back(bytes_.data() + run_start, bytes_.size() - run_start);
  }
  RAFT_ASSERT(bytes_.size() == kBatchHeaderBytes + envelope_bytes + copied_bytes);
  return pieces_;
}

std::string& BatchFrames::envelope(uint32_t length) {
  bytes_.resize(length);
  return bytes_;
}

std::string& BatchFrames::entry_data(uint32_t length) {
  // Fresh every frame: the entries keep this buffer as their payloads once decoded.
  RAFT_ASSERT(data_.empty());
  data_.resize(length);
  return data_;
}

Result<pb::PeerBatch*> BatchFrames::decode() {
  // Merging into the empty batch parses exactly as ParseFromString() would, but keeps the
  // batch's allocations, which ParseFromString() frees first. Creating the batch up front makes
  // an envelope with no body read the same on every frame: as an empty batch.
  envelope_.mutable_batch();
  if (!envelope_.MergeFromString(bytes_) || !envelope_.has_batch()) {
    return Status(ErrorCode::InvalidArgument, "not a well-formed batch envelope");
  }
  pb::PeerBatch* batch = envelope_.mutable_batch();
  if (Status split = split_entry_data(*batch); !split.is_ok()) return split;
  return batch;
}

// Checks every length before taking any of the data, so that lying lengths are refused whole.
Status BatchFrames::split_entry_data(const pb::PeerBatch& batch) {
  RAFT_ASSERT(received_.empty());
  size_t entries = 0;
  for (const pb::RaftMessage& message : batch.messages()) {
    for (const pb::Entry& entry : message.entries()) {
      if (!entry.data().empty()) {
        return Status(ErrorCode::InvalidArgument, "an entry carries data inside the envelope");
      }
    }
    entries += static_cast<size_t>(message.entries_size());
  }
  if (static_cast<size_t>(batch.entry_data_bytes_size()) != entries) {
    return Status(ErrorCode::InvalidArgument,
                  std::to_string(batch.entry_data_bytes_size()) + " entry data lengths for " +
                      std::to_string(entries) + " entries");
  }
  uint64_t left = data_.size();
  for (uint64_t length : batch.entry_data_bytes()) {
    if (length > left) {
      return Status(ErrorCode::InvalidArgument, "entry data lengths exceed the frame's " +
                                                    std::to_string(data_.size()) + " bytes");
    }
    left -= length;
  }
  if (left != 0) {
    return Status(ErrorCode::InvalidArgument,
                  std::to_string(left) + " bytes of entry data belong to no entry");
  }
  if (data_.empty()) {  // Entries without data (no-ops, say): no buffer to share.
    received_.resize(entries);
    return Status::ok();
  }
  const auto owner = std::make_shared<const std::string>(std::move(data_));
  data_ = std::string();
  size_t offset = 0;
  for (uint64_t length : batch.entry_data_bytes()) {
    received_.emplace_back(owner, std::string_view(owner->data() + offset, length));
    offset += length;
  }
  RAFT_ASSERT(offset == owner->size());
  return Status::ok();
}

void BatchFrames::recycle() {
  // Not a batch (a refused Hello, say): nothing worth keeping either.
  if (envelope_.has_batch() && bytes_.capacity() <= kReuseBytesMax) {
    envelope_.mutable_batch()->Clear();
  } else {
    envelope_.clear_body();
    bytes_ = std::string();
  }
  sent_.clear();
  pieces_.clear();
  data_ = std::string();  // Only left here by a frame that did not decode.
  received_.clear();
  RAFT_ASSERT(envelope_.ByteSizeLong() <= 2);  // At most an empty batch: tag and length 0.
}

void deliver_batch(NodeId from, pb::PeerBatch& batch, std::span<const SharedBytes> entry_data,
                   runtime::PeerInbox& inbox, Logger& logger) {
  size_t next_data = 0;
  for (pb::RaftMessage& encoded : *batch.mutable_messages()) {
    const auto entries = static_cast<size_t>(encoded.entries_size());
    RAFT_ASSERT(next_data + entries <= entry_data.size());  // BatchFrames::decode() checked.
    raft::Message message;
    Status decoded = proto::from_proto(std::move(encoded), &message);
    if (!decoded.is_ok()) {
      log_to(logger, LogLevel::Warn, "dropped a malformed message from node ", from, ": ",
             decoded.message());
      next_data += entries;
      continue;
    }
    for (raft::Entry& entry : message.entries) entry.data = entry_data[next_data++];
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
