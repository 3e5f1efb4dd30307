// Exactly-once client sessions on the KV state machine (issue 5, §4): duplicate delivery and
// lost replies are injected; with sessions every request is applied exactly once; session
// expiry happens at the same log index on every node; a node restored from a snapshot keeps
// the session table and still drops duplicates.
//
// Every node runs the real key-value store (SimOptions::kv) behind the real runtime. Simulated
// clients register a session, then send INCRBY k<client id> 1 under sequence numbers 1, 2, ...
// through a leader's runtime; a client retries the same (client id, sequence) when its reply
// is lost: the node it sent to crashed, the reply was dropped (at random, and always the first
// one of each client), the runtime answered that it may or may not have applied it, or no reply
// came within kRetryTicks. Because each session has its own key and one writer, exactly-once
// means: the key holds the number of requests acknowledged to the client, and every reply to
// sequence s is s (a duplicate gets the remembered reply). Meanwhile every node's KV snapshot
// bytes after each index must equal every other node's after that index, sessions and log
// time included.
#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/assert.h"
#include "kv/command.h"
#include "kv/reply.h"
#include "kv/state_machine.h"
#include "runtime/byte_stream.h"
#include "sim/scenario_util.h"
#include "sim/scenarios.h"

namespace raftkv::sim {
namespace {

// A client gives up waiting for a reply after this long and proposes the request again.
constexpr uint64_t kRetryTicks = 3 * kE;
// Clients act four times per tick.
constexpr uint64_t kClientStepUs = kTickUs / 4;

std::string session_key(uint64_t client_id) { return "k" + std::to_string(client_id); }

// "kv/<id>/": what identifies one attempt, in the request and in its log entry alike (the
// leader stamps its clock into the command part of a session's entry).
std::string attempt_id(std::string_view payload) {
  const size_t slash = payload.find('/', 3);
  return std::string(payload.substr(0, slash + 1));
}

bool is_session_expired(const kv::Reply& reply) {
  return reply.is_error() && reply.text.starts_with("SESSION_EXPIRED");
}

bool is_too_old(const kv::Reply& reply) {
  return reply.is_error() && reply.text == "ERR sequence number too old";
}

// One simulated exactly-once client; at most one request in flight (kv/state_machine.h).
struct SessionClient {
  uint64_t client_id = 0;  // 0 until a registration is acknowledged.
  uint64_t sequence = 0;   // The request in flight, or the last one acknowledged.
  uint64_t acked = 0;      // Requests acknowledged on the current session.
  uint64_t budget = 0;     // New requests (registrations included) it may still start.
  bool in_flight = false;
  uint64_t request = 0;     // Bumped per request; tells a stale attempt's reply apart.
  uint64_t attempts = 0;    // Proposals of the request in flight.
  uint64_t attempt_us = 0;  // When the latest one was proposed.
  bool reply_lost = false;  // The node holding the latest attempt crashed.
  bool first_reply_dropped = false;
  uint64_t expired_replies = 0;  // SESSION_EXPIRED answers received.
  // Requests acknowledged per session this client held (client id -> count).
  std::map<uint64_t, uint64_t> acked_by_session;
};

// The clients, the fault injection on their replies, and the checkers, as a SimObserver.
class SessionWorld final : public SimObserver {
 public:
  SessionWorld(Simulator& sim, Prng& prng, uint64_t lost_reply_per_mille)
      : sim_(sim), prng_(prng), lost_reply_per_mille_(lost_reply_per_mille) {
    sim_.set_observer(this);
  }
  ~SessionWorld() override { sim_.set_observer(nullptr); }
  SessionWorld(const SessionWorld&) = delete;
  SessionWorld& operator=(const SessionWorld&) = delete;

  size_t add_client(uint64_t budget) {
    clients_.emplace_back();
    clients_.back().budget = budget;
    return clients_.size() - 1;
  }
  SessionClient& client(size_t c) { return clients_.at(c); }

