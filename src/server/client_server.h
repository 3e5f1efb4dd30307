#pragma once

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/logger.h"
#include "common/status.h"
#include "runtime/node.h"
#include "server/auth.h"
#include "server/client_commands.h"
#include "server/server_status.h"

// The Redis-protocol (RESP2) front door: accepts client connections, parses requests, runs
// them through client_commands.h and the runtime's Node, and writes replies in request order.
// The runtime's outcomes become Redis errors here: NotApplied is -TRYAGAIN, MaybeApplied is
// -UNCERTAIN (src/protocol/reply_codes.h).
//
// Pipelining: every request parsed from one read gets a reply slot in order; replies are
// written as soon as the oldest slots are filled, all that are ready in one write. A connection
// with more than `slots_max` unanswered requests stops reading until replies drain, so one
// client cannot queue unbounded work. Malformed input gets a RESP error, then the connection
// is closed; the node is unharmed. A command over the size limits is refused as soon as its
// header arrives, its bytes are skipped unread, and the connection goes on. QUIT is answered and nothing the client sent after it is
// run. A WATCH holds the connection's later requests until its versions are read. Requests
// run in order, as in Redis: a read sees the connection's earlier writes and none of its later
// ones (reads and writes go to the node in batches of one kind).
//
// TLS: with options.tls_port, a second listener whose connections begin with a TLS handshake
// (bounded in time; a failed one is logged with its cause and the connection closed), then
// speak RESP as on the plaintext port.
//
// Authentication (acl_commands.h): a connection starts as the default user, which needs
// options.auth.requirepass when one is set. With none, and protected mode on, a client from
// outside the loopback interface gets -DENIED (saying how to open the node) and is closed.
//
// It keeps a directory of its connections (CLIENT LIST, KILL, ID; INFO's clients and stats).
// Runs on the node's io thread.
namespace raftkv::server {

struct ClientServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 6379;
  uint64_t bulk_bytes_max = 512ull << 20;     // Redis' proto-max-bulk-len.
  uint64_t request_bytes_max = 512ull << 20;  // Bulk bytes in one command.
  uint64_t inline_bytes_max = 64u << 10;
  size_t slots_max = 8192;
  size_t clients_max = 10'000;  // Open connections at most (Redis' maxclients).
  AuthOptions auth;  // The default user's password, protected mode, the AUTH failure limit.
  // A second port whose clients speak TLS (0: none), as Redis' tls-port beside its port, and
  // the context each of its connections uses: the current one, which a reload may replace.
  uint16_t tls_port = 0;
  std::function<std::shared_ptr<asio::ssl::context>()> tls_context;
};

class ClientServer final : public ClientDirectory {
 public:
  // `auth_limiter` (failed AUTH attempts per source, shared with the HTTP listener) must
  // outlive the server.
  ClientServer(asio::io_context& io, runtime::Node& node, std::function<ServerStatus()> status,
               ClientServerOptions options, Logger& logger, AuthLimiter& auth_limiter);
  ~ClientServer() override;

  // Binds and starts accepting. IoError naming the address when it cannot bind.
  [[nodiscard]] Status start();
  void stop();

  // ClientDirectory.
  [[nodiscard]] std::vector<const ClientState*> clients() const override;
  bool kill(uint64_t id) override;
  [[nodiscard]] ServerCounters counters() const override;

 private:
  class Connection;
  [[nodiscard]] Status listen(asio::ip::tcp::acceptor& acceptor, uint16_t port);
  asio::awaitable<void> accept_loop(asio::ip::tcp::acceptor& acceptor, bool tls);
  bool refused_by_protected_mode(asio::ip::tcp::socket& socket, bool tls);
  bool refused_as_too_many(asio::ip::tcp::socket& socket, bool tls);
  static void refuse(asio::ip::tcp::socket socket, std::string text);
  asio::awaitable<void> pause_accepting(const asio::error_code& error);
  void forget(uint64_t id) { connections_.erase(id); }

  asio::io_context& io_;
  runtime::Node& node_;
  std::function<ServerStatus()> status_;
  const ClientServerOptions options_;
  Logger& logger_;
  asio::ip::tcp::acceptor acceptor_;
  asio::ip::tcp::acceptor tls_acceptor_;  // Open only with options_.tls_port.
  bool stopped_ = false;
  // Open connections by id (ids count from 1, never reused). A connection removes itself
  // when it closes; the map does not keep it alive.
  std::map<uint64_t, Connection*> connections_;
  uint64_t accept_errors_logged_ms_ = 0;
  uint64_t next_id_ = 1;
  ServerCounters counters_;
  AuthLimiter& auth_limiter_;  // Failed AUTH attempts per source address.
};

}  // namespace raftkv::server
