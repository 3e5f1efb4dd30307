// Leadership transfer and ReadIndex reads (issue 2, §3.7).
#include <sstream>

#include "sim/scenario_util.h"
#include "sim/scenarios.h"

namespace raftkv::sim {
namespace {

// Asks `leader` to hand over to `target` and waits for `target` to lead; ticks taken or nullopt.
std::optional<uint64_t> transfer(Simulator& sim, NodeId leader, NodeId target) {
  Status status = sim.transfer_leadership(leader, target);
  if (!status.is_ok()) {
    sim.fail("transfer_leadership to " + node_name(target) + " refused: " + status.to_string());
    return std::nullopt;
  }
  const uint64_t start = sim.now_ticks();
  if (!sim.run_until([&] { return sim.stable_leader() == target; }, 2 * kE)) {
    if (!sim.failed()) sim.fail("leadership did not move to " + node_name(target) + " within 2 E");
    return std::nullopt;
  }
  return sim.now_ticks() - start;
}

void transfer_to_caught_up_follower(Run& run) {
  Simulator sim(run, default_options(run.seed() % 2 == 0 ? 3 : 5));
  for (int i = 0; i < 3; ++i) {
    if (!commit_one(sim, sim.ids(), 10 * kE)) return;
  }
  sim.run_for_ticks(2);  // Every follower acknowledged everything.
  const std::optional<NodeId> leader = sim.stable_leader();
  if (!leader) return sim.fail("lost the leader on a healthy network");
  Prng prng = scenario_prng(run);
  const NodeId target = pick(prng, without(sim.ids(), {*leader}), 1).front();
  const std::optional<uint64_t> ticks = transfer(sim, *leader, target);
  if (!ticks) return;
  run.metric("transfer_ticks", *ticks);
  if (!commit_one(sim, sim.ids(), 10 * kE)) return;
  sim.converge(50 * kE);
}

// The target missed 20 entries: the leader catches it up first, then hands over.
void transfer_to_lagging_follower(Run& run) {
  Simulator sim(run, default_options(run.seed() % 2 == 0 ? 3 : 5));
  const std::optional<NodeId> leader = sim.wait_for_leader(10 * kE);
  if (!leader) return sim.fail("no single leader within 10 E");
  Prng prng = scenario_prng(run);
  const NodeId target = pick(prng, without(sim.ids(), {*leader}), 1).front();
  sim.network().isolate(target);
  for (int i = 0; i < 20; ++i) {
    if (!commit_one(sim, without(sim.ids(), {target}), 10 * kE)) return;
  }
  sim.network().reconnect(target);
  const std::optional<NodeId> current = sim.stable_leader(without(sim.ids(), {target}));
  if (!current) return sim.fail("lost the leader on a healthy network");
  const Index behind = sim.raft(*current).log().last_index();
  const Index target_last = sim.raft(target).log().last_index();
  const std::optional<uint64_t> ticks = transfer(sim, *current, target);
  if (!ticks) return;
  run.metric("lagging_transfer_ticks", *ticks);
  run.metric("lagging_entries", behind - target_last);
  if (!commit_one(sim, sim.ids(), 10 * kE)) return;
  sim.converge(50 * kE);
}

// A leader cut off with a minority keeps answering read_index() until CheckQuorum deposes it,
// but it must never release one: it cannot confirm its leadership with a quorum.
void deposed_leader_never_releases_reads(Run& run) {
  Simulator sim(run, default_options(5));
  if (!commit_one(sim, sim.ids(), 10 * kE)) return;
  const std::optional<NodeId> leader = sim.stable_leader();
  if (!leader) return sim.fail("lost the leader on a healthy network");
  Prng prng = scenario_prng(run);
  const std::vector<NodeId> minority = {*leader,
                                        pick(prng, without(sim.ids(), {*leader}), 1).front()};
  const std::vector<NodeId> majority = without(sim.ids(), minority);
  const uint64_t released_before = sim.history().reads_served(*leader);
  sim.network().partition(minority, majority);
  uint64_t issued = 0;
  (void)sim.propose(*leader, nullptr);
  for (uint64_t tick = 0; tick < 10 * kE && !sim.failed(); ++tick) {
    if (sim.read(*leader).is_ok()) ++issued;
    sim.run_for_us(prng.uniform(0, kTickUs));
    if (sim.history().reads_served(*leader) != released_before) {
      return sim.fail("a leader cut off with a minority released a read");
    }
  }
  if (issued == 0) return sim.fail("the partitioned leader refused every read at once");
  if (!commit_one(sim, majority, 10 * kE)) return;
  if (!sim.converge(50 * kE)) return;
  if (sim.history().reads_served(*leader) != released_before) {
    return sim.fail("a read issued to a deposed leader was released after healing");
  }
  run.metric("reads_refused_or_dropped", issued);
}

// Writes are acknowledged, the leader is lost (crashed or cut off), and reads on the new
// leader must see every acknowledged write; the new leader may release them only after its
// term's first entry committed.
void reads_after_leader_change(Run& run) {
  Simulator sim(run, default_options(run.seed() % 2 == 0 ? 3 : 5));
  Prng prng = scenario_prng(run);
  for (int round = 0; round < 5 && !sim.failed(); ++round) {
    for (int i = 0; i < 3; ++i) {
      if (!commit_one(sim, sim.ids(), 10 * kE)) return;
    }
    const std::optional<NodeId> old_leader = sim.stable_leader();
    if (!old_leader) return sim.fail("lost the leader on a healthy network");
    (void)sim.read(*old_leader);
    const bool crash = prng.chance(1, 2);
    if (crash) {
      sim.crash(*old_leader);
    } else {
      sim.network().isolate(*old_leader);
    }
    const std::vector<NodeId> rest = without(sim.ids(), {*old_leader});
    const uint64_t released = sim.history().reads_served_total();
    // A read to whoever leads, once a tick, as soon as anyone does.
    uint64_t last_issue_us = 0;
    const bool served = sim.run_until(
        [&] {
          if (sim.now_us() >= last_issue_us + kTickUs) {
            last_issue_us = sim.now_us();
            for (NodeId id : sim.leaders()) {
              if (id != *old_leader) (void)sim.read(id);
            }
          }
          return sim.history().reads_served_total() > released;
        },
        10 * kE);
    if (!served && !sim.failed()) {
      return sim.fail("no read served within 10 E of losing the leader");
    }
    if (crash) sim.restart(*old_leader);
    sim.network().reconnect(*old_leader);
    sim.run_for_ticks(prng.uniform(0, kE));
  }
  sim.converge(50 * kE);
}

}  // namespace

void append_client_scenarios(std::vector<Scenario>& out) {
  out.push_back({"transfer_caught_up", "leadership moves to an up-to-date follower",
                 transfer_to_caught_up_follower});
  out.push_back({"transfer_lagging", "leadership moves to a follower 20 entries behind",
                 transfer_to_lagging_follower});
  out.push_back({"read_deposed_leader", "a leader cut off with a minority releases no read",
                 deposed_leader_never_releases_reads});
  out.push_back({"reads_after_leader_change", "reads on a new leader see acknowledged writes",
                 reads_after_leader_change});
}

}  // namespace raftkv::sim