  // Runs the cluster for `ticks`, the clients acting every kClientStepUs.
  void run(uint64_t ticks) {
    for (uint64_t step = 0; step < ticks * (kTickUs / kClientStepUs) && !sim_.failed(); ++step) {
      for (size_t c = 0; c < clients_.size(); ++c) drive(c);
      sim_.run_for_us(kClientStepUs);
    }
  }

  // Runs until `done()` (checked every client step), at most `ticks_max`; false on timeout.
  bool run_until(const std::function<bool()>& done, uint64_t ticks_max) {
    for (uint64_t step = 0; step < ticks_max * (kTickUs / kClientStepUs); ++step) {
      if (sim_.failed()) return false;
      if (done()) return true;
      for (size_t c = 0; c < clients_.size(); ++c) drive(c);
      sim_.run_for_us(kClientStepUs);
    }
    return !sim_.failed() && done();
  }

  // Stops new requests and waits until every client's request in flight is answered.
  bool settle(uint64_t ticks_max) {
    for (SessionClient& cl : clients_) cl.budget = 0;
    const bool settled = run_until(
        [&] {
          for (const SessionClient& cl : clients_) {
            if (cl.in_flight) return false;
          }
          return true;
        },
        ticks_max);
    if (!settled && !sim_.failed()) sim_.fail("a client request was not answered after healing");
    return settled;
  }

  // Crashes `node`: clients waiting on it lose their reply (the connection died; the
  // simulator tells each one).
  void crash(NodeId node) {
    sim_.crash(node);
    present_.erase(node);
  }

  // A retry of an already answered (client id, sequence), sent straight to `node`: its reply
  // is recorded and checked, no client waits for it. The payload, or "" when refused.
  std::string propose_again(NodeId node, uint64_t client_id, uint64_t sequence) {
    const kv::Command command = kv::Command::session(
        client_id, sequence, 0, kv::Command::incr_by(session_key(client_id), 1));
    runtime::Request request = sim_.kv_request(command);
    const std::string id = attempt_id(request.bytes);
    if (!sim_.submit(node, std::move(request), [](runtime::Response) {}, [] {}).is_ok()) {
      return "";
    }
    ++retries_proposed_;
    return id;
  }

  // Whether every up node holds the attempt `id` (propose_again's result), applied or restored
  // from a snapshot.
  [[nodiscard]] bool applied_everywhere(const std::string& id) const {
    for (NodeId node : sim_.ids()) {
      if (!sim_.is_up(node)) continue;
      const std::vector<std::string>& payloads = sim_.machine(node).payloads().payloads();
      const bool held = std::any_of(payloads.rbegin(), payloads.rend(), [&](const auto& payload) {
        return payload.starts_with(id);
      });
      if (!held) return false;
    }
    return true;
  }

  // The reply every node gave to the attempt `id` (all equal, checked on apply), if applied.
  [[nodiscard]] const kv::Reply* reply_to(const std::string& id) const {
    auto it = replies_.find(id);
    return it == replies_.end() ? nullptr : &it->second;
  }

  // After Simulator::converge(): every node holds, for every session, the number of its
  // acknowledged sequences, and the same KV bytes.
  void check_final() {
    if (sim_.failed()) return;
    std::string reference;
    for (NodeId id : sim_.ids()) {
      const kv::KvStateMachine* kv = sim_.kv(id);
      if (kv == nullptr) return sim_.fail(node_name(id) + " has no KV state after converging");
      for (const SessionClient& cl : clients_) {
        for (const auto& [client_id, acked] : cl.acked_by_session)
          check_counter(id, *kv, client_id, acked);
      }
      const std::string bytes = save(*kv);
      if (reference.empty()) reference = bytes;
      if (bytes != reference) return sim_.fail(node_name(id) + "'s KV state differs at the end");
    }
  }

  void report_metrics(Run& run) const {
    run.metric("duplicates_committed", duplicates_committed());
    run.metric("retries_proposed", retries_proposed_);
    run.metric("replies_dropped", replies_dropped_);
    run.metric("requests_acked", requests_acked_);
    run.metric("session_expiries", expiry_index_.size());
    run.metric("kv_restores", kv_restores_);
  }

