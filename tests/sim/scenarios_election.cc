// Elections (issue 2, §3.1-3.3): one leader, re-election, PreVote/CheckQuorum keeping a
// rejoining or isolated node from disturbing the cluster, no leader without a quorum.
#include <algorithm>
#include <memory>
#include <optional>
#include <sstream>

#include "sim/scenario_util.h"
#include "sim/scenarios.h"

namespace raftkv::sim {
namespace {

// Alternate 3- and 5-node clusters across seeds.
uint32_t small_cluster(const Run& run) { return run.seed() % 2 == 0 ? 3 : 5; }

void initial_election(Run& run) {
  Simulator sim(run, default_options(small_cluster(run)));
  if (!sim.wait_for_leader(10 * kE)) return sim.fail("no single leader within 10 E");
  run.metric("ticks_to_leader", sim.now_ticks());
}

// With a healthy network, nothing may change for 100 E: same leader, same term, every other
// node a follower all along. The disk is instant, so every role change (even one reverted
// before the next tick) surfaces as a Ready's SoftState and is counted.
void healthy_cluster_keeps_leader(Run& run) {
  Simulator sim(run, default_options(small_cluster(run)));
  const std::optional<NodeId> leader = sim.wait_for_leader(10 * kE);
  if (!leader) return sim.fail("no single leader within 10 E");
  const Term term = sim.raft(*leader).term();
  const uint64_t changes = sim.soft_state_changes();
  sim.run_for_ticks(100 * kE);
  if (sim.failed()) return;
  if (sim.soft_state_changes() != changes) {
    return sim.fail(std::to_string(sim.soft_state_changes() - changes) +
                    " role or leader changes on a healthy network");
  }
  for (NodeId id : sim.ids()) {
    if (sim.raft(id).term() != term) return sim.fail("the term changed on a healthy network");
  }
  if (sim.stable_leader() != leader) return sim.fail("the leader changed on a healthy network");
}

void leader_loss_elects_new_leader(Run& run) {
  Simulator sim(run, default_options(small_cluster(run)));
  const std::optional<NodeId> old_leader = sim.wait_for_leader(10 * kE);
  if (!old_leader) return sim.fail("no single leader within 10 E");
  sim.network().isolate(*old_leader);
  const uint64_t start = sim.now_ticks();
  const std::optional<NodeId> leader =
      sim.wait_for_leader(10 * kE, without(sim.ids(), {*old_leader}));
  if (!leader) return sim.fail("no new leader within 10 E of isolating the old one");
  run.metric("ticks_to_new_leader", sim.now_ticks() - start);
}

// A crashed leader's connections close, and the followers campaign after a short random
// delay (Raft::report_peer_down) instead of waiting out the lease and a whole election
// timeout: a new leader well within the 10 E other elections get, split votes included.
void leader_crash_fast_failover(Run& run) {
  Simulator sim(run, default_options(small_cluster(run)));
  const std::optional<NodeId> old_leader = sim.wait_for_leader(10 * kE);
  if (!old_leader) return sim.fail("no single leader within 10 E");
  Prng prng = scenario_prng(run);
  sim.run_for_ticks(prng.uniform(0, kE));  // Anywhere in the heartbeat cycle.
  sim.crash(*old_leader);
  const uint64_t start = sim.now_ticks();
  const std::optional<NodeId> leader =
      sim.wait_for_leader(10 * kE, without(sim.ids(), {*old_leader}));
  if (!leader) return sim.fail("no new leader within 10 E of the leader's crash");
  run.metric("ticks_to_new_leader_after_crash", sim.now_ticks() - start);
}

// A follower whose connection from a live leader drops campaigns early, but PreVote fails at
// the voters still hearing the leader: no term is spent and the leader keeps its place.
void dropped_connection_does_not_disturb(Run& run) {
  Simulator sim(run, default_options(small_cluster(run)));
  const std::optional<NodeId> leader = sim.wait_for_leader(10 * kE);
  if (!leader) return sim.fail("no single leader within 10 E");
  const Term term = sim.raft(*leader).term();
  const std::vector<NodeId> followers = without(sim.ids(), {*leader});
  Prng prng = scenario_prng(run);
  const NodeId flapping = followers[prng.uniform(0, followers.size() - 1)];
  for (int round = 0; round < 20; ++round) {
    sim.connection_closed(flapping, *leader);
    sim.run_for_ticks(prng.uniform(1, 2 * kE));
  }
  sim.run_for_ticks(kE);  // A heartbeat reminds the follower who leads.
  if (sim.failed()) return;
  for (NodeId id : sim.ids()) {
    if (sim.raft(id).term() != term) return sim.fail("a dropped connection changed the term");
  }
  if (sim.stable_leader() != leader) return sim.fail("a dropped connection moved the leader");
}

// The old leader comes back: PreVote and CheckQuorum keep it from bumping the term, and the
// new leader stays leader.
void rejoining_leader_does_not_disturb(Run& run) {
  Simulator sim(run, default_options(small_cluster(run)));
  const std::optional<NodeId> old_leader = sim.wait_for_leader(10 * kE);
  if (!old_leader) return sim.fail("no single leader within 10 E");
  sim.network().isolate(*old_leader);
  const std::vector<NodeId> rest = without(sim.ids(), {*old_leader});
  const std::optional<NodeId> leader = sim.wait_for_leader(10 * kE, rest);
  if (!leader) return sim.fail("no new leader within 10 E");
  if (!commit_one(sim, rest, 10 * kE)) return;
  sim.run_for_ticks(scenario_prng(run).uniform(0, 3 * kE));  // The old one may step down.
  const Term term = sim.raft(*leader).term();
  sim.network().reconnect(*old_leader);
  const bool disturbed = sim.run_until(
      [&] {
        if (sim.raft(*leader).role() != raft::Role::Leader) return true;
        for (NodeId id : sim.ids()) {
          if (sim.raft(id).term() > term) return true;
        }
        return false;
      },
      10 * kE);
  if (sim.failed()) return;
  if (disturbed) return sim.fail("the rejoining old leader disturbed the new leader");
  if (sim.stable_leader() != leader) {
    return sim.fail("the old leader did not follow the new one within 10 E of rejoining");
  }
  sim.converge(50 * kE);
}

// A follower cut off from everyone never elects itself and, thanks to PreVote, never even
// raises its term; the rest of the cluster keeps its leader.
void isolated_follower_cannot_elect_itself(Run& run) {
  Simulator sim(run, default_options(small_cluster(run)));
  const std::optional<NodeId> leader = sim.wait_for_leader(10 * kE);
  if (!leader) return sim.fail("no single leader within 10 E");
  Prng prng = scenario_prng(run);
  const NodeId lone = pick(prng, without(sim.ids(), {*leader}), 1).front();
  const Term term = sim.raft(lone).term();
  sim.network().isolate(lone);
  const bool disturbed = sim.run_until(
      [&] {
        const raft::Raft& raft = sim.raft(lone);
        return raft.role() == raft::Role::Leader || raft.role() == raft::Role::Candidate ||
               raft.term() != term || sim.raft(*leader).role() != raft::Role::Leader;
      },
      20 * kE);
  if (sim.failed()) return;
  if (disturbed) {
    return sim.fail("isolated " + node_name(lone) +
                    " became candidate/leader or changed the term, or the leader lost office");
  }
  sim.converge(50 * kE);
}

// Three nodes, two cut off: nobody may lead (the old leader steps down by CheckQuorum); once
// two can talk again, a leader returns.
void no_leader_without_quorum(Run& run) {
  Simulator sim(run, default_options(3));
  const std::optional<NodeId> leader = sim.wait_for_leader(10 * kE);
  if (!leader) return sim.fail("no single leader within 10 E");
  Prng prng = scenario_prng(run);
  const std::vector<NodeId> cut = pick(prng, sim.ids(), 2);
  for (NodeId id : cut) sim.network().isolate(id);
  // CheckQuorum: a leader that hears from no quorum for an election timeout steps down.
  if (!sim.run_until([&] { return sim.leaders().empty(); }, 3 * kE)) {
    return sim.fail("a leader without a quorum did not step down within 3 E");
  }
  if (sim.run_until([&] { return !sim.leaders().empty(); }, 10 * kE)) {
    return sim.fail("a node became leader without a quorum");
  }
  if (sim.failed()) return;
  sim.network().reconnect(cut.front());
  const std::vector<NodeId> quorum = without(sim.ids(), {cut.back()});
  if (!sim.wait_for_leader(10 * kE, quorum)) {
    return sim.fail("no leader within 10 E of a quorum reconnecting");
  }
  sim.converge(50 * kE);
}

// 7 nodes, 50 rounds: cut 3 random nodes; the 4 others must agree on exactly one leader.
void seven_nodes_churn_keeps_one_leader(Run& run) {
  Simulator sim(run, default_options(7));
  Prng prng = scenario_prng(run);
  if (!sim.wait_for_leader(10 * kE)) return sim.fail("no single leader within 10 E");
  uint64_t slowest = 0;
  const uint64_t rounds = 50 * run.scale();
  for (uint64_t round = 0; round < rounds && !sim.failed(); ++round) {
    const std::vector<NodeId> cut = pick(prng, sim.ids(), 3);
    for (NodeId id : cut) sim.network().isolate(id);
    const uint64_t start = sim.now_ticks();
    // 20 E, not 10: with 3 of 7 cut, all 4 connected voters must agree, one of them may be
    // too far behind to win, and two candidates whose timeouts end within a message delay of
    // each other split the vote (their draws from [E, 2E) coincide one time in ten; their tick
    // phases are random but may lie close). Six split rounds in a row outlasted 10 E in about
    // 1 seed in 5,000 (48499, 50260).
    if (!sim.wait_for_leader(20 * kE, without(sim.ids(), cut))) {
      return sim.fail("round " + std::to_string(round) +
                      ": no single leader among the connected majority within 20 E");
    }
    slowest = std::max(slowest, sim.now_ticks() - start);
    sim.run_for_ticks(prng.uniform(0, kE));
    for (NodeId id : cut) sim.network().reconnect(id);
  }
  run.metric("slowest_round_ticks", slowest);
  sim.converge(50 * kE);
}

// A leader whose disk is slow keeps its place: every sync on it takes 3 election timeouts,
// yet its heartbeats, which its ticks produce while a sync runs, leave at once
// (Raft::take_messages_before_persist) instead of waiting for the sync, and the followers'
// acknowledgements commit the writes without its own. Before, each sync silenced the leader
// for 3 E and the followers elected another (issue 21: a 16 MiB entry on a busy disk). A
// committed write is applied and answered then, without waiting for the leader's own copy
// (Node::apply_committed_in_flight): within one E here, where its sync takes three. That
// holds for a write proposed while the leader's sync of an earlier one still runs, and for a
// linearizable read: a write and a read come every half E, so most arrive during a sync.
// Snapshots are due every 3 entries, so one is often due while entries are applied before
// the leader stores them: its image is taken first and written once the storage holds its
// last entry (Snapshots::capture_if_due), and the answers do not wait for it.
void slow_leader_disk_keeps_leader(Run& run) {
  SimOptions options = default_options(3);
  options.snapshot_every_entries = 3;
  options.snapshot_keep_entries = 2;
  Simulator sim(run, options);
  const std::optional<NodeId> leader = sim.wait_for_leader(10 * kE);
  if (!leader) return sim.fail("no single leader within 10 E");
  const Term term = sim.raft(*leader).term();
  sim.set_disk_faults(*leader, DiskFaults{.stall_per_mille = 1000, .stall_us = 3 * kE * kTickUs});
  std::vector<std::string> payloads;
  uint64_t slowest_answer = 0;
  for (int round = 0; round < 10 && !sim.failed(); ++round) {
    std::string payload;
    auto written_at = std::make_shared<std::optional<uint64_t>>();
    auto read_at = std::make_shared<std::optional<uint64_t>>();
    auto answered = [&sim](std::shared_ptr<std::optional<uint64_t>> at, std::string what) {
      return [&sim, at, what](const runtime::Response& response) {
        if (response.outcome != runtime::Outcome::Ok) sim.fail(what + " failed: " + response.reply);
        *at = sim.now_ticks();
      };
    };
    const uint64_t asked = sim.now_ticks();
    if (!sim.write(*leader, 64, answered(written_at, "a write"), &payload).is_ok() ||
        !sim.read(*leader, answered(read_at, "a read")).is_ok()) {
      return sim.fail("the leader refused a request");
    }
    payloads.push_back(payload);
    if (!sim.run_until([&] { return written_at->has_value() && read_at->has_value(); }, kE)) {
      return sim.fail("round " + std::to_string(round) + ": a " +
                      (written_at->has_value() ? "read" : "write") +
                      " waited for the leader's own sync, not its quorum");
    }
    slowest_answer = std::max({slowest_answer, **written_at - asked, **read_at - asked});
    sim.run_for_ticks(kE / 2);
  }
  if (sim.failed()) return;
  if (sim.stable_leader() != leader || sim.raft(*leader).term() != term) {
    return sim.fail("a slow disk cost the leader its place: " + sim.describe_cluster());
  }
  for (const std::string& payload : payloads) {
    if (!sim.applied_anywhere(payload)) return sim.fail("a write was not applied: " + payload);
  }
  // Writing a snapshot takes stalled syncs too, and entries applied meanwhile are past its
  // image: the policy counts them towards the next one, due with no more writes to come.
  if (!sim.run_until([&] { return sim.status(*leader).snapshot_index.value() >= 6; }, 40 * kE)) {
    return sim.fail("the leader's snapshots stopped at index " +
                    std::to_string(sim.status(*leader).snapshot_index.value()));
  }
  run.metric("slowest_answer_ticks", slowest_answer);
  run.metric("syncs_stalled", sim.faults().syncs_stalled);
  if (!sim.converge(50 * kE)) return;
}

// While the leader's sync stalls, the writes proposed after it are answered early for at
// most about early_apply_bytes_max of entries per sync (NodeOptions says why): the others wait
// for the leader's disk, and are answered once it has them.
void slow_leader_disk_bounds_early_answers(Run& run) {
  constexpr uint64_t kPayloadBytes = 1024;
  constexpr uint64_t kBudgetBytes = 4 * kPayloadBytes;
  constexpr uint64_t kWrites = 20;
  SimOptions options = default_options(3);
  options.early_apply_bytes_max = kBudgetBytes;
  Simulator sim(run, options);
  const std::optional<NodeId> leader = sim.wait_for_leader(10 * kE);
  if (!leader) return sim.fail("no single leader within 10 E");
  sim.set_disk_faults(*leader, DiskFaults{.stall_per_mille = 1000, .stall_us = 3 * kE * kTickUs});
  // This write's Ready syncs for 3 E; the writes below are proposed while it does.
  auto first_answered = std::make_shared<bool>(false);
  std::string ignored;
  if (!sim.write(*leader, kPayloadBytes, [first_answered](const runtime::Response&) {
             *first_answered = true;
           }, &ignored).is_ok()) {
    return sim.fail("the leader refused a write");
  }
  if (!sim.run_until([&] { return *first_answered; }, kE)) {
    return sim.fail("the first write waited for the leader's own sync");
  }
  sim.set_disk_faults(*leader, DiskFaults{});  // Later syncs are quick.
  auto answered = std::make_shared<uint64_t>(0);
  for (uint64_t i = 0; i < kWrites; ++i) {
    auto done = [&sim, answered](const runtime::Response& response) {
      if (response.outcome != runtime::Outcome::Ok) sim.fail("a write failed: " + response.reply);
      ++*answered;
    };
    if (!sim.write(*leader, kPayloadBytes, done, &ignored).is_ok()) {
      return sim.fail("the leader refused a write");
    }
  }
  sim.run_for_ticks(2 * kE);  // The first write's sync still runs.
  const uint64_t early = *answered;
  run.metric("answered_during_the_sync", early);
  // A slice may pass the budget by up to one budget's worth before applying stops.
  if (early < 1 || early > 2 * kBudgetBytes / kPayloadBytes) {
    return sim.fail(std::to_string(early) + " of " + std::to_string(kWrites) +
                    " writes were answered during the leader's sync, with a budget of " +
                    std::to_string(kBudgetBytes / kPayloadBytes) + " payloads");
  }
  if (!sim.run_until([&] { return *answered == kWrites; }, 4 * kE)) {
    return sim.fail("only " + std::to_string(*answered) + " of " + std::to_string(kWrites) +
                    " writes were answered after the leader's sync");
  }
  sim.converge(50 * kE);
}

// Node::await_leader (CLUSTER SLOTS during an election waits on it): after the leader's
// crash, a follower that knows no leader answers once the next leader is known to it; cut
// off alone, it answers after two election timeouts at most, still knowing none.
void await_leader_settles_or_times_out(Run& run) {
  Simulator sim(run, default_options(small_cluster(run)));
  const std::optional<NodeId> old_leader = sim.wait_for_leader(10 * kE);
  if (!old_leader) return sim.fail("no single leader within 10 E");
  const NodeId follower = without(sim.ids(), {*old_leader}).front();
  sim.crash(*old_leader);
  if (!sim.run_until([&] { return sim.status(follower).raft.leader == kNoNode; }, 10 * kE)) {
    return sim.fail("the follower still names the crashed leader after 10 E");
  }
  std::optional<NodeId> known_then;
  uint64_t answered_at = 0;
  auto answered = [&](const runtime::Response& response) {
    if (response.outcome != runtime::Outcome::Ok) sim.fail("await_leader answered not Ok");
    known_then = sim.status(follower).raft.leader;
    answered_at = sim.now_ticks();
  };
  uint64_t asked = sim.now_ticks();
  if (!sim.await_leader(follower, answered).is_ok()) return sim.fail("the follower is down");
  if (!sim.run_until([&] { return known_then.has_value(); }, 10 * kE)) {
    return sim.fail("await_leader did not answer within 10 E of the leader's crash");
  }
  // Split votes may outlast the wait; only then may it answer with no leader known.
  if (*known_then == *old_leader || (*known_then == kNoNode && answered_at - asked < 2 * kE)) {
    return sim.fail("await_leader answered before the follower knew a new leader");
  }
  run.metric("election_wait_ticks", answered_at - asked);
  sim.restart(*old_leader);
  if (!sim.wait_for_leader(10 * kE)) return sim.fail("no single leader after the restart");
  sim.network().isolate(follower);
  if (!sim.run_until([&] { return sim.status(follower).raft.leader == kNoNode; }, 10 * kE)) {
    return sim.fail("the isolated follower still names a leader after 10 E");
  }
  known_then.reset();
  asked = sim.now_ticks();
  if (!sim.await_leader(follower, answered).is_ok()) return sim.fail("the follower is down");
  // Two election timeouts, plus the request timeout's sweep interval (Requests::expire).
  const uint64_t bound = 2 * kE + sim.request_timeout_ms() / 20 + 1;
  if (!sim.run_until([&] { return known_then.has_value(); }, bound)) {
    return sim.fail("await_leader on a lone follower did not answer within " +
                    std::to_string(bound) + " ticks");
  }
  if (*known_then != kNoNode) return sim.fail("a lone follower came to know a leader");
  run.metric("lone_wait_ticks", answered_at - asked);
  sim.converge(50 * kE);
}

}  // namespace

void append_election_scenarios(std::vector<Scenario>& out) {
  out.push_back({"initial_election", "exactly one leader within 10 E", initial_election});
  out.push_back({"healthy_no_reelection", "no role or term change for 100 E when healthy",
                 healthy_cluster_keeps_leader});
  out.push_back({"reelection", "isolating the leader elects another within 10 E",
                 leader_loss_elects_new_leader});
  out.push_back({"leader_crash_fast", "a crashed leader is replaced without waiting out its lease",
                 leader_crash_fast_failover});
  out.push_back({"connection_flap", "a dropped connection to a live leader changes nothing",
                 dropped_connection_does_not_disturb});
  out.push_back({"old_leader_rejoins", "a rejoining old leader does not disturb the new one",
                 rejoining_leader_does_not_disturb});
  out.push_back({"lone_node", "an isolated follower never elects itself nor bumps the term",
                 isolated_follower_cannot_elect_itself});
  out.push_back({"no_quorum", "no leader while 2 of 3 are cut off; one returns with a quorum",
                 no_leader_without_quorum});
  out.push_back({"many_elections", "7 nodes, 50 rounds of cutting 3: always one leader",
                 seven_nodes_churn_keeps_one_leader});
  out.push_back({"await_leader", "waiting for a leader ends at the election or a timeout",
                 await_leader_settles_or_times_out});
  out.push_back({"slow_leader_disk",
                 "a leader whose syncs take 3 E keeps its place and answers within 1 E",
                 slow_leader_disk_keeps_leader});
  out.push_back({"slow_leader_disk_budget",
                 "while the leader's sync stalls, early answers stop at their byte budget",
                 slow_leader_disk_bounds_early_answers});
}

}  // namespace raftkv::sim
