// Hostile input (issue 2, §3.8): messages no correct peer sends are refused by step() and
// change nothing; the safety checkers stay green while the cluster keeps working around them.
// Only messages that are recognisably invalid are forged: a well-formed message under a
// member's id and current term is indistinguishable from the real thing (Raft is not
// Byzantine-tolerant), so forging those would test nothing but the forgery.
#include <limits>
#include <map>
#include <sstream>

#include "sim/scenario_util.h"
#include "sim/scenarios.h"

namespace raftkv::sim {
namespace {

using raft::Entry;
using raft::Message;
using raft::MessageType;

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

// What a hostile message must not change.
struct Observed {
  Term term;
  raft::Role role;
  NodeId leader;
  NodeId voted_for;
  Index commit;
  Index last_index;
  Term last_term;
  bool operator==(const Observed&) const = default;
};

Observed observe(const Simulator& sim, NodeId id) {
  const raft::RaftStatus status = sim.raft(id).status();
  return Observed{status.term,         status.role,       status.leader,   status.voted_for,
                  status.commit_index, status.last_index, status.last_term};
}

std::string describe(const Message& message) {
  std::ostringstream out;
  out << raft::message_type_name(message.type) << " from " << message.from << " to "
      << message.to << " term " << message.term << " index " << message.index << " log_term "
      << message.log_term << " commit " << message.commit << " entries "
      << message.entries.size();
  return out.str();
}

// Counts the Warn and Error lines each core logs (a refused message must be logged), and
// forwards everything to the sink the run had, if any.
class WarningCounter final : public SimLogSink {
 public:
  explicit WarningCounter(SimLogSink* inner) : inner_(inner) {}
  [[nodiscard]] bool enabled(LogLevel level) const override {
    return level >= LogLevel::Warn || (inner_ != nullptr && inner_->enabled(level));
  }
  void write(uint64_t now_us, NodeId node, LogLevel level, std::string_view line) override {
    if (level >= LogLevel::Warn) ++by_node[node];
    if (inner_ != nullptr && inner_->enabled(level)) inner_->write(now_us, node, level, line);
  }
  [[nodiscard]] SimLogSink* inner() const { return inner_; }
  std::map<NodeId, uint64_t> by_node;