  // Copies of one (client id, sequence) beyond the first that reached some node's log.
  [[nodiscard]] uint64_t duplicates_committed() const {
    uint64_t out = 0;
    for (const auto& [request, payloads] : copies_) out += payloads.size() - 1;
    return out;
  }
  [[nodiscard]] uint64_t retries_proposed() const { return retries_proposed_; }
  [[nodiscard]] const std::map<uint64_t, Index>& expiry_index() const { return expiry_index_; }
  [[nodiscard]] const std::map<uint64_t, std::set<NodeId>>& expired_on() const {
    return expired_on_;
  }
  // True when a snapshot restored on `node` held `client_id`'s session.
  [[nodiscard]] bool restored_session(NodeId node, uint64_t client_id) const {
    auto it = restored_sessions_.find(node);
    return it != restored_sessions_.end() && it->second.contains(client_id);
  }
  [[nodiscard]] uint64_t kv_restores(NodeId node) const {
    auto it = restores_by_node_.find(node);
    return it == restores_by_node_.end() ? 0 : it->second;
  }

  void on_kv_apply(NodeId node, const raft::Entry& entry, const kv::KvStateMachine& kv,
                   const std::string* resp) override {
    check_same_state(node, entry.index, kv);
    check_expiries(node, entry.index, kv);
    if (resp == nullptr) return;
    const std::optional<std::string_view> bytes = SimMachine::kv_command(entry.data);
    Result<kv::Command> command = kv::decode_command(*bytes);
    if (!command.is_ok())
      return sim_.fail("a proposed KV command did not decode on " + node_name(node));
    const kv::Reply reply = parse_resp(*resp);
    check_reply(node, entry, command.value(), reply);
    if (command.value().type == kv::CommandType::RegisterSession &&
        reply.type == kv::ReplyType::Integer) {
      present_[node].insert(static_cast<uint64_t>(reply.integer));
    }
  }

  void on_restore(NodeId node, const SimMachine& machine) override {
    RAFT_ASSERT(machine.kv() != nullptr);
    const kv::KvStateMachine& kv = *machine.kv();
    ++kv_restores_;
    ++restores_by_node_[node];
    check_same_state(node, kv.applied_index(), kv);
    // The restored table decides which sessions the node holds from here on.
    std::set<uint64_t>& present = present_[node];
    present.clear();
    for (uint64_t client_id : all_sessions_) {
      if (kv.find_session(client_id) != nullptr) present.insert(client_id);
    }
    restored_sessions_[node].insert(present.begin(), present.end());
  }

 private:
  static std::string save(const kv::KvStateMachine& kv) {
    runtime::StringSink writer;
    Status saved = kv.save(writer);
    RAFT_ASSERT(saved.is_ok());
    return writer.take();
  }

  void check_counter(NodeId node, const kv::KvStateMachine& kv, uint64_t client_id,
                     uint64_t acked) {
    const kv::Reply value = kv.query(kv::Command::get(session_key(client_id)));
    const std::string expected = acked == 0 ? "" : std::to_string(acked);
    const std::string actual = value.type == kv::ReplyType::Bulk ? value.text : "";
    if (actual == expected) return;
    sim_.fail(node_name(node) + " holds " + session_key(client_id) + " = '" + actual + "' but " +
              std::to_string(acked) + " requests of that session were acknowledged");
  }

  // The KV state after index i is a function of the log: equal bytes on every node, sessions,
  // their last replies and log time included (so expiry, too, is identical everywhere).
  void check_same_state(NodeId node, Index index, const kv::KvStateMachine& kv) {
    std::string bytes = save(kv);
    auto [it, inserted] = states_.try_emplace(index.value(), bytes);
    if (inserted || it->second == bytes) return;
    sim_.fail(node_name(node) + "'s KV state after index " + std::to_string(index.value()) +
              " differs from another node's at the same index");
  }

