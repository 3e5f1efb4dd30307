#pragma once

#include "common/status.h"
#include "raft/messages.h"

// Conversion between raft::Message and its wire form (proto/peer.proto). Entries and snapshot
// metadata go through the same codec as the WAL (convert.h), so disk and wire agree.
// Decoding validates enum ranges and returns Corruption for what no valid peer sends; the core
// then validates the message's Raft meaning (raft_validate.cc).

namespace raftkv::pb {
class RaftMessage;
}  // namespace raftkv::pb

namespace raftkv::proto {

void to_proto(const raft::Message& message, pb::RaftMessage* out);
// Moves entry payloads and snapshot data out of `in` rather than copying them (receivers are
// done with the parsed batch afterwards); `in` keeps every other field.
[[nodiscard]] Status from_proto(pb::RaftMessage&& in, raft::Message* out);

}  // namespace raftkv::proto
