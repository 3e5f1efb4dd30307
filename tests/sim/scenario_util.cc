#include "sim/scenario_util.h"

#include "client/reply_parser.h"

#include <algorithm>

#include "common/assert.h"

namespace raftkv::sim {

SimOptions default_options(uint32_t nodes) {
  SimOptions options;
  options.nodes = nodes;
  options.network.delay_us_min = kTickUs / 10;
  options.network.delay_us_max = kTickUs;
  return options;
}

Prng scenario_prng(const Run& run) {
  // A fixed offset keeps this stream apart from the simulator's (which uses the seed itself).
  return Prng(run.seed() ^ 0x5ce7a510c0ffee00ULL);
}

std::vector<NodeId> without(const std::vector<NodeId>& all, const std::vector<NodeId>& excluded) {
  std::vector<NodeId> out;
  for (NodeId id : all) {
    if (std::find(excluded.begin(), excluded.end(), id) == excluded.end()) out.push_back(id);
  }
  return out;
}

std::vector<NodeId> pick(Prng& prng, std::vector<NodeId> all, size_t count) {
  RAFT_ASSERT(count <= all.size());
  // Partial Fisher-Yates: the first `count` slots become a uniform random sample.
  for (size_t i = 0; i < count; ++i) {
    const size_t j = i + prng.uniform(0, all.size() - i - 1);
    std::swap(all[i], all[j]);
  }
  all.resize(count);
  return all;
}

bool applied_on(const Simulator& sim, const std::vector<NodeId>& among,
                const std::string& payload) {
  for (NodeId id : among) {
    if (sim.is_up(id) && !sim.machine(id).payloads().contains(payload)) return false;
  }
  return true;
}

bool applied_whole_log(const Simulator& sim, const std::vector<NodeId>& among) {
  const std::optional<NodeId> leader = sim.stable_leader(among);
  if (!leader) return false;
  const Index last = sim.raft(*leader).log().last_index();
  for (NodeId id : among) {
    if (!sim.is_up(id)) continue;
    if (sim.raft(id).log().committed() != last || sim.machine(id).applied_index() != last) {
      return false;
    }
  }
  return true;
}

std::optional<std::string> commit_one(Simulator& sim, const std::vector<NodeId>& among,
                                      uint64_t ticks_max) {
  const uint64_t deadline = sim.now_ticks() + ticks_max;
  while (!sim.failed() && sim.now_ticks() < deadline) {
    const std::optional<NodeId> leader =
        sim.wait_for_leader(deadline - sim.now_ticks(), among);
    if (!leader) break;
    std::string payload;
    if (!sim.propose(*leader, &payload).is_ok()) {
      sim.run_for_ticks(1);  // Busy (a transfer, back-pressure): try again shortly.
      continue;
    }
    const uint64_t wait = std::min<uint64_t>(3 * kE, deadline - sim.now_ticks());
    if (sim.run_until([&] { return applied_on(sim, among, payload); }, wait)) return payload;
  }
  if (!sim.failed()) {
    sim.fail("no proposal committed on every connected node within " +
             std::to_string(ticks_max) + " ticks");
  }
  return std::nullopt;
}

namespace {

// The first up node whose budget counts large writes in flight or waiting, if any.
std::optional<NodeId> large_write_budget_in_use(const Simulator& sim) {
  for (NodeId id : sim.ids()) {
    if (!sim.is_up(id)) continue;
    const runtime::NodeStatus status = sim.status(id);
    if (status.large_write_bytes_in_flight != 0 || status.large_writes_waiting != 0) return id;
  }
  return std::nullopt;
}

}  // namespace

void expect_large_write_budgets_empty(Simulator& sim, uint64_t ticks_max,
                                      const std::string& when) {
  if (ticks_max > 0) {
    (void)sim.run_until([&] { return !large_write_budget_in_use(sim); }, ticks_max);
  }
  const std::optional<NodeId> id = large_write_budget_in_use(sim);
  if (!id || sim.failed()) return;
  const runtime::NodeStatus status = sim.status(*id);
  sim.fail(node_name(*id) + " still counts " + std::to_string(status.large_write_bytes_in_flight) +
           " bytes of large writes in flight and " + std::to_string(status.large_writes_waiting) +
           " waiting " + when);
}

std::string node_name(NodeId node) { return "node " + std::to_string(node.value()); }

namespace {

kv::Reply to_kv_reply(const client::Reply& reply) {
  switch (reply.type) {
    case client::ReplyType::Status: return kv::Reply::simple(reply.text);
    case client::ReplyType::Error: return kv::Reply::error(reply.text);
    case client::ReplyType::Integer: return kv::Reply::integer_value(reply.integer);
    case client::ReplyType::Bulk: return kv::Reply::bulk(reply.text);
    case client::ReplyType::Nil: return kv::Reply::nil();
    case client::ReplyType::Array: break;
  }
  std::vector<kv::Reply> elements;
  for (const client::Reply& element : reply.elements) elements.push_back(to_kv_reply(element));
  return kv::Reply::array(std::move(elements));
}

}  // namespace

kv::Reply parse_resp(std::string_view resp) {
  client::ReplyParser parser;
  parser.feed(resp);
  client::Reply reply;
  if (parser.next(&reply) != client::ReplyParser::Outcome::Reply || parser.mid_reply()) {
    return kv::Reply::error("ERR malformed reply: " + std::string(resp));
  }
  return to_kv_reply(reply);
}

}  // namespace raftkv::sim
