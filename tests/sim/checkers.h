#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "common/types.h"
#include "raft/messages.h"
#include "raft/raft.h"
#include "runtime/request.h"
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
  // commit_term_[i]: the term in which index i was first known committed (slot 0 unused).
  // Non-decreasing: a later index commits at the same time or later.
  std::vector<Term> commit_term_{Term{0}};
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

// The client's side of the history, from the answers the runtime gives (runtime/request.h):
// writes of unique payloads and linearizable reads of how many payloads are applied. Checks,
// as answers arrive and at the end:
//   - a write answered Ok was applied (it has a place in the agreed order);
//   - a write answered NotApplied is never applied, anywhere, ever;
//   - a read answered Ok observed a prefix of the agreed order holding every write
//     acknowledged before the read was submitted;
//   - at the end every node holds the same payloads, none twice, every acknowledged one.
// Writes answered MaybeApplied, or lost with their node, may go either way (at most once).
class ClientHistory {
 public:
  ClientHistory(Run& run, const uint64_t& now_us) : run_(run), now_us_(now_us) {}

  [[nodiscard]] std::string new_payload();

  // A node applied `entry`; for a Normal entry `position` is its place in the node's payload
  // list (every node agrees on it, which SafetyChecker checks).
  void on_apply(const raft::Entry& entry, size_t position);

  void on_write_submitted(const std::string& payload);
  void on_write_done(const std::string& payload, const runtime::Response& response);
  // No answer will come (the node it went to crashed): the outcome stays unknown.
  void on_write_lost(const std::string& payload);
  // Returns the read's id for on_read_done().
  [[nodiscard]] uint64_t on_read_submitted(NodeId node);
  void on_read_done(uint64_t read, const runtime::Response& response);
  void on_read_lost(uint64_t read);

  void check_final(const std::vector<std::pair<NodeId, const SimStateMachine*>>& nodes);

  [[nodiscard]] const std::vector<std::string>& acked() const { return acked_; }
  [[nodiscard]] bool is_acked(const std::string& payload) const {
    return acked_set_.contains(payload);
  }
  [[nodiscard]] uint64_t failed_writes() const { return failed_.size(); }
  [[nodiscard]] uint64_t reads_served(NodeId node) const;
  [[nodiscard]] uint64_t reads_served_total() const { return reads_served_total_; }

 private:
  struct PendingRead {
    NodeId node;
    uint64_t required = 0;  // Payloads the read must see: every one acknowledged before it.
  };

  void fail(const std::string& what);
  void check_same_payloads(NodeId node, const SimStateMachine& state,
                           NodeId reference_node, const SimStateMachine& reference);

  Run& run_;
  const uint64_t& now_us_;
  uint64_t last_payload_ = 0;
  uint64_t last_read_ = 0;
  // Every applied payload's place in the agreed order.
  std::unordered_map<std::string, size_t> position_;
  std::unordered_set<std::string> pending_writes_;
  std::vector<std::string> acked_;
  std::unordered_set<std::string> acked_set_;
  std::unordered_set<std::string> failed_;  // Answered NotApplied.
  // Payloads a read must see: one past the latest acknowledged write's position.
  uint64_t acked_prefix_ = 0;
  std::unordered_map<uint64_t, PendingRead> reads_;
  std::map<NodeId, uint64_t> reads_served_;
  uint64_t reads_served_total_ = 0;
};

// "t=12.3" for failure messages and logs.
[[nodiscard]] std::string format_time(uint64_t now_us);

}  // namespace raftkv::sim
