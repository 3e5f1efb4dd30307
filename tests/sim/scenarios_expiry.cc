// Expiry through the real runtime and store (issue 16): keys set with short TTLs while nodes
// crash, restart and are cut off, checked three ways:
//   - every node's key space is the same after each index it applies, so the lazy deletes
//     (by the writes that touch an expired key) and the leader's sweep happen at the same
//     entry on every node;
//   - no GET returns a value once its deadline has surely passed (the GET started at least
//     the TTL after its SET was acknowledged), whichever node served it: no resurrection;
//   - once the TTLs pass, the sweep leaves no key with a deadline on any node.
// The sweep is proposed here, as the leader's runtime proposes RespStateMachine::maintenance()
// in the server: the simulator's state machine (sim_machine.h) does not pass maintenance on.
#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "sim/scenario_util.h"
#include "sim/scenarios.h"

namespace raftkv::sim {
namespace {

constexpr uint64_t kStepUs = kTickUs / 4;
constexpr uint64_t kKeys = 4;

// A fingerprint of a node's key space: keys, values, deadlines and versions, in key order.
uint64_t fingerprint(const kv::KvStateMachine& kv) {
  uint64_t hash = 1469598103934665603ULL;
  const auto mix = [&hash](uint64_t value) { hash = (hash ^ value) * 1099511628211ULL; };
  kv.keys().map().for_each([&](std::string_view key, const kv::Record& record) {
    mix(std::hash<std::string_view>{}(key));
    mix(std::hash<std::string_view>{}(record.string()));
    mix(static_cast<uint64_t>(record.expire_at_ms()));
    mix(record.version());
  });
  return hash;
}

// Check 1: the key space after each index, per node; every node must agree with the first.
class SameKeyspaceEverywhere final : public SimObserver {
 public:
  void on_kv_apply(NodeId node, const raft::Entry& entry, const kv::KvStateMachine& kv,
                   const std::string* /*reply*/) override {
    const uint64_t print = fingerprint(kv);
    auto [it, first] = after_.emplace(entry.index.value(), print);
    if (!first && it->second != print && mismatch.empty()) {
      mismatch = node_name(node) + " holds another key space than a peer after index " +
                 std::to_string(entry.index.value());
    }
    ++applies;
  }
  std::map<uint64_t, uint64_t> after_;
  std::string mismatch;
  uint64_t applies = 0;
};

struct SetRecord {
  uint64_t ttl_ms = 0;
  std::optional<uint64_t> acked_us;  // When the SET was answered OK.
};

// Clients setting keys with TTLs and reading them back, one request in flight each.
class ExpiryClients {
 public:
  ExpiryClients(Simulator& sim, Prng& prng) : sim_(sim), prng_(prng), busy_(3, false) {}

  void run(uint64_t ticks, bool writes) {
    for (uint64_t i = 0; i < ticks * (kTickUs / kStepUs) && !sim_.failed(); ++i) {
      for (size_t c = 0; c < busy_.size(); ++c) step(c, writes);
      sweep();
      sim_.run_for_us(kStepUs);
    }
  }
  [[nodiscard]] uint64_t reads_checked() const { return reads_checked_; }
  [[nodiscard]] uint64_t sets_acked() const { return sets_acked_; }

 private:
  void step(size_t c, bool writes) {
    if (busy_[c]) return;
    const std::vector<NodeId> ids = sim_.ids();
    const NodeId node = ids[prng_.uniform(0, ids.size() - 1)];
    if (!sim_.is_up(node)) return;
    const std::string key = "e" + std::to_string(prng_.uniform(0, kKeys - 1));
    if (writes && prng_.chance(1, 2)) {
      const std::string value = "v" + std::to_string(++values_);
      const uint64_t ttl_ms = prng_.uniform(2, 30);  // 1 tick = 1 ms; E = 10 ticks.
      sets_[value] = SetRecord{ttl_ms, std::nullopt};
      submit(c, node, kv::Command::call({"set", key, value, "PX", std::to_string(ttl_ms)}),
             [this, value](const kv::Reply& reply) {
               if (reply == kv::Reply::ok()) {
                 sets_[value].acked_us = sim_.now_us();
                 ++sets_acked_;
               }
             });
      return;
    }
    const uint64_t invoke_us = sim_.now_us();
    submit(c, node, kv::Command::call({"get", key}), [this, invoke_us](const kv::Reply& reply) {
      if (reply.type == kv::ReplyType::Bulk) check_read(reply.text, invoke_us);
    });
  }