  void check_expiries(NodeId node, Index index, const kv::KvStateMachine& kv) {
    std::set<uint64_t>& present = present_[node];
    for (auto it = present.begin(); it != present.end();) {
      if (kv.find_session(*it) != nullptr) {
        ++it;
        continue;
      }
      auto [first, inserted] = expiry_index_.try_emplace(*it, index);
      expired_on_[*it].insert(node);
      if (!inserted && first->second != index) {
        return sim_.fail("session " + std::to_string(*it) + " expired at index " +
                         std::to_string(index.value()) + " on " + node_name(node) + " but at " +
                         std::to_string(first->second.value()) + " elsewhere");
      }
      it = present.erase(it);
    }
  }

  void check_reply(NodeId node, const raft::Entry& entry, const kv::Command& command,
                   const kv::Reply& reply) {
    auto [it, inserted] = replies_.try_emplace(attempt_id(entry.data), reply);
    if (!inserted && !(it->second == reply)) {
      return sim_.fail(node_name(node) + " replied " + kv::reply_debug_string(reply) +
                       " to entry " + std::to_string(entry.index.value()) + ", another node " +
                       kv::reply_debug_string(it->second));
    }
    if (command.type == kv::CommandType::RegisterSession) {
      if (reply.type != kv::ReplyType::Integer) return sim_.fail("a registration failed");
      all_sessions_.insert(static_cast<uint64_t>(reply.integer));
      return;
    }
    RAFT_ASSERT(command.type == kv::CommandType::Session);
    copies_[{command.client_id, command.sequence}].insert(attempt_id(entry.data));
    if (is_session_expired(reply) || is_too_old(reply)) return;
    // One writer per key, sequences without gaps: applied exactly once, sequence s makes the
    // key s, and a duplicate gets the remembered reply s.
    if (reply.type == kv::ReplyType::Integer &&
        reply.integer == static_cast<int64_t>(command.sequence)) {
      return;
    }
    sim_.fail(node_name(node) + " answered sequence " + std::to_string(command.sequence) +
              " of session " + std::to_string(command.client_id) + " with " +
              kv::reply_debug_string(reply) + ": applied twice or lost");
  }

  // The runtime's answer to one attempt of client `c`'s request `request`.
  void on_answer(size_t c, uint64_t request, const kv::Command& command,
                 const runtime::Response& response) {
    SessionClient& cl = clients_.at(c);
    if (!cl.in_flight || request != cl.request) return;  // Answered already.
    if (response.outcome != runtime::Outcome::Ok) {
      // Not applied, or in doubt: the client retries the same (client id, sequence), which
      // its session makes safe either way.
      cl.reply_lost = true;
      return;
    }
    const kv::Reply reply = parse_resp(response.reply);
    // Lost replies: each client's first acknowledgement of a session request always (so a
    // duplicate reaches the log for sure), then any at random. It retries after kRetryTicks.
    const bool first = !cl.first_reply_dropped && command.type == kv::CommandType::Session;
    if (first || prng_.chance(lost_reply_per_mille_, 1000)) {
      if (first) cl.first_reply_dropped = true;
      ++replies_dropped_;
      return;
    }
    cl.in_flight = false;
    ++requests_acked_;
    if (command.type == kv::CommandType::RegisterSession) {
      cl.client_id = static_cast<uint64_t>(reply.integer);
      cl.sequence = 0;
      cl.acked = 0;
      cl.acked_by_session[cl.client_id] = 0;
      return;
    }
    if (is_session_expired(reply)) {
      ++cl.expired_replies;
      cl.client_id = 0;  // Registers a new session for its next request.
      return;
    }
    if (is_too_old(reply)) return sim_.fail("a client's only request in flight was too old");
    ++cl.acked;  // Requests acknowledged, counted by the client: what the key must hold.
    cl.acked_by_session[cl.client_id] = cl.acked;
  }

