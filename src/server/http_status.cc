#include "server/http_status.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <asio/ssl.hpp>
#include <optional>

#include <nlohmann/json.hpp>

#include "common/assert.h"
#include "net/tls_context.h"
#include "server/auth.h"
#include "server/wall_clock.h"
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

// The address a TLS connection comes from, for the log.
std::string peer_of(const SSL* ssl) {
  sockaddr_storage addr{};
  socklen_t length = sizeof addr;
  if (::getpeername(SSL_get_fd(ssl), reinterpret_cast<sockaddr*>(&addr), &length) != 0 ||
      addr.ss_family != AF_INET) {
    return "?";
  }
  char text[INET_ADDRSTRLEN] = {};
  const auto* in = reinterpret_cast<const sockaddr_in*>(&addr);
  ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
  return std::string(text) + ":" + std::to_string(ntohs(in->sin_port));
}

// OpenSSL's progress callback: a handshake that ends with an error queued has failed (each
// SSL_accept step starts with the queue cleared; a step that only waits for bytes queues
// nothing). cpp-httplib then closes the connection without a word, so this is the only trace.
void log_failed_handshake(const SSL* ssl, int where, int ret) {
  if ((where & SSL_CB_EXIT) == 0 || ret > 0 || ERR_peek_error() == 0) return;
  // Before switch_context the logger hangs on cpp-httplib's context, after it on the connection.
  auto* logger = static_cast<Logger*>(SSL_get_app_data(ssl));
  if (logger == nullptr) logger = static_cast<Logger*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
  RAFT_ASSERT(logger != nullptr);
  char reason[256];
  ERR_error_string_n(ERR_peek_error(), reason, sizeof reason);
  log_to(*logger, LogLevel::Warn, "HTTPS: TLS handshake from ", peer_of(ssl),
         " failed, nothing served: ", reason);
}

}  // namespace

