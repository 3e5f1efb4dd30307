// A majority killed (issue 22, J2): two of three nodes go down with kill -9 and the survivor,
// alone, must not answer a linearizable read with a value nor acknowledge a write, whether it
// was the leader (it still believes it leads until CheckQuorum) or a follower (it knows no
// leader). Each such request must end, within the server's bound on a request, in an error
// the client library classifies as retryable. Once the two restart, every acknowledged write
// is there, and every write the survivor called not applied is absent.

#include <signal.h>

#include <iostream>

#include "client/errors.h"
#include "harness.h"
#include "ledger.h"

namespace raftkv::process_test {
namespace {

using client::Client;
using client::Outcome;
using client::Semantics;
using Clock = std::chrono::steady_clock;

class QuorumLoss : public ClusterFixture {
 protected:
  // GET and SET sent straight to `node`, pipelined (so both reach it at once, while it may
  // still believe it leads). Both must come back as errors within the bound; the write's fate
  // is recorded under `key` for the check after the restart. A node that knows no leader has
  // appended nothing, so `knows_no_leader` asks the write to be certainly not applied; one
  // that still leads may rightly answer "may or may not have been applied".
  void expect_refused(int node, const std::string& key, const std::string& when,
                      bool knows_no_leader) {
    const client::Endpoint endpoint = cluster_->layout().client_endpoint(node);
    const auto start = Clock::now();
    Result<std::vector<client::Reply>> replies = tools::node_exchange(
        endpoint, {{"GET", "acked:0"}, {"SET", key, "sent-without-quorum"}}, kNoAnswer);
    const auto took_ms = elapsed_ms(start);
    ASSERT_TRUE(replies.is_ok()) << when << ": no answer: " << replies.status().message();
    const client::Reply& read_reply = replies.value()[0];
    const client::Reply& write_reply = replies.value()[1];
    std::cout << when << ": both answered in " << took_ms << " ms; read "
              << client::format_reply(read_reply) << ", write "
              << client::format_reply(write_reply) << "\n";
    ASSERT_TRUE(read_reply.is_error()) << when << ": a read without a quorum returned a value";
    EXPECT_EQ(client::classify_error(read_reply.text), client::ErrorClass::NotApplied)
        << read_reply.text;
    const WriteFate fate = fate_of(write_reply);
    ASSERT_NE(fate, WriteFate::Acknowledged) << when << ": a write acknowledged without quorum";
    EXPECT_NE(client::classify_error(write_reply.text), client::ErrorClass::Application)
        << write_reply.text;
    if (knows_no_leader) {
      EXPECT_EQ(fate, WriteFate::NotApplied) << write_reply.text;
    }
    // Generous beside the bound (two election timeouts: 1 s here); the figure is printed.
    EXPECT_LT(took_ms, kBoundGenerous.count());
    fates_.emplace_back(key, fate);
  }

  // After the restart: acknowledged writes everywhere; refused ones absent if not applied.
  void check_after_restart() {
    expect_everywhere(acked_);
    Client client(client_options(Semantics::AtLeastOnce));
    for (const auto& [key, fate] : fates_) {
      const Outcome got = client.call({"GET", key});
      ASSERT_TRUE(got.ok()) << got.detail;
      std::cout << key << ": " << write_fate_name(fate) << ", now "
                << client::format_reply(got.reply) << "\n";
      if (fate == WriteFate::NotApplied) {
        EXPECT_EQ(got.reply, client::Reply::nil()) << key << " was called not applied";
      }
    }
  }

  // Waits (bounded) until `node` names no leader.
  void wait_knows_no_leader(int node) {
    const auto start = Clock::now();
    Result<client::RaftInfo> info = cluster_->info(node, milliseconds(2000));
    while ((!info.is_ok() || info.value().leader_id != 0) &&
           Clock::now() - start < milliseconds(10'000)) {
      info = cluster_->info(node, milliseconds(2000));
    }
    ASSERT_TRUE(info.is_ok() && info.value().leader_id == 0) << "node " << node
                                                             << " still names a leader";
    std::cout << "node " << node << " named no leader after " << elapsed_ms(start) << " ms\n";
  }

  void kill(int node) {
    ASSERT_TRUE(cluster_->stop_node(node, SIGKILL, milliseconds(3000)).is_ok());
  }
  void restart(int node) {
    ASSERT_TRUE(cluster_->start_node(node, false).is_ok());
    ASSERT_TRUE(cluster_->wait_up(node, milliseconds(10'000)).is_ok());
  }

  static int64_t elapsed_ms(Clock::time_point since) {
    return std::chrono::duration_cast<milliseconds>(Clock::now() - since).count();
  }

  static constexpr milliseconds kNoAnswer{15'000};
  static constexpr milliseconds kBoundGenerous{6'000};
  std::vector<std::pair<std::string, std::string>> acked_;
  std::vector<std::pair<std::string, WriteFate>> fates_;
};

TEST_F(QuorumLoss, TwoOfThreeKilled_SurvivorRefusesReadsAndWrites_NothingAckedLost) {
  start_cluster(/*slot=*/22);
  const int first = static_cast<int>(leader().node_id);
  ASSERT_NE(first, 0);
  write_keys_acked(50, "acked:", &acked_);

  // The leader survives: it still believes it leads, until CheckQuorum makes it step down.
  for (int id = 1; id <= 3; ++id) {
    if (id != first) kill(id);
  }
  expect_refused(first, "j2:leader-alone", "leader alone, at once", false);
  wait_knows_no_leader(first);  // It has stepped down.
  expect_refused(first, "j2:leader-alone-later", "leader alone, after stepping down", true);
  for (int id = 1; id <= 3; ++id) {
    if (id != first) restart(id);
  }
  const int second = static_cast<int>(leader().node_id);
  ASSERT_NE(second, 0);
  check_after_restart();
  write_keys_acked(50, "acked-again:", &acked_);

  // A follower survives: the leader and the other follower die.
  const int survivor = second % 3 + 1;
  for (int id = 1; id <= 3; ++id) {
    if (id != survivor) kill(id);
  }
  // Asked only once it has noticed that its leader is gone: before, it forwards to the dead
  // leader, and a forward lost with the leader is rightly ambiguous.
  wait_knows_no_leader(survivor);
  expect_refused(survivor, "j2:follower-alone", "follower alone", true);
  for (int id = 1; id <= 3; ++id) {
    if (id != survivor) restart(id);
  }
  check_after_restart();
}

}  // namespace
}  // namespace raftkv::process_test
