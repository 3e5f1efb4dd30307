#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/types.h"
#include "raft/messages.h"
#include "raft/raft.h"
#include "sim/run.h"
#include "sim/state_machine.h"

// Checkers that run continuously while the simulator drives the cluster. Each reports the first
// violation through Run::fail() with the simulated time; the simulator then stops.
namespace raftkv::sim {

// The five safety properties of the Raft paper's Figure 3, checked from the outside: the
// checker sees every node's log through the read-only API and every applied entry.
class SafetyChecker {
 public:
  SafetyChecker(Run& run, const uint64_t& now_us) : run_(run), now_us_(now_us) {}

  // After every input to a node (step, tick, propose, advance...): Election Safety, Leader
  // Append-Only and, when the node just became leader, Leader Completeness. `applied` is the
  // node's state machine position (entries up to it were checked when applied).
  void after_input(NodeId node, const raft::Raft& raft, Index applied);
  // Before the simulator persists `ready`. `stored_last_index` is the durable log's end;
  // `steady_leader` says the node was leader of this term already when its previous Ready
  // finished, so every entry in this one must extend its log (Leader Append-Only).
  void before_persist(NodeId node, const raft::Ready& ready, Index stored_last_index,
                      bool steady_leader, Term term);
  // State Machine Safety: every node applies the same entry at each index.
  void on_apply(NodeId node, const raft::Entry& entry);
  // A node restored its state machine from a snapshot: the snapshot must hold exactly the
  // payloads the cluster applied up to its index.
  void on_restore(NodeId node, const raft::SnapshotMeta& meta,
                  const std::vector<std::string>& payloads);
  void on_crash(NodeId node) { leader_tracks_.erase(node); }
  // A live node for check_logs().
  struct LiveNode {
    NodeId id;
    const raft::Raft* raft;
    Index applied;  // The node's state machine position.
  };
  // Log Matching between every pair of the given nodes, and their committed entries against
  // the applied oracle. Entries a node applied were checked against the oracle then, so only
  // the part of each log above its applied index is read: O(unapplied entries + lag).
  void check_logs(const std::vector<LiveNode>& nodes);

  [[nodiscard]] const std::map<Term, NodeId>& leaders_by_term() const { return leaders_by_term_; }
  [[nodiscard]] Index oracle_last_index() const { return Index{oracle_.size() - 1}; }

 private:
  struct LeaderTrack {
    Term term;
    Index last_index;  // The leader's last index when last seen, and its term.
    Term last_term;
  };
  struct OracleEntry {
    bool present = false;
    raft::Entry entry;
  };

  // A node's log as the checker sees it: the oracle's entries up to `applied`, then `suffix`
  // (the node's own entries (applied, last]).
  struct LogView {
    NodeId id;
    Index applied;
    Index last;
    std::vector<raft::Entry> suffix;
  };

  void fail(const std::string& what);
  void check_leader_completeness(NodeId node, const raft::Raft& raft, Index applied);
  void check_append_only(NodeId node, const raft::Raft& raft, LeaderTrack& track);
  [[nodiscard]] LogView view_of(const LiveNode& node) const;
  [[nodiscard]] const raft::Entry& entry_at(const LogView& view, Index index) const;
  void check_pair(const LogView& a, const LogView& b);
  void check_against_oracle(const LogView& view, Index commit);

  Run& run_;
  const uint64_t& now_us_;
  // Election Safety: the one leader of every term ever seen, across the whole run.
  std::map<Term, NodeId> leaders_by_term_;
  // Nodes currently leading, with what they held when last seen.
  std::map<NodeId, LeaderTrack> leader_tracks_;
  // oracle_[i]: the entry applied at index i by whoever applied it first (slot 0 unused).
  std::vector<OracleEntry> oracle_{1};
  // normal_count_[i]: Normal entries among oracle indexes [1, i]; normals_: their payloads.
  std::vector<uint64_t> normal_count_{0};
  std::vector<std::string> normals_;
};

// The client's side of the history: proposals, which of them were acknowledged as committed,
// and linearizable reads. Payloads are unique, so a duplicate apply is detectable.
class ClientHistory {
 public:
  struct Acked {
    std::string payload;
    Term term;
    Index index;
  };

  ClientHistory(Run& run, const uint64_t& now_us) : run_(run), now_us_(now_us) {}

  [[nodiscard]] std::string new_payload();
  [[nodiscard]] uint64_t new_request_id() { return ++last_request_id_; }

  void on_proposed(NodeId node, const raft::Proposal& proposal, const std::string& payload);
  // Acknowledges a proposal when the node that accepted it applies it with the same term.
  void on_apply(NodeId node, const raft::Entry& entry);
  // Proposals at or below a restored snapshot's index have an unknown outcome.
  void on_restore(NodeId node, Index snapshot_index);
  // The node's client connections die with it: its proposals and reads get no answer.
  void on_crash(NodeId node);

  void on_read_issued(NodeId node, uint64_t request_id);
  // A ReadState must cover every write acknowledged before the read was issued.
  void on_read_released(NodeId node, const raft::ReadState& read_state);
  // The node's state machine reached the read's index: the read observes `state`, which must
  // hold the latest write acknowledged before the read was issued (and so, by State Machine
  // Safety, all earlier ones).
  void on_read_served(NodeId node, uint64_t request_id, const SimStateMachine& state);

  // End of run: every state machine holds the same payloads, none twice, and every
  // acknowledged proposal in index order.
  void check_final(const std::vector<std::pair<NodeId, const SimStateMachine*>>& nodes);

  [[nodiscard]] const std::vector<Acked>& acked() const { return acked_; }
  [[nodiscard]] bool is_acked(const std::string& payload) const {
    return acked_payloads_.contains(payload);
  }
  [[nodiscard]] uint64_t reads_released(NodeId node) const;
  [[nodiscard]] uint64_t reads_released_total() const { return reads_released_total_; }

 private:
  struct Pending {
    Term term;
    std::string payload;
  };
  struct IssuedRead {
    NodeId node;
    Index acked_index_max;  // Highest acknowledged index when the read was issued.
    std::string acked_latest;  // The payload acknowledged at that index ("" if none).
  };

  void fail(const std::string& what);
  void check_same_payloads(NodeId node, const SimStateMachine& state,
                           NodeId reference_node, const SimStateMachine& reference);

  Run& run_;
  const uint64_t& now_us_;
  uint64_t last_payload_ = 0;
  uint64_t last_request_id_ = 0;
  // Proposals waiting for their outcome, per accepting node, by index.
  std::map<NodeId, std::map<Index, Pending>> pending_;
  std::vector<Acked> acked_;
  std::unordered_map<std::string, Index> acked_payloads_;
  Index acked_index_max_;
  std::unordered_map<uint64_t, IssuedRead> issued_reads_;
  std::unordered_map<uint64_t, IssuedRead> released_reads_;  // Waiting to be served.
  std::string acked_latest_;  // Payload of the acknowledged write with the highest index.
  std::map<NodeId, uint64_t> reads_released_;
  uint64_t reads_released_total_ = 0;
};

// "t=12.3" for failure messages and logs.
[[nodiscard]] std::string format_time(uint64_t now_us);

}  // namespace raftkv::sim
