#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/logger.h"
#include "common/status.h"
#include "runtime/metrics.h"
#include "server/server_status.h"

namespace httplib {
class Server;
}  // namespace httplib

// GET /status (JSON) and GET /metrics (Prometheus text) over HTTP, served by cpp-httplib on its
// own thread. The node's loop thread publishes a fresh copy of its status every tick period;
// the HTTP thread only reads that copy and the atomic metrics, so it never touches the core.
namespace raftkv::server {

// The JSON of /status: id, role, term, leader, commit, applied, last index, and per peer the
// match index and ticks since last contact (leader only).
[[nodiscard]] std::string status_json(const ServerStatus& status, uint32_t tick_ms);
// The Prometheus lines that come from a status copy rather than the live counters: per peer
// (bytes and messages sent/received, drops) and the storage's (syncs, bytes, segments).
[[nodiscard]] std::string status_metrics(const ServerStatus& status);

class HttpStatusServer {
 public:
  HttpStatusServer(const runtime::Metrics& metrics, Logger& logger);
  ~HttpStatusServer();

  // Binds host:port and starts serving. IoError naming the address when it cannot bind.
  [[nodiscard]] Status start(const std::string& host, uint16_t port);
  void stop();
  // Called from the loop thread.
  void publish(const ServerStatus& status, uint32_t tick_ms);

 private:
  const runtime::Metrics& metrics_;
  Logger& logger_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::mutex mu_;
  std::string status_json_ = "{}";
  std::string status_metrics_;
};

}  // namespace raftkv::server
