#include <string>

#include "raft/raft.h"

// Checks on messages from peers before any of their content is trusted. The codec in src/net
// already rejected undecodable bytes; this rejects well-formed messages that cannot be valid
// Raft (a peer with a bug, a node of another cluster that got through, or a forgery), so that
// nothing beyond this point needs to defend itself against them.

namespace raftkv::raft {
namespace {

// Far beyond anything a well-behaved leader sends (it honours message_bytes_max), yet small
// enough that accepting it cannot exhaust memory.
constexpr size_t kEntriesPerMessageMax = 1 << 20;
constexpr uint64_t kIndexMax = uint64_t{1} << 62;
// Terms grow by one per election; one beyond this can only be corrupt or forged, and accepting
// it would leave no room for term + 1 (regression: sim scenario hostile_absurd_values).
constexpr uint64_t kTermMax = uint64_t{1} << 62;

Status invalid(const std::string& why) { return Status(ErrorCode::InvalidArgument, why); }

Status validate_entries(const Message& message) {
  if (message.entries.size() > kEntriesPerMessageMax) {
    return invalid(std::to_string(message.entries.size()) + " entries in one message");
  }
  Index expected = message.index + 1;
  Term previous = message.log_term;
  for (const Entry& entry : message.entries) {
    if (entry.index != expected) {
      return invalid("entry index " + std::to_string(entry.index.value()) + " where " +
                     std::to_string(expected.value()) + " was due");
    }
    if (entry.term < previous || entry.term > message.term) {
      return invalid("entry term " + std::to_string(entry.term.value()) + " out of order");
    }
    if (entry.type > EntryType::ConfChange) return invalid("unknown entry type");
    previous = entry.term;
    ++expected;
  }
  return Status::ok();
}

Status validate_snapshot(const Message& message) {
  if (!message.snapshot) return invalid("InstallSnapshot without a snapshot");
  const SnapshotMeta& meta = message.snapshot->meta;
  if (meta.index == Index{0} || meta.index.value() > kIndexMax) {
    return invalid("snapshot index out of range");
  }
  if (meta.term == Term{0} || meta.term > message.term) return invalid("snapshot term invalid");
  if (meta.conf_state.voters.empty()) return invalid("snapshot without voters");
  return Status::ok();
}

}  // namespace

Status Raft::validate_message(const Message& message) const {
  if (message.type > MessageType::TimeoutNow) return invalid("unknown message type");
  if (message.to != id_) {
    return invalid("addressed to node " + std::to_string(message.to.value()));
  }
  if (message.from == kNoNode || message.from == id_) return invalid("bad sender id");
  // Replication is accepted from a leader this node does not know: its configuration may be
  // older than the leader's (it missed the change that added the leader, say while cut off),
  // and only that leader's log can bring it up to date (as etcd-io/raft does). So is anything
  // sent to a node outside its own configuration (joining, or removed): it has no vote to
  // protect. Votes, answers and TimeoutNow from a non-member are refused: elections are the
  // members' business, and only a leader that tracks the sender expects its answers. Removed
  // nodes, which may still believe they lead, are refused before the core by the runtime.
  const bool replication = message.type == MessageType::Append ||
                           message.type == MessageType::Heartbeat ||
                           message.type == MessageType::InstallSnapshot;
  if (!is_member(message.from) && !replication && is_member(id_)) {
    return invalid("sender node " + std::to_string(message.from.value()) + " is not a member");
  }
  if (message.term == Term{0}) return invalid("term 0");
  if (message.term.value() > kTermMax || message.log_term.value() > kTermMax ||
      message.hint_term.value() > kTermMax) {
    return invalid("term out of range");
  }
  if (message.index.value() > kIndexMax || message.commit.value() > kIndexMax ||
      message.hint_index.value() > kIndexMax) {
    return invalid("index out of range");
  }
  if (message.log_term > message.term && message.type != MessageType::AppendResponse) {
    return invalid("log term above message term");
  }
  if (message.type != MessageType::Append && !message.entries.empty()) {
    return invalid("entries on a message that carries none");
  }
  if (message.type == MessageType::Append) return validate_entries(message);
  if (message.type == MessageType::InstallSnapshot) return validate_snapshot(message);
  if (message.snapshot) return invalid("snapshot on a message that carries none");
  return Status::ok();
}

}  // namespace raftkv::raft