std::string bearer_token_refusal(const std::string& authorization, const std::string& token_hash) {
  RAFT_ASSERT(!token_hash.empty());
  const std::string scheme = "Bearer ";
  if (authorization.empty()) {
    return "this node needs a token: send the header 'Authorization: Bearer <token>' "
           "(docs/security.md)\n";
  }
  if (authorization.size() < scheme.size() ||
      !std::equal(scheme.begin(), scheme.end(), authorization.begin(),
                  [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
    return "the Authorization header is not 'Bearer <token>'\n";
  }
  if (!hashes_equal(password_hash(authorization.substr(scheme.size())), token_hash)) {
    return "wrong token\n";
  }
  return "";
}

bool allowed_origin(const std::string& origin, const std::map<NodeId, std::string>& http_addrs,
                    const std::string& scheme) {
  RAFT_ASSERT(scheme == "http" || scheme == "https");
  const std::string prefix = scheme + "://";
  if (!origin.starts_with(prefix)) return false;
  const std::string host_port = origin.substr(prefix.size());
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
                                   std::map<NodeId, std::string> http_addrs, HttpSecurity security,
                                   AuthLimiter* limiter)
    : metrics_(metrics),
      logger_(logger),
      feed_(feed),
      http_addrs_(std::move(http_addrs)),
      security_(std::move(security)),
      token_hash_(security_.token.empty() ? "" : password_hash(security_.token)),
      limiter_(limiter) {}

HttpStatusServer::~HttpStatusServer() { stop(); }

// A plain cpp-httplib server, or one speaking TLS through the context built from the files.
Status HttpStatusServer::make_server() {
  RAFT_ASSERT(server_ == nullptr);
  if (!security_.tls_enabled()) {
    server_ = std::make_unique<httplib::Server>();
  } else {
    Result<std::shared_ptr<asio::ssl::context>> context =
        net::make_server_tls_context(security_.tls, security_.client_certificates);
    if (!context.is_ok()) {
      return Status(context.status().code(), "HTTPS: " + context.status().message());
    }
    {
      std::lock_guard lock(tls_mu_);
      tls_ = std::move(context).value();
    }
    server_ = std::make_unique<httplib::SSLServer>([this](SSL_CTX& ctx) {
      SSL_CTX_set_app_data(&ctx, &logger_);
      SSL_CTX_set_info_callback(&ctx, log_failed_handshake);
      SSL_CTX_set_client_hello_cb(&ctx, switch_context, this);
      // Copied into each connection when it is made, so set here as on tls_.
      return SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION) == 1;
    });
    if (!server_->is_valid()) return Status(ErrorCode::InvalidArgument, "HTTPS: no TLS context");
  }
  server_->new_task_queue = [] { return new httplib::ThreadPool(kHttpThreads); };
  server_->set_socket_options(reuse_address_only);
  return Status::ok();
}

// cpp-httplib builds its own SSL_CTX; each handshake is moved, as soon as its ClientHello
// arrives, onto the context net/tls_context.h built from the node's files, so that TLS is
// configured in one place for every listener and can be rebuilt on SIGHUP. The verify mode is
// per connection in OpenSSL and does not follow the context, so it is copied over too.
int HttpStatusServer::switch_context(SSL* ssl, int* /*alert*/, void* arg) {
  auto* self = static_cast<HttpStatusServer*>(arg);
  RAFT_ASSERT(self != nullptr);
  const std::shared_ptr<asio::ssl::context> context = self->tls_context();
  RAFT_ASSERT(context != nullptr);
  if (SSL_set_SSL_CTX(ssl, context->native_handle()) == nullptr) return SSL_CLIENT_HELLO_ERROR;
  SSL_set_verify(ssl, SSL_CTX_get_verify_mode(context->native_handle()), nullptr);
  // The handshake's failures are logged from here on through the connection itself.
  (void)SSL_set_app_data(ssl, &self->logger_);
  SSL_set_info_callback(ssl, log_failed_handshake);
  return SSL_CLIENT_HELLO_SUCCESS;
}

std::shared_ptr<asio::ssl::context> HttpStatusServer::tls_context() {
  std::lock_guard lock(tls_mu_);
  return tls_;
}

Status HttpStatusServer::reload_tls() {
  RAFT_ASSERT(security_.tls_enabled());
  Result<std::shared_ptr<asio::ssl::context>> context =
      net::make_server_tls_context(security_.tls, security_.client_certificates);
  if (!context.is_ok()) {
    log_to(logger_, LogLevel::Error, "SIGHUP: HTTPS certificate not reloaded, the old one stays: ",
           context.status().message());
    return context.status();
  }
  {
    std::lock_guard lock(tls_mu_);
    tls_ = std::move(context).value();
  }
  log_to(logger_, LogLevel::Info, "SIGHUP: HTTPS certificate reloaded from ",
         security_.tls.cert_file, "; new connections use it");
  return Status::ok();
}

// With a token, every request for the node's data must carry it; 401 says what is missing.
// The page's own files are compiled-in text with no data in them, and a browser cannot add a
// header when it navigates to a page: they are served to anyone, and the page then sends the
// token with everything it asks for.
bool HttpStatusServer::authorized(const httplib::Request& request, httplib::Response& response) {
  if (token_hash_.empty() || request.method == "OPTIONS") return true;
  if (request.method == "GET" &&
      web::find_asset(request.path == "/" ? "/index.html" : request.path) != nullptr) {
    return true;
  }
  const std::string source = request.remote_addr;
  const uint64_t now_ms = wall_clock_ms();
  if (!within_limit(source, now_ms, response)) return false;
  const std::string authorization = request.get_header_value("Authorization");
  const std::string refusal = bearer_token_refusal(authorization, token_hash_);
  if (refusal.empty()) return true;
  // A credential that does not match is a guess; a missing one is a client that did not know
  // (a page's first request): only the first is logged and counted.
  if (!authorization.empty()) {
    log_to(logger_, LogLevel::Warn, "HTTP: refused a request from ", source, ": ",
           refusal.substr(0, refusal.size() - 1));  // Without its newline.
    if (limiter_ != nullptr) limiter_->failed(source, now_ms);
  }
  response.status = 401;
  response.set_header("WWW-Authenticate", "Bearer realm=\"raftkv\"");
  response.set_content(refusal, "text/plain");
  return false;
}

bool HttpStatusServer::within_limit(const std::string& source, uint64_t now_ms,
                                    httplib::Response& response) {
  if (limiter_ == nullptr) return true;
  const uint64_t wait = limiter_->wait_ms(source, now_ms);
  if (wait == 0) return true;
  response.status = 429;
  response.set_header("Retry-After", std::to_string((wait + 999) / 1000));  // Whole seconds.
  response.set_content("too many failed authentications from " + source + ", retry in " +
                           std::to_string(wait) + " ms\n",
                       "text/plain");
  return false;
}

void HttpStatusServer::add_routes() {
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
  // A page of another member sends the token in a header, which browsers first ask about.
  server_->Options("/.*", [](const httplib::Request&, httplib::Response& response) {
    response.set_header("Access-Control-Allow-Headers", "Authorization");
    response.set_header("Access-Control-Allow-Methods", "GET");
    response.set_header("Access-Control-Max-Age", "600");
    response.status = 204;
  });
}

Status HttpStatusServer::start(const std::string& host, uint16_t port) {
  if (Status made = make_server(); !made.is_ok()) return made;
  add_routes();
  server_->set_pre_routing_handler([this](const httplib::Request& request,
                                          httplib::Response& response) {
    return authorized(request, response) ? httplib::Server::HandlerResponse::Unhandled
                                         : httplib::Server::HandlerResponse::Handled;
  });
  const std::string scheme = security_.tls_enabled() ? "https" : "http";
  server_->set_post_routing_handler([this, scheme](const httplib::Request& request,
                                                   httplib::Response& response) {
    const std::string origin = request.get_header_value("Origin");
    if (!origin.empty() && allowed_origin(origin, http_addrs_, scheme)) {
      response.set_header("Access-Control-Allow-Origin", origin);
      response.set_header("Vary", "Origin");
    }
  });
  if (!server_->bind_to_port(host, port)) {
    return Status(ErrorCode::IoError, "cannot serve HTTP on " + host + ":" + std::to_string(port));
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  log_to(logger_, LogLevel::Info, "serving the web view, /status, /events and /metrics on ",
         scheme, "://", host, ":", port, security_.token.empty() ? "" : " (token required)",
         security_.client_certificates == net::ClientCertificates::Yes
             ? " (client certificate required)"
             : "");
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
  if (server_ != nullptr) server_->stop();
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
