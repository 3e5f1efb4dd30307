#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/logger.h"
#include "common/status.h"
#include "server/metrics.h"
#include "server/node.h"

namespace httplib {
class Server;
}  // namespace httplib

// GET /status (JSON) and GET /metrics (Prometheus text) over HTTP, served by cpp-httplib on its
// own thread. The node's loop thread publishes a fresh copy of its status every tick period;
// the HTTP thread only reads that copy and the atomic metrics, so it never touches the core.
namespace raftkv::server {

// The JSON of /status: id, role, term, leader, commit, applied, last index, and per peer the
// match index and ticks since last contact (leader only).
[[nodiscard]] std::string status_json(const NodeStatus& status, uint32_t tick_ms);
// Per-peer Prometheus lines (bytes and messages sent/received, drops).
[[nodiscard]] std::string peer_metrics(const NodeStatus& status);

class HttpStatusServer {
 public:
  HttpStatusServer(const Metrics& metrics, Logger& logger);
  ~HttpStatusServer();

  // Binds host:port and starts serving. IoError naming the address when it cannot bind.
  [[nodiscard]] Status start(const std::string& host, uint16_t port);
  void stop();
  // Called from the loop thread.
  void publish(const NodeStatus& status, uint32_t tick_ms);

 private:
  const Metrics& metrics_;
  Logger& logger_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::mutex mu_;
  std::string status_json_ = "{}";
  std::string peer_metrics_;
};

}  // namespace raftkv::server