  // Check 2: the value's deadline is at most its SET's acknowledgement plus the TTL (the
  // leader stamped the entry before it answered), and a read runs at or after its start.
  void check_read(const std::string& value, uint64_t invoke_us) {
    ++reads_checked_;
    const SetRecord& set = sets_.at(value);
    if (set.acked_us && invoke_us >= *set.acked_us + set.ttl_ms * 1000) {
      sim_.fail("a GET started " + std::to_string(invoke_us - *set.acked_us) +
                " us after SET ... PX " + std::to_string(set.ttl_ms) + " was acknowledged " +
                "still returned its value " + value);
    }
  }

  void submit(size_t c, NodeId node, const kv::Command& command,
              std::function<void(const kv::Reply&)> on_ok) {
    busy_[c] = true;
    const Status sent = sim_.submit(
        node, sim_.kv_request(command),
        [this, c, on_ok = std::move(on_ok)](const runtime::Response& response) {
          busy_[c] = false;
          if (response.outcome == runtime::Outcome::Ok) on_ok(parse_resp(response.reply));
        },
        [this, c] { busy_[c] = false; });
    if (!sent.is_ok()) busy_[c] = false;
  }

  // What the leader's runtime does each tick in the server (StateMachine::maintenance): by
  // its own clock, so a key is swept once its deadline passes even if no later write moves
  // log time past it.
  void sweep() {
    const std::optional<NodeId> leader = sim_.stable_leader();
    if (sweeping_ || !leader || sim_.kv(*leader) == nullptr) return;
    const std::optional<kv::Command> due = sim_.kv(*leader)->sweep_due(sim_.wall_ms());
    if (!due) return;
    sweeping_ = true;
    const Status sent = sim_.submit(
        *leader, sim_.kv_request(*due), [this](const runtime::Response&) { sweeping_ = false; },
        [this] { sweeping_ = false; });
    if (!sent.is_ok()) sweeping_ = false;
  }

  Simulator& sim_;
  Prng& prng_;
  std::vector<bool> busy_;
  std::map<std::string, SetRecord> sets_;  // By the unique value each SET wrote.
  uint64_t values_ = 0;
  uint64_t reads_checked_ = 0;
  uint64_t sets_acked_ = 0;
  bool sweeping_ = false;
};

void expiry_same_index(Run& run) {
  SimOptions options = default_options(run.seed() % 2 == 0 ? 3 : 5);
  options.kv = kv::KvConfig{.sweep_keys_max = 2};
  options.disk_latency_us_max = kTickUs / 2;
  if (run.seed() % 3 == 0) {
    options.snapshot_every_entries = 20;
    options.snapshot_keep_entries = 5;
  }
  Simulator sim(run, options);
  SameKeyspaceEverywhere keyspaces;
  sim.set_observer(&keyspaces);
  Prng prng = scenario_prng(run);
  ExpiryClients clients(sim, prng);
  for (int round = 0; round < 6 && !sim.failed(); ++round) {
    clients.run(prng.uniform(2 * kE, 4 * kE), true);
    const NodeId victim = pick(prng, sim.ids(), 1).front();
    if (prng.chance(1, 2)) {
      sim.crash(victim);
    } else {
      sim.network().isolate(victim);
    }
    clients.run(prng.uniform(kE, 2 * kE), true);
    sim.network().heal();
    for (NodeId id : sim.ids()) sim.restart(id);
  }
  // Past every TTL (30 ticks at most): the leader's sweep clears what is left.
  clients.run(15 * kE, false);
  if (!sim.converge(50 * kE)) return;
  if (!keyspaces.mismatch.empty()) return sim.fail(keyspaces.mismatch);
  for (NodeId id : sim.ids()) {
    const kv::KvStateMachine* kv = sim.kv(id);
    if (kv == nullptr) return sim.fail(node_name(id) + " is down after converging");
    if (kv->keys().expiring() != 0) {
      return sim.fail(node_name(id) + " still holds " + std::to_string(kv->keys().expiring()) +
                      " keys with a deadline after every TTL passed");
    }
  }
  if (clients.sets_acked() == 0) return sim.fail("no SET ... PX was acknowledged");
  run.metric("sets_acked", clients.sets_acked());
  run.metric("reads_checked", clients.reads_checked());
  run.metric("kv_applies_compared", keyspaces.applies);
}

}  // namespace

void append_expiry_scenarios(std::vector<Scenario>& out) {
  out.push_back({"expiry_same_index",
                 "keys with TTLs under crashes and cut-offs: expired at the same index "
                 "everywhere, never read back late, swept",
                 expiry_same_index});
}

}  // namespace raftkv::sim
