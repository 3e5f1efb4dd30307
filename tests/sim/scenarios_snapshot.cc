// Snapshots (issue 2, §3.9): with compaction on, a node that missed more than the leader
// still holds catches up through InstallSnapshot; a restarted node rebuilds its state machine
// from its own snapshot plus the log after it.
#include <map>

#include "sim/scenario_util.h"
#include "sim/scenarios.h"

namespace raftkv::sim {
namespace {

class SnapshotCounter final : public SimObserver {
 public:
  void on_send(const raft::Message& message, size_t /*copies*/) override {
    if (message.type == raft::MessageType::InstallSnapshot) ++to_node[message.to];
  }
  std::map<NodeId, uint64_t> to_node;
};

// A follower is away (cut off, or down, by seed) while 60 entries commit and every node
// compacts; on return it can only catch up from a snapshot.
void lagging_follower_catches_up_from_snapshot(Run& run) {
  SimOptions options = default_options(3);
  options.snapshot_every_entries = 10;
  options.snapshot_keep_entries = 0;
  Simulator sim(run, options);
  SnapshotCounter snapshots;
  sim.set_observer(&snapshots);
  if (!commit_one(sim, sim.ids(), 10 * kE)) return;
  const std::optional<NodeId> leader = sim.stable_leader();
  if (!leader) return sim.fail("lost the leader on a healthy network");
  Prng prng = scenario_prng(run);
  const NodeId away = pick(prng, without(sim.ids(), {*leader}), 1).front();
  const bool crash = run.seed() % 2 == 0;
  if (crash) {
    sim.crash(away);
  } else {
    sim.network().isolate(away);
  }
  const std::vector<NodeId> rest = without(sim.ids(), {away});
  for (int i = 0; i < 60; ++i) {
    if (!commit_one(sim, rest, 10 * kE)) return;
  }
  if (crash) sim.restart(away);
  sim.network().reconnect(away);
  const std::string last = *sim.machine(rest.front()).payloads().payloads().rbegin();
  if (!sim.run_until([&] { return applied_on(sim, {away}, last); }, 10 * kE)) {
    return sim.fail(node_name(away) + " did not catch up within 10 E of returning");
  }
  if (snapshots.to_node[away] == 0) {
    return sim.fail(node_name(away) + " caught up without an InstallSnapshot");
  }
  run.metric("snapshots_sent", snapshots.to_node[away]);
  sim.converge(50 * kE);
}

// Every node snapshots often and keeps a short log; nodes crash and restart at random while
// writes continue, then all of them crash at once and come back.
void restart_restores_from_own_snapshot(Run& run) {
  SimOptions options = default_options(3);
  options.snapshot_every_entries = 5;
  options.snapshot_keep_entries = 2;
  options.disk_latency_us_max = kTickUs / 5;
  Simulator sim(run, options);
  Prng prng = scenario_prng(run);
  for (int i = 0; i < 30 && !sim.failed(); ++i) {
    if (!commit_one(sim, sim.ids(), 20 * kE)) return;
    if (prng.chance(1, 5)) {
      const NodeId victim = pick(prng, sim.ids(), 1).front();
      sim.crash(victim);
      sim.run_for_us(prng.uniform(0, kE * kTickUs));
      sim.restart(victim);
    }
  }
  for (NodeId id : sim.ids()) sim.crash(id);
  for (NodeId id : sim.ids()) sim.restart(id);
  sim.converge(50 * kE);
}

// The leader is paused (SIGSTOP) again and again while writes pour in, on a slow disk, with
// a snapshot every few entries: each time it resumes deposed, a Ready of its own entries
// still syncing, which the new leader has replaced and committed past. Every node must keep
// running: a paused leader's snapshot once raced the write of those replacements, and the
// storage refused it ("snapshot term differs from the stored entry"), which stopped the node
// (faults_ci; stop 31). The simulator fails a run in which a node stops itself on a healthy
// disk.
void paused_leader_keeps_snapshotting(Run& run) {
  SimOptions options = default_options(3);
  options.snapshot_every_entries = 3;
  options.snapshot_keep_entries = 1;
  options.disk_latency_us_min = kTickUs / 2;
  options.disk_latency_us_max = 3 * kTickUs;
  Simulator sim(run, options);
  Prng prng = scenario_prng(run);
  for (int round = 0; round < 12 && !sim.failed(); ++round) {
    const uint64_t pause_at = sim.now_ticks() + prng.uniform(kE, 2 * kE);
    bool paused = false;
    while (!sim.failed() && sim.now_ticks() < pause_at + 7 * kE) {
      for (NodeId id : sim.leaders()) (void)sim.propose(id, nullptr);
      sim.run_for_us(prng.uniform(kTickUs / 4, kTickUs));
      const std::optional<NodeId> leader = sim.stable_leader();
      if (!paused && leader && sim.now_ticks() >= pause_at) {
        sim.pause(*leader, prng.uniform(3 * kE, 5 * kE) * kTickUs);
        paused = true;
      }
    }
  }
  run.metric("pauses", sim.faults().pauses);
  sim.converge(50 * kE);
}

}  // namespace

void append_snapshot_scenarios(std::vector<Scenario>& out) {
  out.push_back({"snapshot_catch_up", "a lagging follower catches up through InstallSnapshot",
                 lagging_follower_catches_up_from_snapshot});
  out.push_back({"snapshot_restart", "restarted nodes rebuild from their own snapshot and log",
                 restart_restores_from_own_snapshot});
  out.push_back({"snapshot_paused_leader",
                 "a leader paused mid-sync, deposed, keeps snapshotting as it catches up",
                 paused_leader_keeps_snapshotting});
}

}  // namespace raftkv::sim
