// The real binaries through crashes: acknowledged writes survive kill -9 of the leader and
// of the whole cluster; a follower's forwarding never gives a wrong answer; the three delivery
// semantics keep their promises across a failover.

#include <signal.h>
#include <sys/types.h>

#include <atomic>
#include <iostream>
#include <thread>

#include "client/errors.h"
#include "harness.h"
#include "ledger.h"

namespace raftkv::process_test {
namespace {

class Failover : public ClusterFixture {};

using client::Client;
using client::Outcome;
using client::OutcomeKind;
using client::Semantics;
using KeyValues = std::vector<std::pair<std::string, std::string>>;

// Writes distinct keys until `stop`; records the acknowledged ones.
void write_until(Client& client, const std::string& prefix, const std::atomic<bool>& stop,
                 KeyValues* acked, int* unknown) {
  for (int i = 0; !stop.load(); ++i) {
    const std::string key = prefix + std::to_string(i);
    const std::string value = "value-" + std::to_string(i);
    const Outcome outcome = client.call({"SET", key, value});
    if (outcome.ok()) {
      acked->emplace_back(key, value);
    } else {
      ++*unknown;  // Unknown or unavailable: not counted as acknowledged.
    }
  }
}

TEST_F(Failover, KillLeaderDuringWriteLoad_AcknowledgedWritesReadableEverywhere) {
  start_cluster(/*slot=*/1);
  const client::RaftInfo first = leader();
  ASSERT_NE(first.node_id, 0u);
  std::atomic<bool> stop{false};
  KeyValues acked[2];
  int unknown[2] = {0, 0};
  std::vector<std::thread> writers;
  for (int w = 0; w < 2; ++w) {
    writers.emplace_back([&, w] {
      Client client(client_options(Semantics::AtLeastOnce));
      write_until(client, "load" + std::to_string(w) + ":", stop, &acked[w], &unknown[w]);
    });
  }
  std::this_thread::sleep_for(milliseconds(800));
  const size_t before_kill = acked[0].size() + acked[1].size();
  ASSERT_TRUE(cluster_->stop_node(static_cast<int>(first.node_id), SIGKILL, milliseconds(3000))
                  .is_ok());
  std::this_thread::sleep_for(milliseconds(4000));
  stop = true;
  for (std::thread& writer : writers) writer.join();
  KeyValues all = acked[0];
  all.insert(all.end(), acked[1].begin(), acked[1].end());
  std::cout << "acknowledged " << all.size() << " writes, " << before_kill
            << " before the kill; " << unknown[0] + unknown[1] << " not acknowledged\n";
  EXPECT_GT(before_kill, 0u);
  EXPECT_GT(all.size(), before_kill) << "no write was acknowledged after the kill";
  ASSERT_TRUE(cluster_->start_node(static_cast<int>(first.node_id), false).is_ok());
  ASSERT_TRUE(cluster_->wait_up(static_cast<int>(first.node_id), milliseconds(10'000)).is_ok());
  expect_everywhere(all);
}

TEST_F(Failover, FullClusterRestart_KeepsAllData) {
  start_cluster(/*slot=*/2);
  Client client(client_options(Semantics::AtLeastOnce));
  KeyValues written;
  for (int i = 0; i < 100; ++i) {
    written.emplace_back("restart:" + std::to_string(i), "v" + std::to_string(i));
    const Outcome outcome = client.call({"SET", written.back().first, written.back().second});
    ASSERT_TRUE(outcome.ok()) << outcome.detail;
  }
  for (int signal : {SIGTERM, SIGKILL}) {
    for (int id = 1; id <= 3; ++id) {
      ASSERT_TRUE(cluster_->stop_node(id, signal, milliseconds(5000)).is_ok());
    }
    for (int id = 1; id <= 3; ++id) ASSERT_TRUE(cluster_->start_node(id, false).is_ok());
    for (int id = 1; id <= 3; ++id) {
      ASSERT_TRUE(cluster_->wait_up(id, milliseconds(10'000)).is_ok()) << "signal " << signal;
    }
    for (const auto& [key, value] : written) {  // Linearizable reads through the leader.
      const Outcome got = client.call({"GET", key});
      ASSERT_TRUE(got.ok()) << got.detail;
      EXPECT_EQ(got.reply, client::Reply::bulk(value)) << key << " after signal " << signal;
    }
    expect_everywhere(written);
  }
}

// Sequential APPENDs of unique tokens sent straight to one follower while the leader is
// killed. Every reply is right or a retryable error, never a wrong answer: an acknowledged
// APPEND's reply is the value's length just after it, so the final value must hold that
// token ending exactly there. And each token is in the final value as often as its reply
// allows (ledger.h): acknowledged once, not applied never, unknown at most once.
TEST_F(Failover, FollowerForwarding_LeaderKilledMidRequest_NeverWrongAnswer) {
  start_cluster(/*slot=*/5);
  const client::RaftInfo first = leader();
  const int leader_id = static_cast<int>(first.node_id);
  const int follower = leader_id % 3 + 1;
  const client::Endpoint endpoint = cluster_->layout().client_endpoint(follower);
  TokenLedger ledger("f:");
  std::vector<std::pair<std::string, int64_t>> acked;  // Token, the length its reply gave.
  const auto start = std::chrono::steady_clock::now();
  bool killed = false;
  while (std::chrono::steady_clock::now() - start < milliseconds(6000)) {
    if (!killed && std::chrono::steady_clock::now() - start > milliseconds(1000)) {
      ASSERT_TRUE(cluster_->stop_node(leader_id, SIGKILL, milliseconds(3000)).is_ok());
      killed = true;
    }
    const std::string token = ledger.next_token();
    Result<std::vector<client::Reply>> replies =
        tools::node_exchange(endpoint, {{"APPEND", "forwarded", token}}, milliseconds(5000));
    const WriteFate fate = fate_of(replies);
    ledger.record(token, fate);
    if (replies.is_ok() && replies.value().front().is_error()) {
      ASSERT_NE(client::classify_error(replies.value().front().text),
                client::ErrorClass::Application)
          << "not a retryable error: " << replies.value().front().text;
    }
    if (fate != WriteFate::Acknowledged) continue;
    const client::Reply& reply = replies.value().front();
    ASSERT_EQ(reply.type, client::ReplyType::Integer) << client::format_reply(reply);
    if (!acked.empty()) {
      EXPECT_GE(reply.integer, acked.back().second + static_cast<int64_t>(token.size()))
          << "the value shrank between two acknowledged appends: a wrong answer";
    }
    acked.emplace_back(token, reply.integer);
  }
  EXPECT_TRUE(killed);
  EXPECT_FALSE(acked.empty());
  Client client(client_options(Semantics::AtLeastOnce));
  const Outcome final_value = client.call({"GET", "forwarded"});
  ASSERT_TRUE(final_value.ok()) << final_value.detail;
  const std::string& value = final_value.reply.text;
  for (const auto& [token, length] : acked) {
    ASSERT_GE(length, static_cast<int64_t>(token.size()));
    const auto end = static_cast<size_t>(length);
    EXPECT_EQ(value.substr(end - token.size(), token.size()), token)
        << "the reply to " << token << " named a length where the value does not hold it";
  }
  const TokenLedger::Tally tally = ledger.tally(value);
  std::cout << "follower: " << tally.acknowledged << " APPENDs acknowledged, "
            << tally.not_applied << " not applied, " << tally.unknown << " unknown ("
            << tally.unknown_present << " of them applied); value " << value.size()
            << " bytes\n";
  EXPECT_EQ(ledger.check(value, /*acked_may_repeat=*/false), "");
}

constexpr const char* kBefore = "before";  // The value a paused leader knew.
constexpr const char* kAfter = "after";    // Written while it was paused.

// What the reads of key "paused" sent straight to one node returned.
struct ReadCounts {
  int stale = 0;      // kBefore.
  int fresh = 0;      // kAfter.
  int retryable = 0;  // An error the library says to retry (never applied: it is a read).
  std::vector<std::string> unexpected;

  void add(const client::Reply& reply) {
    if (reply == client::Reply::bulk(kBefore)) {
      ++stale;
    } else if (reply == client::Reply::bulk(kAfter)) {
      ++fresh;
    } else if (reply.is_error() &&
               client::classify_error(reply.text) != client::ErrorClass::Application) {
      ++retryable;
    } else {
      unexpected.push_back(client::format_reply(reply));
    }
  }
};

std::ostream& operator<<(std::ostream& out, const ReadCounts& counts) {
  return out << counts.stale << " stale, " << counts.fresh << " fresh, " << counts.retryable
             << " retryable errors, " << counts.unexpected.size() << " unexpected";
}

// Connections to one node opened while it runs. GETs are later written into all of them at
// once (if the node is stopped they wait in its socket buffers) and the replies collected.
class PipelinedGets {
 public:
  // `readonly`: each connection is switched to READONLY (reads served from local state).
  PipelinedGets(const client::Endpoint& endpoint, int connections, bool readonly) {
    for (int i = 0; i < connections; ++i) {
      connections_.push_back(std::make_unique<RawConnection>(endpoint));
      RawConnection& connection = *connections_.back();
      ready_ = ready_ && connection.connected();
      if (ready_ && readonly) {
        ready_ = connection.send(client::encode_command({"READONLY"})) &&
                 connection.read_replies(1, milliseconds(5000)).size() == 1;
      }
    }
  }
  [[nodiscard]] bool ready() const { return ready_; }
  // `count` GETs of "paused" per connection, one write each; true once all are handed over.
  bool send(size_t count) {
    std::string gets;
    for (size_t i = 0; i < count; ++i) gets += client::encode_command({"GET", "paused"});
    for (const auto& connection : connections_) {
      if (!connection->send(gets)) return false;
    }
    sent_ = count;
    return true;
  }
  void collect(ReadCounts* counts) {
    for (const auto& connection : connections_) {
      for (const client::Reply& reply : connection->read_replies(sent_, milliseconds(10'000))) {
        counts->add(reply);
      }
    }
  }

 private:
  std::vector<std::unique_ptr<RawConnection>> connections_;
  bool ready_ = true;
  size_t sent_ = 0;
};

// Reads on new connections, one at a time, until `fresh_wanted` return the new value or 5 s
// pass (the node may take an election timeout to hear of the new leader). Returns how long.
milliseconds read_until_fresh(const client::Endpoint& endpoint, int fresh_wanted,
                              ReadCounts* counts) {
  const auto start = std::chrono::steady_clock::now();
  while (counts->fresh < fresh_wanted &&
         std::chrono::steady_clock::now() - start < milliseconds(5000)) {
    Result<std::vector<client::Reply>> got =
        tools::node_exchange(endpoint, {{"GET", "paused"}}, milliseconds(5000));
    if (got.is_ok()) counts->add(got.value().front());
  }
  return std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start);
}

// A paused leader (SIGSTOP) is replaced and a new value written through the new leader. When
// the old leader resumes it still believes it leads until it hears the new term. Reads sent to
// it must never return the value it knew before the pause: neither those pipelined, while it
// was stopped, on connections opened before the pause, nor those sent right after it resumes;
// and some of them must get the new value (answered once it learns of the new leader).
// The same reads on READONLY connections (served from the node's own state: stale by design)
// must see the old value: that is what a leader reading locally would do, and the check above
// catches it.
TEST_F(Failover, PausedLeaderResumes_LinearizableReadNeverStale) {
  constexpr size_t kPipelined = 8;  // GETs per connection, sent in one write.
  start_cluster(/*slot=*/12);
  const int old_leader = static_cast<int>(leader().node_id);
  const client::Endpoint endpoint = cluster_->layout().client_endpoint(old_leader);
  Client client(client_options(Semantics::AtLeastOnce));
  ASSERT_TRUE(client.call({"SET", "paused", kBefore}).ok());
  PipelinedGets linearizable(endpoint, 4, /*readonly=*/false);
  PipelinedGets local(endpoint, 4, /*readonly=*/true);
  ASSERT_TRUE(linearizable.ready() && local.ready());
  const std::optional<pid_t> pid = cluster_->pid(old_leader);
  ASSERT_TRUE(pid.has_value());
  ASSERT_EQ(::kill(*pid, SIGSTOP), 0);
  EXPECT_NE(static_cast<int>(leader(milliseconds(15'000), {old_leader}).node_id), old_leader);
  const Outcome written = client.call({"SET", "paused", kAfter});
  ASSERT_TRUE(written.ok()) << written.detail;
  ASSERT_TRUE(linearizable.send(kPipelined) && local.send(kPipelined));
  ASSERT_EQ(::kill(*pid, SIGCONT), 0);
  ReadCounts reads;
  const milliseconds fresh_after = read_until_fresh(endpoint, 20, &reads);
  linearizable.collect(&reads);
  ReadCounts local_reads;
  local.collect(&local_reads);
  std::cout << "linearizable reads at the resumed leader: " << reads << " (20 fresh after "
            << fresh_after.count() << " ms)\nREADONLY reads pipelined during the pause: "
            << local_reads << "\n";
  EXPECT_EQ(reads.stale, 0) << "a stale read from a deposed leader";
  EXPECT_GT(reads.fresh, 0) << "the resumed node never answered a read with the new value";
  EXPECT_TRUE(reads.unexpected.empty()) << reads.unexpected.front();
  EXPECT_EQ(local_reads.stale + local_reads.fresh, static_cast<int>(4 * kPipelined));
  // Shows the check can fail: reads served from local state are caught returning old data.
  EXPECT_GT(local_reads.stale, 0) << "READONLY reads never saw the old value";
  expect_everywhere({{"paused", kAfter}});
}

// Kills the leader from another thread after `delay`, so the kill lands while calls are in
// flight (their replies are lost and the client must decide whether to retry).
class LeaderKiller {
 public:
  LeaderKiller(tools::LocalCluster& cluster, int leader, milliseconds delay)
      : thread_([&cluster, leader, delay] {
          std::this_thread::sleep_for(delay);
          (void)cluster.stop_node(leader, SIGKILL, milliseconds(3000));
        }) {}
  ~LeaderKiller() { thread_.join(); }

 private:
  std::thread thread_;
};

// Exactly-once: INCRs retried across a leader crash under a session are applied once each.
TEST_F(Failover, ExactlyOnceIncr_AcrossLeaderKill_AppliedOncePerCall) {
  start_cluster(/*slot=*/6);
  const client::RaftInfo first = leader();
  Client client(client_options(Semantics::ExactlyOnce));
  int calls = 0;
  int resent = 0;  // Calls whose request went out more than once (retried under the session).
  {
    LeaderKiller killer(*cluster_, static_cast<int>(first.node_id), milliseconds(700));
    const auto start = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - start < milliseconds(5000)) {
      const Outcome outcome = client.call({"INCR", "exactly"});
      ++calls;
      resent += outcome.sends > 1 ? 1 : 0;
      ASSERT_TRUE(outcome.ok()) << "call " << calls << ": "
                                << client::outcome_kind_name(outcome.kind) << ": "
                                << outcome.detail;
      ASSERT_EQ(outcome.reply, client::Reply::number(calls)) << "applied twice or lost";
    }
  }
  EXPECT_FALSE(cluster_->running(static_cast<int>(first.node_id)));
  std::cout << calls << " exactly-once INCRs across the kill, all acknowledged; " << resent
            << " re-sent under the same sequence number\n";
  const Outcome total = client.call({"GET", "exactly"});
  ASSERT_TRUE(total.ok()) << total.detail;
  EXPECT_EQ(total.reply, client::Reply::bulk(std::to_string(calls)));
}

// At-most-once: across a leader crash some calls may end Unknown, but none is applied twice.
// Each call appends its own token, so the check is per call, not a count.
TEST_F(Failover, AtMostOnceAppend_AcrossLeaderKill_NeverAppliedTwice) {
  start_cluster(/*slot=*/7);
  const client::RaftInfo first = leader();
  Client client(client_options(Semantics::AtMostOnce));
  TokenLedger ledger("m:");
  {
    LeaderKiller killer(*cluster_, static_cast<int>(first.node_id), milliseconds(700));
    const auto start = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - start < milliseconds(5000)) {
      const std::string token = ledger.next_token();
      const Outcome outcome = client.call({"APPEND", "at-most", token});
      ASSERT_NE(outcome.kind, OutcomeKind::Error) << outcome.reply.text;
      ledger.record(token, fate_of(outcome));
    }
  }
  const Outcome total = client.call({"GET", "at-most"});
  ASSERT_TRUE(total.ok()) << total.detail;
  const TokenLedger::Tally tally = ledger.tally(total.reply.text);
  std::cout << "at-most-once: " << tally.acknowledged << " acknowledged, " << tally.unknown
            << " unknown (" << tally.unknown_present << " of them applied), "
            << tally.not_applied << " not applied\n";
  EXPECT_GT(tally.acknowledged, 0);
  EXPECT_EQ(ledger.check(total.reply.text, /*acked_may_repeat=*/false), "");
}

}  // namespace
}  // namespace raftkv::process_test
