#include "sim/kv_world.h"

#include <algorithm>

#include "common/assert.h"
#include "sim/scenario_util.h"

namespace raftkv::sim {
namespace {

// Clients act four times per tick.
constexpr uint64_t kClientStepUs = kTickUs / 4;
// The checker's budget in search steps, not time: a seed replays to the same verdict.
constexpr uint64_t kCheckStepsMax = 20'000'000;

using lincheck::CommandKind;

lincheck::Command recorded(CommandKind kind, std::vector<std::string> args) {
  return lincheck::Command{kind, std::move(args), {}};
}

// The store's reply as the history records it.
lincheck::Reply to_history_reply(const kv::Reply& reply) {
  switch (reply.type) {
    case kv::ReplyType::Simple:
    case kv::ReplyType::Bulk: return lincheck::Reply::string(reply.text);
    case kv::ReplyType::Integer: return lincheck::Reply::integer_value(reply.integer);
    case kv::ReplyType::Nil: return lincheck::Reply::nil();
    case kv::ReplyType::Error:     // Callers record an error reply as Fail.
    case kv::ReplyType::NilArray:  // Only a transaction with WATCH answers it; none here.
      break;
    case kv::ReplyType::Array: {
      std::vector<lincheck::Reply> elements;
      for (const kv::Reply& element : reply.elements) {
        elements.push_back(to_history_reply(element));
      }
      return lincheck::Reply::array(std::move(elements));
    }
  }
  RAFT_ASSERT(false);
  return {};
}

bool has_error(const kv::Reply& reply) {
  if (reply.is_error()) return true;
  return std::any_of(reply.elements.begin(), reply.elements.end(), has_error);
}

}  // namespace

KvWorld::KvWorld(Simulator& sim, Prng& prng, KvWorldOptions options)
    : sim_(sim), prng_(prng), options_(options), clients_(options.clients) {
  RAFT_ASSERT(sim.options().kv.has_value());
  RAFT_ASSERT(options.keys_per_group >= 2);  // Transactions and MGET span two keys.
}

void KvWorld::run(uint64_t ticks) {
  (void)run_until([] { return false; }, ticks);
}

bool KvWorld::run_until(const std::function<bool()>& done, uint64_t ticks_max) {
  for (uint64_t step = 0; step < ticks_max * (kTickUs / kClientStepUs); ++step) {
    if (sim_.failed()) return false;
    if (done()) return true;
    for (size_t c = 0; c < clients_.size(); ++c) this->step(c);
    sim_.run_for_us(kClientStepUs);
  }
  return !sim_.failed() && done();
}

bool KvWorld::settle(uint64_t ticks_max) {
  stopped_ = true;
  const bool settled = run_until(
      [&] {
        return std::none_of(clients_.begin(), clients_.end(),
                            [](const Client& client) { return client.in_flight; });
      },
      ticks_max);
  if (!settled && !sim_.failed()) {
    sim_.fail("a client request was never answered:\n" + describe_in_flight());
  }
  return settled;
}

void KvWorld::pin(size_t client, std::optional<NodeId> node) { clients_.at(client).pinned = node; }

std::string KvWorld::describe_in_flight() const {
  std::string out;
  for (size_t c = 0; c < clients_.size(); ++c) {
    const Client& client = clients_[c];
    if (!client.in_flight) continue;
    const lincheck::Operation& op = history_.operations.at(client.operation);
    out += "  client " + std::to_string(c) + " -> " + node_name(client.node) + " since " +
           format_time(static_cast<uint64_t>(op.invoke_us)) + ": " +
           lincheck::format_command(op.command) + "\n";
  }
  return out.empty() ? "  (no client request in flight)\n" : out;
}

uint64_t KvWorld::oks_total() const {
  uint64_t total = 0;
  for (const Client& client : clients_) total += client.oks;
  return total;
}

std::optional<NodeId> KvWorld::target(const Client& client) {
  if (client.pinned) {
    if (!sim_.is_up(*client.pinned)) return std::nullopt;
    return client.pinned;
  }
  std::vector<NodeId> up;
  for (NodeId id : serving_.empty() ? sim_.ids() : serving_) {
    if (sim_.is_up(id)) up.push_back(id);
  }
  if (up.empty()) return std::nullopt;
  return up[prng_.uniform(0, up.size() - 1)];
}

void KvWorld::step(size_t c) {
  Client& client = clients_[c];
  if (client.in_flight || stopped_) return;
  const std::optional<NodeId> node = target(client);
  if (!node) return;
  Request request = next_request(c);
  const size_t operation = history_.operations.size();
  history_.operations.push_back(lincheck::Operation{
      .id = static_cast<int64_t>(operation + 1),
      .client = static_cast<int64_t>(c),
      .command = std::move(request.recorded),
      .invoke_us = static_cast<int64_t>(sim_.now_us()),
      .outcome = lincheck::Outcome::Unknown});
  client.in_flight = true;  // Before submit(): the answer may come within it.
  client.node = *node;
  client.operation = operation;
  const Status sent = sim_.submit(
      *node, sim_.kv_request(request.command),
      [this, c, operation](runtime::Response response) { on_answer(c, operation, response); },
      [this, c, operation] { on_lost(c, operation); });
  if (!sent.is_ok()) {
    history_.operations.pop_back();  // Never sent: nothing to record.
    client.in_flight = false;
  }
}

std::string KvWorld::key(const char* group) {
  return std::string(group) + std::to_string(prng_.uniform(0, options_.keys_per_group - 1));
}

KvWorld::Request KvWorld::next_request(size_t c) {
  ++clients_[c].requests;
  const uint64_t group = prng_.uniform(0, 9);
  if (group < 5) return register_request(c);
  if (group < 7) return counter_request();
  return append_request(c);
}

std::string KvWorld::padded(const std::string& name, size_t bytes_max) {
  if (bytes_max == 0) return name;
  // FNV-1a of the name picks the length, so equal names always pad to equal values.
  uint64_t hash = 0xcbf29ce484222325;
  for (char ch : name) hash = (hash ^ static_cast<uint8_t>(ch)) * 0x100000001b3;
  const size_t low = bytes_max / 2;
  const size_t size = low + hash % (bytes_max - low + 1);
  return name + std::string(size > name.size() ? size - name.size() : 0, '.');
}

KvWorld::Request KvWorld::register_request(size_t c) {
  const std::string value =
      value_named("c" + std::to_string(c) + "-" + std::to_string(clients_[c].requests));
  const std::string k = key("r");
  switch (prng_.uniform(0, 7)) {
    case 0:
    case 1: return {kv::Command::get(k), recorded(CommandKind::Get, {k})};
    case 2: return {kv::Command::set(k, value), recorded(CommandKind::Set, {k, value})};
    case 3: return {kv::Command::del({k}), recorded(CommandKind::Del, {k})};
    case 4: {
      // Expects what another client may just have written: sometimes right, often not.
      const std::string expected =
          value_named("c" + std::to_string(prng_.uniform(0, clients_.size() - 1)) + "-" +
                      std::to_string(prng_.uniform(1, clients_[c].requests)));
      return {kv::Command::cas(k, expected, value),
              recorded(CommandKind::Cas, {k, expected, value})};
    }
    case 5: return {kv::Command::cas_missing(k, value), recorded(CommandKind::CasNx, {k, value})};
    case 6: {
      const std::string other = key("r");
      return {kv::Command::mget({k, other}), recorded(CommandKind::MGet, {k, other})};
    }
    default: break;
  }
  // MULTI/EXEC over two keys: both set together, or one set and the other read, atomically.
  const std::string other = key("r");
  const bool both = prng_.chance(1, 2);
  kv::Command second = both ? kv::Command::set(other, value) : kv::Command::get(other);
  lincheck::Command txn = recorded(CommandKind::Txn, {});
  txn.steps.push_back(recorded(CommandKind::Set, {k, value}));
  txn.steps.push_back(both ? recorded(CommandKind::Set, {other, value})
                           : recorded(CommandKind::Get, {other}));
  return {kv::Command::batch({kv::Command::set(k, value), std::move(second)}), std::move(txn)};
}

KvWorld::Request KvWorld::counter_request() {
  const std::string k = key("n");
  switch (prng_.uniform(0, 2)) {
    case 0: return {kv::Command::incr(k), recorded(CommandKind::Incr, {k})};
    case 1: {
      const int64_t delta = static_cast<int64_t>(prng_.uniform(0, 10)) - 3;
      return {kv::Command::incr_by(k, delta),
              recorded(CommandKind::IncrBy, {k, std::to_string(delta)})};
    }
    default: return {kv::Command::get(k), recorded(CommandKind::Get, {k})};
  }
}

KvWorld::Request KvWorld::append_request(size_t c) {
  const std::string k = key("a");
  if (prng_.chance(1, 3)) return {kv::Command::get(k), recorded(CommandKind::Get, {k})};
  // The name first, so no token occurs inside another: "c1-2" then '.' or ';' is not in "c1-23".
  const std::string token =
      padded("c" + std::to_string(c) + "-" + std::to_string(clients_[c].requests),
             options_.append_bytes_max) +
      ";";
  return {kv::Command::append(k, token), recorded(CommandKind::Append, {k, token})};
}

void KvWorld::on_answer(size_t c, size_t operation, const runtime::Response& response) {
  clients_.at(c).in_flight = false;
  lincheck::Operation& op = history_.operations.at(operation);
  if (response.outcome == runtime::Outcome::MaybeApplied) return;  // Stays Unknown.
  op.return_us = static_cast<int64_t>(sim_.now_us());
  if (response.outcome == runtime::Outcome::NotApplied) {
    op.outcome = lincheck::Outcome::Fail;
    return;
  }
  const kv::Reply reply = parse_resp(response.reply);
  if (has_error(reply)) {
    // The store refused it whole (a malformed request would be our bug: say so).
    if (reply.is_error() && reply.text.starts_with("ERR malformed")) {
      return sim_.fail("the store could not decode a client's request: " + reply.text);
    }
    op.outcome = lincheck::Outcome::Fail;
    return;
  }
  op.outcome = lincheck::Outcome::Ok;
  op.result = to_history_reply(reply);
  ++clients_[c].oks;
}

void KvWorld::on_lost(size_t c, size_t /*operation*/) {
  clients_.at(c).in_flight = false;  // Unknown: the node died before it answered.
}

void KvWorld::check(const std::vector<NodeId>& nodes) {
  if (sim_.failed()) return;
  for (const lincheck::Operation& op : history_.operations) {
    if (Status valid = lincheck::validate_operation(op); !valid.is_ok()) {
      return sim_.fail("the KV history is malformed: " + valid.to_string());
    }
  }
  lincheck::Options options;
  options.steps_max = kCheckStepsMax;
  Result<lincheck::Verdict> verdict = lincheck::check(history_, options);
  if (!verdict.is_ok()) {
    return sim_.fail("lincheck refused the history: " + verdict.status().message());
  }
  sim_.run().metric("kv_operations", history_.operations.size());
  sim_.run().metric("kv_acknowledged", oks_total());
  sim_.run().metric("kv_failed", static_cast<uint64_t>(std::count_if(
                                     history_.operations.begin(), history_.operations.end(),
                                     [](const lincheck::Operation& op) {
                                       return op.outcome == lincheck::Outcome::Fail;
                                     })));
  sim_.run().metric("kv_unknown", verdict.value().stats.unknown_searched);
  if (verdict.value().kind != lincheck::VerdictKind::Linearizable) {
    return sim_.fail("the KV history is not proven linearizable:\n" +
                     lincheck::format_verdict(verdict.value()));
  }
  check_appends(nodes.empty() ? sim_.ids() : nodes);
}

// Every node ends with the same values, and holds each acknowledged append exactly once.
void KvWorld::check_appends(const std::vector<NodeId>& nodes) {
  std::optional<lincheck::FinalValues> reference;
  for (NodeId node : nodes) {
    const kv::KvStateMachine* store = sim_.kv(node);
    if (store == nullptr) return sim_.fail(node_name(node) + " is down after converging");
    lincheck::FinalValues values;
    for (uint64_t i = 0; i < options_.keys_per_group; ++i) {
      for (const char* group : {"r", "n", "a"}) {
        const std::string k = group + std::to_string(i);
        const kv::Reply reply = store->query(kv::Command::get(k));
        values[k] = reply.type == kv::ReplyType::Bulk ? std::optional(reply.text) : std::nullopt;
      }
    }
    if (reference && values != *reference) {
      return sim_.fail(node_name(node) + " ends with other values than another node");
    }
    reference = std::move(values);
  }
  const lincheck::AppendsVerdict appends =
      lincheck::check_appends_exactly_once(history_, *reference);
  sim_.run().metric("kv_appends_checked", appends.appends_checked);
  if (!appends.offences.empty()) {
    sim_.fail("appends not exactly once:\n" + lincheck::format_appends(appends, history_));
  }
}

}  // namespace raftkv::sim
