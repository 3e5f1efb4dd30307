#include "demo.h"

#include <cstdio>
#include <string>
#include <vector>

#include "sim/console_sink.h"
#include "sim/scenario_util.h"
#include "sim/simulator.h"

namespace raftkv::sim {
namespace {

const char* const kPayload = "SET x 1";

std::string name(NodeId node) { return node_name(node); }

// Narrates heartbeats (the first few, then only counts them) and the client's entry.
class DemoObserver final : public SimObserver {
 public:
  DemoObserver(const Simulator& sim, ConsoleSink& sink) : sim_(sim), sink_(sink) {}

  void on_send(const raft::Message& message, size_t /*copies*/) override {
    const bool heartbeat = message.type == raft::MessageType::Heartbeat;
    const bool ack = message.type == raft::MessageType::HeartbeatResponse;
    if (heartbeat) ++heartbeats;
    if (ack) ++heartbeat_acks;
    if ((!heartbeat && !ack) || show_heartbeats == 0) return;
    if (!showing_ && !heartbeat) return;  // Start the excerpt with a heartbeat, not an ack.
    showing_ = true;
    --show_heartbeats;
    sink_.write(sim_.now_us(), message.from, LogLevel::Info,
                std::string(heartbeat ? "heartbeat -> " : "heartbeat ack -> ") +
                    name(message.to) + " (term " + std::to_string(message.term.value()) + ")");
  }

  void on_durable(NodeId node, const raft::Ready& ready) override {
    for (const raft::Entry& entry : ready.entries) {
      if (entry.data != kPayload) continue;
      in_log.push_back(node);
      sink_.write(sim_.now_us(), node, LogLevel::Info,
                  "'" + entry.data.str() + "' is in my log at index " +
                      std::to_string(entry.index.value()) + " (term " +
                      std::to_string(entry.term.value()) + "), persisted");
    }
  }

  void on_apply(NodeId node, const raft::Entry& entry) override {
    if (entry.data != kPayload) return;
    applied.push_back(node);
    const bool leader = sim_.raft(node).role() == raft::Role::Leader;
    sink_.write(sim_.now_us(), node, LogLevel::Info,
                std::string(leader ? "committed (stored by a majority); " : "learned commit; ") +
                    "applied index " + std::to_string(entry.index.value()) + ": '" +
                    entry.data.str() + "'");
  }

  int show_heartbeats = 0;
  uint64_t heartbeats = 0;
  uint64_t heartbeat_acks = 0;
  std::vector<NodeId> in_log;
  std::vector<NodeId> applied;

 private:
  const Simulator& sim_;
  ConsoleSink& sink_;
  bool showing_ = false;
};

class Demo {
 public:
  Demo(bool colour, uint64_t seed)
      : sink_(stdout, colour, LogLevel::Info), run_("demo", seed), options_(options()) {
    run_.set_sink(&sink_);
  }

  int run() {
    sink_.headline("Three nodes start as followers; no leader yet");
    Simulator sim(run_, options_);
    DemoObserver observer(sim, sink_);
    sim.set_observer(&observer);
    const bool ok = start(sim) && elect(sim) && heartbeats(sim, observer) &&
                    kill_leader(sim) && rejoin(sim) && replicate(sim, observer) && verify(sim);
    if (ok) return 0;
    std::printf("\nDEMO FAILED: %s\n", run_.failed() ? run_.failure().c_str() : "");
    return 1;
  }

 private:
  static SimOptions options() {
    SimOptions options = default_options(3);
    options.network.delay_us_min = kTickUs / 10;
    options.network.delay_us_max = kTickUs / 2;
    return options;
  }

  bool check(Simulator& sim, bool condition, const std::string& what) {
    if (!condition && !sim.failed()) sim.fail("demo step failed: " + what);
    return condition && !sim.failed();
  }

  bool start(Simulator& sim) {
    bool all_followers = true;
    for (NodeId id : sim.ids()) {
      const raft::Raft& raft = sim.raft(id);
      all_followers = all_followers && raft.role() == raft::Role::Follower &&
                      raft.leader() == kNoNode && raft.term() == Term{0};
    }
    sim.narrate("each waits a random 10-19 ticks for a leader before starting an election");
    return check(sim, all_followers, "every node starts as a follower of term 0");
  }

