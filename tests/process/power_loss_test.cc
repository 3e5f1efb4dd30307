// Power loss (issue 22, J9). kill -9 keeps the page cache, so a server that acknowledged
// before its fsync would pass every kill -9 test. Here each node's data dir is on its own
// lazyfs mount (tests/lazyfs), which drops everything not fsynced when told: a power loss of
// that node's machine. Under write load the leader is killed and loses its unsynced data,
// then the whole cluster is; every acknowledged write must survive both.
//
// This test can fail. With the group commit's fdatasync skipped (DiskStorage::run_sync_locked
// calling no file->sync(): a server that acknowledges before its fsync; a local break, never
// committed) it failed 4 runs out of 4: the whole-cluster power loss lost every write
// acknowledged before it (1474 of 1622 in one run), on every node.
// Requires root, /dev/fuse and lazyfs; skips otherwise, saying which is missing.

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include "harness.h"
#include "lazyfs_mount.h"

namespace raftkv::process_test {
namespace {

using client::Client;
using client::Outcome;
using client::Semantics;
using Clock = std::chrono::steady_clock;
using KeyValues = std::vector<std::pair<std::string, std::string>>;

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_file(const std::string& path, const std::string& text, bool sync) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  if (sync) {
    ASSERT_EQ(::fdatasync(fd), 0);
  }
  ::close(fd);
}

// lazyfs itself, end to end through the kernel: what was synced stays, what was not goes,
// and a stalled sync takes at least the stall.
TEST(LazyFs, Drop_KeepsSyncedLosesUnsynced_StallDelaysSync) {
  if (const std::string why = LazyMount::unavailable_reason(); !why.empty()) {
    FAIL() << "this test needs lazyfs (run as root with scripts/setup.sh's packages): " << why;
  }
  char log[] = "/tmp/raftkv-lazyfs-log-XXXXXX";
  const int log_fd = ::mkstemp(log);
  ASSERT_GE(log_fd, 0);
  ::close(log_fd);
  {
    Result<std::unique_ptr<LazyMount>> mounted = LazyMount::mount(log);
    ASSERT_TRUE(mounted.is_ok()) << mounted.status().message();
    LazyMount& fs = *mounted.value();
    ASSERT_EQ(::mkdir((fs.path() + "/d").c_str(), 0755), 0);
    write_file(fs.path() + "/d/synced", "durable", /*sync=*/true);
    write_file(fs.path() + "/d/unsynced", "volatile", /*sync=*/false);
    write_file(fs.path() + "/d/renamed.tmp", "renamed", /*sync=*/true);
    ASSERT_EQ(::rename((fs.path() + "/d/renamed.tmp").c_str(), (fs.path() + "/d/renamed").c_str()),
              0);
    {
      std::ofstream append(fs.path() + "/d/synced", std::ios::app);
      append << " and more";  // Not synced.
    }
    EXPECT_EQ(read_all(fs.path() + "/d/synced"), "durable and more");
    ASSERT_TRUE(fs.drop().is_ok());
    EXPECT_EQ(read_all(fs.path() + "/d/synced"), "durable");
    EXPECT_EQ(read_all(fs.path() + "/d/unsynced"), "");
    EXPECT_EQ(read_all(fs.path() + "/d/renamed"), "renamed");
    Result<std::map<std::string, uint64_t>> counters = fs.counters();
    ASSERT_TRUE(counters.is_ok()) << counters.status().message();
    EXPECT_EQ(counters.value()["files_dropped"], 2u);
    EXPECT_EQ(counters.value()["unsynced_files"], 0u);

    ASSERT_TRUE(fs.stall_sync(milliseconds(300)).is_ok());
    const auto start = Clock::now();
    write_file(fs.path() + "/d/slow", "slow", /*sync=*/true);
    const auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
    ASSERT_TRUE(fs.stall_sync(milliseconds(0)).is_ok());
    std::cout << "an fdatasync under a 300 ms stall took " << took.count() << " ms\n";
    EXPECT_GE(took.count(), 300);
    EXPECT_FALSE(fs.command("stall-sync soon").is_ok());
  }
  ::unlink(log);
}

constexpr milliseconds kAckWait{20'000};
constexpr milliseconds kSyncStall{20};
constexpr int kAcksPerPhase = 60;

class PowerLoss : public ClusterFixture {
 protected:
  // Node `id`'s data dir becomes a symlink into a lazyfs mount of its own.
  void put_data_dirs_on_lazyfs() {
    const tools::ClusterLayout& layout = cluster_->layout();
    for (int id = 1; id <= layout.nodes; ++id) {
      Result<std::unique_ptr<LazyMount>> mounted =
          LazyMount::mount(dir_ + "/lazyfs-" + std::to_string(id) + ".log");
      ASSERT_TRUE(mounted.is_ok()) << mounted.status().message();
      mounts_.push_back(std::move(mounted).value());
      const std::string data = mounts_.back()->path() + "/data";
      std::error_code error;
      std::filesystem::create_directories(layout.node_dir(id), error);
      ASSERT_FALSE(error) << layout.node_dir(id) << ": " << error.message();
      ASSERT_EQ(::mkdir(data.c_str(), 0755), 0) << data;
      ASSERT_EQ(::symlink(data.c_str(), layout.data_dir(id).c_str()), 0) << layout.data_dir(id);
    }
  }

  // Node `id`'s machine has lost power: its server is dead (kill -9, so every write it had in
  // flight has finished), and now its unsynced data goes.
  void drop_unsynced(int id) {
    const Status dropped = mounts_[static_cast<size_t>(id - 1)]->drop();
    ASSERT_TRUE(dropped.is_ok()) << dropped.message();
  }

  // Prints what the power losses took; returns how many files lost unsynced data in all.
  uint64_t report_drops() {
    uint64_t files_dropped = 0;
    for (size_t i = 0; i < mounts_.size(); ++i) {
      Result<std::map<std::string, uint64_t>> counters = mounts_[i]->counters();
      EXPECT_TRUE(counters.is_ok()) << counters.status().message();
      if (!counters.is_ok()) continue;
      files_dropped += counters.value()["files_dropped"];
      std::cout << "node " << i + 1 << "'s disk: " << counters.value()["files_dropped"]
                << " files lost unsynced data in " << counters.value()["drops"]
                << " power losses; " << counters.value()["syncs"] << " syncs\n";
    }
    return files_dropped;
  }

  // Unmounted after TearDown() has stopped every node (members outlive it): no node uses a
  // mount as it goes.
  std::vector<std::unique_ptr<LazyMount>> mounts_;
};

TEST_F(PowerLoss, LeaderThenWholeClusterLosePower_EveryAcknowledgedWriteSurvives) {
  if (const std::string why = LazyMount::unavailable_reason(); !why.empty()) {
    FAIL() << "this test needs lazyfs (run as root with scripts/setup.sh's packages): " << why;
  }
  prepare_cluster(/*slot=*/24);
  ASSERT_FALSE(HasFatalFailure());
  put_data_dirs_on_lazyfs();
  ASSERT_FALSE(HasFatalFailure());
  start_nodes();
  ASSERT_FALSE(HasFatalFailure());
  const int first = static_cast<int>(leader().node_id);
  ASSERT_NE(first, 0);
  // A slow disk: each sync stalls, so while it runs new records sit written but unsynced, and
  // a power loss always has something to take. (Without it a sync follows each write within
  // microseconds and the losses would rarely find anything unsynced.)
  for (const auto& mount : mounts_) ASSERT_TRUE(mount->stall_sync(kSyncStall).is_ok());
  std::vector<std::unique_ptr<BackgroundWriter>> load;
  std::vector<const BackgroundWriter*> writers;
  for (const char* prefix : {"power:a:", "power:b:", "power:c:", "power:d:"}) {
    load.push_back(
        std::make_unique<BackgroundWriter>(client_options(Semantics::AtLeastOnce), prefix));
    writers.push_back(load.back().get());
  }
  auto acked = [&] {
    int sum = 0;
    for (const BackgroundWriter* writer : writers) sum += writer->acked_count();
    return sum;
  };
  ASSERT_TRUE(wait_for_acks(writers, kAcksPerPhase, kAckWait)) << "no write load";

  const int before_leader_loss = acked();
  ASSERT_TRUE(cluster_->stop_node(first, SIGKILL, milliseconds(5000)).is_ok());
  drop_unsynced(first);
  ASSERT_TRUE(cluster_->start_node(first, false).is_ok());
  ASSERT_TRUE(cluster_->wait_up(first, milliseconds(10'000)).is_ok());
  ASSERT_TRUE(wait_for_acks(writers, acked() + kAcksPerPhase, kAckWait))
      << "no writes after the leader's power loss";

  const int before_cluster_loss = acked();
  kill_all();
  ASSERT_FALSE(HasFatalFailure());
  for (int id = 1; id <= 3; ++id) drop_unsynced(id);
  const auto restarted = Clock::now();
  start_nodes();
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_TRUE(wait_for_acks(writers, acked() + kAcksPerPhase, kAckWait))
      << "no writes after the cluster's power loss";
  const auto back_ms =
      std::chrono::duration_cast<milliseconds>(Clock::now() - restarted).count();

  KeyValues all;
  for (const auto& writer : load) {
    const KeyValues& acked_by_one = writer->finish();
    all.insert(all.end(), acked_by_one.begin(), acked_by_one.end());
  }
  std::cout << all.size() << " writes acknowledged: " << before_leader_loss
            << " before the leader's power loss, " << before_cluster_loss << " before the "
            << "cluster's; " << kAcksPerPhase << " more within " << back_ms
            << " ms of the restart (syncs stalled " << kSyncStall.count() << " ms each)\n";
  // Four power losses under load with stalled syncs: if none found anything unsynced, the
  // test exercised nothing.
  EXPECT_GT(report_drops(), 0u) << "no power loss found unsynced data";
  expect_everywhere(all);
}

}  // namespace
}  // namespace raftkv::process_test
