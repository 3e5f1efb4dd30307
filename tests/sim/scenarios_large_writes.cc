// The leader's budget for large writes in flight (issue 21; runtime/requests.h,
// admit_large_writes), through the real runtime in logical time: which large writes wait, in
// what order they go into the log, how the ones that wait end, and that the budget is whole
// again however a write ends. Payloads of 1-6 KiB stand in for the server's megabytes: the
// scenarios make 1 KiB large and allow 4 KiB in flight.
#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "sim/scenario_util.h"
#include "sim/scenarios.h"

namespace raftkv::sim {
namespace {

constexpr uint64_t kKiB = 1024;
// A waiting large write goes in at the leader's next tick once the budget has room for it;
// two ticks allow for a tick that ran just before the answer that made the room.
constexpr uint64_t kAdmitDelayUsMax = 2 * kTickUs;

SimOptions budget_options() {
  SimOptions options = default_options(3);
  options.disk_latency_us_max = kTickUs / 2;
  options.large_write_bytes_min = kKiB;
  options.large_write_bytes_in_flight_max = 4 * kKiB;
  // 10 ms more per KiB: a large write here may wait, and then take, 50 to 100 ms rather than
  // the 40 ms request timeout, so that deadlines differ by size as the server's do per MiB.
  options.large_write_timeout_ms_per_mib = 10 * 1024;
  return options;
}

// How long a large write of `bytes` may wait to be proposed: runtime::Requests's rule,
// restated as the oracle its answers are checked against.
uint64_t wait_max_us(const Simulator& sim, uint64_t bytes) {
  const uint64_t extra_ms = bytes * sim.options().large_write_timeout_ms_per_mib >> 20;
  return (sim.request_timeout_ms() + extra_ms) * 1000;
}

// One write of a scenario and what became of it.
struct TrackedWrite {
  std::string name;  // The payload's unique part.
  uint64_t bytes = 0;
  bool large = false;
  bool direct = false;  // Submitted to the watched leader itself rather than forwarded to it.
  uint64_t submitted_us = 0;
  std::optional<uint64_t> proposed_us;  // When the watched leader's log first held it.
  std::optional<runtime::Response> answer;
  uint64_t answered_us = 0;
};

// The writes of a scenario and the watched leader's log and budget. check() runs after every
// event and, with `model`, holds the leader to the budget's rules for the writes submitted to
// it directly (forwarded ones reach it at times only the network knows, so a scenario that
// forwards large writes turns the model off):
//   - large writes go into its log in the order they were submitted, each only when the large
//     writes in flight leave room for it or none is in flight;
//   - one that fits goes in within kAdmitDelayUsMax;
//   - small writes go in at once, whatever waits;
//   - its status() reports the bytes in flight and the writes waiting that the model counts.
class BudgetWatch {
 public:
  BudgetWatch(Simulator& sim, NodeId leader, bool model)
      : sim_(sim), leader_(leader), model_(model) {}

  // A write of `bytes` through `via`. False (and the run failed) when it could not be sent.
  bool submit(NodeId via, uint64_t bytes) {
    const size_t id = writes_.size();
    writes_.push_back({.bytes = bytes,
                       .large = bytes >= sim_.options().large_write_bytes_min,
                       .direct = via == leader_,
                       .submitted_us = sim_.now_us()});
    std::string payload;
    const Status sent = sim_.write(
        via, bytes,
        [this, id](runtime::Response response) {
          writes_[id].answer = std::move(response);
          writes_[id].answered_us = sim_.now_us();
        },
        &payload);
    if (!sent.is_ok()) {
      sim_.fail("could not submit a write to " + node_name(via) + ": " + sent.to_string());
      return false;
    }
    writes_[id].name = name_of(payload);
    by_name_.emplace(writes_[id].name, id);
    check();
    const TrackedWrite& write = writes_[id];
    if (model_ && write.direct && !write.large && !write.proposed_us && !write.answer) {
      sim_.fail("a small write " + write.name + " was held back while large writes waited");
    }
    return !sim_.failed();
  }

  void check() {
    if (sim_.failed() || !sim_.is_up(leader_)) return;
    scan_log();
    if (model_) check_model();
  }

