#include "server/http_status.h"

#include <httplib.h>

#include <nlohmann/json.hpp>

namespace raftkv::server {

std::string status_json(const ServerStatus& server, uint32_t tick_ms) {
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
    members.push_back({{"id", voter.value()},
                       {"client_addr", addr == status.client_addrs.end() ? "" : addr->second}});
  }
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
  return out;
}

HttpStatusServer::HttpStatusServer(const runtime::Metrics& metrics, Logger& logger)
    : metrics_(metrics), logger_(logger), server_(std::make_unique<httplib::Server>()) {}

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
  if (!server_->bind_to_port(host, port)) {
    return Status(ErrorCode::IoError, "cannot serve HTTP on " + host + ":" + std::to_string(port));
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  log_to(logger_, LogLevel::Info, "serving /status and /metrics on http://", host, ":", port);
  return Status::ok();
}

void HttpStatusServer::stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

void HttpStatusServer::publish(const ServerStatus& status, uint32_t tick_ms) {
  std::string json = status_json(status, tick_ms);
  std::string metrics = status_metrics(status);
  std::lock_guard lock(mu_);
  status_json_ = std::move(json);
  status_metrics_ = std::move(metrics);
}

}  // namespace raftkv::server
