#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/logger.h"
#include "common/status.h"
#include "runtime/metrics.h"
#include "server/event_feed.h"
#include "server/server_status.h"

namespace httplib {
class Server;
struct Response;
}  // namespace httplib

// The node's HTTP address, served by cpp-httplib on its own threads:
//   GET /status   JSON (status_json below);
//   GET /metrics  Prometheus text;
//   GET /events   the node's EventFeed as Server-Sent Events (one "data:" line per JSON event;
//                 the first is "hello"; comments keep an idle stream alive);
//   GET /         the web view (src/server/web, compiled in), and its other assets.
// The node's loop thread publishes a fresh copy of its status every tick period; the HTTP
// threads only read that copy, the atomic metrics and the feed, so they never touch the core.
//
// The page served by one node reads every other node's /status and /events, so responses carry
// Access-Control-Allow-Origin for the origins of the members' HTTP addresses (allowed_origin).
namespace raftkv::server {

// The JSON of /status: id, role, term, leader, commit, applied, last index, members (id, client
// address, HTTP address when known), and per peer the match index and ticks since last
// contact (leader only).
[[nodiscard]] std::string status_json(const ServerStatus& status, uint32_t tick_ms,
                                      const std::map<NodeId, std::string>& http_addrs = {});
// Whether a page from `origin` ("http://host:port") may read this node's responses: it is
// served by one of `http_addrs`, or by the same port on localhost when that address is
// 127.0.0.1 (a browser may name it either way).
[[nodiscard]] bool allowed_origin(const std::string& origin,
                                  const std::map<NodeId, std::string>& http_addrs);
// The Prometheus lines that come from a status copy rather than the live counters: per peer
// (bytes and messages sent/received, drops) and the storage's (syncs, bytes, segments).
[[nodiscard]] std::string status_metrics(const ServerStatus& status);

class HttpStatusServer {
 public:
  // `feed` (may be null: no /events) and `http_addrs` (members' HTTP addresses, this node's
  // included) must outlive the server.
  HttpStatusServer(const runtime::Metrics& metrics, Logger& logger, EventFeed* feed = nullptr,
                   std::map<NodeId, std::string> http_addrs = {});
  ~HttpStatusServer();

  // Binds host:port and starts serving. IoError naming the address when it cannot bind.
  [[nodiscard]] Status start(const std::string& host, uint16_t port);
  // Ends every event stream, then the server.
  void stop();
  // Called from the loop thread.
  void publish(const ServerStatus& status, uint32_t tick_ms);

 private:
  void serve_events(httplib::Response& response);

  const runtime::Metrics& metrics_;
  Logger& logger_;
  EventFeed* feed_;
  const std::map<NodeId, std::string> http_addrs_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::mutex mu_;
  std::string status_json_ = "{}";
  std::string status_metrics_;
};

}  // namespace raftkv::server
