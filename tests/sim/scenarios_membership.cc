// Membership changes (issue 15) on real runtimes: single-server changes through
// runtime::Node::change_membership, one at a time, adopted on apply. Nodes outside the
// bootstrap membership (SimOptions::voters) start empty, as a new machine started with --join
// does. The safety checkers run after every event; each scenario then checks that the
// membership it built commits, and log matching over every node. The scenarios with clients
// (KvWorld) also check their history with the project's linearizability checker.
#include <algorithm>
#include <functional>
#include <map>
#include <memory>

#include "sim/kv_world.h"
#include "sim/scenario_util.h"
#include "sim/scenarios.h"

namespace raftkv::sim {
namespace {

using runtime::MemberChange;

MemberChange make_change(MemberChange::Kind kind, NodeId id, bool learner = false) {
  return MemberChange{.kind = kind, .member = runtime::Member{.id = id, .learner = learner}};
}

// Whether the leader's view of the membership shows `change` done.
bool reflects(const runtime::NodeStatus& leader, const MemberChange& change) {
  for (const runtime::Member& member : leader.members) {
    if (member.id != change.member.id) continue;
    if (change.kind == MemberChange::Kind::Remove) return false;
    return change.kind == MemberChange::Kind::Add || !member.learner;
  }
  return change.kind == MemberChange::Kind::Remove;
}

// Makes `change` through the stable leader among `members`, as an operator would: asks again
// when the answer is TRYAGAIN-like (Busy: a change pending, the leader's first entry not yet
// applied, a learner still behind; NotLeader; Unavailable) or when no answer came within 5 E
// (the node crashed). Done when it answers ok or the stable leader's membership shows the
// change. False, with the Run failed, on a refusal or after ticks_max. With `world`, its
// clients keep sending requests meanwhile.
bool change_membership(Simulator& sim, const std::vector<NodeId>& members,
                       const MemberChange& change, uint64_t ticks_max,
                       KvWorld* world = nullptr) {
  auto answer = std::make_shared<std::optional<Status>>();
  uint64_t asked_at = 0;
  bool asked = false;
  const auto run_until = [&](const std::function<bool()>& done, uint64_t ticks) {
    return world != nullptr ? world->run_until(done, ticks) : sim.run_until(done, ticks);
  };
  const bool done = run_until(
      [&] {
        if (*answer && (*answer)->is_ok()) return true;
        // A removed node may sit in an old term: the others need not wait for it.
        std::optional<NodeId> leader = sim.stable_leader(members);
        if (!leader && change.kind == MemberChange::Kind::Remove) {
          leader = sim.stable_leader(without(members, {change.member.id}));
        }
        if (!leader) return false;
        if (reflects(sim.status(*leader), change)) return true;
        if (*answer && (*answer)->code() == ErrorCode::InvalidArgument) {
          sim.fail("the change of " + node_name(change.member.id) +
                   " was refused: " + (*answer)->to_string());
          return true;
        }
        if (asked && !*answer && sim.now_ticks() < asked_at + 5 * kE) return false;
        *answer = std::nullopt;
        asked = true;
        asked_at = sim.now_ticks();
        auto slot = answer;
        (void)sim.change_membership(*leader, change, [slot](Status status) { *slot = status; });
        return false;
      },
      ticks_max);
  if (!done && !sim.failed()) {
    sim.fail("the change of " + node_name(change.member.id) + " did not apply within " +
             std::to_string(ticks_max) + " ticks");
  }
  return done && !sim.failed();
}

bool add_and_promote(Simulator& sim, const std::vector<NodeId>& members, NodeId id,
                     KvWorld* world = nullptr) {
  return change_membership(sim, members, make_change(MemberChange::Kind::Add, id, true),
                           30 * kE, world) &&
         change_membership(sim, members, make_change(MemberChange::Kind::Promote, id),
                           60 * kE, world);
}

bool has_member(const runtime::NodeStatus& status, NodeId id) {
  return std::any_of(status.members.begin(), status.members.end(),
                     [&](const runtime::Member& member) { return member.id == id; });
}

// Nodes with the real key-value store and a disk, for the scenarios with clients.
SimOptions kv_options(uint32_t nodes) {
  SimOptions options = default_options(nodes);
  options.kv = kv::KvConfig{};
  options.disk_latency_us_max = kTickUs / 2;
  return options;
}

// The end of a scenario with clients whose membership changed (Simulator::converge() wants
// every node to apply everything, which a removed node never does): the clients settle, a
// write commits on every member, logs match, and the clients' history is linearizable with
// every member holding the same values.
void check_members_and_history(Simulator& sim, KvWorld& world,
                               const std::vector<NodeId>& members) {
  if (!world.settle(40 * kE)) return;
  if (!commit_one(sim, members, 30 * kE)) return;
  // Every member applied the payload, but an entry after it may have committed on a quorum
  // only (seed 12912: a member one entry behind): compare the members' values once each has
  // applied the leader's whole log.
  if (!sim.run_until([&] { return applied_whole_log(sim, members); }, 10 * kE)) {
    return sim.fail("the members did not all apply the leader's log within 10 E");
  }
  sim.check_logs_now();
  world.check(members);
}

// A 3-voter cluster grows to 5 (each new node a learner first, promoted once caught up) while
// writes commit, then survives the loss of any two of the five.
void membership_grow(Run& run) {
  SimOptions options = default_options(5);
  options.voters = 3;
  Simulator sim(run, options);
  std::vector<NodeId> members = {NodeId{1}, NodeId{2}, NodeId{3}};
  for (int i = 0; i < 20; ++i) {
    if (!commit_one(sim, members, 10 * kE)) return;
  }
  for (NodeId added : {NodeId{4}, NodeId{5}}) {
    if (!add_and_promote(sim, members, added)) return;
    members.push_back(added);
    if (!commit_one(sim, members, 20 * kE)) return;
  }
  Prng prng = scenario_prng(run);
  const std::vector<NodeId> lost = pick(prng, members, 2);
  for (NodeId id : lost) sim.crash(id);
  const std::vector<NodeId> alive = without(members, lost);
  for (int i = 0; i < 5; ++i) {
    if (!commit_one(sim, alive, 20 * kE)) return;
  }
  run.metric("voters", static_cast<uint64_t>(sim.status(alive.front()).raft.conf_state
                                                 .voters.size()));
  sim.check_logs_now();
}

// The leader removes itself: it steps down, the others elect a leader among themselves and
// go on; restarted on its old data, the removed node disturbs nobody (PreVote and the
// members' refusal of a non-member).
class VoteWatch final : public SimObserver {
 public:
  void on_send(const raft::Message& message, size_t /*copies*/) override {
    const bool answer = message.type == raft::MessageType::VoteResponse ||
                        message.type == raft::MessageType::PreVoteResponse;
    if (answer && !message.reject) granted_by.push_back(message.from);
  }
  std::vector<NodeId> granted_by;
};

// A removed node asked for its vote (PreVote, then Vote, at a term above everyone's, by a
// candidate whose log is as long as any) grants neither and does not take that term: its
// vote could only help a candidate still under a membership that includes it, which the
// committed removal replaced.
bool removed_node_refuses_votes(Simulator& sim, NodeId removed, NodeId candidate) {
  VoteWatch votes;
  sim.set_observer(&votes);
  const Term asked_term = sim.raft(candidate).term() + 10;
  for (raft::MessageType type : {raft::MessageType::PreVote, raft::MessageType::Vote}) {
    const raft::Message ask{.type = type,
                            .from = candidate,
                            .to = removed,
                            .term = asked_term,
                            .log_term = sim.raft(candidate).log().last_term(),
                            .index = sim.raft(candidate).log().last_index()};
    // Busy while its loop syncs: ask again a moment later.
    if (!sim.run_until([&] { return sim.inject(removed, ask).is_ok(); }, kE)) {
      sim.fail("could not reach the removed " + node_name(removed));
      return false;
    }
    sim.run_for_ticks(kE);
  }
  sim.set_observer(nullptr);
  if (std::ranges::find(votes.granted_by, removed) != votes.granted_by.end()) {
    sim.fail("the removed " + node_name(removed) + " granted a vote");
    return false;
  }
  if (sim.raft(removed).term() >= asked_term) {
    sim.fail("a vote request moved the removed " + node_name(removed) + "'s term");
    return false;
  }
  return true;
}

void membership_remove_leader(Run& run) {
  Simulator sim(run, default_options(3));
  if (!commit_one(sim, sim.ids(), 10 * kE)) return;
  const std::optional<NodeId> leader = sim.stable_leader();
  if (!leader) return sim.fail("no stable leader on a healthy network");
  const std::vector<NodeId> rest = without(sim.ids(), {*leader});
  if (!change_membership(sim, sim.ids(), make_change(MemberChange::Kind::Remove, *leader),
                         30 * kE)) {
    return;
  }
  if (!sim.run_until([&] { return sim.status(*leader).removed; }, 10 * kE)) {
    return sim.fail("the removed leader never learned that it was removed");
  }
  if (!removed_node_refuses_votes(sim, *leader, rest.front())) return;
  if (!commit_one(sim, rest, 20 * kE)) return;
  sim.crash(*leader);
  sim.restart(*leader);
  const std::optional<NodeId> before = sim.stable_leader(rest);
  const Term term = before ? sim.raft(*before).term() : Term{};
  sim.run_for_ticks(20 * kE);
  const std::optional<NodeId> after = sim.stable_leader(rest);
  if (!before || after != before || sim.raft(*after).term() != term) {
    return sim.fail("the restarted removed node disturbed the cluster");
  }
  if (sim.raft(*leader).role() == raft::Role::Leader) {
    return sim.fail("the removed node leads again");
  }
  if (!commit_one(sim, rest, 20 * kE)) return;
  sim.check_logs_now();
}

// A follower dies for good (kill -9, disk lost); a new machine replaces it: added as a
// learner, promoted once caught up, then the dead one removed. The new 3-voter cluster then
// survives the loss of one more node.
void membership_replace(Run& run) {
  SimOptions options = default_options(4);
  options.voters = 3;
  options.snapshot_every_entries = 10;  // The new node catches up from a snapshot and the log.
  options.snapshot_keep_entries = 2;
  Simulator sim(run, options);
  std::vector<NodeId> members = {NodeId{1}, NodeId{2}, NodeId{3}};
  for (int i = 0; i < 25; ++i) {
    if (!commit_one(sim, members, 10 * kE)) return;
  }
  const std::optional<NodeId> leader = sim.stable_leader(members);
  if (!leader) return sim.fail("no stable leader on a healthy network");
  Prng prng = scenario_prng(run);
  const NodeId dead = pick(prng, without(members, {*leader}), 1).front();
  sim.crash(dead);
  members = without(members, {dead});
  const std::vector<NodeId> with_new = {members[0], members[1], NodeId{4}};
  if (!add_and_promote(sim, members, NodeId{4})) return;
  if (!change_membership(sim, with_new, make_change(MemberChange::Kind::Remove, dead),
                         30 * kE)) {
    return;
  }
  const NodeId next_loss = pick(prng, with_new, 1).front();
  sim.crash(next_loss);
  const std::vector<NodeId> alive = without(with_new, {next_loss});
  for (int i = 0; i < 5; ++i) {
    if (!commit_one(sim, alive, 20 * kE)) return;
  }
  sim.check_logs_now();
}

// A node restarts under the membership it last applied. The commit index on disk is written
// only with entries or a vote, so after a change commits, with nothing written since, it lies
// before the change: a restart would replay up to it and bring back the membership before the
// change, under which a node several changes behind can win an election with a majority that
// shares nobody with the one that committed newer entries (membership_churn found Leader
// Completeness and Election Safety violations so, about 1 seed in 4,000). Every node, the
// leader included, restarts cut off from the others (nobody can tell it the commit index) and
// must show the promoted voter.
void membership_survives_restart(Run& run) {
  SimOptions options = default_options(4);
  options.voters = 3;
  Simulator sim(run, options);
  const std::vector<NodeId> members = {NodeId{1}, NodeId{2}, NodeId{3}};
  if (!commit_one(sim, members, 10 * kE)) return;
  if (!add_and_promote(sim, members, NodeId{4})) return;
  const std::vector<NodeId> voters = {NodeId{1}, NodeId{2}, NodeId{3}, NodeId{4}};
  const MemberChange promotion = make_change(MemberChange::Kind::Add, NodeId{4});
  const auto promoted = [&](NodeId id) { return reflects(sim.status(id), promotion); };
  if (!sim.run_until([&] { return std::ranges::all_of(voters, promoted); }, 10 * kE)) {
    return sim.fail("not every node applied the promotion within 10 E");
  }
  for (NodeId id : voters) {
    sim.network().isolate(id);
    sim.crash(id);
    sim.restart(id);
    if (!promoted(id)) {
      return sim.fail(node_name(id) + " restarted under the membership before the promotion");
    }
    sim.network().reconnect(id);
  }
  if (!commit_one(sim, voters, 20 * kE)) return;
  sim.check_logs_now();
}

// Changes proposed while the network drops and partitions and nodes crash and restart: spare
// nodes are added and promoted, members removed, one change at a time, each under a fault that
// heals a few election timeouts later. Safety holds throughout; after the last change the
// resulting membership commits.
void membership_churn(Run& run) {
  SimOptions options = default_options(6);
  options.voters = 3;
  options.network.drop_per_mille = 20;
  Simulator sim(run, options);
  Prng prng = scenario_prng(run);
  std::vector<NodeId> members = {NodeId{1}, NodeId{2}, NodeId{3}};
  std::vector<NodeId> spares = {NodeId{4}, NodeId{5}, NodeId{6}};
  for (int round = 0; round < 5 && !sim.failed(); ++round) {
    if (!commit_one(sim, members, 30 * kE)) return;
    const NodeId victim = pick(prng, members, 1).front();
    const bool crash = prng.chance(1, 2);
    if (crash) {
      sim.crash(victim);
    } else {
      sim.network().isolate(victim);
    }
    // Propose under the fault (the victim may be the leader), heal after a while.
    const bool grow = !spares.empty() && (members.size() <= 3 || prng.chance(1, 2));
    const std::optional<NodeId> leader = sim.stable_leader(members);
    const NodeId subject = grow ? spares.front() : pick(prng, without(members, {victim}), 1)[0];
    const MemberChange first = grow ? make_change(MemberChange::Kind::Add, subject, true)
                                    : make_change(MemberChange::Kind::Remove, subject);
    if (leader) (void)sim.change_membership(*leader, first, [](Status) {});
    sim.run_for_ticks(prng.uniform(1, 4) * kE);
    if (crash) sim.restart(victim);
    sim.network().reconnect(victim);
    if (grow) {
      if (!add_and_promote(sim, members, subject)) return;
      members.push_back(subject);
      spares.erase(spares.begin());
    } else {
      if (!change_membership(sim, members, first, 60 * kE)) return;
      members = without(members, {subject});
    }
  }
  for (int i = 0; i < 3; ++i) {
    if (!commit_one(sim, members, 30 * kE)) return;
  }
  run.metric("members", members.size());
  sim.check_logs_now();
}

// Counts membership changes applied by any node, and InstallSnapshots sent to each node.
class ChangeWatch final : public SimObserver {
 public:
  void on_apply(NodeId /*node*/, const raft::Entry& entry) override {
    if (entry.type == raft::EntryType::ConfChange) ++changes_applied;
  }
  void on_send(const raft::Message& message, size_t /*copies*/) override {
    if (message.type == raft::MessageType::InstallSnapshot) ++snapshots_to[message.to];
  }
  uint64_t changes_applied = 0;
  std::map<NodeId, uint64_t> snapshots_to;
};

// A removal proposed to a leader just cut off from the others: it appends the change but can
// never commit it. The majority elects a leader among itself and serves the clients; healed,
// the stale leader sees the newer term, follows, and its uncommitted change is overwritten.
// The node it was to remove (the stale leader itself, or a follower, by seed) stays a member
// and never thinks itself removed, and no node ever applies a membership change.
// Catches: a leader counting a removed voter out of the quorum before the removal commits (it
// would commit alone), and a change adopted on append rather than on apply.
void membership_stale_leader_remove(Run& run) {
  Simulator sim(run, kv_options(run.seed() % 2 == 0 ? 3 : 5));
  ChangeWatch watch;
  sim.set_observer(&watch);
  Prng prng = scenario_prng(run);
  KvWorld world(sim, prng, {.clients = 3});
  const std::optional<NodeId> stale = sim.wait_for_leader(10 * kE);
  if (!stale) return sim.fail("no single leader within 10 E");
  world.run(2 * kE);
  const std::vector<NodeId> majority = without(sim.ids(), {*stale});
  const NodeId subject = prng.chance(1, 2) ? *stale : pick(prng, majority, 1).front();
  sim.network().isolate(*stale);
  auto answer = std::make_shared<std::optional<Status>>();
  (void)sim.change_membership(*stale, make_change(MemberChange::Kind::Remove, subject),
                              [answer](Status status) { *answer = status; });
  if (!world.run_until([&] { return sim.stable_leader(majority).has_value(); }, 20 * kE)) {
    return sim.fail("the majority elected no leader within 20 E of the cut");
  }
  world.run(prng.uniform(2, 6) * kE);
  if (!commit_one(sim, majority, 20 * kE)) return;
  sim.network().reconnect(*stale);
  if (!world.run_until([&] { return sim.stable_leader().has_value(); }, 20 * kE)) {
    return sim.fail("no leader followed by every node within 20 E of healing");
  }
  const NodeId leader = *sim.stable_leader();
  if (leader == *stale) return sim.fail("the stale leader leads again after healing");
  if (*answer && (*answer)->is_ok()) {
    return sim.fail("the isolated leader answered its removal of " + node_name(subject) + " ok");
  }
  if (watch.changes_applied != 0 || !has_member(sim.status(leader), subject) ||
      sim.status(subject).removed) {
    return sim.fail("the removal of " + node_name(subject) + " took effect");
  }
  run.metric("answered_before_healing", *answer ? 1 : 0);
  check_members_and_history(sim, world, sim.ids());
}

// Membership changes while a snapshot install is in flight: node 4 joins as a learner so far behind
// that only a snapshot (4 KiB chunks over a lossy network) can catch it up, and while the chunks
// travel another change is proposed: by seed, node 5 is added as a learner, a voter that does not
// lead is removed, or node 4 itself is removed. The sender streams the newest snapshot file, so
// after its own removal node 4 could restore a snapshot whose membership leaves it out, and must
// then take it as its removal (metric removed_by_snapshot; 0 in seeds 0-199: the removal always
// came after the snapshot it was sent). Clients of the voters run throughout; at the end the
// members hold the same values and the history is linearizable.
void membership_during_snapshot_install(Run& run) {
  SimOptions options = kv_options(5);
  options.voters = 3;
  options.snapshot_every_entries = 8;
  options.snapshot_keep_entries = 2;
  options.network.drop_per_mille = 10;
  Simulator sim(run, options);
  ChangeWatch watch;
  sim.set_observer(&watch);
  Prng prng = scenario_prng(run);
  KvWorld world(sim, prng, {.clients = 3, .value_bytes_max = 2048});
  std::vector<NodeId> members = {NodeId{1}, NodeId{2}, NodeId{3}};
  world.serve_through(members);
  const NodeId learner{4};
  const NodeId spare{5};
  const auto compacted = [&] {
    const std::optional<NodeId> leader = sim.stable_leader(members);
    return leader && sim.status(*leader).snapshot_index.value() > 40;
  };
  if (!world.run_until(compacted, 100 * kE)) return sim.fail("no snapshot past index 40");
  if (!change_membership(sim, members, make_change(MemberChange::Kind::Add, learner, true),
                         30 * kE, &world)) {
    return;
  }
  if (!world.run_until([&] { return watch.snapshots_to[learner] > 0; }, 20 * kE)) {
    return sim.fail("no snapshot was sent to node 4 within 20 E of its addition");
  }
  run.metric("install_in_flight_at_change",
             sim.status(learner).snapshot_index.value() == 0 ? 1 : 0);
  const std::optional<NodeId> leader = sim.stable_leader(members);
  const uint64_t kind = prng.uniform(0, 2);
  if (kind == 0) {
    if (!add_and_promote(sim, members, spare, &world)) return;
    members.push_back(spare);
  } else if (kind == 1) {
    const NodeId gone = leader ? pick(prng, without(members, {*leader}), 1).front() : members[0];
    members = without(members, {gone});
    world.serve_through(members);
    if (!change_membership(sim, members, make_change(MemberChange::Kind::Remove, gone),
                           30 * kE, &world)) {
      return;
    }
  } else {
    if (!change_membership(sim, members, make_change(MemberChange::Kind::Remove, learner),
                           30 * kE, &world)) {
      return;
    }
    // Node 4 learns of its removal only if the snapshot it installs holds it: it is behind
    // the entry, and the members' refusal of its connections, which tells a real node
    // (net/peer_transport), has no model in the simulator. It must stay harmless meanwhile.
    world.run(5 * kE);
    const runtime::NodeStatus removed = sim.status(learner);
    run.metric("removal_learned", removed.removed ? 1 : 0);
    run.metric("removed_by_snapshot",
               removed.removed && removed.conf_index <= removed.snapshot_index ? 1 : 0);
    return check_members_and_history(sim, world, members);
  }
  if (!change_membership(sim, members, make_change(MemberChange::Kind::Promote, learner),
                         60 * kE, &world)) {
    return;
  }
  members.push_back(learner);
  check_members_and_history(sim, world, members);
}

}  // namespace

void append_membership_scenarios(std::vector<Scenario>& out) {
  out.push_back({"membership_grow", "3 voters grow to 5 under writes; then any 2 may fail",
                 membership_grow});
  out.push_back({"membership_remove_leader",
                 "the leader removes itself; the rest go on; restarted, it disturbs nobody",
                 membership_remove_leader});
  out.push_back({"membership_replace", "a dead follower replaced: add, promote, remove",
                 membership_replace});
  out.push_back({"membership_churn", "adds and removals under drops, partitions and crashes",
                 membership_churn});
  out.push_back({"membership_survives_restart",
                 "a node restarts under the membership it last applied",
                 membership_survives_restart});
  out.push_back({"membership_stale_leader_remove",
                 "a removal proposed to an isolated stale leader never commits",
                 membership_stale_leader_remove});
  out.push_back({"membership_during_snapshot_install",
                 "changes while a learner installs a snapshot, its own removal included",
                 membership_during_snapshot_install});
}

}  // namespace raftkv::sim