  [[nodiscard]] const std::vector<TrackedWrite>& writes() const { return writes_; }
  [[nodiscard]] const TrackedWrite& at(size_t id) const { return writes_.at(id); }
  [[nodiscard]] bool all_answered() const {
    return std::all_of(writes_.begin(), writes_.end(),
                       [](const TrackedWrite& write) { return write.answer.has_value(); });
  }
  [[nodiscard]] std::string describe(const TrackedWrite& write) const {
    std::string out = write.name + " (" + std::to_string(write.bytes) + " bytes, " +
                      (write.direct ? "direct" : "forwarded") + ", submitted at " +
                      format_time(write.submitted_us);
    if (write.proposed_us) out += ", proposed at " + format_time(*write.proposed_us);
    if (write.answer) {
      out += ", answered at " + format_time(write.answered_us) + ": " +
             runtime::outcome_name(write.answer->outcome) + ": " + write.answer->reply;
    }
    return out + ")";
  }
  [[nodiscard]] std::string describe_unanswered() const {
    std::string out;
    for (const TrackedWrite& write : writes_) {
      if (!write.answer) out += "  " + describe(write) + "\n";
    }
    return out;
  }

 private:
  static std::string name_of(std::string_view payload) {
    return std::string(payload.substr(0, payload.find('/')));
  }

  // Marks the writes in the entries the leader's log gained since the last scan.
  void scan_log() {
    const raft::RaftLog& log = sim_.raft(leader_).log();
    if (log.last_index() <= scanned_) return;
    Result<std::vector<raft::Entry>> entries = log.entries_from(scanned_ + 1, UINT64_MAX);
    if (!entries.is_ok()) return sim_.fail("the leader's log: " + entries.status().to_string());
    for (const raft::Entry& entry : entries.value()) {
      scanned_ = entry.index;
      const auto it = by_name_.find(name_of(entry.data.view()));
      if (it == by_name_.end() || writes_[it->second].proposed_us) continue;
      writes_[it->second].proposed_us = sim_.now_us();
      if (model_ && writes_[it->second].large) check_admitted(it->second);
    }
  }

  // Bytes of the large writes in the leader's log and not yet answered, except `except`.
  [[nodiscard]] uint64_t bytes_in_flight(size_t except = SIZE_MAX) const {
    uint64_t bytes = 0;
    for (size_t id = 0; id < writes_.size(); ++id) {
      const TrackedWrite& write = writes_[id];
      if (id != except && write.large && write.proposed_us && !write.answer) bytes += write.bytes;
    }
    return bytes;
  }
  [[nodiscard]] bool waits(const TrackedWrite& write) const {
    return write.direct && write.large && !write.proposed_us && !write.answer;
  }
  [[nodiscard]] bool fits(uint64_t in_flight, uint64_t bytes) const {
    return in_flight == 0 || in_flight + bytes <= sim_.options().large_write_bytes_in_flight_max;
  }

  void check_admitted(size_t id) {
    const TrackedWrite& write = writes_[id];
    for (size_t earlier = 0; earlier < id; ++earlier) {
      if (waits(writes_[earlier])) {
        return sim_.fail("large write " + describe(write) + " went into the log before " +
                         describe(writes_[earlier]) + ", which arrived first");
      }
    }
    const uint64_t in_flight = bytes_in_flight(id);
    if (!fits(in_flight, write.bytes)) {
      sim_.fail("large write " + describe(write) + " went into the log with " +
                std::to_string(in_flight) + " bytes of large writes in flight");
    }
  }

  void check_model() {
    const uint64_t in_flight = bytes_in_flight();
    const auto first_waiting =
        std::find_if(writes_.begin(), writes_.end(), [&](const auto& w) { return waits(w); });
    const size_t waiting = static_cast<size_t>(std::count_if(
        writes_.begin(), writes_.end(), [&](const TrackedWrite& w) { return waits(w); }));
    const runtime::NodeStatus status = sim_.status(leader_);
    if (status.large_write_bytes_in_flight != in_flight ||
        status.large_writes_waiting != waiting) {
      return sim_.fail("the leader counts " + std::to_string(status.large_write_bytes_in_flight) +
                       " bytes of large writes in flight and " +
                       std::to_string(status.large_writes_waiting) + " waiting; its log and " +
                       "answers say " + std::to_string(in_flight) + " and " +
                       std::to_string(waiting));
    }
    if (first_waiting == writes_.end() || !fits(in_flight, first_waiting->bytes)) {
      room_since_us_.reset();
      return;
    }
    if (!room_since_us_) room_since_us_ = sim_.now_us();
    if (sim_.now_us() - *room_since_us_ > kAdmitDelayUsMax) {
      sim_.fail("large write " + describe(*first_waiting) + " still waits with " +
                std::to_string(in_flight) + " bytes in flight, since " +
                format_time(*room_since_us_));
    }
  }

