// InstallSnapshot between real servers: a follower that was down while the others compacted
// their logs catches up through a chunked snapshot stream, and a kill -9 in the middle of that
// stream leaves nothing behind that stops it from starting and catching up again.

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "harness.h"

namespace raftkv::process_test {
namespace {

class Snapshot : public ClusterFixture {};

using KeyValues = std::vector<std::pair<std::string, std::string>>;

size_t count_in_file(const std::string& path, const std::string& needle) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  const std::string all = text.str();
  size_t count = 0;
  for (size_t at = all.find(needle); at != std::string::npos; at = all.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

TEST_F(Snapshot, LaggingFollowerCatchesUpThroughChunks_EvenAfterKillMidTransfer) {
  // Snapshots every 4 MiB of commands, no log kept behind them, and 64 KiB chunks, so that a
  // ~19 MiB state takes hundreds of chunks: a window wide enough to kill the follower in.
  start_cluster(/*slot=*/14, 3,
                {"--snapshot-bytes", "4194304", "--snapshot-keep-entries", "0",
                 "--snapshot-chunk-bytes", "65536"});
  const client::RaftInfo first = leader();
  ASSERT_NE(first.node_id, 0u);
  const int follower = first.node_id == 1 ? 2 : 1;
  ASSERT_TRUE(cluster_->stop_node(follower, SIGKILL, milliseconds(3000)).is_ok());

  client::Client client(client_options(client::Semantics::AtLeastOnce));
  KeyValues written;
  const std::string filler(48 << 10, 'v');
  for (int i = 0; i < 400; ++i) {
    written.emplace_back("snap:" + std::to_string(i), std::to_string(i) + filler);
    const client::Outcome outcome = client.call({"SET", written.back().first,
                                                 written.back().second});
    ASSERT_TRUE(outcome.ok()) << outcome.detail;
  }

  const std::string log = cluster_->layout().log_path(follower);
  const std::string receiving = "receiving snapshot at index";
  ASSERT_TRUE(cluster_->start_node(follower, false).is_ok());
  // Kill it as soon as the stream starts; if the whole transfer beat us, the restart below
  // still has to come up cleanly on an installed snapshot.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (count_in_file(log, receiving) == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(2));
  }
  ASSERT_EQ(count_in_file(log, receiving), 1u) << "the follower never got a snapshot";
  ASSERT_TRUE(cluster_->stop_node(follower, SIGKILL, milliseconds(3000)).is_ok());
  const bool killed_mid_transfer = count_in_file(log, "installing the leader's snapshot") == 0;
  std::cout << "follower " << follower << " killed "
            << (killed_mid_transfer ? "mid-transfer" : "after the install") << "\n";

  ASSERT_TRUE(cluster_->start_node(follower, false).is_ok());
  ASSERT_TRUE(cluster_->wait_up(follower, milliseconds(10'000)).is_ok());
  expect_everywhere(written);
  if (killed_mid_transfer) {
    EXPECT_EQ(count_in_file(log, receiving), 2u);  // Started over from offset 0.
  }
  EXPECT_GE(count_in_file(log, "installing the leader's snapshot"), 1u);
  // The inbox's refusal ("snapshot at index N from node M refused: why"); a vote refused in a
  // split first election is no concern here.
  EXPECT_EQ(count_in_file(log, " refused: "), 0u);
  for (const auto& entry : std::filesystem::directory_iterator(cluster_->layout().data_dir(follower))) {
    EXPECT_FALSE(entry.path().string().ends_with(".snap.tmp")) << entry.path();  // No half file.
  }
}

}  // namespace
}  // namespace raftkv::process_test
