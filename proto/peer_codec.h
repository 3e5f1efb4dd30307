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
[[nodiscard]] Status from_proto(const pb::RaftMessage& in, raft::Message* out);

}  // namespace raftkv::proto
