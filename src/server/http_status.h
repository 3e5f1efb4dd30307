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
#include "server/auth.h"
#include "server/event_feed.h"
#include "server/http_options.h"
#include "server/server_status.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib
namespace asio::ssl {
class context;
}  // namespace asio::ssl
struct ssl_st;
using SSL = ssl_st;

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
//
// Secured as HttpSecurity says (docs/security.md): over TLS (TLS 1.2 or newer, the files
// checked at start; a failed handshake, plaintext included, is logged with OpenSSL's reason
// and nothing is served), and behind a bearer token: a request for /status, /metrics or
// /events without the right `Authorization: Bearer` header gets 401 and a body saying what is
// missing, before any route runs. The page's own files (no data in them) and CORS preflights
// (OPTIONS: browsers never send credentials on them) pass without it.
// A wrong token (or an Authorization header of another kind) is logged with its source address
// and counts against that source as a failed AUTH does (AuthLimiter): over the limit, its
// requests get 429 and Retry-After, the token unchecked, until it has earned an attempt back.
namespace raftkv::server {

// The JSON of /status: id, role, term, leader, commit, applied, last index, members (id, client
// address, HTTP address when known), and per peer the match index and ticks since last
// contact (leader only).
[[nodiscard]] std::string status_json(const ServerStatus& status, uint32_t tick_ms,
                                      const std::map<NodeId, std::string>& http_addrs = {});
// Whether a page from `origin` ("http://host:port") may read this node's responses: it is
// served by one of `http_addrs`, or by the same port on localhost when that address is
// 127.0.0.1 (a browser may name it either way).
// `scheme` is "http" or "https": the one this node serves, so a page may only come from it.
[[nodiscard]] bool allowed_origin(const std::string& origin,
                                  const std::map<NodeId, std::string>& http_addrs,
                                  const std::string& scheme = "http");
// Why a request's Authorization header does not carry the token whose password_hash() is
// `token_hash`: empty when it does. Compared in constant time, whatever the lengths.
[[nodiscard]] std::string bearer_token_refusal(const std::string& authorization,
                                               const std::string& token_hash);
// The Prometheus lines that come from a status copy rather than the live counters: per peer
// (bytes and messages sent/received, drops) and the storage's (syncs, bytes, segments).
[[nodiscard]] std::string status_metrics(const ServerStatus& status);

class HttpStatusServer {
 public:
  // `feed` (may be null: no /events), `http_addrs` (members' HTTP addresses, this node's
  // included) and `limiter` (may be null: wrong tokens are not limited) must outlive the
  // server.
  HttpStatusServer(const runtime::Metrics& metrics, Logger& logger, EventFeed* feed = nullptr,
                   std::map<NodeId, std::string> http_addrs = {}, HttpSecurity security = {},
                   AuthLimiter* limiter = nullptr);
  ~HttpStatusServer();

  // Binds host:port and starts serving. IoError naming the address when it cannot bind;
  // InvalidArgument naming the file and OpenSSL's reason when the TLS files are unusable.
  [[nodiscard]] Status start(const std::string& host, uint16_t port);
  // With TLS: rebuilds the context from the same files (SIGHUP), for connections made from
  // then on; on failure (logged, and returned) the old one stays. Any thread.
  Status reload_tls();
  // Ends every event stream, then the server.
  void stop();
  // Called from the loop thread.
  void publish(const ServerStatus& status, uint32_t tick_ms);

 private:
  [[nodiscard]] Status make_server();
  [[nodiscard]] std::shared_ptr<asio::ssl::context> tls_context();
  // OpenSSL's ClientHello callback (arg: this): moves the handshake onto tls_context().
  static int switch_context(SSL* ssl, int* alert, void* arg);
  void add_routes();
  [[nodiscard]] bool authorized(const httplib::Request& request, httplib::Response& response);
  // Whether `source` may present a token now; if not, answers 429 and says for how long.
  [[nodiscard]] bool within_limit(const std::string& source, uint64_t now_ms,
                                  httplib::Response& response);
  void serve_events(httplib::Response& response);

  const runtime::Metrics& metrics_;
  Logger& logger_;
  EventFeed* feed_;
  const std::map<NodeId, std::string> http_addrs_;
  const HttpSecurity security_;
  const std::string token_hash_;  // password_hash(security_.token); empty: no token.
  // Wrong tokens per source address, shared with AUTH on the client ports. Null: unlimited.
  AuthLimiter* limiter_;
  // With TLS: the context every new handshake switches to, built from security_.tls at start
  // and on reload_tls(). A connection's SSL holds its own reference to the SSL_CTX it began
  // with, so replacing this one never pulls it from under a handshake.
  std::mutex tls_mu_;
  std::shared_ptr<asio::ssl::context> tls_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::mutex mu_;
  std::string status_json_ = "{}";
  std::string status_metrics_;
};

}  // namespace raftkv::server