  // One client step: start a request when idle, (re)propose it when it has no live attempt.
  void drive(size_t c) {
    SessionClient& cl = clients_[c];
    if (!cl.in_flight) {
      if (cl.budget == 0) return;
      --cl.budget;
      cl.in_flight = true;
      ++cl.request;
      cl.attempts = 0;
      cl.reply_lost = false;
      if (cl.client_id != 0) ++cl.sequence;
    }
    const bool waiting =
        cl.attempts > 0 && !cl.reply_lost && sim_.now_us() < cl.attempt_us + kRetryTicks * kTickUs;
    if (waiting) return;
    const std::vector<NodeId> leaders = sim_.leaders();
    if (leaders.empty()) return;
    const NodeId target = leaders[prng_.uniform(0, leaders.size() - 1)];
    const kv::Command command =
        cl.client_id == 0
            ? kv::Command::register_session(0)
            : kv::Command::session(cl.client_id, cl.sequence, 0,
                                   kv::Command::incr_by(session_key(cl.client_id), 1));
    const uint64_t request = cl.request;
    const Status sent = sim_.submit(
        target, sim_.kv_request(command),
        [this, c, request, command](runtime::Response response) {
          on_answer(c, request, command, response);
        },
        [this, c, request] {
          SessionClient& lost = clients_.at(c);
          if (lost.in_flight && lost.request == request) lost.reply_lost = true;
        });
    if (!sent.is_ok()) return;
    if (cl.attempts > 0) ++retries_proposed_;
    ++cl.attempts;
    cl.attempt_us = sim_.now_us();
    cl.reply_lost = false;
  }

