#include "server/http_status.h"

#include <httplib.h>
#include <sys/socket.h>

#include <optional>

#include <nlohmann/json.hpp>

#include "server/web/assets.h"

namespace raftkv::server {
namespace {

// How long an idle event stream waits before a keep-alive comment: a closed browser tab is
// noticed (the write fails) within this time, and a stopped server ends the stream.
constexpr std::chrono::milliseconds kEventWait{1000};
// Event streams hold a thread each while open; a page holds one per node, and a few tabs
// must not starve /status.
constexpr size_t kHttpThreads = 24;

// cpp-httplib's default, SO_REUSEPORT, would let a second server bind the same port unnoticed,
// and leaves closed connections in TIME_WAIT that make a SO_REUSEADDR bind of the port (the
// local-cluster tool's check that its ports are free) fail for a minute.
void reuse_address_only(socket_t sock) {
  const int yes = 1;
  (void)::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
}

}  // namespace

bool allowed_origin(const std::string& origin, const std::map<NodeId, std::string>& http_addrs) {
  const std::string scheme = "http://";
  if (!origin.starts_with(scheme)) return false;
  const std::string host_port = origin.substr(scheme.size());
  for (const auto& [id, addr] : http_addrs) {
    if (host_port == addr) return true;
    const std::string loopback = "127.0.0.1:";
    if (addr.starts_with(loopback) && host_port == "localhost:" + addr.substr(loopback.size())) {
      return true;
    }
  }
  return false;
}

std::string status_json(const ServerStatus& server, uint32_t tick_ms,
                        const std::map<NodeId, std::string>& http_addrs) {
  const runtime::NodeStatus& status = server.node;
  const raft::RaftStatus& raft = status.raft;
  nlohmann::json peers = nlohmann::json::array();
  for (const raft::PeerStatus& peer : raft.peers) {
    peers.push_back({{"id", peer.id.value()},
                     {"match_index", peer.match_index.value()},
                     {"next_index", peer.next_index.value()},
                     {"state", raft::progress_state_name(peer.state)},
                     {"last_contact_ms", peer.ticks_since_contact * tick_ms}});
  }
  nlohmann::json members = nlohmann::json::array();
  for (NodeId voter : raft.conf_state.voters) {
    auto addr = status.client_addrs.find(voter);
    auto http = http_addrs.find(voter);
    members.push_back({{"id", voter.value()},
                       {"client_addr", addr == status.client_addrs.end() ? "" : addr->second},
                       {"http_addr", http == http_addrs.end() ? "" : http->second}});
  }
  nlohmann::json learners = nlohmann::json::array();
  for (NodeId learner : raft.conf_state.learners) learners.push_back(learner.value());
  const nlohmann::json out = {
      {"id", raft.id.value()},
      {"role", raft::role_name(raft.role)},
      {"term", raft.term.value()},
      {"leader", raft.leader.value()},
      {"leader_addr", status.leader_client_addr},
      {"commit", raft.commit_index.value()},
      {"applied", raft.applied_index.value()},
      {"first_index", raft.first_index.value()},
      {"last_index", raft.last_index.value()},
      {"snapshot_index", status.snapshot_index.value()},
      {"members", members},
      {"learners", learners},
      {"conf_index", status.conf_index.value()},
      {"conf_change_pending", raft.conf_change_pending},
      {"removed", status.removed},
      {"peers", peers},
      {"pending_requests", status.pending_requests},
  };
  return out.dump();
}

std::string status_metrics(const ServerStatus& status) {
  std::string out;
  auto family = [&](const char* name, const char* help, const char* type, auto field) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
    for (const auto& [peer, counters] : status.peers) {
      out += std::string(name) + "{peer=\"" + std::to_string(peer.value()) + "\"} " +
             std::to_string(field(counters)) + "\n";
    }
  };
  family("raftkv_peer_messages_sent_total", "Raft messages sent to the peer.", "counter",
         [](const net::PeerCounters& c) { return c.messages_sent; });
  family("raftkv_peer_bytes_sent_total", "Bytes sent to the peer.", "counter",
         [](const net::PeerCounters& c) { return c.bytes_sent; });
  family("raftkv_peer_messages_received_total", "Raft messages received from the peer.",
         "counter", [](const net::PeerCounters& c) { return c.messages_received; });
  family("raftkv_peer_bytes_received_total", "Bytes received from the peer.", "counter",
         [](const net::PeerCounters& c) { return c.bytes_received; });
  family("raftkv_peer_messages_dropped_total",
         "Messages dropped for the peer (not connected or queue full).", "counter",
         [](const net::PeerCounters& c) { return c.messages_dropped; });
  family("raftkv_peer_connected", "1 while the outgoing connection is up.", "gauge",
         [](const net::PeerCounters& c) { return c.connected ? 1 : 0; });
  const runtime::StorageStats& storage = status.node.storage;
  auto single = [&](const char* name, const char* help, const char* type, uint64_t value) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
           name + " " + std::to_string(value) + "\n";
  };
  single("raftkv_wal_syncs_total", "WAL fdatasyncs.", "counter", storage.syncs);
  single("raftkv_wal_bytes_written_total", "Bytes written to the WAL.", "counter",
         storage.bytes_written);
  single("raftkv_wal_segments", "WAL segment files now.", "gauge", storage.segments);
  single("raftkv_wal_rotations_total", "WAL segment rotations.", "counter", storage.rotations);
  single("raftkv_snapshot_files_written_total", "Snapshot files this node wrote.", "counter",
         storage.snapshots_written);
  single("raftkv_snapshot_files_received_total", "Snapshot files received from a leader.",
         "counter", storage.snapshots_received);
  single("raftkv_snapshot_index", "Last index of the newest snapshot.", "gauge",
         status.node.snapshot_index.value());
  const raft::RaftStatus& raft = status.node.raft;
  single("raftkv_voters", "Voting members.", "gauge", raft.conf_state.voters.size());
  single("raftkv_learners", "Learners (non-voting members catching up).", "gauge",
         raft.conf_state.learners.size());
  single("raftkv_conf_index", "Log index of the membership change applied last.", "gauge",
         status.node.conf_index.value());
  single("raftkv_conf_change_pending", "1 on a leader while a membership change is pending.",
         "gauge", raft.conf_change_pending ? 1 : 0);
  return out;
}