  Simulator& sim_;
  const NodeId leader_;
  const bool model_;
  std::vector<TrackedWrite> writes_;  // In submission order.
  std::unordered_map<std::string, size_t> by_name_;
  Index scanned_;  // The leader's log was scanned through here.
  // Since when the first waiting large write has fitted in the budget, if it does.
  std::optional<uint64_t> room_since_us_;
};

// Runs until `done()`, checking the watch after every event; false on timeout (the run fails
// with `what` and the writes not yet answered) or on an earlier failure.
bool watch_until(Simulator& sim, BudgetWatch& watch, const std::function<bool()>& done,
                 uint64_t ticks_max, const std::string& what) {
  const bool finished = sim.run_until(
      [&] {
        watch.check();
        return sim.failed() || done();
      },
      ticks_max);
  if (finished && !sim.failed()) return true;
  if (!sim.failed()) {
    sim.fail(what + " within " + std::to_string(ticks_max) + " ticks; unanswered:\n" +
             watch.describe_unanswered());
  }
  return false;
}

std::optional<NodeId> leader_after_one_commit(Simulator& sim) {
  if (!commit_one(sim, sim.ids(), 10 * kE)) return std::nullopt;
  const std::optional<NodeId> leader = sim.stable_leader();
  if (!leader) sim.fail("lost the leader on a healthy network");
  return leader;
}

// Twelve writes to the leader at random instants over three ticks, two in three large (1-5
// KiB, and one of 6 KiB, over the whole budget alone), the rest small. BudgetWatch holds the
// leader to the budget's rules after every event; at the end every write was applied, the
// large ones in the order they arrived, and no node counts any in flight.
// Catches: a large write proposed at once (no budget), one that overtakes an earlier one that
// waits, one over the budget that never goes in, small writes queued behind large ones, and
// bytes left in the count after an answer.
void large_writes_in_order(Run& run) {
  Simulator sim(run, budget_options());
  Prng prng = scenario_prng(run);
  const std::optional<NodeId> leader = leader_after_one_commit(sim);
  if (!leader) return;
  struct Planned {
    uint64_t at_us;
    uint64_t bytes;
  };
  std::vector<Planned> plan;
  for (int i = 0; i < 12; ++i) {
    const bool large = prng.chance(2, 3);
    plan.push_back({sim.now_us() + prng.uniform(0, 3 * kTickUs),
                    large ? prng.uniform(kKiB, 5 * kKiB) : prng.uniform(1, kKiB - 1)});
  }
  plan[prng.uniform(0, plan.size() - 1)].bytes = 6 * kKiB;
  std::stable_sort(plan.begin(), plan.end(),
                   [](const Planned& a, const Planned& b) { return a.at_us < b.at_us; });
  BudgetWatch watch(sim, *leader, /*model=*/true);
  size_t next = 0;
  const bool answered = watch_until(
      sim, watch,
      [&] {
        for (; next < plan.size() && plan[next].at_us <= sim.now_us(); ++next) {
          if (!watch.submit(*leader, plan[next].bytes)) return true;
        }
        return next == plan.size() && watch.all_answered();
      },
      20 * kE, "not every write was answered");
  if (!answered) return;
  std::vector<std::string> large_in_arrival_order;
  uint64_t waited = 0;
  for (const TrackedWrite& write : watch.writes()) {
    if (write.answer->outcome != runtime::Outcome::Ok) {
      return sim.fail("write " + watch.describe(write) + " was not applied");
    }
    if (write.large) large_in_arrival_order.push_back(write.name);
    if (write.proposed_us != write.submitted_us) ++waited;
  }
  const std::vector<std::string>& applied = sim.machine(*leader).payloads().payloads();
  std::vector<std::string> large_in_log_order;
  for (const std::string& payload : applied) {
    const std::string name = payload.substr(0, payload.find('/'));
    if (std::find(large_in_arrival_order.begin(), large_in_arrival_order.end(), name) !=
        large_in_arrival_order.end()) {
      large_in_log_order.push_back(name);
    }
  }
  if (large_in_log_order != large_in_arrival_order) {
    return sim.fail("the large writes were applied in another order than they arrived in");
  }
  expect_large_write_budgets_empty(sim, 0, "once every write was answered");
  run.metric("large_writes_that_waited", waited);
  sim.converge(50 * kE);
}

// A leader cut off from the others (CheckQuorum off, so it keeps leading) takes a 4 KiB write,
// which fills the budget and can never commit, then large writes of 1 and 2 KiB and a small
// one. The large ones wait, and at their own deadlines (sooner than the first write's) are
// answered NotApplied "busy" (TRYAGAIN to a Redis client), never having been in the log; the
// small one went in at once. The first write then times out MaybeApplied, and the budget is
// empty again while the node still leads.
// Catches: a large write that waits for ever (or until leadership changes), one that is
// proposed anyway at its deadline, a wrong outcome for it (it is certainly not applied), and a
// budget that keeps a timed-out write's bytes.
void large_write_wait_times_out(Run& run) {
  SimOptions options = budget_options();
  options.check_quorum = false;
  Simulator sim(run, options);
  const std::optional<NodeId> leader = leader_after_one_commit(sim);
  if (!leader) return;
  sim.network().isolate(*leader);
  BudgetWatch watch(sim, *leader, /*model=*/true);
  if (!watch.submit(*leader, 4 * kKiB) || !watch.submit(*leader, kKiB) ||
      !watch.submit(*leader, 100) || !watch.submit(*leader, 2 * kKiB)) {
    return;
  }
  const auto answered = [&](size_t id) { return watch.at(id).answer.has_value(); };
  if (!watch_until(
          sim, watch, [&] { return answered(1) && answered(3); }, 20 * kE,
          "the waiting large writes were not answered")) {
    return;
  }
  // The request timeout's twentieth: how often the runtime looks for expired requests.
  const uint64_t sweep_us = sim.request_timeout_ms() * 1000 / 20;
  for (const size_t id : {size_t{1}, size_t{3}}) {
    const TrackedWrite& write = watch.at(id);
    const uint64_t waited_us = write.answered_us - write.submitted_us;
    if (write.answer->outcome != runtime::Outcome::NotApplied ||
        !write.answer->reply.starts_with("busy:") || write.proposed_us) {
      return sim.fail("large write " + watch.describe(write) +
                      " should have ended NotApplied \"busy\" without being proposed");
    }
    // Deadlines are kept in whole milliseconds: one may pass up to 1 ms early.
    if (waited_us + 1000 < wait_max_us(sim, write.bytes) ||
        waited_us > wait_max_us(sim, write.bytes) + sweep_us + kTickUs) {
      return sim.fail("large write " + watch.describe(write) + " waited " +
                      std::to_string(waited_us) + " us, not its " +
                      std::to_string(wait_max_us(sim, write.bytes)) + " us");
    }
  }
  if (answered(0)) {
    return sim.fail("the write in flight " + watch.describe(watch.at(0)) +
                    " was answered before the ones waiting behind it timed out");
  }
  if (!watch_until(sim, watch, [&] { return answered(0); }, 20 * kE,
                   "the write in flight did not time out")) {
    return;
  }
  if (watch.at(0).answer->outcome != runtime::Outcome::MaybeApplied) {
    return sim.fail("the write in flight " + watch.describe(watch.at(0)) +
                    " should have timed out MaybeApplied");
  }
  if (sim.raft(*leader).role() != raft::Role::Leader) {
    return sim.fail(node_name(*leader) + " stopped leading with CheckQuorum off");
  }
  expect_large_write_budgets_empty(sim, 0, "once its writes timed out");
  sim.network().heal();
  sim.converge(50 * kE);
}

// Large writes wait at the leader, some submitted to it and some forwarded by followers, when
// leadership moves: handed to another node, or lost with the leader cut off for 3 E (it comes
// back to find its entries replaced) or until every write is answered (by seed). Every write
// is answered, none hangs; a direct one answered "may have been applied" was in the leader's
// log first (one that never was is not in doubt: it goes to the next leader, or ends
// NotApplied); one in flight at the move ends applied, ambiguous, or NotApplied only when
// another leader's entry replaced it; and once the cluster converged no node's budget keeps
// any bytes or waiting writes. The history checks every answer against what the nodes
// applied.
// A write a follower forwarded, still waiting at the deposed leader, is answered there, not
// forwarded a second time (seed 154 showed the second hop).
// Catches: waiting writes dropped or left waiting when the leader steps down, waiting writes
// answered as if they might have been applied, in-flight bytes never given back by a deposed
// leader, and a forwarded write sent on again.
void large_writes_leader_moves(Run& run) {
  Simulator sim(run, budget_options());
  Prng prng = scenario_prng(run);
  const std::optional<NodeId> leader = leader_after_one_commit(sim);
  if (!leader) return;
  const std::vector<NodeId> followers = without(sim.ids(), {*leader});
  // Forwarded writes reach the leader when the network says: the budget's rules are checked
  // by the other scenarios, this one checks the answers.
  BudgetWatch watch(sim, *leader, /*model=*/false);
  auto sent_on = std::make_shared<std::vector<std::string>>();  // Forwarded by the leader.
  sim.watch_forwards([sent_on, from = *leader](NodeId sender, NodeId,
                                               const runtime::ForwardRequest& request) {
    if (sender == from) sent_on->push_back(request.request.bytes);
  });
  for (int i = 0; i < 7; ++i) {
    const NodeId via = i < 5 ? *leader : pick(prng, followers, 1).front();
    if (!watch.submit(via, prng.uniform(kKiB, 3 * kKiB))) return;
  }
  if (!watch.submit(*leader, 100)) return;
  sim.run_for_us(prng.uniform(0, 2 * kTickUs));
  watch.check();
  if (sim.failed()) return;
  // The direct writes in the log and not yet answered when leadership moved, and how many
  // waited to go in.
  std::vector<bool> in_flight_at_move;
  uint64_t waiting_at_move = 0;
  for (const TrackedWrite& write : watch.writes()) {
    in_flight_at_move.push_back(write.direct && write.proposed_us && !write.answer);
    if (write.direct && !write.proposed_us && !write.answer) ++waiting_at_move;
  }
  std::optional<uint64_t> heal_at_us;
  if (run.seed() % 3 == 0) {
    const NodeId target = pick(prng, followers, 1).front();
    if (Status status = sim.transfer_leadership(*leader, target); !status.is_ok()) {
      return sim.fail("transfer to " + node_name(target) + " refused: " + status.to_string());
    }
  } else {
    sim.network().isolate(*leader);
    // Back before its writes time out: another leader's entries replace those in flight.
    if (run.seed() % 3 == 1) heal_at_us = sim.now_us() + 3 * kE * kTickUs;
  }
  const bool answered = watch_until(
      sim, watch,
      [&] {
        if (heal_at_us && sim.now_us() >= *heal_at_us) {
          sim.network().heal();
          heal_at_us.reset();
        }
        return watch.all_answered();
      },
      30 * kE, "writes were left hanging after leadership moved");
  if (!answered) return;
  uint64_t replaced_in_flight = 0;
  for (size_t id = 0; id < watch.writes().size(); ++id) {
    const TrackedWrite& write = watch.at(id);
    const runtime::Outcome outcome = write.answer->outcome;
    const bool logged_first = write.proposed_us && *write.proposed_us <= write.answered_us;
    if (write.direct && outcome == runtime::Outcome::MaybeApplied && !logged_first) {
      return sim.fail("write " + watch.describe(write) +
                      " was answered as possibly applied, never having been in the log");
    }
    const bool replaced = write.answer->reply.starts_with("leadership changed before");
    if (in_flight_at_move[id] && outcome == runtime::Outcome::NotApplied && !replaced) {
      return sim.fail("write " + watch.describe(write) +
                      ", in the log when leadership moved, was answered not applied");
    }
    if (replaced) ++replaced_in_flight;
    const auto hop = std::find_if(sent_on->begin(), sent_on->end(), [&](const std::string& bytes) {
      return bytes.find(write.name) != std::string::npos;
    });
    if (!write.direct && hop != sent_on->end()) {
      return sim.fail("write " + watch.describe(write) +
                      ", forwarded to the leader by a follower, was forwarded again by it");
    }
  }
  run.metric("waiting_when_leadership_moved", waiting_at_move);
  run.metric("replaced_in_flight", replaced_in_flight);
  sim.network().heal();
  if (!sim.converge(50 * kE)) return;
  // A follower answers a forward "may have been applied" as soon as its leader changes, while
  // the write may still wait at the next leader: budgets empty once the cluster is quiet.
  expect_large_write_budgets_empty(sim, 10 * kE, "10 E after the cluster converged");
}

// A large write forwarded by a follower waits at the leader behind three that each fill the
// budget, on a network that takes 6 ms each way, and so is answered well after the request
// timeout (40 ms). The follower waits for the leader's answer, Ok, rather than give up first
// with "may have been applied"; the leader proposed it only once the last of the three was
// answered.
// Catches: a follower that gives a forwarded large write no more than the request timeout.
void large_write_forwarded_waits(Run& run) {
  SimOptions options = budget_options();
  // The first replies after the network slows come 12 ms late, past an election timeout that
  // CheckQuorum may just have started counting.
  options.check_quorum = false;
  Simulator sim(run, options);
  Prng prng = scenario_prng(run);
  const std::optional<NodeId> leader = leader_after_one_commit(sim);
  if (!leader) return;
  sim.network().options().delay_us_min = 6 * kTickUs;
  sim.network().options().delay_us_max = 6 * kTickUs;
  const NodeId forwarder = pick(prng, without(sim.ids(), {*leader}), 1).front();
  BudgetWatch watch(sim, *leader, /*model=*/false);
  for (int i = 0; i < 3; ++i) {
    if (!watch.submit(*leader, 4 * kKiB)) return;
  }
  if (!watch.submit(forwarder, kKiB)) return;
  if (!watch_until(sim, watch, [&] { return watch.all_answered(); }, 30 * kE,
                   "the writes were not answered")) {
    return;
  }
  for (const TrackedWrite& write : watch.writes()) {
    if (write.answer->outcome != runtime::Outcome::Ok) {
      return sim.fail("write " + watch.describe(write) + " should have been applied");
    }
  }
  const TrackedWrite& forwarded = watch.at(3);
  if (!forwarded.proposed_us || *forwarded.proposed_us < watch.at(2).answered_us) {
    return sim.fail("the forwarded write " + watch.describe(forwarded) +
                    " went into the log before " + watch.describe(watch.at(2)) +
                    " was answered");
  }
  if (forwarded.answered_us - forwarded.submitted_us <= sim.request_timeout_ms() * 1000) {
    return sim.fail("the forwarded write " + watch.describe(forwarded) +
                    " did not wait past the request timeout: the scenario tests nothing");
  }
  expect_large_write_budgets_empty(sim, 0, "once every write was answered");
  run.metric("forwarded_answer_ticks", (forwarded.answered_us - forwarded.submitted_us) / kTickUs);
  sim.converge(50 * kE);
}

}  // namespace

void append_large_write_scenarios(std::vector<Scenario>& out) {
  out.push_back({"large_writes_in_order",
                 "large writes past the budget wait and go in in arrival order; small ones "
                 "never wait",
                 large_writes_in_order});
  out.push_back({"large_write_wait_times_out",
                 "a large write that waits past its deadline ends NotApplied, never proposed",
                 large_write_wait_times_out});
  out.push_back({"large_writes_leader_moves",
                 "large writes waiting or in flight when leadership moves are all answered",
                 large_writes_leader_moves});
  out.push_back({"large_write_forwarded_waits",
                 "a forwarded large write waits at the leader past the request timeout: Ok",
                 large_write_forwarded_waits});
}

}  // namespace raftkv::sim
