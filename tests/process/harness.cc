#include "harness.h"

#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <thread>

#include "client/reply_parser.h"
#include "tls_files.h"

namespace raftkv::process_test {

std::string server_path(std::string* why) {
  const char* from_env = std::getenv("RAFTKV_SERVER");
  const std::string path = from_env != nullptr ? from_env : RAFTKV_SERVER_PATH;
  if (::access(path.c_str(), X_OK) != 0) {
    *why = "raftkv-server not found at " + path +
           " (build it: scripts/build.sh release raftkv-server, or set RAFTKV_SERVER)";
    return "";
  }
  return path;
}

tools::ClusterLayout ClusterFixture::layout_for(int slot, int nodes) const {
  tools::ClusterLayout layout;
  layout.dir = dir_;
  layout.nodes = nodes;
  const int base = 21000 + 20 * slot;
  layout.base_peer_port = static_cast<uint16_t>(base);
  layout.base_client_port = static_cast<uint16_t>(base + 5);
  layout.base_http_port = static_cast<uint16_t>(base + 10);
  std::string why;
  layout.server_path = server_path(&why);
  // Short timeouts keep failovers, and so the tests, quick.
  layout.heartbeat_ms = 50;
  layout.election_ms = 500;
  return layout;
}

void ClusterFixture::start_cluster(int slot, int nodes, std::vector<std::string> extra_args) {
  prepare_cluster(slot, nodes, std::move(extra_args));
  if (HasFatalFailure()) return;
  start_nodes();
}

void ClusterFixture::prepare_cluster(int slot, int nodes, std::vector<std::string> extra_args) {
  std::string why;
  ASSERT_FALSE(server_path(&why).empty()) << why;
  char pattern[] = "/tmp/raftkv-process-XXXXXX";
  ASSERT_NE(::mkdtemp(pattern), nullptr);
  dir_ = pattern;
  tools::ClusterLayout layout = layout_for(slot, nodes);
  layout.extra_args = std::move(extra_args);
  const Status free = tools::check_ports_free(layout);
  ASSERT_TRUE(free.is_ok()) << free.message();
  cluster_ = std::make_unique<tools::LocalCluster>(layout);
}

void ClusterFixture::start_tls_cluster(int slot, std::vector<std::string> extra_args) {
  prepare_cluster(slot, 3, std::move(extra_args));
  ASSERT_FALSE(HasFatalFailure());
  tools::ClusterLayout layout = cluster_->layout();
  layout.tls = true;
  const Status made = tools::make_tls_files(layout.tls_dir(), layout.nodes);
  ASSERT_TRUE(made.is_ok()) << made.message();
  cluster_ = std::make_unique<tools::LocalCluster>(layout);
  tls_dir_ = layout.tls_dir();
  start_nodes();
}

void ClusterFixture::start_nodes() {
  ASSERT_NE(cluster_, nullptr);
  const int nodes = cluster_->layout().nodes;
  for (int id = 1; id <= nodes; ++id) {
    ASSERT_TRUE(cluster_->start_node(id, /*detach=*/false).is_ok());
  }
  for (int id = 1; id <= nodes; ++id) {
    const Status up = cluster_->wait_up(id, milliseconds(10'000));
    ASSERT_TRUE(up.is_ok()) << up.message();
  }
}

void ClusterFixture::kill_all() {
  const int nodes = cluster_->layout().nodes;
  // Signalled together: none outlives another long enough to take over as leader.
  for (int id = 1; id <= nodes; ++id) {
    if (std::optional<pid_t> pid = cluster_->pid(id)) (void)::kill(*pid, SIGKILL);
  }
  for (int id = 1; id <= nodes; ++id) {
    ASSERT_TRUE(cluster_->stop_node(id, SIGKILL, milliseconds(5000)).is_ok());
  }
}

void ClusterFixture::kill_and_restart_all() {
  kill_all();
  if (HasFatalFailure()) return;
  start_nodes();
}

void ClusterFixture::TearDown() {
  if (cluster_ == nullptr) return;
  if (HasFailure()) dump_logs();
  cluster_->stop_all(milliseconds(3000));
  std::error_code error;
  std::filesystem::remove_all(dir_, error);
}

void ClusterFixture::write_keys_acked(int count, const std::string& prefix,
                                      std::vector<std::pair<std::string, std::string>>* acked) {
  client::Client client(client_options(client::Semantics::AtLeastOnce));
  for (int i = 0; i < count; ++i) {
    const std::string key = prefix + std::to_string(i);
    const client::Outcome outcome = client.call({"SET", key, "v" + std::to_string(i)});
    ASSERT_TRUE(outcome.ok()) << key << ": " << outcome.detail;
    acked->emplace_back(key, "v" + std::to_string(i));
  }
}

size_t ClusterFixture::log_lines_with(int id, const std::string& needle) const {
  std::ifstream log(cluster_->layout().log_path(id));
  std::string line;
  size_t count = 0;
  while (std::getline(log, line)) count += line.find(needle) != std::string::npos ? 1u : 0u;
  return count;
}

void ClusterFixture::dump_logs() const {
  for (int id = 1; id <= cluster_->layout().nodes; ++id) {
    std::cerr << "---- last lines of node " << id << " (" << cluster_->layout().log_path(id)
              << ")\n"
              << tools::tail_lines(cluster_->layout().log_path(id), 25);
  }
}

client::ClientOptions ClusterFixture::client_options(client::Semantics semantics) const {
  client::ClientOptions options;
  options.endpoints = cluster_->layout().client_endpoints();
  options.semantics = semantics;
  options.call_timeout = milliseconds(20'000);
  options.attempt_timeout = milliseconds(3'000);
  options.password = cluster_->layout().credentials().password;
  return options;
}

client::RaftInfo ClusterFixture::leader(milliseconds timeout, const std::vector<int>& ignore) {
  Result<client::RaftInfo> found = cluster_->wait_for_leader(timeout, ignore);
  EXPECT_TRUE(found.is_ok()) << found.status().message();
  return found.is_ok() ? found.value() : client::RaftInfo{};
}

void ClusterFixture::expect_everywhere(
    const std::vector<std::pair<std::string, std::string>>& data) {
  // A linearizable read first. A leader elected just now reports the commit index it learned
  // from the old leader, which can trail the last writes that old leader acknowledged; it
  // answers a read only once an entry of its own term has committed, and every entry before
  // it with that one. So the commit index taken next covers every acknowledged write.
  if (!data.empty()) {
    client::Client client(client_options(client::Semantics::AtLeastOnce));
    const client::Outcome read = client.call({"GET", data.front().first});
    ASSERT_TRUE(read.ok()) << "read through the leader: " << read.detail;
  }
  const client::RaftInfo current = leader();
  ASSERT_NE(current.node_id, 0u);
  for (int id = 1; id <= cluster_->layout().nodes; ++id) {
    if (!cluster_->running(id)) continue;
    Result<client::RaftInfo> applied =
        cluster_->wait_applied(id, current.commit_index, milliseconds(15'000));
    ASSERT_TRUE(applied.is_ok()) << applied.status().message();
    size_t wrong = 0;  // The first few are shown; a broken server may lose thousands.
    for (const auto& [key, value] : data) {
      Result<client::Reply> got = cluster_->stale_get(id, key);
      ASSERT_TRUE(got.is_ok()) << "node " << id << ": " << got.status().message();
      if (got.value() == client::Reply::bulk(value)) continue;
      if (++wrong <= 5) {
        ADD_FAILURE() << "node " << id << ", key " << key << ": " << client::format_reply(
                             got.value()) << " instead of \"" << value << "\"";
      }
    }
    EXPECT_EQ(wrong, 0u) << "node " << id << ": keys missing or wrong of " << data.size();
  }
}

BackgroundWriter::BackgroundWriter(client::ClientOptions options, std::string prefix)
    : thread_([this, options = std::move(options), prefix = std::move(prefix)] {
        client::Client client(options);
        for (int i = 0; !stop_.load(); ++i) {
          std::pair<std::string, std::string> written{prefix + std::to_string(i),
                                                      "v" + std::to_string(i)};
          if (client.call({"SET", written.first, written.second}).ok()) {
            acked_.push_back(std::move(written));
            acked_count_.fetch_add(1);
          }
        }
      }) {}

const std::vector<std::pair<std::string, std::string>>& BackgroundWriter::finish() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  return acked_;
}

bool wait_for_acks(const std::vector<const BackgroundWriter*>& writers, int count,
                   milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto total = [&writers] {
    int sum = 0;
    for (const BackgroundWriter* writer : writers) sum += writer->acked_count();
    return sum;
  };
  while (total() < count && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  return total() >= count;
}

ToolRun run_tool(const std::string& program, const std::vector<std::string>& args,
                 const std::string& output_path) {
  Result<tools::Spawned> spawned = tools::spawn({program, args, output_path, false, false});
  EXPECT_TRUE(spawned.is_ok()) << (spawned.is_ok() ? "" : spawned.status().message());
  if (!spawned.is_ok()) return {"not started", ""};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::optional<std::string> how;
  while (!(how = tools::reap_if_exited(spawned.value().pid)) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(20));
  }
  if (!how) (void)tools::stop_process(spawned.value().pid, SIGKILL, milliseconds(3000));
  std::ifstream file(output_path);
  std::stringstream text;
  text << file.rdbuf();
  return {how.value_or("timed out"), text.str()};
}

RawConnection::RawConnection(const client::Endpoint& endpoint, const std::string& source_host) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (!source_host.empty()) {
    sockaddr_in source{};
    source.sin_family = AF_INET;
    ::inet_pton(AF_INET, source_host.c_str(), &source.sin_addr);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&source), sizeof source) != 0) {
      ::close(fd_);
      fd_ = -1;
      return;
    }
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(endpoint.port);
  ::inet_pton(AF_INET, endpoint.host.c_str(), &address.sin_addr);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

RawConnection::~RawConnection() {
  if (fd_ >= 0) ::close(fd_);
}

bool RawConnection::send(const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

void RawConnection::end_input() { (void)::shutdown(fd_, SHUT_WR); }

std::string RawConnection::read_some(milliseconds timeout) {
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buffer[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd entry{fd_, POLLIN, 0};
    if (::poll(&entry, 1, 50) <= 0) {
      if (!out.empty()) return out;  // A pause after some bytes: the reply is complete.
      continue;
    }
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n <= 0) return out;
    out.append(buffer, static_cast<size_t>(n));
  }
  return out;
}

bool RawConnection::closed_within(milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buffer[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd entry{fd_, POLLIN, 0};
    if (::poll(&entry, 1, 50) <= 0) continue;
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n <= 0) return true;
  }
  return false;
}

std::vector<client::Reply> RawConnection::read_replies(size_t count, milliseconds timeout) {
  std::vector<client::Reply> replies;
  client::ReplyParser parser;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buffer[4096];
  while (replies.size() < count && std::chrono::steady_clock::now() < deadline) {
    client::Reply reply;
    const client::ReplyParser::Outcome parsed = parser.next(&reply);
    if (parsed == client::ReplyParser::Outcome::Error) break;
    if (parsed == client::ReplyParser::Outcome::Reply) {
      replies.push_back(std::move(reply));
      continue;
    }
    pollfd entry{fd_, POLLIN, 0};
    if (::poll(&entry, 1, 50) <= 0) continue;
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    parser.feed(std::string_view(buffer, static_cast<size_t>(n)));
  }
  return replies;
}

}  // namespace raftkv::process_test
