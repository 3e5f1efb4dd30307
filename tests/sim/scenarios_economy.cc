// Message economy (issue 2, §3.5) in a healthy 3-node cluster on a reliable network with a
// fixed delay: every message any node sends is counted.
#include <sstream>

#include "sim/scenario_util.h"
#include "sim/scenarios.h"

namespace raftkv::sim {
namespace {

SimOptions economy_options() {
  SimOptions options = default_options(3);
  // A fixed 0.02-tick delay: no variance, and a round trip far shorter than a heartbeat.
  options.network.delay_us_min = kTickUs / 50;
  options.network.delay_us_max = kTickUs / 50;
  return options;
}

std::string counts_text(const MessageCounts& counts) {
  std::ostringstream out;
  for (size_t type = 0; type < counts.by_type.size(); ++type) {
    if (counts.by_type[type] == 0) continue;
    out << " " << raft::message_type_name(static_cast<raft::MessageType>(type)) << "="
        << counts.by_type[type];
  }
  return out.str();
}

// Waits until every node applied everything and followers know the commit index.
bool wait_quiet(Simulator& sim) {
  return sim.run_until([&] { return applied_whole_log(sim, sim.ids()); }, 10 * kE);
}

void election_takes_few_messages(Run& run) {
  Simulator sim(run, economy_options());
  if (!sim.wait_for_leader(10 * kE)) return sim.fail("no single leader within 10 E");
  const uint64_t sent = sim.counts().total;
  run.metric("election_messages", sent);
  if (sent > 30) {
    return sim.fail("electing a leader took " + std::to_string(sent) + " messages (bound 30):" +
                    counts_text(sim.counts()));
  }
}

// Remembers when the leader last sent a heartbeat.
class HeartbeatWatch final : public SimObserver {
 public:
  explicit HeartbeatWatch(const Simulator& sim) : sim_(sim) {}
  void on_send(const raft::Message& message, size_t /*copies*/) override {
    if (message.type == raft::MessageType::Heartbeat) last_us = sim_.now_us();
  }
  uint64_t last_us = 0;

 private:
  const Simulator& sim_;
};

// Ten entries, each proposed once the previous one committed on the leader. The count starts
// right after a heartbeat round so that it measures the cost per entry; heartbeats are
// measured by idle_messages.
void commit_takes_few_messages(Run& run) {
  Simulator sim(run, economy_options());
  if (!sim.wait_for_leader(10 * kE)) return sim.fail("no single leader within 10 E");
  if (!wait_quiet(sim)) return sim.fail("the new leader's no-op did not settle within 10 E");
  HeartbeatWatch watch(sim);
  sim.set_observer(&watch);
  const uint64_t seen = watch.last_us;
  if (!sim.run_until([&] { return watch.last_us != seen; }, 2)) {
    return sim.fail("the leader sent no heartbeat for 2 ticks");
  }
  sim.run_for_us(2 * sim.options().network.delay_us_max + 1);  // Let the round finish.
  const std::optional<NodeId> leader = sim.stable_leader();
  if (!leader) return sim.fail("lost the leader on a healthy network");
  const uint64_t before = sim.counts().total;
  const MessageCounts counts_before = sim.counts();
  for (int i = 0; i < 10; ++i) {
    std::string payload;
    if (!sim.propose(*leader, &payload).is_ok()) return sim.fail("the leader refused a proposal");
    if (!sim.run_until([&] { return sim.history().is_acked(payload); }, kE)) {
      return sim.fail("entry " + std::to_string(i) + " did not commit within E");
    }
  }
  const uint64_t sent = sim.counts().total - before;
  run.metric("commit_10_messages", sent);
  if (sent > 42) {
    MessageCounts delta = sim.counts();
    for (size_t t = 0; t < delta.by_type.size(); ++t) delta.by_type[t] -= counts_before.by_type[t];
    return sim.fail("committing 10 entries took " + std::to_string(sent) +
                    " messages (bound 42):" + counts_text(delta));
  }
}

// Idle for 10 heartbeat intervals: heartbeats and their answers only, at most 3 messages per
// follower per interval.
void idle_cluster_sends_only_heartbeats(Run& run) {
  Simulator sim(run, economy_options());
  if (!sim.wait_for_leader(10 * kE)) return sim.fail("no single leader within 10 E");
  if (!wait_quiet(sim)) return sim.fail("the new leader's no-op did not settle within 10 E");
  sim.run_for_ticks(2);  // Followers learn the final commit index from the next heartbeat.
  const MessageCounts before = sim.counts();
  const uint64_t intervals = 10;
  sim.run_for_ticks(intervals * sim.options().heartbeat_ticks);
  const uint64_t sent = sim.counts().total - before.total;
  const uint64_t heartbeats =
      sim.counts().of(raft::MessageType::Heartbeat) - before.of(raft::MessageType::Heartbeat) +
      sim.counts().of(raft::MessageType::HeartbeatResponse) -
      before.of(raft::MessageType::HeartbeatResponse);
  const uint64_t followers = sim.ids().size() - 1;
  run.metric("idle_messages_per_follower_interval_x100", sent * 100 / (followers * intervals));
  if (sent > 3 * followers * intervals) {
    return sim.fail("an idle cluster sent " + std::to_string(sent) + " messages in " +
                    std::to_string(intervals) + " heartbeat intervals (bound " +
                    std::to_string(3 * followers * intervals) + ")");
  }
  if (heartbeats != sent) {
    return sim.fail("an idle cluster sent " + std::to_string(sent - heartbeats) +
                    " messages other than heartbeats");
  }
}

}  // namespace

void append_economy_scenarios(std::vector<Scenario>& out) {
  out.push_back({"election_messages", "electing a leader takes <= 30 messages",
                 election_takes_few_messages});
  out.push_back({"commit_messages", "committing 10 entries one at a time takes <= 42 messages",
                 commit_takes_few_messages});
  out.push_back({"idle_messages", "idle: only heartbeats, <= 3 per follower per interval",
                 idle_cluster_sends_only_heartbeats});
}

}  // namespace raftkv::sim
