#pragma once

#include <vector>

#include "common/shared_bytes.h"
#include "common/status.h"
#include "raft/messages.h"
#include "runtime/transport.h"

// Conversion between raft::Message and its wire form (proto/peer.proto). Entries and snapshot
// metadata go through the same codec as the WAL (convert.h), so disk and wire agree.
// Decoding validates enum ranges and returns Corruption for what no valid peer sends; the core
// then validates the message's Raft meaning (raft_validate.cc).

namespace raftkv::pb {
class ForwardReply;
class ForwardRequest;
class RaftMessage;
class SnapshotAck;
class SnapshotChunk;
}  // namespace raftkv::pb

namespace raftkv::proto {

// The entries go without their data, which is appended to *entry_data in order, shared (peer
// frames carry it after the envelope: net/peer_frame.h).
void to_proto(const raft::Message& message, pb::RaftMessage* out,
              std::vector<SharedBytes>* entry_data);
// Moves entry payloads and snapshot data out of `in` rather than copying them (receivers are
// done with the parsed batch afterwards); `in` keeps every other field.
[[nodiscard]] Status from_proto(pb::RaftMessage&& in, raft::Message* out);

// The runtime's other peer traffic (runtime/transport.h). Decoding moves the payloads out.
// An unknown outcome (from a newer peer) reads as MaybeApplied: never claim more than known.
void to_proto(runtime::ForwardRequest&& request, pb::ForwardRequest* out);
void to_proto(runtime::ForwardReply&& reply, pb::ForwardReply* out);
void to_proto(runtime::SnapshotChunk&& chunk, pb::SnapshotChunk* out);
void to_proto(runtime::SnapshotAck&& ack, pb::SnapshotAck* out);
[[nodiscard]] runtime::ForwardRequest from_proto(pb::ForwardRequest&& in);
[[nodiscard]] runtime::ForwardReply from_proto(pb::ForwardReply&& in);
[[nodiscard]] runtime::SnapshotChunk from_proto(pb::SnapshotChunk&& in);
[[nodiscard]] runtime::SnapshotAck from_proto(pb::SnapshotAck&& in);

}  // namespace raftkv::proto