 private:
  SimLogSink* inner_;
};

// Injects `message` into the node's runtime as if its peer had sent it; `must_refuse` demands
// a warning in the log (the core refuses hostile input by logging why and changing nothing).
// Either way the node's state must be unchanged.
void inject_expecting_no_effect(Simulator& sim, WarningCounter& warnings, const Message& message,
                                bool must_refuse) {
  if (sim.failed() || !sim.is_up(message.to)) return;
  const Observed before = observe(sim, message.to);
  const uint64_t warned = warnings.by_node[message.to];
  if (!sim.inject(message.to, message).is_ok()) return;  // Blocked on its disk: not delivered.
  if (sim.failed()) return;
  if (must_refuse && warnings.by_node[message.to] == warned) {
    return sim.fail("an invalid message was accepted without a warning: " + describe(message));
  }
  if (!(observe(sim, message.to) == before)) {
    return sim.fail("a hostile message changed the node's state: " + describe(message));
  }
}

Message make(MessageType type, NodeId from, NodeId to, Term term) {
  Message message;
  message.type = type;
  message.from = from;
  message.to = to;
  message.term = term;
  return message;
}

Entry entry(uint64_t term, uint64_t index) {
  return Entry{Term{term}, Index{index}, raft::EntryType::Normal, "forged"};
}

// Runs the cluster with traffic, calling `attack` a few times at random moments, then checks
// that everything converges.
template <typename Attack>
void under_attack(Run& run, Attack attack) {
  WarningCounter warnings(run.sink());
  run.set_sink(&warnings);
  {
    Simulator sim(run, default_options(3));
    Prng prng = scenario_prng(run);
    if (commit_one(sim, sim.ids(), 10 * kE)) {
      for (int round = 0; round < 20 && !sim.failed(); ++round) {
        sim.run_for_us(prng.uniform(0, 2 * kTickUs));
        (void)sim.propose_to_leader();
        attack(sim, prng, warnings);
      }
      if (commit_one(sim, sim.ids(), 10 * kE)) sim.converge(50 * kE);
    }
  }
  run.set_sink(warnings.inner());
}

constexpr MessageType kAllTypes[] = {
    MessageType::PreVote,        MessageType::PreVoteResponse, MessageType::Vote,
    MessageType::VoteResponse,   MessageType::Append,          MessageType::AppendResponse,
    MessageType::Heartbeat,      MessageType::HeartbeatResponse,
    MessageType::InstallSnapshot, MessageType::TimeoutNow};

void unknown_sender_is_refused(Run& run) {
  under_attack(run, [](Simulator& sim, Prng& prng, WarningCounter& warnings) {
    const NodeId target = pick(prng, sim.ids(), 1).front();
    if (!sim.is_up(target)) return;
    const Term term = sim.raft(target).term();
    for (MessageType type : kAllTypes) {
      // Replication from an unknown id is followed, as from a leader added by a change this
      // node missed (raft_validate.cc); votes, answers and TimeoutNow from it are not.
      const bool replication = type == MessageType::Append || type == MessageType::Heartbeat ||
                               type == MessageType::InstallSnapshot;
      for (uint64_t from : {uint64_t{0}, uint64_t{4}, uint64_t{99}, kMax, target.value()}) {
        const bool member_or_invalid = from == 0 || from == target.value();
        if (replication && !member_or_invalid) continue;
        Message message = make(type, NodeId{from}, target, term + 1);
        if (type == MessageType::Append) message.entries = {entry(term.value() + 1, 1)};
        inject_expecting_no_effect(sim, warnings, message, /*must_refuse=*/true);
      }
    }
  });
}

void stale_term_changes_nothing(Run& run) {
  under_attack(run, [](Simulator& sim, Prng& prng, WarningCounter& warnings) {
    const NodeId target = pick(prng, sim.ids(), 1).front();
    const NodeId peer = pick(prng, without(sim.ids(), {target}), 1).front();
    if (!sim.is_up(target)) return;
    const raft::RaftStatus status = sim.raft(target).status();
    if (status.term == Term{0}) return;
    const Term stale = Term{prng.uniform(0, status.term.value() - 1)};
    for (MessageType type : kAllTypes) {
      Message message = make(type, peer, target, stale);
      message.log_term = stale;
      message.index = status.last_index;
      message.commit = status.last_index;
      if (type == MessageType::Append) {
        message.entries = {Entry{stale, status.last_index + 1, raft::EntryType::Normal, "x"}};
      }
      if (type == MessageType::InstallSnapshot) {
        message.snapshot = raft::Snapshot{
            raft::SnapshotMeta{status.last_index + 10, stale, status.conf_state}, ""};
      }
      inject_expecting_no_effect(sim, warnings, message, /*must_refuse=*/false);
    }
  });
}

// Appends under the current leader's id and term whose entries cannot be a real leader's.
void malformed_append_is_refused(Run& run) {
  under_attack(run, [](Simulator& sim, Prng& prng, WarningCounter& warnings) {
    const std::optional<NodeId> leader = sim.stable_leader();
    if (!leader) return;
    const NodeId target = pick(prng, without(sim.ids(), {*leader}), 1).front();
    const raft::RaftStatus status = sim.raft(target).status();
    const uint64_t term = status.term.value();
    const uint64_t last = status.last_index.value();
    const uint64_t last_term = status.last_term.value();
    Message base = make(MessageType::Append, *leader, target, status.term);
    base.log_term = status.last_term;
    base.index = status.last_index;
    base.commit = status.commit_index;
    std::vector<std::vector<Entry>> bad = {
        {entry(term, last + 1), entry(term, last + 3)},  // A gap.
        {entry(term, last + 2), entry(term, last + 3)},  // Not right after `index`.
        {entry(term + 1, last + 1)},                     // A term above the message's.
        {entry(term, last + 2), entry(term, last + 1)},  // Indexes going backwards.
    };
    if (term >= 2 && term - 1 >= last_term) {
      bad.push_back({entry(term, last + 1), entry(term - 1, last + 2)});  // Terms decrease.
    }
    if (last_term >= 1) bad.push_back({entry(last_term - 1, last + 1)});  // Below log_term.
    for (std::vector<Entry>& entries : bad) {
      Message message = base;
      message.entries = std::move(entries);
      inject_expecting_no_effect(sim, warnings, message, /*must_refuse=*/true);
    }
  });
}

// Indexes and terms no real cluster reaches, under members' ids.
void absurd_values_are_refused(Run& run) {
  under_attack(run, [](Simulator& sim, Prng& prng, WarningCounter& warnings) {
    const std::optional<NodeId> leader = sim.stable_leader();
    if (!leader) return;
    const NodeId follower = pick(prng, without(sim.ids(), {*leader}), 1).front();
    const Term term = sim.raft(follower).term();
    const Term leader_term = sim.raft(*leader).term();
    Message append = make(MessageType::Append, *leader, follower, term);
    append.log_term = term;
    append.index = Index{kMax - 1};
    append.entries = {entry(term.value(), kMax), entry(term.value(), kMax)};
    inject_expecting_no_effect(sim, warnings, append, /*must_refuse=*/true);
    const Message no_snapshot = make(MessageType::InstallSnapshot, *leader, follower, term);
    inject_expecting_no_effect(sim, warnings, no_snapshot, /*must_refuse=*/true);
    Message ack_beyond_log = make(MessageType::AppendResponse, follower, *leader, leader_term);
    ack_beyond_log.index = Index{kMax};
    inject_expecting_no_effect(sim, warnings, ack_beyond_log, /*must_refuse=*/true);
    Message rejection_hint = ack_beyond_log;
    rejection_hint.reject = true;
    rejection_hint.hint_index = Index{kMax};
    rejection_hint.hint_term = Term{kMax};
    inject_expecting_no_effect(sim, warnings, rejection_hint, /*must_refuse=*/false);
    // A term no cluster reaches: accepting it would wedge the node (its term can never grow
    // again without wrapping), so it must be refused like any other absurd value.
    const Message huge_term = make(MessageType::Heartbeat, *leader, follower, Term{kMax});
    inject_expecting_no_effect(sim, warnings, huge_term, /*must_refuse=*/true);
  });
}

}  // namespace

void append_hostile_scenarios(std::vector<Scenario>& out) {
  out.push_back({"hostile_unknown_sender",
                 "votes and answers from non-members, and anything from self, are refused",
                 unknown_sender_is_refused});
  out.push_back({"hostile_stale_term", "messages of stale terms change nothing",
                 stale_term_changes_nothing});
  out.push_back({"hostile_malformed_append", "non-contiguous or mis-termed Appends are refused",
                 malformed_append_is_refused});
  out.push_back({"hostile_absurd_values", "absurd indexes and terms are refused",
                 absurd_values_are_refused});
}

}  // namespace raftkv::sim
