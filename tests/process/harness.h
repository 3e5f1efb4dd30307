#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "client/client.h"
#include "local_cluster.h"

// Process tests run the real raftkv-server binaries on loopback. Each test takes a distinct
// port slot (so ctest -j runs them in parallel), keeps its data in a fresh temp dir that is
// removed afterwards, and is bounded in time (ctest TIMEOUT as a backstop). On failure the
// last lines of every node's log are printed.
//
// The server binary: $RAFTKV_SERVER if set, else the path CMake compiled in.

namespace raftkv::client {
// How a failed assertion prints a reply: as redis-cli would, not as bytes.
inline void PrintTo(const Reply& reply, std::ostream* out) { *out << format_reply(reply); }
}  // namespace raftkv::client

namespace raftkv::process_test {

using std::chrono::milliseconds;

// The server under test, or "" with *why set if it is missing.
std::string server_path(std::string* why);

// A three-node cluster (by default) of real servers in a temp dir, ports from `slot`:
// peers 21000+20*slot+[0..4], clients +5.., http +10... Slots in use (keep them distinct):
//   0 demo, 1 kill under load, 2 full restart, 3 foreign data dir, 4 malformed input,
//   5 forwarding, 6 exactly-once, 7 at-most-once, 8 unknown command, 9 CLI, 10-11 sessions,
//   12 paused leader, 13 raftkv-bench, 14 snapshot transfer, 16-18 bank, 19-21 redis tools,
//   HTTP and read batching, 22 majority killed, 23 partition across a restart, 24 power loss
//   (lazyfs), 25 clients across a whole-cluster restart, 26 restart from own snapshots, 27 a
//   client that reached a cut-off node, 28-30 redis-py, ioredis, hiredis, 31 QUIT,
//   32 the lock example, 33 pipelined reads and writes,
//   34-36 large values, 37-40 membership changes, 41-46 security (authentication, ACL
//   users, protected mode, TLS), 47 a half-closed pipeline, 48 removed nodes in cluster.conf,
//   49-50 large values (writers at once; APPEND past the limit),
//   52-54 HTTPS and its token, 55-57 backup, restore and a lost majority (restore_test.cc),
//   60-63 peer TLS, 64 raftkv-bench over TLS, 65 demo --tls, 66 HTTP token limit, 67 TLS
//   client following the leader, 70-71 maxclients.
class ClusterFixture : public ::testing::Test {
 protected:
  // Call first in each test with its own slot; skips nothing: a missing server fails.
  void start_cluster(int slot, int nodes = 3, std::vector<std::string> extra_args = {});
  // start_cluster() in two steps, for a test that prepares something before any node starts
  // (data dirs on another file system, a wrapper around the server): prepare_cluster() makes
  // the temp dir and cluster_ (which the test may replace with another layout), start_nodes()
  // starts every node and waits until each answers.
  void prepare_cluster(int slot, int nodes = 3, std::vector<std::string> extra_args = {});
  void start_nodes();
  // start_cluster() of 3 nodes with TLS on every link, as `raftkv cluster start --tls` makes
  // it: a throwaway CA and per-node certificates (tls_files.h) under tls_dir_.
  void start_tls_cluster(int slot, std::vector<std::string> extra_args = {});
  // kill -9 of every node, all signalled before any is waited for.
  void kill_all();
  // kill_all(), then every node started again.
  void kill_and_restart_all();
  void TearDown() override;

  [[nodiscard]] tools::ClusterLayout layout_for(int slot, int nodes) const;
  [[nodiscard]] client::ClientOptions client_options(client::Semantics semantics) const;
  // The leader a majority agrees on; fails the test if none within `timeout`.
  client::RaftInfo leader(milliseconds timeout = milliseconds(15'000),
                          const std::vector<int>& ignore = {});
  // Every running node's state machine holds the given key -> value pairs once it has
  // applied the leader's commit index.
  void expect_everywhere(const std::vector<std::pair<std::string, std::string>>& data);
  // Writes "<prefix><i>" = "v<i>" for i < count through a client, each acknowledged (the test
  // fails otherwise), and appends them to `acked`.
  void write_keys_acked(int count, const std::string& prefix,
                        std::vector<std::pair<std::string, std::string>>* acked);
  // Lines of node `id`'s log that contain `needle`.
  [[nodiscard]] size_t log_lines_with(int id, const std::string& needle) const;
  void dump_logs() const;

  std::string dir_;
  std::string tls_dir_;  // Set by start_tls_cluster().
  std::unique_ptr<tools::LocalCluster> cluster_;
};

// Writes distinct keys ("<prefix><n>" = "v<n>") through a client of its own, on a thread of
// its own, until finish(); keeps those acknowledged. The thread must not start nodes (a node
// a thread starts gets SIGTERM when that thread ends).
class BackgroundWriter {
 public:
  BackgroundWriter(client::ClientOptions options, std::string prefix);
  ~BackgroundWriter() { (void)finish(); }
  BackgroundWriter(const BackgroundWriter&) = delete;
  BackgroundWriter& operator=(const BackgroundWriter&) = delete;

  // Acknowledged so far; from any thread.
  [[nodiscard]] int acked_count() const { return acked_count_.load(); }
  // Stops after the call in flight, joins, and returns every acknowledged key and value.
  const std::vector<std::pair<std::string, std::string>>& finish();

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int> acked_count_{0};
  std::vector<std::pair<std::string, std::string>> acked_;  // Writer thread only, till joined.
  std::thread thread_;  // Last: it starts once the rest exists.
};

// Waits up to `timeout` until `writers` together have `count` acknowledged writes.
bool wait_for_acks(const std::vector<const BackgroundWriter*>& writers, int count,
                   milliseconds timeout);

// A command-line tool run to completion: how it ended and what it printed.
struct ToolRun {
  std::string how;     // "exited with status 0", "timed out", ...
  std::string output;  // stdout and stderr together.
};
// Runs `program args...` with its output in `output_path`; killed after 60 s.
ToolRun run_tool(const std::string& program, const std::vector<std::string>& args,
                 const std::string& output_path);

// A direct RESP connection to one node for raw bytes (malformed input tests).
class RawConnection {
 public:
  // `source_host`: the local IPv4 address to connect from ("": the kernel's choice).
  explicit RawConnection(const client::Endpoint& endpoint, const std::string& source_host = "");
  ~RawConnection();
  [[nodiscard]] bool connected() const { return fd_ >= 0; }
  bool send(const std::string& bytes);
  // Half-closes: the server reads end-of-input, and can still answer.
  void end_input();
  // Reads until `want` bytes or the peer closes or `timeout` passes.
  std::string read_some(milliseconds timeout);
  // True if the peer closed the connection within `timeout`.
  bool closed_within(milliseconds timeout);
  // Parses replies as they arrive until `count` are complete, the peer closes, the bytes are
  // malformed or `timeout` passes; returns those that arrived.
  std::vector<client::Reply> read_replies(size_t count, milliseconds timeout);

 private:
  int fd_ = -1;
};

}  // namespace raftkv::process_test