HttpStatusServer::HttpStatusServer(const runtime::Metrics& metrics, Logger& logger, EventFeed* feed,
                                   std::map<NodeId, std::string> http_addrs)
    : metrics_(metrics),
      logger_(logger),
      feed_(feed),
      http_addrs_(std::move(http_addrs)),
      server_(std::make_unique<httplib::Server>()) {
  server_->new_task_queue = [] { return new httplib::ThreadPool(kHttpThreads); };
  server_->set_socket_options(reuse_address_only);
}

HttpStatusServer::~HttpStatusServer() { stop(); }

Status HttpStatusServer::start(const std::string& host, uint16_t port) {
  server_->Get("/status", [this](const httplib::Request&, httplib::Response& response) {
    std::lock_guard lock(mu_);
    response.set_content(status_json_ + "\n", "application/json");
  });
  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& response) {
    std::string extra;
    {
      std::lock_guard lock(mu_);
      extra = status_metrics_;
    }
    response.set_content(metrics_.render_prometheus(extra), "text/plain; version=0.0.4");
  });
  if (feed_ != nullptr) {
    server_->Get("/events", [this](const httplib::Request&, httplib::Response& response) {
      serve_events(response);
    });
  }
  server_->Get("/.*", [](const httplib::Request& request, httplib::Response& response) {
    const web::Asset* asset = web::find_asset(request.path == "/" ? "/index.html" : request.path);
    if (asset == nullptr) {
      response.status = 404;
      response.set_content("not found\n", "text/plain");
      return;
    }
    response.set_content(asset->body.data(), asset->body.size(),
                         std::string(asset->content_type));
  });
  server_->set_post_routing_handler([this](const httplib::Request& request,
                                           httplib::Response& response) {
    const std::string origin = request.get_header_value("Origin");
    if (!origin.empty() && allowed_origin(origin, http_addrs_)) {
      response.set_header("Access-Control-Allow-Origin", origin);
      response.set_header("Vary", "Origin");
    }
  });
  if (!server_->bind_to_port(host, port)) {
    return Status(ErrorCode::IoError, "cannot serve HTTP on " + host + ":" + std::to_string(port));
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  log_to(logger_, LogLevel::Info, "serving the web view, /status, /events and /metrics on http://",
         host, ":", port);
  return Status::ok();
}

// One Server-Sent Events stream: the hello, then every event as the feed gets it. The
// provider runs on this connection's HTTP thread until the browser goes or the server stops.
void HttpStatusServer::serve_events(httplib::Response& response) {
  response.set_header("Cache-Control", "no-store");
  auto next_seq = std::make_shared<std::optional<uint64_t>>();
  response.set_chunked_content_provider(
      "text/event-stream", [this, next_seq](size_t, httplib::DataSink& sink) {
        std::string out;
        if (!next_seq->has_value()) {
          auto [hello, seq] = feed_->hello();
          *next_seq = seq;
          // A browser reconnects by itself after a second if the stream breaks.
          out = "retry: 1000\n\ndata: " + hello + "\n\n";
          return sink.write(out.data(), out.size());
        }
        EventFeed::Batch batch = feed_->wait_events(**next_seq, kEventWait);
        if (batch.closed) return false;
        if (batch.skipped > 0) {
          out += R"(data: {"kind":"gap","node":)" + std::to_string(feed_->node().value()) +
                 R"(,"skipped":)" + std::to_string(batch.skipped) + "}\n\n";
        }
        for (const std::string& event : batch.events) out += "data: " + event + "\n\n";
        if (out.empty()) out = ": idle\n\n";
        *next_seq = batch.next_seq;
        return sink.write(out.data(), out.size());
      });
}

void HttpStatusServer::stop() {
  if (feed_ != nullptr) feed_->close();
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

void HttpStatusServer::publish(const ServerStatus& status, uint32_t tick_ms) {
  std::string json = status_json(status, tick_ms, http_addrs_);
  std::string metrics = status_metrics(status);
  std::lock_guard lock(mu_);
  status_json_ = std::move(json);
  status_metrics_ = std::move(metrics);
}

}  // namespace raftkv::server
