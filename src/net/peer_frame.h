#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/logger.h"
#include "common/types.h"
#include "proto/peer.pb.h"
#include "runtime/transport.h"

// The frames of a peer connection: a 4-byte little-endian length, then a PeerEnvelope
// (proto/peer.proto). Pure encoding and decoding, no sockets; peer_transport.cc does the I/O.
// deliver_batch() is the one place a received batch becomes the runtime's values.
namespace raftkv::net {

inline constexpr size_t kFrameHeaderBytes = 4;

// Replaces *out with the frame holding `envelope`.
void encode_frame(const pb::PeerEnvelope& envelope, std::string* out);

// The payload length a frame header announces (not yet checked against any limit).
[[nodiscard]] uint32_t frame_length(const std::array<uint8_t, kFrameHeaderBytes>& header);

// The batch frames of one connection, which carries them one way: the writer encodes, the
// reader decodes. Why reuse: parsing or building a fresh PeerBatch per frame frees and
// reallocates every message, entry and string in it, which costs more CPU than the encoding.
// Clearing a protobuf message keeps those allocations instead, so a steady stream of frames
// allocates almost nothing. A frame past kReuseBytesMax is let go rather than kept, so that one
// catch-up burst does not pin its peak memory for the life of the connection.
//
// Not thread-safe; one per connection, on the io thread.
class BatchFrames {
 public:
  static constexpr size_t kReuseBytesMax = 4u << 20;

  // Writer: takes everything out of `pending` (which gets the allocations of an earlier frame
  // in exchange) and returns the frame's bytes, valid until recycle().
  [[nodiscard]] const std::string& encode(pb::PeerBatch& pending);

  // Reader: the buffer to read a payload of `length` bytes into, then decode() it.
  [[nodiscard]] std::string& payload(uint32_t length);
  // Reader: parses the payload; nullptr when it is not a well-formed envelope holding a batch.
  // The batch is valid, and may be consumed (strings moved out), until recycle(). An envelope
  // with no body at all reads as an empty batch.
  [[nodiscard]] pb::PeerBatch* decode();

  // Done with the current frame (written, or handled): clears it for the next one.
  void recycle();

 private:
  pb::PeerEnvelope envelope_;  // Holds the current batch; between frames, an empty one.
  std::string bytes_;          // The current frame (writer) or payload (reader).
};

// Hands everything in `batch`, which arrived on `from`'s connection, to `inbox` as decoded
// values (payloads moved out), then ends the batch (PeerInbox::on_batch_end). A Raft message
// that does not decode is dropped with a warning; the rest of the batch still goes.
void deliver_batch(NodeId from, pb::PeerBatch& batch, runtime::PeerInbox& inbox, Logger& logger);

}  // namespace raftkv::net
