#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/types.h"
#include "raft/messages.h"
#include "raft/raft.h"
#include "runtime/observer.h"

// What a node reports about itself as it runs, for the web view (docs/web.md): a bounded,
// thread-safe feed of JSON events that the HTTP thread streams to every subscriber over
// Server-Sent Events (GET /events).
//
// It watches the node as a runtime::Observer, on the loop thread. Rare events (role changes)
// go out at once;
// frequent ones are thinned so a browser can draw them and the loop thread never waits on a
// slow reader:
//   - messages: per directed link and per kind class (election: PreVote, Vote, their answers
//     and TimeoutNow; replication: everything else), a token bucket of
//     message_events_per_second with a burst of message_burst; the rest are counted and
//     reported in the next "stats" event;
//   - appends, commits and applies are coalesced and go out at most every progress_interval_ms;
//   - the status (role, term, vote, indexes, election timer) every status_interval_ms;
//   - traffic, throughput and commit latency every stats_interval_ms.
// The feed keeps the last events_max events; a reader that falls behind skips the oldest and
// is told how many ("gap").
//
// Events, one JSON object each; every one has "kind", "node" (this node's id), "seq" (per node,
// from 1, increasing; a reader resumes with it) and "t" (the node's wall clock, ms since the
// Unix epoch, for ordering events of different nodes on a timeline):
//   hello    (first event of every stream, not numbered in the ring: seq is the next one)
//            tick_ms, heartbeat_ms, election_ms; http: {"id": "host:port"} for every member
//            known; status: a "status" event's fields; log: [[index, term], ...] the newest
//            entries known; history: the last "role" and "membership" events.
//   status   role ("follower", "pre-candidate", "candidate", "leader"), term, leader, vote,
//            commit, applied, first, last, last_term (the log), elapsed and timeout (the
//            election timer, in ticks: the node campaigns when elapsed reaches timeout; on a
//            leader, elapsed counts its CheckQuorum period); voters and learners (ids, the
//            membership this node applied last) and conf_change_pending (leader only: a
//            change is proposed and not applied yet).
//   role     role, term, leader: the node's role or known leader changed.
//   membership  index, change ("add-learner", "add-voter": a learner promoted or a voter
//            added, "remove"), member: this node applied a membership change at that index.
//   msg      a message this node sent: type (raft::message_type_name), from, to, term,
//            entries (count), index, log_term, commit, reject.
//   append   runs: [[first, last, term], ...] entries made durable since the last one; the
//            log now ends at the last run's `last` (a follower may have replaced a suffix).
//   progress commit, applied.
//   stats    interval_ms; sent: [{to, type, count, drawn}] messages sent per link and type in
//            the interval and how many of them were reported as "msg"; received: [{from,
//            count}]; applied_per_s; commit_latency_ms: {count, avg, max}, leader only: from
//            the leader first sending an entry to its followers to knowing it committed.
//   gap      skipped: this reader fell behind and missed that many events.
namespace raftkv::server {

struct EventFeedOptions {
  NodeId id;
  uint32_t tick_ms = 10;
  uint32_t heartbeat_ms = 100;
  uint32_t election_ms = 1000;
  std::map<NodeId, std::string> http_addrs;  // Members' HTTP addresses, for the page.
  size_t events_max = 4096;
  double message_events_per_second = 20;  // Per directed link and kind class.
  double message_burst = 6;
  uint32_t progress_interval_ms = 50;
  uint32_t status_interval_ms = 100;
  uint32_t stats_interval_ms = 1000;
  size_t log_tail_max = 48;  // Entries (index, term) remembered for a new reader.
  size_t history_max = 64;   // Role and membership events remembered for a new reader.
  // Milliseconds on a steady clock, and the wall clock for "t"; tests inject their own.
  std::function<uint64_t()> steady_ms;
  std::function<uint64_t()> wall_ms;
};

class EventFeed final : public runtime::Observer {
 public:
  explicit EventFeed(EventFeedOptions options);

