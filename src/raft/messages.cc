#include "raft/messages.h"

namespace raftkv::raft {

const char* message_type_name(MessageType type) {
  switch (type) {
    case MessageType::PreVote: return "PreVote";
    case MessageType::PreVoteResponse: return "PreVoteResponse";
    case MessageType::Vote: return "Vote";
    case MessageType::VoteResponse: return "VoteResponse";
    case MessageType::Append: return "Append";
    case MessageType::AppendResponse: return "AppendResponse";
    case MessageType::Heartbeat: return "Heartbeat";
    case MessageType::HeartbeatResponse: return "HeartbeatResponse";
    case MessageType::InstallSnapshot: return "InstallSnapshot";
    case MessageType::TimeoutNow: return "TimeoutNow";
  }
  return "Unknown";
}

bool may_send_before_persist(const Message& message) {
  switch (message.type) {
    case MessageType::Append:
    case MessageType::Heartbeat:
    case MessageType::InstallSnapshot:
    case MessageType::TimeoutNow:
      return true;
    default:
      return false;
  }
}

// ConfChange encoding: one type byte, the node id as 8 little-endian bytes, then the context
// (the rest of the entry). Entries written before contexts existed are the first 9 bytes alone.
constexpr size_t kConfChangeHeadBytes = 9;

std::string encode_conf_change(const ConfChange& change) {
  std::string out(kConfChangeHeadBytes, '\0');
  out[0] = static_cast<char>(change.type);
  const uint64_t node = change.node.value();
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(1 + i)] = static_cast<char>(node >> (8 * i));
  out += change.context;
  return out;
}

bool decode_conf_change(std::string_view data, ConfChange* change) {
  if (data.size() < kConfChangeHeadBytes) return false;
  const auto type = static_cast<uint8_t>(data[0]);
  if (type > static_cast<uint8_t>(ConfChangeType::RemoveNode)) return false;
  uint64_t node = 0;
  for (int i = 0; i < 8; ++i) {
    node |= static_cast<uint64_t>(static_cast<uint8_t>(data[static_cast<size_t>(1 + i)])) << (8 * i);
  }
  if (node == 0) return false;
  change->type = static_cast<ConfChangeType>(type);
  change->node = NodeId{node};
  change->context = std::string(data.substr(kConfChangeHeadBytes));
  return true;
}

}  // namespace raftkv::raft
