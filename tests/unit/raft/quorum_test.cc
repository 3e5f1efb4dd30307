#include "raft/quorum.h"

#include <map>
#include <set>

#include <gtest/gtest.h>

namespace raftkv::raft {
namespace {

ConfState voters(std::vector<uint64_t> ids, std::vector<uint64_t> outgoing = {}) {
  ConfState state;
  for (uint64_t id : ids) state.voters.push_back(NodeId{id});
  for (uint64_t id : outgoing) state.voters_outgoing.push_back(NodeId{id});
  return state;
}

TEST(QuorumConfig, CommittedIndex_IsHeldByAMajority) {
  const QuorumConfig quorum(voters({1, 2, 3, 4, 5}));
  std::map<uint64_t, uint64_t> match{{1, 9}, {2, 7}, {3, 5}, {4, 3}, {5, 1}};
  EXPECT_EQ(quorum.committed_index([&](NodeId id) { return Index{match[id.value()]}; }),
            Index{5});
}

TEST(QuorumConfig, CommittedIndex_JointTakesTheSmallerMajority) {
  const QuorumConfig quorum(voters({1, 2, 3}, {3, 4, 5}));
  std::map<uint64_t, uint64_t> match{{1, 9}, {2, 9}, {3, 4}, {4, 2}, {5, 1}};
  // Incoming {1,2,3} agrees on 9; outgoing {3,4,5} only on 2.
  EXPECT_EQ(quorum.committed_index([&](NodeId id) { return Index{match[id.value()]}; }),
            Index{2});
}

TEST(QuorumConfig, VoteResult_PendingWonLost) {
  const QuorumConfig quorum(voters({1, 2, 3}));
  std::map<uint64_t, bool> votes{{1, true}};
  auto lookup = [&](NodeId id) -> std::optional<bool> {
    auto it = votes.find(id.value());
    return it == votes.end() ? std::nullopt : std::optional<bool>(it->second);
  };
  EXPECT_EQ(quorum.vote_result(lookup), VoteResult::Pending);
  votes[2] = false;
  EXPECT_EQ(quorum.vote_result(lookup), VoteResult::Pending);
  votes[3] = false;
  EXPECT_EQ(quorum.vote_result(lookup), VoteResult::Lost);
  votes[3] = true;
  EXPECT_EQ(quorum.vote_result(lookup), VoteResult::Won);
}

TEST(QuorumConfig, VoteResult_JointNeedsBothHalves) {
  const QuorumConfig quorum(voters({1, 2, 3}, {4, 5, 6}));
  auto yes_from = [](std::set<uint64_t> yes) {
    return [yes](NodeId id) -> std::optional<bool> { return yes.contains(id.value()); };
  };
  EXPECT_EQ(quorum.vote_result(yes_from({1, 2, 4})), VoteResult::Lost);
  EXPECT_EQ(quorum.vote_result(yes_from({1, 2, 4, 5})), VoteResult::Won);
}

TEST(QuorumConfig, IsSoleVoter_AgreesWithIsQuorumOfOneNode) {
  const std::vector<ConfState> configs = {
      voters({1}),      voters({2}),      voters({1, 2}),      voters({1, 2, 3}),
      voters({1}, {1}), voters({1}, {2}), voters({2}, {1}),    voters({1}, {1, 2}),
      voters({3}, {3}), voters({1, 2}, {1}),
  };
  for (const ConfState& config : configs) {
    const QuorumConfig quorum(config);
    for (uint64_t raw = 1; raw <= 3; ++raw) {
      const NodeId id{raw};
      EXPECT_EQ(quorum.is_sole_voter(id), quorum.is_quorum([&](NodeId n) { return n == id; }))
          << "node " << raw << " in a config of " << config.voters.size() << " voters";
    }
  }
  EXPECT_TRUE(QuorumConfig(voters({1})).is_sole_voter(NodeId{1}));
  EXPECT_FALSE(QuorumConfig(voters({1, 2, 3})).is_sole_voter(NodeId{1}));
}

TEST(QuorumConfig, AllVoters_SortedWithoutDuplicates) {
  const QuorumConfig quorum(voters({3, 1, 2}, {2, 4}));
  EXPECT_EQ(quorum.all_voters(), (std::vector<NodeId>{NodeId{1}, NodeId{2}, NodeId{3},
                                                       NodeId{4}}));
  EXPECT_TRUE(quorum.is_joint());
  EXPECT_TRUE(quorum.is_voter(NodeId{4}));
  EXPECT_FALSE(quorum.is_voter(NodeId{5}));
}

}  // namespace
}  // namespace raftkv::raft
