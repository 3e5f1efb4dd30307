#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/logger.h"
#include "common/shared_bytes.h"
#include "common/status.h"
#include "common/types.h"
#include "proto/peer.pb.h"
#include "raft/messages.h"
#include "runtime/transport.h"

// The frames of a peer connection. Pure encoding and decoding, no sockets; peer_transport.cc
// does the I/O. deliver_batch() is the one place a received batch becomes the runtime's values.
//
// A connection's first frame (Hello) and a Refusal are "envelope frames", the same in every
// protocol version so that a version mismatch can be read and refused with a clear reason:
//   u32 length, then a PeerEnvelope of that length (proto/peer.proto).
// Every later frame is a batch frame (protocol version 2 on):
//   u32 envelope_bytes, u32 data_bytes, a PeerEnvelope holding a PeerBatch, then data_bytes of
//   entry data: the payload of every entry of the batch's messages, in order, back to back,
//   their lengths listed in PeerBatch.entry_data_bytes (the envelope's entries carry none).
// Why the data travels outside the protobuf: putting a payload into a protobuf message copies
// it (set_data), and serialising copies it again, once per follower; parsing copies it once
// more on the follower. Out of band, the leader writes the entries' shared buffers as they are
// (a gather write) and a follower reads the data into one buffer that its entries then share.
// All integers are little-endian.
namespace raftkv::net {

// In the Hello. 1: batch frames were envelope frames with the entry data inside. 2: the batch
// frames above. A node refuses a Hello of another version, naming both.
inline constexpr uint32_t kPeerProtocolVersion = 2;

inline constexpr size_t kFrameHeaderBytes = 4;
inline constexpr size_t kBatchHeaderBytes = 8;

// Replaces *out with the envelope frame holding `envelope`.
void encode_frame(const pb::PeerEnvelope& envelope, std::string* out);

// The payload length an envelope frame header announces (not yet checked against any limit).
[[nodiscard]] uint32_t frame_length(const std::array<uint8_t, kFrameHeaderBytes>& header);

struct BatchHeader {
  uint32_t envelope_bytes = 0;
  uint32_t data_bytes = 0;
};

// The lengths a batch frame header announces; InvalidArgument, naming both, when together they
// exceed `frame_bytes_max` (the reader then closes the connection rather than buffer it).
[[nodiscard]] Result<BatchHeader> parse_batch_header(
    const std::array<uint8_t, kBatchHeaderBytes>& header, uint64_t frame_bytes_max);

// What a writer queues for its next batch frame: the envelope's batch and, beside it, the data
// of its messages' entries (shared, not copied), in the order of the entries.
struct PendingBatch {
  pb::PeerBatch batch;
  std::vector<SharedBytes> entry_data;

  // Adds `message`, its entries' data going to entry_data.
  void add_message(const raft::Message& message);
  [[nodiscard]] bool empty() const;
  // Drops everything queued, keeping the batch's allocations.
  void clear();
};

// The batch frames of one connection, which carries them one way: the writer encodes, the
// reader decodes. Why reuse: parsing or building a fresh PeerBatch per frame frees and
// reallocates every message, entry and string in it, which costs more CPU than the encoding.
// Clearing a protobuf message keeps those allocations instead, so a steady stream of frames
// allocates almost nothing. A frame past kReuseBytesMax is let go rather than kept, so that one
// catch-up burst does not pin its peak memory for the life of the connection. The entry data
// is never reused: it becomes (or is) the entries' own shared payloads.
//
// Not thread-safe; one per connection, on the io thread.
class BatchFrames {
 public:
  static constexpr size_t kReuseBytesMax = 4u << 20;
  // Entry data shorter than this is copied into the frame's head rather than written from
  // where it lies: a gather write of thousands of small pieces costs more than the copy (and
  // over TLS each piece would become a record of its own).
  static constexpr size_t kGatherBytesMin = 16u << 10;

  // Writer: takes everything out of `pending` (which gets the allocations of an earlier frame
  // in exchange) and returns the frame as pieces to write in order, each valid (and the entry
  // data kept alive) until recycle().
  [[nodiscard]] const std::vector<std::string_view>& encode(PendingBatch& pending);

  // Reader: the buffers to read a frame's envelope and entry data into (lengths from its
  // header), then decode() it.
  [[nodiscard]] std::string& envelope(uint32_t length);
  [[nodiscard]] std::string& entry_data(uint32_t length);
  // Reader: parses the envelope and splits the entry data among the entries; InvalidArgument
  // when the envelope is not a well-formed batch or the entry data lengths do not add up to
  // the frame's. The batch is valid, and may be consumed (strings moved out), until
  // recycle(); received_entry_data() then holds each entry's data, in order. An envelope with
  // no body at all reads as an empty batch.
  [[nodiscard]] Result<pb::PeerBatch*> decode();
  [[nodiscard]] std::span<const SharedBytes> received_entry_data() const { return received_; }

  // Done with the current frame (written, or handled): clears it for the next one.
  void recycle();

 private:
  [[nodiscard]] Status split_entry_data(const pb::PeerBatch& batch);

  pb::PeerEnvelope envelope_;  // Holds the current batch; between frames, an empty one.
  std::string bytes_;          // Writer: header, envelope, small entry data. Reader: envelope.
  std::vector<SharedBytes> sent_;       // Writer: the entry data being written.
  std::vector<std::string_view> pieces_;  // Writer: the frame, in order.
  std::string data_;                    // Reader: the entry data as read.
  std::vector<SharedBytes> received_;   // Reader: each entry's data, viewing one buffer.
};

// Hands everything in `batch`, which arrived on `from`'s connection, to `inbox` as decoded
// values (payloads moved out; entry data from `entry_data`, one per entry in order, as
// BatchFrames::decode() checked), then ends the batch (PeerInbox::on_batch_end). A Raft
// message that does not decode is dropped with a warning; the rest of the batch still goes.
void deliver_batch(NodeId from, pb::PeerBatch& batch, std::span<const SharedBytes> entry_data,
                   runtime::PeerInbox& inbox, Logger& logger);

}  // namespace raftkv::net