  bool elect(Simulator& sim) {
    sink_.headline("One node times out and asks for votes (PreVote, then Vote)");
    leader_ = sim.wait_for_leader(10 * kE);
    if (!check(sim, leader_.has_value(), "a single leader within 10 election timeouts")) {
      return false;
    }
    term_ = sim.raft(*leader_).term();
    sim.narrate(name(*leader_) + " is the leader of term " + std::to_string(term_.value()) +
                " (" + std::to_string(sim.counts().total) + " messages so far)");
    return true;
  }

  bool heartbeats(Simulator& sim, DemoObserver& observer) {
    sink_.headline("Heartbeats keep the leader in office (every tick)");
    observer.show_heartbeats = 8;
    const uint64_t sent = observer.heartbeats;
    const uint64_t acks = observer.heartbeat_acks;
    sim.run_for_ticks(30);
    sim.narrate("... 30 ticks: " + std::to_string(observer.heartbeats - sent) +
                " heartbeats sent, " + std::to_string(observer.heartbeat_acks - acks) +
                " acknowledged; nobody started an election");
    return check(sim, sim.stable_leader() == leader_ && sim.raft(*leader_).term() == term_,
                 "the leader and the term stay the same while heartbeats flow");
  }

  bool kill_leader(Simulator& sim) {
    sink_.headline("Kill the leader, " + name(*leader_));
    const NodeId dead = *leader_;
    sim.crash(dead);
    const uint64_t start = sim.now_us();
    leader_ = sim.wait_for_leader(10 * kE, without(sim.ids(), {dead}));
    if (!check(sim, leader_.has_value(), "a new leader within 10 election timeouts")) {
      return false;
    }
    term_ = sim.raft(*leader_).term();
    const uint64_t ticks_x10 = (sim.now_us() - start) * 10 / kTickUs;
    sim.narrate(name(*leader_) + " leads term " + std::to_string(term_.value()) + ", " +
                std::to_string(ticks_x10 / 10) + "." + std::to_string(ticks_x10 % 10) +
                " ticks after " + name(dead) + " died (election timeout: 10-19 ticks)");
    dead_ = dead;
    return check(sim, *leader_ != dead, "the new leader is another node");
  }

  bool rejoin(Simulator& sim) {
    sink_.headline(name(dead_) + " restarts from its disk and rejoins as a follower");
    sim.restart(dead_);
    const bool joined =
        sim.run_until([&] { return sim.stable_leader() == leader_; }, 10 * kE);
    if (joined) sim.narrate(name(dead_) + " follows " + name(*leader_));
    return check(sim, joined && sim.raft(*leader_).term() == term_,
                 "the restarted node follows the new leader without an election");
  }

  bool replicate(Simulator& sim, DemoObserver& observer) {
    sink_.headline(std::string("A client sends '") + kPayload + "' to the leader, " +
                   name(*leader_));
    if (!check(sim, sim.propose_payload(*leader_, kPayload).is_ok(), "the leader accepts it")) {
      return false;
    }
    const bool everywhere = sim.run_until(
        [&] { return observer.applied.size() == sim.ids().size(); }, 10 * kE);
    if (!check(sim, everywhere, "the entry is applied on all three nodes within 10 E")) {
      return false;
    }
    return check(sim, observer.in_log.size() == 3 && observer.in_log.front() == *leader_,
                 "the entry reaches the leader's log first, then each follower's") &&
           check(sim, observer.applied.front() == *leader_,
                 "the leader commits and applies it before the followers learn the commit");
  }

  bool verify(Simulator& sim) {
    sink_.headline("Safety checks");
    if (!sim.converge(50 * kE)) return false;
    sim.narrate("every node applied the same entries in the same order; at most one leader "
                "per term; logs match; nothing acknowledged was lost");
    std::printf("\nDemo finished: all steps checked. Replay any simulation seed with "
                "raftkv-sim --scenario=NAME --seed=S (see --list).\n");
    return true;
  }

  ConsoleSink sink_;
  Run run_;
  SimOptions options_;
  std::optional<NodeId> leader_;
  NodeId dead_;
  Term term_;
};

}  // namespace

int run_demo(bool colour, uint64_t seed) { return Demo(colour, seed).run(); }

}  // namespace raftkv::sim