  // runtime::Observer; loop thread only. They report the facts below.
  void on_role_change(raft::Role role, Term term, NodeId leader) override;
  void on_ready(const raft::Ready& ready) override;    // The commit index.
  void on_durable(const raft::Ready& ready) override;  // Entries, one append per run of a term.
  void on_send(const raft::Message& message) override;
  void on_receive(const raft::Message& message) override;
  void on_apply(const raft::Entry& entry) override;
  void on_tick(const raft::Raft& core) override;  // The status.

  // One fact at a time; loop thread only (tests drive them directly).
  void on_append(Index first, Index last, Term term);  // Made durable.
  void on_commit(Index commit);
  void on_applied(Index last_applied);
  void on_status(const raft::RaftStatus& status);  // Once per tick.
  void on_membership_change(Index index, raft::ConfChangeType type, NodeId member);  // Applied.

  // What one wait_events() call returns. `events` are JSON texts in seq order.
  struct Batch {
    std::vector<std::string> events;
    uint64_t next_seq = 0;  // Pass to the next call.
    uint64_t skipped = 0;   // Events dropped from the ring before this reader got them.
    bool closed = false;
  };
  // Any thread. Events numbered from `from_seq` on, at most batch_max, waiting up to `wait`
  // for the first to arrive (an empty batch on timeout).
  [[nodiscard]] Batch wait_events(uint64_t from_seq, std::chrono::milliseconds wait,
                                  size_t batch_max = 256) const;
  // Any thread. The "hello" event for a new reader, and the seq it starts reading from.
  [[nodiscard]] std::pair<std::string, uint64_t> hello() const;
  // Any thread. Wakes every waiting reader; later waits return closed at once.
  void close();
  [[nodiscard]] NodeId node() const { return options_.id; }

 private:
  enum class KindClass : uint8_t { Election, Replication };
  struct Bucket {
    double tokens = 0;
    uint64_t refilled_ms = 0;
  };
  // Traffic on one (peer, message type) in the current stats interval.
  struct LinkCount {
    uint64_t count = 0;
    uint64_t drawn = 0;
  };
  struct AppendRun {
    uint64_t first;
    uint64_t last;
    uint64_t term;
  };

  [[nodiscard]] bool take_token(NodeId to, KindClass kind_class, uint64_t now);
  void flush_progress(uint64_t now);
  void emit_status(const raft::RaftStatus& status);
  void emit_stats(uint64_t now);
  void note_log_tail(const AppendRun& run);
  // Keeps an event's text for the hello of later readers (role and membership events).
  void remember(std::string text);
  // Stamps the event with kind, node, seq and time and appends it to the ring (dropping the
  // oldest past events_max); returns its text.
  std::string publish(const char* kind, nlohmann::json&& event);

  const EventFeedOptions options_;

  // Loop thread only.
  std::map<std::pair<NodeId, KindClass>, Bucket> buckets_;
  std::map<std::pair<NodeId, raft::MessageType>, LinkCount> sent_;
  std::map<NodeId, uint64_t> received_;
  std::vector<AppendRun> pending_runs_;
  std::optional<uint64_t> pending_commit_;
  std::optional<uint64_t> pending_applied_;
  uint64_t commit_ = 0;
  uint64_t applied_ = 0;
  uint64_t applied_at_stats_ = 0;
  uint64_t progress_flushed_ms_ = 0;
  uint64_t status_emitted_ms_ = 0;
  uint64_t stats_emitted_ms_ = 0;
  bool leader_ = false;
  // Leader: (last index of an Append's entries, when it was first sent), oldest first.
  std::deque<std::pair<uint64_t, uint64_t>> replicating_;
  uint64_t replicated_index_ = 0;
  uint64_t latency_count_ = 0;
  uint64_t latency_sum_ms_ = 0;
  uint64_t latency_max_ms_ = 0;

  // Shared with readers, under mu_.
  mutable std::mutex mu_;
  mutable std::condition_variable arrived_;
  std::deque<std::pair<uint64_t, std::string>> ring_;  // (seq, JSON), oldest first.
  uint64_t next_seq_ = 1;
  bool closed_ = false;
  std::string status_json_ = "{}";                     // The latest status event's fields.
  std::deque<std::pair<uint64_t, uint64_t>> log_tail_;  // (index, term), oldest first.
  std::deque<std::string> history_;  // The latest role and membership events.
};

}  // namespace raftkv::server
