#include "server/event_feed.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/assert.h"

namespace raftkv::server {
namespace {

using nlohmann::json;

uint64_t steady_now_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

uint64_t wall_now_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

bool is_election_message(raft::MessageType type) {
  switch (type) {
    case raft::MessageType::PreVote:
    case raft::MessageType::PreVoteResponse:
    case raft::MessageType::Vote:
    case raft::MessageType::VoteResponse:
    case raft::MessageType::TimeoutNow:
      return true;
    default:
      return false;
  }
}

const char* conf_change_name(raft::ConfChangeType type) {
  switch (type) {
    case raft::ConfChangeType::AddVoter:
      return "add-voter";
    case raft::ConfChangeType::AddLearner:
      return "add-learner";
    case raft::ConfChangeType::RemoveNode:
      return "remove";
  }
  return "unknown";
}

json ids(const std::vector<NodeId>& nodes) {
  json out = json::array();
  for (NodeId node : nodes) out.push_back(node.value());
  return out;
}

EventFeedOptions with_clocks(EventFeedOptions options) {
  if (!options.steady_ms) options.steady_ms = steady_now_ms;
  if (!options.wall_ms) options.wall_ms = wall_now_ms;
  return options;
}

}  // namespace

EventFeed::EventFeed(EventFeedOptions options) : options_(with_clocks(std::move(options))) {
  RAFT_ASSERT(options_.events_max > 0);
  RAFT_ASSERT(options_.message_events_per_second > 0);
  RAFT_ASSERT(options_.message_burst >= 1);
  const uint64_t now = options_.steady_ms();
  progress_flushed_ms_ = now;
  status_emitted_ms_ = now;
  stats_emitted_ms_ = now;
}

std::string EventFeed::publish(const char* kind, json&& event) {
  event["kind"] = kind;
  event["node"] = options_.id.value();
  event["t"] = options_.wall_ms();
  std::lock_guard lock(mu_);
  event["seq"] = next_seq_;
  std::string text = event.dump();
  ring_.emplace_back(next_seq_++, text);
  if (ring_.size() > options_.events_max) ring_.pop_front();
  arrived_.notify_all();
  return text;
}

// ---- Observer (loop thread) ----

void EventFeed::on_role_change(raft::Role role, Term term, NodeId leader) {
  leader_ = role == raft::Role::Leader;
  replicating_.clear();  // Latency is measured within one leadership only.
  replicated_index_ = 0;
  remember(publish("role", json{{"role", raft::role_name(role)},
                                 {"term", term.value()},
                                 {"leader", leader.value()}}));
}

void EventFeed::remember(std::string text) {
  std::lock_guard lock(mu_);
  history_.push_back(std::move(text));
  if (history_.size() > options_.history_max) history_.pop_front();
}

bool EventFeed::take_token(NodeId to, KindClass kind_class, uint64_t now) {
  Bucket& bucket = buckets_[{to, kind_class}];
  const double refill = static_cast<double>(now - bucket.refilled_ms) / 1000.0 *
                        options_.message_events_per_second;
  // A link's first message finds a full bucket.
  bucket.tokens = bucket.refilled_ms == 0
                      ? options_.message_burst
                      : std::min(options_.message_burst, bucket.tokens + refill);
  bucket.refilled_ms = now;
  if (bucket.tokens < 1) return false;
  bucket.tokens -= 1;
  return true;
}

void EventFeed::on_send(const raft::Message& message) {
  const uint64_t now = options_.steady_ms();
  if (leader_ && message.type == raft::MessageType::Append && !message.entries.empty() &&
      message.entries.back().index.value() > replicated_index_) {
    // The first time an entry leaves for a follower starts its commit-latency clock.
    replicated_index_ = message.entries.back().index.value();
    replicating_.emplace_back(replicated_index_, now);
    if (replicating_.size() > 4096) replicating_.pop_front();  // Bounded if commits stall.
  }
  LinkCount& link = sent_[{message.to, message.type}];
  ++link.count;
  const KindClass kind_class =
      is_election_message(message.type) ? KindClass::Election : KindClass::Replication;
  if (!take_token(message.to, kind_class, now)) return;
  ++link.drawn;
  publish("msg", json{{"type", raft::message_type_name(message.type)},
                      {"from", message.from.value()},
                      {"to", message.to.value()},
                      {"term", message.term.value()},
                      {"entries", message.entries.size()},
                      {"index", message.index.value()},
                      {"log_term", message.log_term.value()},
                      {"commit", message.commit.value()},
                      {"reject", message.reject}});
}

void EventFeed::on_receive(const raft::Message& message) { ++received_[message.from]; }

void EventFeed::on_ready(const raft::Ready& ready) {
  if (ready.hard_state) on_commit(ready.hard_state->commit);
}

void EventFeed::on_durable(const raft::Ready& ready) {
  const std::vector<raft::Entry>& entries = ready.entries;
  size_t first = 0;
  for (size_t i = 1; i <= entries.size(); ++i) {
    if (i < entries.size() && entries[i].term == entries[first].term) continue;
    on_append(entries[first].index, entries[i - 1].index, entries[first].term);
    first = i;
  }
}

void EventFeed::on_apply(const raft::Entry& entry) {
  on_applied(entry.index);
  if (entry.type != raft::EntryType::ConfChange) return;
  raft::ConfChange change;
  // The runtime refuses a malformed change before this; nothing to tell about one.
  if (!raft::decode_conf_change(entry.data, &change)) return;
  on_membership_change(entry.index, change.type, change.node);
}

void EventFeed::on_membership_change(Index index, raft::ConfChangeType type, NodeId member) {
  RAFT_ASSERT(index > Index{0});
  RAFT_ASSERT(member != kNoNode);
  remember(publish("membership", json{{"index", index.value()},
                                      {"change", conf_change_name(type)},
                                      {"member", member.value()}}));
}

void EventFeed::on_tick(const raft::Raft& core) { on_status(core.status()); }

void EventFeed::on_append(Index first, Index last, Term term) {
  RAFT_ASSERT(first <= last);
  // A run that starts at or before the pending ones replaces them (the log was cut there).
  std::erase_if(pending_runs_, [&](const AppendRun& run) { return run.first >= first.value(); });
  for (AppendRun& run : pending_runs_) run.last = std::min(run.last, first.value() - 1);
  if (!pending_runs_.empty() && pending_runs_.back().term == term.value() &&
      pending_runs_.back().last + 1 == first.value()) {
    pending_runs_.back().last = last.value();
  } else {
    pending_runs_.push_back({first.value(), last.value(), term.value()});
  }
  note_log_tail({first.value(), last.value(), term.value()});
}

void EventFeed::on_commit(Index commit) {
  const uint64_t now = options_.steady_ms();
  commit_ = commit.value();
  pending_commit_ = commit_;
  while (!replicating_.empty() && replicating_.front().first <= commit_) {
    const uint64_t latency = now - replicating_.front().second;
    replicating_.pop_front();
    ++latency_count_;
    latency_sum_ms_ += latency;
    latency_max_ms_ = std::max(latency_max_ms_, latency);
  }
}

void EventFeed::on_applied(Index last_applied) {
  applied_ = last_applied.value();
  pending_applied_ = applied_;
}

void EventFeed::on_status(const raft::RaftStatus& status) {
  const uint64_t now = options_.steady_ms();
  if (now - progress_flushed_ms_ >= options_.progress_interval_ms) flush_progress(now);
  if (now - status_emitted_ms_ >= options_.status_interval_ms) {
    status_emitted_ms_ = now;
    emit_status(status);
  }
  if (now - stats_emitted_ms_ >= options_.stats_interval_ms) emit_stats(now);
}

void EventFeed::flush_progress(uint64_t now) {
  progress_flushed_ms_ = now;
  if (!pending_runs_.empty()) {
    json runs = json::array();
    for (const AppendRun& run : pending_runs_) runs.push_back({run.first, run.last, run.term});
    pending_runs_.clear();
    publish("append", json{{"runs", std::move(runs)}});
  }
  if (pending_commit_ || pending_applied_) {
    pending_commit_.reset();
    pending_applied_.reset();
    publish("progress", json{{"commit", commit_}, {"applied", applied_}});
  }
}

void EventFeed::emit_status(const raft::RaftStatus& status) {
  json fields = {{"role", raft::role_name(status.role)},
                 {"term", status.term.value()},
                 {"leader", status.leader.value()},
                 {"vote", status.voted_for.value()},
                 {"commit", status.commit_index.value()},
                 {"applied", status.applied_index.value()},
                 {"first", status.first_index.value()},
                 {"last", status.last_index.value()},
                 {"last_term", status.last_term.value()},
                 {"elapsed", status.election_elapsed_ticks},
                 {"timeout", status.randomized_election_ticks},
                 {"voters", ids(status.conf_state.voters)},
                 {"learners", ids(status.conf_state.learners)},
                 {"conf_change_pending", status.conf_change_pending}};
  std::string text = fields.dump();
  publish("status", std::move(fields));
  std::lock_guard lock(mu_);
  status_json_ = std::move(text);
}

void EventFeed::emit_stats(uint64_t now) {
  const uint64_t interval = now - stats_emitted_ms_;
  stats_emitted_ms_ = now;
  json sent = json::array();
  for (const auto& [key, link] : sent_) {
    sent.push_back({{"to", key.first.value()},
                    {"type", raft::message_type_name(key.second)},
                    {"count", link.count},
                    {"drawn", link.drawn}});
  }
  json received = json::array();
  for (const auto& [from, count] : received_) {
    received.push_back({{"from", from.value()}, {"count", count}});
  }
  const double seconds = static_cast<double>(std::max<uint64_t>(interval, 1)) / 1000.0;
  json latency = {{"count", latency_count_},
                  {"avg", latency_count_ == 0 ? 0.0
                                              : static_cast<double>(latency_sum_ms_) /
                                                    static_cast<double>(latency_count_)},
                  {"max", latency_max_ms_}};
  publish("stats", json{{"interval_ms", interval},
                        {"sent", std::move(sent)},
                        {"received", std::move(received)},
                        {"applied_per_s", static_cast<double>(applied_ - applied_at_stats_) /
                                              seconds},
                        {"commit_latency_ms", std::move(latency)}});
  sent_.clear();
  received_.clear();
  applied_at_stats_ = applied_;
  latency_count_ = latency_sum_ms_ = latency_max_ms_ = 0;
}

void EventFeed::note_log_tail(const AppendRun& run) {
  std::lock_guard lock(mu_);
  while (!log_tail_.empty() && log_tail_.back().first >= run.first) log_tail_.pop_back();
  // Only the newest log_tail_max entries can stay, so older ones of a long run are skipped.
  const uint64_t keep_from = run.last - std::min<uint64_t>(run.last - run.first,
                                                           options_.log_tail_max - 1);
  for (uint64_t index = keep_from; index <= run.last; ++index) {
    log_tail_.emplace_back(index, run.term);
  }
  while (log_tail_.size() > options_.log_tail_max) log_tail_.pop_front();
}

// ---- Readers (any thread) ----

EventFeed::Batch EventFeed::wait_events(uint64_t from_seq, std::chrono::milliseconds wait,
                                        size_t batch_max) const {
  RAFT_ASSERT(batch_max > 0);
  std::unique_lock lock(mu_);
  arrived_.wait_for(lock, wait, [&] { return closed_ || next_seq_ > from_seq; });
  Batch batch;
  batch.closed = closed_;
  batch.next_seq = std::max(from_seq, ring_.empty() ? next_seq_ : ring_.front().first);
  if (!ring_.empty() && from_seq < ring_.front().first) {
    batch.skipped = ring_.front().first - from_seq;
  }
  if (ring_.empty() || batch.next_seq >= next_seq_) return batch;
  for (size_t i = batch.next_seq - ring_.front().first;
       i < ring_.size() && batch.events.size() < batch_max; ++i) {
    batch.events.push_back(ring_[i].second);
  }
  batch.next_seq += batch.events.size();
  RAFT_ASSERT(batch.next_seq <= next_seq_);
  return batch;
}

std::pair<std::string, uint64_t> EventFeed::hello() const {
  json http = json::object();
  for (const auto& [id, addr] : options_.http_addrs) http[std::to_string(id.value())] = addr;
  json event = {{"kind", "hello"},
                {"node", options_.id.value()},
                {"t", options_.wall_ms()},
                {"tick_ms", options_.tick_ms},
                {"heartbeat_ms", options_.heartbeat_ms},
                {"election_ms", options_.election_ms},
                {"http", std::move(http)}};
  std::lock_guard lock(mu_);
  event["seq"] = next_seq_;
  event["status"] = json::parse(status_json_);
  json log = json::array();
  for (const auto& [index, term] : log_tail_) log.push_back({index, term});
  event["log"] = std::move(log);
  json history = json::array();
  for (const std::string& text : history_) history.push_back(json::parse(text));
  event["history"] = std::move(history);
  return {event.dump(), next_seq_};
}

void EventFeed::close() {
  std::lock_guard lock(mu_);
  closed_ = true;
  arrived_.notify_all();
}

}  // namespace raftkv::server
