// Whole-cluster restarts (issue 22): clients that keep writing while every node is killed and
// started again, and a cluster in which every node restarts from a snapshot of its own.

#include <signal.h>

#include <charconv>
#include <fstream>
#include <iostream>
#include <sstream>

#include "harness.h"
#include "ledger.h"

namespace raftkv::process_test {
namespace {

using client::Client;
using client::Outcome;
using client::Semantics;
using Clock = std::chrono::steady_clock;
using KeyValues = std::vector<std::pair<std::string, std::string>>;

class Restart : public ClusterFixture {};

// Appends unique tokens at most once each until `stop`, recording what the client was told.
void append_until(Client& client, const std::atomic<bool>& stop, TokenLedger* ledger) {
  while (!stop.load()) {
    const std::string token = ledger->next_token();
    ledger->record(token, fate_of(client.call({"APPEND", "restart:tokens", token})));
  }
}

// Three clients span a kill -9 of every node: two write keys at-least-once, one appends
// tokens at-most-once. Each must be acknowledged again after the restart without being made
// anew, nothing acknowledged may be lost, and each token is present as its outcome allows.
TEST_F(Restart, ClientsWritingAcrossWholeClusterKill_ResumeAndLoseNothing) {
  start_cluster(/*slot=*/25);
  ASSERT_NE(leader().node_id, 0u);
  BackgroundWriter one(client_options(Semantics::AtLeastOnce), "across:a:");
  BackgroundWriter two(client_options(Semantics::AtLeastOnce), "across:b:");
  const std::vector<const BackgroundWriter*> writers = {&one, &two};
  std::atomic<bool> stop{false};
  TokenLedger ledger("t:");
  Client appender(client_options(Semantics::AtMostOnce));
  std::thread appending([&] { append_until(appender, stop, &ledger); });
  const bool loaded = wait_for_acks(writers, 100, milliseconds(20'000));

  const int before = one.acked_count() + two.acked_count();
  const int one_before = one.acked_count();
  const int two_before = two.acked_count();
  const auto killed = Clock::now();
  kill_and_restart_all();
  const bool resumed = wait_for_acks(writers, before + 100, milliseconds(20'000));
  const auto resumed_ms = std::chrono::duration_cast<milliseconds>(Clock::now() - killed);
  stop = true;
  appending.join();
  KeyValues all = one.finish();
  const KeyValues& others = two.finish();
  all.insert(all.end(), others.begin(), others.end());
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_TRUE(loaded);
  EXPECT_TRUE(resumed) << "the clients did not resume after the restart";
  EXPECT_GT(one.acked_count(), one_before) << "client a never resumed";
  EXPECT_GT(two.acked_count(), two_before) << "client b never resumed";

  Client reader(client_options(Semantics::AtLeastOnce));
  const Outcome tokens = reader.call({"GET", "restart:tokens"});
  ASSERT_TRUE(tokens.ok()) << tokens.detail;
  const TokenLedger::Tally tally = ledger.tally(tokens.reply.text);
  std::cout << all.size() << " keys acknowledged, " << before << " before the kill; 100 more "
            << resumed_ms.count() << " ms after it. Appends: " << tally.acknowledged
            << " acknowledged, " << tally.not_applied << " not applied, " << tally.unknown
            << " unknown (" << tally.unknown_present << " applied)\n";
  EXPECT_GT(tally.acknowledged, 0);
  EXPECT_EQ(ledger.check(tokens.reply.text, /*acked_may_repeat=*/false), "");
  expect_everywhere(all);
}

// The value of "name:" in INFO's text, or -1.
int64_t info_field(const std::string& info, const std::string& name) {
  const size_t at = info.find("\n" + name + ":");
  if (at == std::string::npos) return -1;
  const char* begin = info.data() + at + name.size() + 2;
  int64_t value = -1;
  std::from_chars(begin, info.data() + info.size(), value);
  return value;
}

// From the last "storage: recovered" line of a node's log (its latest start): the snapshot
// index it recovered from ("..., snapshot S, term ..."), or -1 if there is no such line.
int64_t recovered_snapshot_index(const std::string& log_path) {
  std::ifstream in(log_path);
  std::string line;
  std::string last;
  while (std::getline(in, line)) {
    if (line.find("storage: recovered") != std::string::npos) last = line;
  }
  const size_t at = last.find(", snapshot ");
  if (at == std::string::npos) return -1;
  int64_t index = -1;
  std::from_chars(last.data() + at + 11, last.data() + last.size(), index);
  return index;
}

size_t count_lines_with(const std::string& log_path, const std::string& needle) {
  std::ifstream in(log_path);
  std::string line;
  size_t count = 0;
  while (std::getline(in, line)) count += line.find(needle) != std::string::npos ? 1u : 0u;
  return count;
}

// A small snapshot threshold (by entry count): every node snapshots its own state machine and
// compacts its log; then all are killed and restarted. Each must come back from its own
// snapshot (its log says so, and its log starts past index 1) and every key reads back.
TEST_F(Restart, EveryNodeRestartsFromItsOwnSnapshot_AllKeysReadBack) {
  start_cluster(/*slot=*/26, 3, {"--snapshot-entries", "100", "--snapshot-keep-entries", "10"});
  Client client(client_options(Semantics::AtLeastOnce));
  KeyValues written;
  for (int i = 0; i < 400; ++i) {
    written.emplace_back("snapshot:" + std::to_string(i), "v" + std::to_string(i));
    const Outcome outcome = client.call({"SET", written.back().first, written.back().second});
    ASSERT_TRUE(outcome.ok()) << outcome.detail;
  }
  expect_everywhere(written);  // Every node has applied all of it.
  const tools::ClusterLayout& layout = cluster_->layout();
  for (int id = 1; id <= 3; ++id) {
    // Taken by the node itself, not installed from the leader.
    EXPECT_GE(count_lines_with(layout.log_path(id), " bytes) written in "), 1u) << "node " << id;
    EXPECT_EQ(count_lines_with(layout.log_path(id), "installing the leader's snapshot"), 0u);
  }
  kill_and_restart_all();
  ASSERT_FALSE(HasFatalFailure());
  for (int id = 1; id <= 3; ++id) {
    const int64_t snapshot = recovered_snapshot_index(layout.log_path(id));
    Result<std::vector<client::Reply>> info =
        tools::node_exchange(layout.client_endpoint(id), {{"INFO"}}, milliseconds(5000));
    ASSERT_TRUE(info.is_ok()) << info.status().message();
    const std::string& text = info.value().front().text;
    const int64_t first_index = info_field(text, "first_log_index");
    std::cout << "node " << id << " restarted from its snapshot at index " << snapshot
              << "; its log starts at " << first_index << ", applied "
              << info_field(text, "applied_index") << "\n";
    EXPECT_GE(snapshot, 100) << "node " << id << " did not restart from a snapshot";
    EXPECT_GT(first_index, 1) << "node " << id << "'s log was not compacted";
    EXPECT_GE(info_field(text, "applied_index"), snapshot);
  }
  for (const auto& [key, value] : written) {
    const Outcome got = client.call({"GET", key});
    ASSERT_TRUE(got.ok()) << got.detail;
    EXPECT_EQ(got.reply, client::Reply::bulk(value)) << key;
  }
  expect_everywhere(written);
}

}  // namespace
}  // namespace raftkv::process_test