  Simulator& sim_;
  Prng& prng_;
  const uint64_t lost_reply_per_mille_;
  std::vector<SessionClient> clients_;
  // KV snapshot bytes after each index, from the first node that applied it.
  std::map<uint64_t, std::string> states_;
  // The reply each applied attempt got (the first node's).
  std::map<std::string, kv::Reply> replies_;
  // Per (client id, sequence), the attempts carrying it that reached a log and were applied.
  std::map<std::pair<uint64_t, uint64_t>, std::set<std::string>> copies_;
  std::set<uint64_t> all_sessions_;
  // Sessions each node's KV state holds, to see each one disappear.
  std::map<NodeId, std::set<uint64_t>> present_;
  std::map<uint64_t, Index> expiry_index_;  // Session -> index of the entry that expired it.
  std::map<uint64_t, std::set<NodeId>> expired_on_;
  std::map<NodeId, uint64_t> restores_by_node_;
  std::map<NodeId, std::set<uint64_t>> restored_sessions_;  // Sessions a restore brought.
  uint64_t retries_proposed_ = 0;
  uint64_t replies_dropped_ = 0;
  uint64_t requests_acked_ = 0;
  uint64_t kv_restores_ = 0;
};

bool fail_with(Simulator& sim, const std::string& what) {
  sim.fail(what);
  return false;
}

SimOptions session_options(uint32_t nodes, uint64_t session_timeout_ms) {
  SimOptions options = default_options(nodes);
  kv::KvConfig config;
  config.session_timeout_ms = session_timeout_ms;
  options.kv = config;
  return options;
}

// Three clients, 12 requests each, on a network that drops and duplicates messages, with
// leader and follower crashes and lost replies: every request is applied exactly once.
void duplicates_applied_once(Run& run) {
  SimOptions options = session_options(run.seed() % 2 == 0 ? 3 : 5, 60 * 60 * 1000);
  options.network.drop_per_mille = 30;
  options.network.duplicate_per_mille = 50;
  Simulator sim(run, options);
  Prng prng = scenario_prng(run);
  SessionWorld world(sim, prng, /*lost_reply_per_mille=*/150);
  for (int i = 0; i < 3; ++i) world.add_client(13);
  std::optional<NodeId> down;
  for (int round = 0; round < 40 && !sim.failed(); ++round) {
    world.run(prng.uniform(kE / 2, 2 * kE));
    if (down) {
      sim.restart(*down);
      down.reset();
    } else if (prng.chance(1, 3)) {
      // The leader half the time: its clients lose their replies, its term's tail may be lost.
      const std::vector<NodeId> leaders = sim.leaders();
      down = !leaders.empty() && prng.chance(1, 2) ? leaders.front()
                                                   : pick(prng, sim.ids(), 1).front();
      world.crash(*down);
    }
  }
  if (down) sim.restart(*down);
  sim.network().options().drop_per_mille = 0;
  sim.network().options().duplicate_per_mille = 0;
  if (!world.settle(40 * kE)) return;
  if (!sim.converge(50 * kE)) return;
  world.check_final();
  world.report_metrics(run);
  for (size_t c = 0; c < 3; ++c) {
    if (world.client(c).expired_replies != 0) {
      return sim.fail("a session expired with a 1 h timeout");
    }
  }
  // The first reply of every client is dropped, so its retry is a duplicate in the log.
  if (world.duplicates_committed() == 0) sim.fail("no duplicate reached the log");
}

// A 100 ms session timeout: client A goes idle while client B keeps log time moving, so A's
// session expires — at the same index on every node — and A's next request gets
// SESSION_EXPIRED on every node, never a re-apply.
void expiry_identical_everywhere(Run& run) {
  constexpr uint64_t kTimeoutMs = 100;  // 10 E of simulated time.
  SimOptions options = session_options(3, kTimeoutMs);
  options.network.drop_per_mille = 10;
  options.network.duplicate_per_mille = 50;
  Simulator sim(run, options);
  Prng prng = scenario_prng(run);
  SessionWorld world(sim, prng, /*lost_reply_per_mille=*/100);
  const size_t a = world.add_client(4);  // Registration and 3 requests.
  world.add_client(10'000);              // B: until stopped.
  const auto a_done = [&] { return !world.client(a).in_flight && world.client(a).budget == 0; };
  if (!world.run_until(a_done, 40 * kE)) return sim.fail("client A did not finish within 40 E");
  const uint64_t a_session = world.client(a).client_id;
  const uint64_t a_acked = world.client(a).acked;
  if (a_session == 0 || world.client(a).expired_replies != 0) {
    return sim.fail("client A's session expired while A was active");
  }
  // A node (the leader at times) crashes and comes back while A idles: it rebuilds its KV
  // state from its log and must expire A at the same index again.
  const NodeId victim = pick(prng, sim.ids(), 1).front();
  world.crash(victim);
  world.run(prng.uniform(1, kE));
  sim.restart(victim);
  const auto a_expired_everywhere = [&] {
    for (NodeId id : sim.ids()) {
      const kv::KvStateMachine* kv = sim.kv(id);
      if (kv == nullptr || kv->find_session(a_session) != nullptr) return false;
    }
    return true;
  };
  if (!world.run_until(a_expired_everywhere, 30 * kE)) {
    return sim.fail("client A's session did not expire on every node within 30 E");
  }
  // A comes back with its next sequence.
  world.client(a).budget = 1;
  if (!world.run_until(a_done, 20 * kE)) return sim.fail("client A's late request got no answer");
  if (world.client(a).expired_replies != 1) {
    return sim.fail("client A's request on its expired session was not refused");
  }
  if (!world.settle(40 * kE)) return;
  if (!sim.converge(50 * kE)) return;
  world.check_final();  // A's key holds a_acked: the refused request was never applied.
  if (sim.failed()) return;
  if (world.expiry_index().count(a_session) == 0) return sim.fail("A's expiry was not observed");
  if (world.expired_on().at(a_session).size() != sim.ids().size()) {
    return sim.fail("A's session expiry was not observed on every node");
  }
  run.metric("a_acked", a_acked);
  run.metric("a_expiry_index", world.expiry_index().at(a_session).value());
  world.report_metrics(run);
}

// `away` (restored from a snapshot) becomes the leader; retries of the session's last and of
// an older sequence, proposed to it, must be answered from the restored session table: the
// remembered reply, and "too old". False (and the Run failed) otherwise.
bool retries_answered_from_table(Simulator& sim, SessionWorld& world, NodeId away, uint64_t session,
                                 uint64_t acked) {
  sim.run_for_ticks(2);
  const std::optional<NodeId> current = sim.stable_leader();
  if (!current) return fail_with(sim, "lost the leader on a healthy network");
  if (*current != away) {
    if (!sim.transfer_leadership(*current, away).is_ok()) return fail_with(sim, "transfer refused");
    if (!sim.run_until([&] { return sim.stable_leader() == away; }, 5 * kE)) {
      return fail_with(sim, "leadership did not move to " + node_name(away));
    }
  }
  // Lost replies of the last and an older request: both retried on the restored node.
  const std::string last_again = world.propose_again(away, session, acked);
  const std::string old_again = world.propose_again(away, session, acked - 1);
  if (last_again.empty() || old_again.empty()) return fail_with(sim, "the restored leader refused");
  if (!sim.run_until(
          [&] {
            return world.applied_everywhere(last_again) && world.applied_everywhere(old_again);
          },
          5 * kE)) {
    return fail_with(sim, "the retries did not commit");
  }
  const kv::Reply* last_reply = world.reply_to(last_again);
  if (last_reply == nullptr ||
      !(*last_reply == kv::Reply::integer_value(static_cast<int64_t>(acked)))) {
    return fail_with(sim, "the restored leader did not answer the retry from its session table");
  }
  const kv::Reply* old_reply = world.reply_to(old_again);
  if (old_reply == nullptr || !is_too_old(*old_reply)) {
    return fail_with(sim, "the restored leader did not refuse an old sequence");
  }
  return true;
}

// With compaction on, a follower misses a client's requests and catches up by InstallSnapshot
// (or by its own snapshot after a crash); then it leads, and retries of answered requests sent
// to it are answered from the restored session table, not applied again.
void snapshot_keeps_session_table(Run& run) {
  SimOptions options = session_options(3, 60 * 60 * 1000);
  options.snapshot_every_entries = 8;
  options.snapshot_keep_entries = 2;
  options.network.duplicate_per_mille = 50;
  Simulator sim(run, options);
  Prng prng = scenario_prng(run);
  SessionWorld world(sim, prng, /*lost_reply_per_mille=*/100);
  const std::optional<NodeId> leader = sim.wait_for_leader(10 * kE);
  if (!leader) return sim.fail("no single leader within 10 E");
  const NodeId away = pick(prng, without(sim.ids(), {*leader}), 1).front();
  const bool crash = run.seed() % 2 == 0;
  if (crash) {
    world.crash(away);
  } else {
    sim.network().isolate(away);
  }
  const size_t c = world.add_client(25);  // Registration and 24 requests.
  const auto c_done = [&] { return !world.client(c).in_flight && world.client(c).budget == 0; };
  if (!world.run_until(c_done, 60 * kE)) return sim.fail("the client did not finish within 60 E");
  const uint64_t session = world.client(c).client_id;
  const uint64_t acked = world.client(c).acked;
  const uint64_t restores_before = world.kv_restores(away);
  if (crash) sim.restart(away);
  sim.network().reconnect(away);
  const auto caught_up = [&] {
    const kv::KvStateMachine* kv = sim.kv(away);
    const kv::Session* found = kv == nullptr ? nullptr : kv->find_session(session);
    return found != nullptr && found->last_sequence == acked;
  };
  if (!sim.run_until(caught_up, 10 * kE)) return sim.fail(node_name(away) + " did not catch up");
  if (world.kv_restores(away) == restores_before) {
    return sim.fail(node_name(away) + " caught up without restoring a snapshot");
  }
  if (!world.restored_session(away, session)) {
    return sim.fail("the snapshot " + node_name(away) + " restored lacked the client's session");
  }
  sim.network().options().duplicate_per_mille = 0;
  if (!retries_answered_from_table(sim, world, away, session, acked)) return;
  // More requests through the restored leader, then the usual end.
  world.client(c).budget = 5;
  if (!world.run_until(c_done, 30 * kE)) return sim.fail("the client stalled after the restore");
  if (!world.settle(40 * kE)) return;
  if (!sim.converge(50 * kE)) return;
  world.check_final();
  world.report_metrics(run);
}

}  // namespace

void append_session_scenarios(std::vector<Scenario>& out) {
  out.push_back({"sessions_duplicates",
                 "with sessions, duplicated and retried requests are applied exactly once",
                 duplicates_applied_once});
  out.push_back({"sessions_expiry", "a session expires at the same index on every node",
                 expiry_identical_everywhere});
  out.push_back({"sessions_snapshot",
                 "a node restored from a snapshot keeps the session table and drops duplicates",
                 snapshot_keeps_session_table});
}

}  // namespace raftkv::sim
