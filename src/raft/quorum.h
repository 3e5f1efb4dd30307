#pragma once

#include <functional>
#include <optional>
#include <vector>

#include "common/types.h"
#include "raft/messages.h"

// Quorum arithmetic for a plain majority and for a joint configuration (Raft thesis §4.3),
// where a decision needs a majority of the incoming AND of the outgoing voters. Pure functions
// of their inputs; the one home of "what counts as a quorum".
namespace raftkv::raft {

enum class VoteResult : uint8_t { Pending, Won, Lost };

class QuorumConfig {
 public:
  QuorumConfig() = default;
  explicit QuorumConfig(const ConfState& conf_state);

  // Highest index stored by a quorum, given each voter's acknowledged index. In a joint
  // configuration, the smaller of the two majorities' indexes.
  [[nodiscard]] Index committed_index(const std::function<Index(NodeId)>& acked) const;
  // Election outcome given the votes so far (`granted`: true yes, false no; absent: missing).
  [[nodiscard]] VoteResult vote_result(
      const std::function<std::optional<bool>(NodeId)>& granted) const;
  // Whether the nodes for which `active` is true form a quorum.
  [[nodiscard]] bool is_quorum(const std::function<bool(NodeId)>& active) const;
  // Whether `id` alone is a quorum (is_quorum() of `id` only): it is the only voter of each
  // half that has any. Asked for every read (raft_read_index.cc), so it counts no votes.
  [[nodiscard]] bool is_sole_voter(NodeId id) const {
    const auto only = [id](const std::vector<NodeId>& half) {
      return half.size() == 1 && half.front() == id;
    };
    return only(incoming_) && (outgoing_.empty() || only(outgoing_));
  }

  [[nodiscard]] bool is_voter(NodeId id) const;
  [[nodiscard]] bool is_joint() const { return !outgoing_.empty(); }
  // Every voter of either half, sorted, without duplicates.
  [[nodiscard]] std::vector<NodeId> all_voters() const;
  [[nodiscard]] const std::vector<NodeId>& incoming() const { return incoming_; }
  [[nodiscard]] const std::vector<NodeId>& outgoing() const { return outgoing_; }

 private:
  std::vector<NodeId> incoming_;  // Sorted.
  std::vector<NodeId> outgoing_;  // Sorted; empty unless joint.
};

}  // namespace raftkv::raft
