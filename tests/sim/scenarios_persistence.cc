// Persistence (issue 2, §3.6): crashes at any moment lose only what was not persisted; the
// Figure 8 scenario; long runs on an unreliable network with churn.
#include <sstream>

#include "sim/scenario_util.h"
#include "sim/scenarios.h"

namespace raftkv::sim {
namespace {

// A disk that takes up to 0.3 tick per Ready: crashes land between send and persist.
SimOptions crashy_options(uint32_t nodes) {
  SimOptions options = default_options(nodes);
  options.disk_latency_us_max = 3 * kTickUs / 10;
  return options;
}

// Proposes to every up node that believes it leads (as 6.824 does): the ones that are not
// really leaders any more exercise the "failed proposal" path.
void propose_to_all_leaders(Simulator& sim) {
  for (NodeId id : sim.leaders()) (void)sim.propose(id, nullptr);
}

size_t up_count(const Simulator& sim) {
  size_t up = 0;
  for (NodeId id : sim.ids()) up += sim.is_up(id) ? 1U : 0U;
  return up;
}

// Any node crashes and restarts at any moment, repeatedly, while clients write and read.
void crash_restart_any_node(Run& run) {
  SimOptions options = crashy_options(run.seed() % 2 == 0 ? 3 : 5);
  if (run.seed() % 4 < 2) {  // Half the seeds restart from snapshots with a short log tail.
    options.snapshot_every_entries = 8;
    options.snapshot_keep_entries = 3;
  }
  Simulator sim(run, options);
  Prng prng = scenario_prng(run);
  const uint64_t end = 60 * kE * run.scale();
  while (!sim.failed() && sim.now_ticks() < end) {
    sim.run_for_us(prng.uniform(0, 2 * kE * kTickUs));
    propose_to_all_leaders(sim);
    for (NodeId id : sim.leaders()) (void)sim.read(id);
    const NodeId victim = pick(prng, sim.ids(), 1).front();
    if (sim.is_up(victim)) {
      sim.crash(victim);
    } else {
      sim.restart(victim);
    }
  }
  sim.converge(100 * kE);
}

struct Figure8Options {
  bool unreliable = false;
  uint64_t rounds = 1000;
};

// The Figure 8 scenario after MIT 6.824's TestFigure8(Unreliable), in logical time: propose to
// the leader, wait a random while, crash the leader half the time, keep at least 3 of 5 up.
// Leaders come and go with entries of many terms half-replicated; the commit rule of Raft
// §5.4.2 must keep every acknowledged entry.
void figure8_run(Run& run, const Figure8Options& figure8) {
  // As in 6.824, messages are fast next to the pace of the rounds (here 0.02-0.2 tick), so a
  // leader often commits before it is crashed; the unreliable variant adds loss, duplicates
  // and a long tail of slow messages.
  SimOptions options = default_options(5);
  options.network.delay_us_min = kTickUs / 50;
  options.network.delay_us_max = kTickUs / 5;
  options.disk_latency_us_max = kTickUs / 10;
  if (figure8.unreliable) {
    options.network.drop_per_mille = 100;
    options.network.duplicate_per_mille = 50;
    options.network.delay_us_max = 2 * kTickUs;
  }
  Simulator sim(run, options);
  Prng prng = scenario_prng(run);
  const uint64_t rounds = figure8.rounds * run.scale();
  for (uint64_t round = 0; round < rounds && !sim.failed(); ++round) {
    propose_to_all_leaders(sim);
    // Mostly less than a heartbeat interval, sometimes up to half an election timeout.
    const uint64_t sleep_max = prng.chance(1, 10) ? kE * kTickUs / 2 : kTickUs;
    sim.run_for_us(prng.uniform(0, sleep_max));
    const std::vector<NodeId> leaders = sim.leaders();
    if (!leaders.empty() && prng.chance(1, 2)) sim.crash(leaders.front());
    if (up_count(sim) < 3) sim.restart(pick(prng, sim.ids(), 1).front());
  }
  run.metric("terms", sim.safety().leaders_by_term().size());
  run.metric("acked_writes", sim.history().acked().size());
  sim.converge(100 * kE);
}

void figure8(Run& run) { figure8_run(run, Figure8Options{}); }

void figure8_unreliable(Run& run) { figure8_run(run, Figure8Options{.unreliable = true}); }

// One random fault: crash, restart, partition, isolate, cut one way, hand leadership over,
// pause (SIGSTOP), or heal.
void random_fault(Simulator& sim, Prng& prng) {
  const std::vector<NodeId> ids = sim.ids();
  const NodeId node = pick(prng, ids, 1).front();
  switch (prng.uniform(0, 7)) {
    case 0: sim.crash(node); break;
    case 1: sim.restart(node); break;
    case 2: {
      const std::vector<NodeId> group = pick(prng, ids, prng.uniform(1, ids.size() / 2));
      sim.network().partition(group, without(ids, group));
      break;
    }
    case 3: sim.network().isolate(node); break;
    case 4: {
      const NodeId other = pick(prng, without(ids, {node}), 1).front();
      sim.network().cut_one_way(node, other);
      break;
    }
    case 5:
      for (NodeId leader : sim.leaders()) {
        if (leader != node) (void)sim.transfer_leadership(leader, node);
      }
      break;
    case 6: sim.pause(node, prng.uniform(kE / 2, 4 * kE) * kTickUs); break;
    default:
      sim.network().heal();
      for (NodeId id : ids) sim.restart(id);
      break;
  }
}

// A long run on a lossy, duplicating, reordering network with a fault every few E, clients
// writing and reading all along; half the seeds also snapshot and compact.
void unreliable_network_with_churn(Run& run) {
  SimOptions options = crashy_options(5);
  options.network.drop_per_mille = 50;
  options.network.duplicate_per_mille = 50;
  options.network.delay_us_min = kTickUs / 20;
  options.network.delay_us_max = 2 * kTickUs;
  // Knobs drawn per seed: compaction, small messages and windows (many Appends per batch,
  // flow control), a slow disk (commits overtaking the leader's own persist).
  Prng knobs(run.seed() ^ 0x6b6e6f6273ULL);
  if (knobs.chance(1, 2)) {
    options.snapshot_every_entries = 20;
    options.snapshot_keep_entries = 5;
  }
  if (knobs.chance(1, 3)) options.message_bytes_max = 100;
  if (knobs.chance(1, 3)) options.inflight_messages_max = 2;
  if (knobs.chance(1, 3)) options.disk_latency_us_max = 2 * kTickUs;
  Simulator sim(run, options);
  Prng prng = scenario_prng(run);
  // A client action every 1.5 ticks on average keeps the cost per seed low enough for 200
  // seeds under sanitizers; faults, not load, are what this scenario is about.
  const uint64_t end = 100 * kE * run.scale();
  uint64_t next_fault = prng.uniform(kE, 4 * kE);
  while (!sim.failed() && sim.now_ticks() < end) {
    sim.run_for_us(prng.uniform(0, 3 * kTickUs));
    propose_to_all_leaders(sim);
    if (prng.chance(1, 2)) {
      for (NodeId id : sim.leaders()) (void)sim.read(id);
    }
    if (sim.now_ticks() >= next_fault) {
      random_fault(sim, prng);
      next_fault = sim.now_ticks() + prng.uniform(kE, 4 * kE);
    }
  }
  run.metric("acked_writes", sim.history().acked().size());
  run.metric("reads_released", sim.history().reads_served_total());
  sim.converge(200 * kE);
}

}  // namespace

void append_persistence_scenarios(std::vector<Scenario>& out) {
  out.push_back({"crash_restart", "any node crashes and restarts at any moment, repeatedly",
                 crash_restart_any_node});
  out.push_back({"figure8", "5 nodes, 1000 rounds: propose, wait, crash the leader", figure8});
  out.push_back({"figure8_unreliable", "figure8 on a lossy, duplicating, slow network",
                 figure8_unreliable});
  out.push_back({"unreliable_churn", "lossy network, random crash/restart/partition every few E",
                 unreliable_network_with_churn});
}

}  // namespace raftkv::sim
