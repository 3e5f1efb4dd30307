#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/shared_bytes.h"
#include "common/types.h"

// The core's vocabulary: log entries, persistent state, membership, and the messages peers
// exchange. Plain structs on purpose: the core never parses bytes. Encoding to the wire and
// to disk is the job of src/net and src/storage, which validate what they decode.

namespace raftkv::raft {

enum class EntryType : uint8_t {
  Normal,      // An application command; `data` is opaque to the core.
  NoOp,        // Appended by a new leader to commit entries of earlier terms (Raft §5.4.2, §8).
  ConfChange,  // A membership change; `data` is an encoded ConfChange.
};

struct Entry {
  Term term;
  Index index;
  EntryType type = EntryType::Normal;
  // Shared, not copied, as the entry goes to the log, to each follower, to disk and to the
  // state machine (common/shared_bytes.h says why).
  SharedBytes data;

  // Bytes this entry is charged for in message and in-flight budgets: payload plus a fixed
  // estimate of framing, so that empty entries still cost something.
  [[nodiscard]] uint64_t size_bytes() const { return data.size() + 24; }
  bool operator==(const Entry&) const = default;
};

// The state that must be durable before a node answers any message that depends on it
// (Raft Figure 2, "persistent state on all servers"; commit is persisted to speed up restart).
struct HardState {
  Term term;
  NodeId voted_for = kNoNode;
  Index commit;
  bool operator==(const HardState&) const = default;
};

// A cluster membership. During a joint configuration (Raft §6 / thesis §4.3) both
// `voters` and `voters_outgoing` must agree; otherwise `voters_outgoing` is empty.
// Learners receive the log but never vote and never count toward a quorum.
struct ConfState {
  std::vector<NodeId> voters;
  std::vector<NodeId> voters_outgoing;
  std::vector<NodeId> learners;
  bool operator==(const ConfState&) const = default;
};

enum class ConfChangeType : uint8_t { AddVoter, AddLearner, RemoveNode };

// A single-server membership change carried in an EntryType::ConfChange entry.
struct ConfChange {
  ConfChangeType type = ConfChangeType::AddVoter;
  NodeId node = kNoNode;
  // The driver's own description of the member (raftkv: its peer and client addresses),
  // replicated with the change so that every node learns it at the same log index. Opaque to
  // the core, as etcd's ConfChange.Context is.
  std::string context;
  bool operator==(const ConfChange&) const = default;
};

std::string encode_conf_change(const ConfChange& change);
// False when `data` is not a well-formed encoding (it came from a log, so it is validated).
[[nodiscard]] bool decode_conf_change(std::string_view data, ConfChange* change);

struct SnapshotMeta {
  Index index;  // Last log index the snapshot covers.
  Term term;    // Term of that entry.
  ConfState conf_state;
  // The driver's description of the members at `index` (raftkv: every member's addresses),
  // so that a node restored from the snapshot knows them without the log that was compacted.
  // Opaque to the core.
  std::string conf_context;
  bool operator==(const SnapshotMeta&) const = default;
};

struct Snapshot {
  SnapshotMeta meta;
  std::string data;  // The state machine's encoded state; opaque to the core.
  [[nodiscard]] bool is_empty() const { return meta.index == Index{0}; }
};

enum class MessageType : uint8_t {
  PreVote,            // "Would you vote for me at term+1?" without changing anyone's term.
  PreVoteResponse,
  Vote,               // RequestVote (Raft §5.2).
  VoteResponse,
  Append,             // AppendEntries carrying entries (Raft §5.3).
  AppendResponse,
  Heartbeat,          // AppendEntries without entries; also carries ReadIndex rounds.
  HeartbeatResponse,
  InstallSnapshot,    // The leader's snapshot for a follower whose entries were compacted.
  TimeoutNow,         // Leadership transfer: "start an election now" (thesis §3.10).
};

const char* message_type_name(MessageType type);

// One message between peers. Field meaning per type:
//   PreVote/Vote:  (log_term, index) = the candidate's last entry; leadership_transfer set when
//                  the election was asked for by the leader, so voters skip the lease check.
//   *VoteResponse: reject = vote refused.
//   Append:        (log_term, index) = the entry preceding `entries`; commit = leader commit.
//   AppendResponse: accepted: index = last index now known to match the leader.
//                  rejected: index = the rejected `index` of the Append, and
//                  (hint_index, hint_term) = the follower's guess at the last possible match,
//                  so the leader skips whole terms of conflicting entries at once.
//   Heartbeat:     commit = min(leader commit, follower match); read_round = ReadIndex round.
//   HeartbeatResponse: read_round echoed back.
//   InstallSnapshot: snapshot (data empty when the runtime streams the file beside it).
struct Message {
  MessageType type = MessageType::Heartbeat;
  NodeId from = kNoNode;
  NodeId to = kNoNode;
  Term term;
  Term log_term;
  Index index;
  std::vector<Entry> entries;
  Index commit;
  bool reject = false;
  Index hint_index;
  Term hint_term;
  uint64_t read_round = 0;
  bool leadership_transfer = false;
  std::optional<Snapshot> snapshot;
};

// Whether a message may leave before the Ready that produced it is durable. Only the leader's
// outgoing replication qualifies (thesis §10.2.1): it depends on no newly persisted vote or
// acknowledgement, and the leader counts its own copy toward a quorum only once synced.
// Everything else (votes, vote requests, acknowledgements) must wait for the fsync.
[[nodiscard]] bool may_send_before_persist(const Message& message);

}  // namespace raftkv::raft
