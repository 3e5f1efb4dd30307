// Log agreement (issue 2, §3.4): commits with and without followers, never without a quorum,
// concurrent proposals, overwriting a deposed leader's entries, and fast log backtracking.
#include <map>
#include <sstream>

#include "sim/scenario_util.h"
#include "sim/scenarios.h"

namespace raftkv::sim {
namespace {

void basic_agreement(Run& run) {
  Simulator sim(run, default_options(run.seed() % 2 == 0 ? 3 : 5));
  for (int i = 0; i < 10; ++i) {
    if (!commit_one(sim, sim.ids(), 10 * kE)) return;
  }
  sim.converge(50 * kE);
}

void commits_with_one_follower_away(Run& run) {
  Simulator sim(run, default_options(3));
  const std::optional<std::string> first = commit_one(sim, sim.ids(), 10 * kE);
  if (!first) return;
  const std::optional<NodeId> leader = sim.stable_leader();
  if (!leader) return sim.fail("lost the leader right after a commit");
  Prng prng = scenario_prng(run);
  const NodeId away = pick(prng, without(sim.ids(), {*leader}), 1).front();
  sim.network().isolate(away);
  const std::vector<NodeId> rest = without(sim.ids(), {away});
  for (int i = 0; i < 5; ++i) {
    if (!commit_one(sim, rest, 10 * kE)) return;
  }
  sim.network().reconnect(away);
  if (!commit_one(sim, sim.ids(), 10 * kE)) return;
  sim.converge(50 * kE);
}

// An entry proposed to a leader cut off with a minority is never committed, anywhere, ever.
void minority_leader_cannot_commit(Run& run) {
  Simulator sim(run, default_options(5));
  if (!commit_one(sim, sim.ids(), 10 * kE)) return;
  const std::optional<NodeId> leader = sim.stable_leader();
  if (!leader) return sim.fail("lost the leader right after a commit");
  Prng prng = scenario_prng(run);
  const NodeId buddy = pick(prng, without(sim.ids(), {*leader}), 1).front();
  const std::vector<NodeId> minority = {*leader, buddy};
  const std::vector<NodeId> majority = without(sim.ids(), minority);
  sim.network().partition(minority, majority);
  std::vector<std::string> doomed;
  for (int i = 0; i < 3; ++i) {
    std::string payload;
    if (sim.propose(*leader, &payload).is_ok()) doomed.push_back(payload);
  }
  if (doomed.empty()) return sim.fail("the partitioned leader refused every proposal");
  auto any_doomed_applied = [&] {
    for (const std::string& payload : doomed) {
      if (sim.applied_anywhere(payload)) return true;
    }
    return false;
  };
  if (sim.run_until(any_doomed_applied, 10 * kE)) {
    return sim.fail("an entry proposed to a minority leader was committed");
  }
  if (!commit_one(sim, majority, 10 * kE)) return;
  if (!sim.converge(50 * kE)) return;
  if (any_doomed_applied()) return sim.fail("a minority leader's entry committed after healing");
}

// Many proposals in the same instant, to the leader and (refused) to followers: all commit,
// in the order the leader accepted them.
void concurrent_proposals_all_commit(Run& run) {
  Simulator sim(run, default_options(run.seed() % 2 == 0 ? 3 : 5));
  const std::optional<NodeId> leader = sim.wait_for_leader(10 * kE);
  if (!leader) return sim.fail("no single leader within 10 E");
  std::vector<std::string> accepted;
  for (int i = 0; i < 50; ++i) {
    for (NodeId id : sim.ids()) {
      std::string payload;
      Status proposal = sim.propose(id, &payload);
      if (proposal.is_ok() != (id == *leader)) {
        return sim.fail(node_name(id) + " answered a proposal wrongly for its role");
      }
      if (proposal.is_ok()) accepted.push_back(payload);
    }
  }
  if (!sim.run_until([&] { return applied_on(sim, sim.ids(), accepted.back()); }, 10 * kE)) {
    return sim.fail("50 concurrent proposals did not all commit within 10 E");
  }
  for (NodeId id : sim.ids()) {
    const std::vector<std::string>& applied = sim.machine(id).payloads().payloads();
    std::vector<std::string> mine(applied.end() - static_cast<ptrdiff_t>(accepted.size()),
                                  applied.end());
    if (applied.size() < accepted.size() || mine != accepted) {
      return sim.fail(node_name(id) + " applied the concurrent proposals out of order");
    }
  }
  sim.converge(50 * kE);
}

// 6.824's TestRejoin: a leader cut off keeps three uncommitted entries; the others move on;
// when it returns, its entries are overwritten and never applied.
void rejoined_leader_entries_overwritten(Run& run) {
  Simulator sim(run, default_options(3));
  if (!commit_one(sim, sim.ids(), 10 * kE)) return;
  const std::optional<NodeId> leader1 = sim.stable_leader();
  if (!leader1) return sim.fail("lost the leader right after a commit");
  sim.network().isolate(*leader1);
  std::vector<std::string> doomed;
  for (int i = 0; i < 3; ++i) {
    std::string payload;
    if (sim.propose(*leader1, &payload).is_ok()) doomed.push_back(payload);
  }
  const std::vector<NodeId> rest = without(sim.ids(), {*leader1});
  if (!commit_one(sim, rest, 10 * kE)) return;
  const std::optional<NodeId> leader2 = sim.stable_leader(rest);
  if (!leader2) return sim.fail("lost the new leader right after a commit");
  sim.network().isolate(*leader2);
  sim.network().reconnect(*leader1);
  if (!commit_one(sim, without(sim.ids(), {*leader2}), 10 * kE)) return;
  sim.network().reconnect(*leader2);
  if (!commit_one(sim, sim.ids(), 10 * kE)) return;
  if (!sim.converge(50 * kE)) return;
  for (const std::string& payload : doomed) {
    if (sim.applied_anywhere(payload)) {
      return sim.fail("the deposed leader's uncommitted entry " + payload + " was applied");
    }
  }
}

// Counts rejected AppendResponses per sender.
class RejectionCounter final : public SimObserver {
 public:
  void on_send(const raft::Message& message, size_t /*copies*/) override {
    if (message.type == raft::MessageType::AppendResponse && message.reject) {
      ++by_node[message.from];
    }
  }
  std::map<NodeId, uint64_t> by_node;
};

// Proposes `count` entries to `leader` without waiting for them to commit.
void propose_many(Simulator& sim, NodeId leader, int count) {
  for (int i = 0; i < count; ++i) (void)sim.propose(leader, nullptr);
}

// 6.824's TestBackup: two rounds of 50 conflicting uncommitted entries on nodes that then
// rejoin; the leader must repair each divergent follower in a few rejected round trips
// (fast backtracking by term), not one per entry.
void fast_backup_repairs_divergent_followers(Run& run) {
  Simulator sim(run, default_options(5));
  RejectionCounter rejections;
  sim.set_observer(&rejections);
  Prng prng = scenario_prng(run);
  if (!commit_one(sim, sim.ids(), 10 * kE)) return;
  const std::optional<NodeId> first_leader = sim.stable_leader();
  if (!first_leader) return sim.fail("lost the leader right after a commit");
  const NodeId leader1 = *first_leader;
  const NodeId buddy1 = pick(prng, without(sim.ids(), {leader1}), 1).front();
  const std::vector<NodeId> group1 = {leader1, buddy1};
  const std::vector<NodeId> others = without(sim.ids(), group1);
  sim.network().partition(group1, others);
  propose_many(sim, leader1, 50);  // Uncommitted: only a minority holds them.
  sim.run_for_ticks(kE / 2);
  for (NodeId id : group1) sim.network().isolate(id);
  for (int i = 0; i < 50; ++i) {
    if (!commit_one(sim, others, 10 * kE)) return;
  }
  const std::optional<NodeId> second_leader = sim.stable_leader(others);
  if (!second_leader) return sim.fail("lost the majority's leader right after a commit");
  const NodeId leader2 = *second_leader;
  const NodeId other = pick(prng, without(others, {leader2}), 1).front();
  const std::vector<NodeId> group2 = without(others, {other});  // leader2 and one more.
  sim.network().heal();
  for (NodeId id : group2) sim.network().isolate(id);
  propose_many(sim, leader2, 50);
  sim.run_for_ticks(kE / 2);
  // group1 (50 stale entries of an old term) rejoins `other`, which holds the committed ones.
  // The repair is measured from the rejoin until the rejoining nodes applied the first new
  // entry (so their conflicting suffix was replaced); later rejections come from reordered
  // Appends of an ordinary pipeline, not from backtracking.
  const std::vector<NodeId> majority = {leader1, buddy1, other};
  rejections.by_node.clear();
  if (!commit_one(sim, majority, 10 * kE)) return;
  uint64_t worst = std::max(rejections.by_node[leader1], rejections.by_node[buddy1]);
  for (int i = 1; i < 50; ++i) {
    if (!commit_one(sim, majority, 10 * kE)) return;
  }
  sim.network().heal();  // group2's 50 entries of leader2's term are overwritten in turn.
  rejections.by_node.clear();
  if (!commit_one(sim, sim.ids(), 10 * kE)) return;
  for (NodeId id : group2) worst = std::max(worst, rejections.by_node[id]);
  if (!sim.converge(50 * kE)) return;
  run.metric("rejections_per_repair_max", worst);
  if (worst > 10) {
    return sim.fail("repairing a divergent follower took " + std::to_string(worst) +
                    " rejected Appends (bound 10): backtracking is not fast");
  }
}

// A write commits only once a follower's copy is durable: with both followers' syncs taking
// 5 ticks and the leader's disk instant, no write is acknowledged sooner than 5 ticks after it
// was sent. A follower syncs a small Ready on its loop (Node::sync_on_loop), blocking the
// process, and its acknowledgement leaves only after the sync, as in the server.
void follower_sync_on_write_path(Run& run) {
  Simulator sim(run, default_options(3));
  const std::optional<NodeId> leader = sim.wait_for_leader(10 * kE);
  if (!leader) return sim.fail("no single leader within 10 E");
  constexpr uint64_t kSyncUs = 5 * kTickUs;
  for (NodeId follower : without(sim.ids(), {*leader})) {
    sim.set_disk_faults(follower, DiskFaults{.stall_per_mille = 1000, .stall_us = kSyncUs});
  }
  uint64_t fastest_us = UINT64_MAX;
  for (int i = 0; i < 5 && !sim.failed(); ++i) {
    const uint64_t sent_us = sim.now_us();
    std::optional<uint64_t> answered_us;
    runtime::Outcome outcome = runtime::Outcome::NotApplied;
    const Status status = sim.write(*leader, 16, [&](const runtime::Response& response) {
      answered_us = sim.now_us();
      outcome = response.outcome;
    }, nullptr);
    if (!status.is_ok()) return sim.fail("the write was not submitted: " + status.to_string());
    if (!sim.run_until([&] { return answered_us.has_value(); }, 10 * kE)) {
      return sim.fail("a write was not answered within 10 E");
    }
    if (outcome != runtime::Outcome::Ok) return sim.fail("a write was not applied");
    fastest_us = std::min(fastest_us, *answered_us - sent_us);
  }
  if (sim.failed()) return;
  if (fastest_us < kSyncUs) {
    return sim.fail("a write was acknowledged " + std::to_string(fastest_us) +
                    " us after it was sent, before any follower's sync of " +
                    std::to_string(kSyncUs) + " us could finish");
  }
  run.metric("fastest_write_us", fastest_us);
  sim.converge(50 * kE);
}

}  // namespace

void append_agreement_scenarios(std::vector<Scenario>& out) {
  out.push_back({"basic_agreement", "10 entries commit one by one on every node",
                 basic_agreement});
  out.push_back({"follower_away", "commits continue with one follower cut off, which catches up",
                 commits_with_one_follower_away});
  out.push_back({"no_quorum_no_commit", "a minority leader's entries never commit",
                 minority_leader_cannot_commit});
  out.push_back({"concurrent_proposals", "50 simultaneous proposals all commit in order",
                 concurrent_proposals_all_commit});
  out.push_back({"rejoin", "a deposed leader's uncommitted entries are overwritten",
                 rejoined_leader_entries_overwritten});
  out.push_back({"fast_backup", "2 x 50 conflicting entries repaired in a few round trips",
                 fast_backup_repairs_divergent_followers});
  out.push_back({"follower_sync_on_path", "no write is acknowledged before a follower's sync",
                 follower_sync_on_write_path});
}

}  // namespace raftkv::sim
