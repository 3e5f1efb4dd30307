// Backup and restore through one snapshot file, and recovery from a majority lost for good
// (issue 15, docs/operations.md): `raftkv-wal export` writes a node's state as a snapshot
// file; `raftkv-server --restore-from` starts a new cluster, with a new cluster id, from it.
//   - backup: export a running node, start a new 3-node cluster from the file, every key back;
//   - lost majority: kill -9 two of three nodes, export the survivor, start a one-node cluster
//     on its address from the file; every acknowledged key is there, and an old node restarted
//     on its old data is refused by the new cluster (cluster id).
// Slots 55 and 56 (the old cluster, then the new one), 57 (lost majority).

#include <signal.h>

#include <filesystem>
#include <iostream>

#include "harness.h"

namespace raftkv::process_test {
namespace {

using client::Client;
using client::Outcome;
using client::Semantics;

class Restore : public ClusterFixture {
 protected:
  void TearDown() override {
    if (old_ != nullptr) {
      if (HasFailure()) {
        for (int id = 1; id <= old_->layout().nodes; ++id) {
          std::cerr << "---- old cluster, node " << id << "\n"
                    << tools::tail_lines(old_->layout().log_path(id), 25);
        }
      }
      old_->stop_all(milliseconds(3000));
    }
    ClusterFixture::TearDown();
  }

  // raftkv-wal export of node `id`'s data dir into dir_/backup.snap; its output.
  std::string export_node(int id) {
    backup_ = dir_ + "/backup.snap";
    const ToolRun run = run_tool(RAFTKV_WAL_PATH,
                                 {"export", "--out", backup_, cluster_->layout().data_dir(id)},
                                 dir_ + "/export.out");
    std::cout << "raftkv-wal export " << how_ << ":\n" << run.output;
    EXPECT_EQ(run.how, "exited with status 0") << run.output;
    EXPECT_NE(run.output.find("exported " + backup_), std::string::npos) << run.output;
    return run.output;
  }

  // The old cluster moves to old_; cluster_ becomes a new one of `nodes` nodes at `slot`,
  // under dir_/new, every node started with --restore-from the backup.
  void start_restored(int slot, int nodes) {
    old_ = std::move(cluster_);
    tools::ClusterLayout layout = layout_for(slot, nodes);
    layout.dir = dir_ + "/new";
    layout.extra_args = {"--restore-from=" + backup_};
    cluster_ = std::make_unique<tools::LocalCluster>(layout);
    start_nodes();
  }

  // RAFT.CLUSTERID of node `id` of `cluster`.
  static std::string cluster_id(const tools::LocalCluster& cluster, int id) {
    Result<std::vector<client::Reply>> replies = tools::node_exchange(
        cluster.layout().client_endpoint(id), {{"RAFT.CLUSTERID"}}, milliseconds(5000));
    EXPECT_TRUE(replies.is_ok()) << replies.status().message();
    return replies.is_ok() ? replies.value()[0].text : "";
  }

  std::unique_ptr<tools::LocalCluster> old_;
  std::string backup_;
  std::string how_;
  std::vector<std::pair<std::string, std::string>> acked_;
};

TEST_F(Restore, BackupOfARunningNodeStartsANewClusterWithEveryKey) {
  start_cluster(55);
  if (HasFatalFailure()) return;
  write_keys_acked(300, "backup:", &acked_);
  if (HasFatalFailure()) return;
  expect_everywhere(acked_);  // Node 2 holds every write durably: the backup must have all.
  if (HasFatalFailure()) return;
  const std::string old_id = cluster_id(*cluster_, 1);
  how_ = "of running node 2";
  (void)export_node(2);
  if (HasFatalFailure()) return;
  start_restored(56, 3);
  if (HasFatalFailure()) return;
  expect_everywhere(acked_);
  const std::string new_id = cluster_id(*cluster_, 1);
  std::cout << "old cluster id " << old_id << ", new " << new_id << "\n";
  EXPECT_NE(new_id, old_id);
  // The new cluster takes writes, and the old one still runs beside it, untouched.
  write_keys_acked(10, "after:", &acked_);
  EXPECT_EQ(cluster_id(*old_, 1), old_id);
}

TEST_F(Restore, LostMajorityRecoversFromTheSurvivorAndRefusesTheOldNodes) {
  start_cluster(57);
  if (HasFatalFailure()) return;
  write_keys_acked(300, "acked:", &acked_);
  if (HasFatalFailure()) return;
  expect_everywhere(acked_);  // The survivor has the most recent log.
  if (HasFatalFailure()) return;
  const std::string old_id = cluster_id(*cluster_, 1);
  ASSERT_TRUE(cluster_->stop_node(2, SIGKILL, milliseconds(3000)).is_ok());
  ASSERT_TRUE(cluster_->stop_node(3, SIGKILL, milliseconds(3000)).is_ok());
  // The survivor can serve no write; it is stopped so that its address can be reused.
  ASSERT_TRUE(cluster_->stop_node(1, SIGTERM, milliseconds(5000)).is_ok());
  how_ = "of the survivor, node 1";
  (void)export_node(1);
  if (HasFatalFailure()) return;
  start_restored(57, 1);  // Node 1's addresses, a new data dir.
  if (HasFatalFailure()) return;
  expect_everywhere(acked_);
  if (HasFatalFailure()) return;
  const std::string new_id = cluster_id(*cluster_, 1);
  EXPECT_NE(new_id, old_id);
  // An old node restarted on its old data dials node 1's address: refused by cluster id.
  ASSERT_TRUE(old_->start_node(2, /*detach=*/false).is_ok());
  const std::string refusal = "cluster id " + old_id + " is not ours (" + new_id + ")";
  const auto deadline = std::chrono::steady_clock::now() + milliseconds(15'000);
  bool refused = false;
  while (!refused && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(100));  // Polling the log, bounded above.
    refused = tools::tail_lines(cluster_->layout().log_path(1), 200).find(refusal) !=
              std::string::npos;
  }
  EXPECT_TRUE(refused) << "the new node never logged: refused ... " << refusal;
  // The new cluster carries on alone: its one member leads, and takes writes.
  const client::RaftInfo info = leader();
  EXPECT_EQ(info.node_id, 1u);
  write_keys_acked(10, "after:", &acked_);
  expect_everywhere(acked_);
}

}  // namespace
}  // namespace raftkv::process_test
