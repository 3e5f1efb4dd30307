#include "raft/quorum.h"

#include <algorithm>

#include "common/assert.h"

namespace raftkv::raft {
namespace {

std::vector<NodeId> sorted_unique(std::vector<NodeId> ids) {
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

// The largest index that a majority of `voters` has acknowledged. An empty set commits
// everything, so that the joint rule min(incoming, outgoing) ignores an absent half.
Index majority_index(const std::vector<NodeId>& voters,
                     const std::function<Index(NodeId)>& acked) {
  if (voters.empty()) return Index{UINT64_MAX};
  std::vector<Index> indexes;
  indexes.reserve(voters.size());
  for (NodeId id : voters) indexes.push_back(acked(id));
  std::sort(indexes.begin(), indexes.end(), std::greater<>());
  // With n voters, the (n/2+1)-th highest index is held by a majority.
  return indexes[voters.size() / 2];
}

VoteResult majority_vote(const std::vector<NodeId>& voters,
                         const std::function<std::optional<bool>(NodeId)>& granted) {
  if (voters.empty()) return VoteResult::Won;
  size_t yes = 0;
  size_t missing = 0;
  for (NodeId id : voters) {
    const std::optional<bool> vote = granted(id);
    if (!vote.has_value()) {
      ++missing;
    } else if (*vote) {
      ++yes;
    }
  }
  const size_t quorum = voters.size() / 2 + 1;
  if (yes >= quorum) return VoteResult::Won;
  if (yes + missing >= quorum) return VoteResult::Pending;
  return VoteResult::Lost;
}

}  // namespace

QuorumConfig::QuorumConfig(const ConfState& conf_state)
    : incoming_(sorted_unique(conf_state.voters)),
      outgoing_(sorted_unique(conf_state.voters_outgoing)) {}

Index QuorumConfig::committed_index(const std::function<Index(NodeId)>& acked) const {
  RAFT_ASSERT(!incoming_.empty());
  return std::min(majority_index(incoming_, acked), majority_index(outgoing_, acked));
}

VoteResult QuorumConfig::vote_result(
    const std::function<std::optional<bool>(NodeId)>& granted) const {
  RAFT_ASSERT(!incoming_.empty());
  const VoteResult in = majority_vote(incoming_, granted);
  const VoteResult out = majority_vote(outgoing_, granted);
  if (in == VoteResult::Won && out == VoteResult::Won) return VoteResult::Won;
  if (in == VoteResult::Lost || out == VoteResult::Lost) return VoteResult::Lost;
  return VoteResult::Pending;
}

bool QuorumConfig::is_quorum(const std::function<bool(NodeId)>& active) const {
  const auto as_vote = [&](NodeId id) -> std::optional<bool> { return active(id); };
  return vote_result(as_vote) == VoteResult::Won;
}

bool QuorumConfig::is_voter(NodeId id) const {
  return std::binary_search(incoming_.begin(), incoming_.end(), id) ||
         std::binary_search(outgoing_.begin(), outgoing_.end(), id);
}

std::vector<NodeId> QuorumConfig::all_voters() const {
  std::vector<NodeId> all = incoming_;
  all.insert(all.end(), outgoing_.begin(), outgoing_.end());
  return sorted_unique(std::move(all));
}

}  // namespace raftkv::raft
