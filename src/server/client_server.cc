#include "server/client_server.h"

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <deque>
#include <fstream>
#include <optional>
#include <utility>

#include "kv/resp_reply.h"
#include "net/resp_encoder.h"
#include "net/resp_parser.h"
#include "protocol/reply_codes.h"
#include "server/acl_commands.h"
#include "server/client_commands.h"
#include "server/wall_clock.h"

namespace raftkv::server {
namespace {

// The RESP bytes a client gets for the runtime's answer.
std::string to_resp(runtime::Response response) {
  if (response.outcome == runtime::Outcome::Ok) return std::move(response.reply);
  std::string out;
  net::resp_append_error(&out, response.outcome == runtime::Outcome::NotApplied
                                   ? protocol::not_applied_error(response.reply)
                                   : protocol::maybe_applied_error(response.reply));
  return out;
}

std::string endpoint_text(const asio::ip::tcp::endpoint& endpoint) {
  return endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
}

// This process' resident memory in bytes (0 when /proc cannot tell).
uint64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t pages = 0;
  uint64_t resident = 0;
  if (!(statm >> pages >> resident)) return 0;
  return resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

}  // namespace

using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;

namespace {

// How long a client on the TLS port has to complete its handshake: one that never does
// (plaintext to the TLS port, a stalled or garbage handshake) is closed, not kept.
constexpr auto kHandshakeTimeout = std::chrono::seconds(10);

// Completion token of the stream's operations: the error into `error`, never an exception.
auto redirect(asio::error_code& error) { return asio::redirect_error(use_awaitable, error); }

// A client's byte stream: plain TCP, or TLS over TCP (the TLS port). A TLS stream keeps its
// context alive, so a certificate reload (SIGHUP) changes only later connections.
class ClientStream {
 public:
  explicit ClientStream(tcp::socket socket) : plain_(std::move(socket)) {}
  ClientStream(tcp::socket socket, std::shared_ptr<asio::ssl::context> context)
      : context_(std::move(context)), tls_(std::in_place, std::move(socket), *context_) {}

  [[nodiscard]] bool is_tls() const { return tls_.has_value(); }
  tcp::socket& socket() { return tls_ ? tls_->next_layer() : *plain_; }

  awaitable<void> handshake(asio::error_code& error) {
    RAFT_ASSERT(tls_.has_value());
    co_await tls_->async_handshake(asio::ssl::stream_base::server,
                                   asio::redirect_error(use_awaitable, error));
  }
  awaitable<size_t> read_some(asio::mutable_buffer buffer, asio::error_code& error) {
    if (tls_) co_return co_await tls_->async_read_some(buffer, redirect(error));
    co_return co_await plain_->async_read_some(buffer, redirect(error));
  }
  awaitable<void> write(asio::const_buffer buffer, asio::error_code& error) {
    if (tls_) {
      co_await asio::async_write(*tls_, buffer, redirect(error));
    } else {
      co_await asio::async_write(*plain_, buffer, redirect(error));
    }
  }
  // Closes without TLS's close_notify: Redis clients do not wait for one.
  void close() {
    asio::error_code ignored;
    socket().shutdown(tcp::socket::shutdown_both, ignored);
    socket().close(ignored);
  }

 private:
  std::optional<tcp::socket> plain_;
  std::shared_ptr<asio::ssl::context> context_;
  std::optional<asio::ssl::stream<tcp::socket>> tls_;
};

}  // namespace

class ClientServer::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(ClientStream stream, ClientServer& server, uint64_t id)
      : stream_(std::move(stream)),
        server_(server),
        parser_(net::RespLimits{.bulk_bytes_max = server.options_.bulk_bytes_max,
                                .request_bytes_max = server.options_.request_bytes_max,
                                .inline_bytes_max = server.options_.inline_bytes_max}),
        wakeup_(stream_.socket().get_executor()),
        read_gate_(stream_.socket().get_executor()) {
    asio::error_code error;
    state_.id = id;
    state_.addr = endpoint_text(stream_.socket().remote_endpoint(error));
    state_.laddr = endpoint_text(stream_.socket().local_endpoint(error));
    state_.tls = stream_.is_tls();
    state_.created_ms = wall_clock_ms();
    state_.last_command_ms = state_.created_ms;
    reset_auth(state_, &server.options_.auth);
    server_.connections_[id] = this;
  }
  ~Connection() {
    if (!detached_) server_.forget(state_.id);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  [[nodiscard]] const ClientState& state() const { return state_; }
  // The server is going away first: do not tell it when this connection ends.
  void detach() { detached_ = true; }
  // CLIENT KILL: close once the replies already due are written.
  void kill() {
    closing_after_flush_ = true;
    schedule_flush();
  }

  awaitable<void> read_loop() {
    auto self = shared_from_this();
    if (stream_.is_tls() && !co_await handshake()) co_return;
    asio::co_spawn(executor(), write_loop(), asio::detached);
    std::array<char, 64 * 1024> buffer{};
    asio::error_code error;
    while (!closing_) {
      const size_t read = co_await stream_.read_some(asio::buffer(buffer), error);
      if (error == asio::error::eof) {
        // The client sent all it will (a half-close, `nc -N`): what it sent before still runs
        // and is answered; the write loop closes once nothing is left.
        input_ended_ = true;
        wakeup_.cancel();
        co_return;
      }
      if (error) break;
      parser_.feed(std::string_view(buffer.data(), read));
      handle_parsed();
      schedule_flush();
      while ((slots_.size() >= server_.options_.slots_max || waiting()) && !closing_) {
        // Back-pressure: wait until replies drain (or a WATCH is answered, or a held request
        // runs) before reading more requests.
        read_gate_.expires_at(asio::steady_timer::time_point::max());
        co_await read_gate_.async_wait(asio::redirect_error(use_awaitable, error));
      }
    }
    closing_ = true;
    wakeup_.cancel();
  }

 private:
  asio::any_io_executor executor() { return stream_.socket().get_executor(); }

  // The TLS handshake, bounded by kHandshakeTimeout. On failure the cause is logged (a
  // plaintext client, an unknown CA, a bad certificate) and the connection closed.
  awaitable<bool> handshake() {
    asio::steady_timer deadline(executor());
    deadline.expires_after(kHandshakeTimeout);
    // A member, not a local: the timer's handler may run after this frame is gone.
    deadline.async_wait([self = shared_from_this()](const asio::error_code& error) {
      if (!error && !self->handshake_done_) self->stream_.close();  // Fails the handshake.
    });
    asio::error_code error;
    co_await stream_.handshake(error);
    handshake_done_ = true;
    deadline.cancel();
    if (!error) co_return true;
    log_to(server_.logger_, LogLevel::Warn, "TLS handshake with client ", state_.addr,
           " failed: ", error.message());
    closing_ = true;
    stream_.close();
    co_return false;
  }

  void handle_parsed() {
    std::vector<std::string_view> views;
    std::vector<std::string> args;
    // One clock read for the whole pipeline this call runs: it takes microseconds, and the
    // time is kept in milliseconds (CLIENT LIST's idle time, the auth limiter's window).
    const uint64_t now_ms = wall_clock_ms();
    // Nothing after QUIT (or a protocol error, or CLIENT KILL) runs; nothing after a WATCH
    // until it is answered, nor after a held request until it runs.
    while (!closing_ && !closing_after_flush_ && !waiting()) {
      const net::RespParser::Outcome outcome = parser_.next(&views);
      if (outcome == net::RespParser::Outcome::NeedMore) return;
      if (outcome == net::RespParser::Outcome::Error) {
        std::string reply;
        kv::resp_append_reply(&reply, kv::Reply::error(parser_.error()));
        fill(open_slot(), std::move(reply));
        closing_after_flush_ = true;
        return;
      }
      if (outcome == net::RespParser::Outcome::Refused) {
        std::string reply;
        kv::resp_append_reply(&reply, kv::Reply::error(parser_.refusal()));
        fill(open_slot(), std::move(reply));
        continue;
      }
      args.resize(views.size());
      for (size_t i = 0; i < views.size(); ++i) {
        if (!parser_.take_argument(i, &args[i])) args[i].assign(views[i]);
      }
      handle(std::move(args), now_ms);
    }
  }

  ServerContext context(uint64_t now_ms) {
    return ServerContext{server_.status_,
                         &server_,
                         now_ms,
                         server_.options_.bulk_bytes_max,
                         server_.options_.request_bytes_max,
                         &server_.options_.auth,
                         &server_.auth_limiter_};
  }

  void handle(std::vector<std::string> args, uint64_t now_ms) {
    const bool counted = !args.empty();
    if (counted) {
      state_.last_command_ms = now_ms;
      ++server_.counters_.commands_processed;
    }
    const bool skip = std::exchange(state_.skip_next_reply, false);
    Action action = translate(state_, std::move(args), context(now_ms));
    // As Redis counts: every command, but by name (INFO commandstats) only those it has, which
    // translate() named in last_command, so made-up names cannot grow the table.
    if (counted && !state_.last_command.empty()) ++server_.counters_.calls[state_.last_command];
    const bool silent = action.silent || state_.replies_off || skip;
    const uint64_t slot = open_slot();
    if (state_.kill) closing_after_flush_ = true;
    switch (action.kind) {
      case Action::Kind::Quit:
        closing_after_flush_ = true;
        [[fallthrough]];
      case Action::Kind::Reply:
        fill(slot, silent ? std::string() : std::move(action.reply));
        return;
      case Action::Kind::Run:
      case Action::Kind::Admin: return run(std::move(action), slot, silent);
    }
  }

  // A connection is a sequence: Redis runs its commands one after another, so a pipelined read
  // sees the writes sent before it and none sent after it. The runtime serves a read from the
  // state at the moment ReadIndex releases it, which may already hold later writes, or not yet
  // the earlier ones. So requests run in batches of one kind: reads together, or writes
  // together (the log keeps them in order). One of the other kind is held, and everything
  // after it, until the batch in flight is answered.
  void run(Action&& action, uint64_t slot, bool silent) {
    RAFT_ASSERT(!held_.has_value());  // Nothing is translated while a request is held.
    if (in_flight_ > 0 && action.request.read_only != in_flight_read_only_) {
      held_.emplace(Held{std::move(action), slot, silent});
      return;
    }
    submit(std::move(action), slot, silent);
  }

  void submit(Action&& action, uint64_t slot, bool silent) {
    RAFT_ASSERT(in_flight_ == 0 || action.request.read_only == in_flight_read_only_);
    const bool blocks = action.blocks;
    if (blocks) blocked_ = true;
    ++in_flight_;
    in_flight_read_only_ = action.request.read_only;
    auto done = [self = shared_from_this(), slot, silent, blocks,
                 finish = std::move(action.finish)](runtime::Response response) {
      std::string reply = response.outcome == runtime::Outcome::Ok && finish
                              ? finish(self->state_, std::move(response.reply))
                              : to_resp(std::move(response));
      self->fill(slot, silent ? std::string() : std::move(reply));
      self->schedule_flush();
      RAFT_ASSERT(self->in_flight_ > 0);
      --self->in_flight_;
      if (blocks) self->blocked_ = false;
      if (blocks || (self->in_flight_ == 0 && self->held_)) {
        // Not from within this callback: it may run inside submit(), inside handle_parsed().
        self->resume_posted_ = true;
        asio::post(self->executor(), [self] { self->resume(); });
      }
    };
    runtime::Node& node = server_.node_;
    if (action.admin) {
      action.admin(node, std::move(done));
    } else if (action.stale_read) {
      node.submit_local_read(action.request, std::move(done));
    } else {
      node.submit(std::move(action.request), std::move(done));
    }
  }

  // Runs the held request once the batch before it is answered, then what was read after it.
  // A held request runs even when the client has gone: it was read before the connection
  // ended, like the requests in flight.
  void resume() {
    resume_posted_ = false;
    if (held_ && in_flight_ == 0) {
      Held held = std::move(*held_);
      held_.reset();
      submit(std::move(held.action), held.slot, held.silent);
    }
    handle_parsed();
    schedule_flush();
  }

  [[nodiscard]] bool waiting() const { return blocked_ || held_.has_value(); }

  // Nothing the client sent is left to run or answer (after it ended its input).
  [[nodiscard]] bool drained() const { return slots_.empty() && !waiting() && !resume_posted_; }

  uint64_t open_slot() {
    slots_.emplace_back();
    return first_slot_ + slots_.size() - 1;
  }

  void fill(uint64_t slot, std::string reply) {
    RAFT_ASSERT(slot >= first_slot_);
    slots_[slot - first_slot_] = std::move(reply);
  }

  // Coalesces every reply completed in this turn of the event loop into one write.
  void schedule_flush() {
    if (flush_scheduled_) return;
    flush_scheduled_ = true;
    asio::post(executor(), [self = shared_from_this()] { self->flush(); });
  }

  void flush() {
    flush_scheduled_ = false;
    while (!slots_.empty() && slots_.front().has_value()) {
      out_ += *slots_.front();
      slots_.pop_front();
      ++first_slot_;
    }
    read_gate_.cancel();
    wakeup_.cancel();
  }

  awaitable<void> write_loop() {
    auto self = shared_from_this();
    asio::error_code error;
    std::string writing;
    while (true) {
      if (out_.empty()) {
        if (closing_ || (closing_after_flush_ && slots_.empty()) || (input_ended_ && drained())) {
          break;
        }
        wakeup_.expires_at(asio::steady_timer::time_point::max());
        co_await wakeup_.async_wait(asio::redirect_error(use_awaitable, error));
        continue;
      }
      writing.swap(out_);
      co_await stream_.write(asio::buffer(writing), error);
      writing.clear();
      if (error) break;
    }
    closing_ = true;
    read_gate_.cancel();
    stream_.close();
  }

  ClientStream stream_;
  ClientServer& server_;
  net::RespParser parser_;
  ClientState state_;
  std::deque<std::optional<std::string>> slots_;  // Replies in request order.
  uint64_t first_slot_ = 0;                       // Sequence number of slots_.front().
  std::string out_;
  bool flush_scheduled_ = false;
  bool closing_ = false;
  bool input_ended_ = false;    // The client half-closed: answer what it sent, then close.
  bool resume_posted_ = false;  // resume() is queued: parsed requests may still run.
  bool closing_after_flush_ = false;  // QUIT, CLIENT KILL or a protocol error: close once
                                      // replies are out.
  bool blocked_ = false;              // A WATCH is being answered: handle nothing else.
  // The requests submitted and not yet answered, all reads or all writes (run() says why).
  size_t in_flight_ = 0;
  bool in_flight_read_only_ = false;
  struct Held {
    Action action;
    uint64_t slot = 0;
    bool silent = false;
  };
  std::optional<Held> held_;  // Waits for in_flight_ to reach 0; nothing is handled meanwhile.
  bool detached_ = false;
  bool handshake_done_ = false;  // The TLS handshake ended (either way): no timeout closes.
  asio::steady_timer wakeup_;         // Cancelled when there is something to write.
  asio::steady_timer read_gate_;      // Cancelled when slots drain.
};

ClientServer::ClientServer(asio::io_context& io, runtime::Node& node,
                           std::function<ServerStatus()> status, ClientServerOptions options,
                           Logger& logger, AuthLimiter& auth_limiter)
    : io_(io),
      node_(node),
      status_(std::move(status)),
      options_(std::move(options)),
      logger_(logger),
      acceptor_(io),
      tls_acceptor_(io),
      auth_limiter_(auth_limiter) {
  counters_.started_ms = wall_clock_ms();
}

ClientServer::~ClientServer() {
  stop();
  for (auto& [id, connection] : connections_) connection->detach();
}

std::vector<const ClientState*> ClientServer::clients() const {
  std::vector<const ClientState*> out;
  out.reserve(connections_.size());
  for (const auto& [id, connection] : connections_) out.push_back(&connection->state());
  return out;
}

bool ClientServer::kill(uint64_t id) {
  auto it = connections_.find(id);
  if (it == connections_.end()) return false;
  it->second->kill();
  return true;
}

ServerCounters ClientServer::counters() const {
  ServerCounters counters = counters_;
  counters.now_ms = wall_clock_ms();
  counters.pid = static_cast<int64_t>(getpid());
  counters.port = options_.port;
  counters.clients_max = options_.clients_max;
  counters.used_memory_bytes = resident_bytes();
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) == 0) {
    counters.cpu_user_s = static_cast<double>(usage.ru_utime.tv_sec) +
                          static_cast<double>(usage.ru_utime.tv_usec) / 1e6;
    counters.cpu_sys_s = static_cast<double>(usage.ru_stime.tv_sec) +
                         static_cast<double>(usage.ru_stime.tv_usec) / 1e6;
  }
  return counters;
}

Status ClientServer::listen(tcp::acceptor& acceptor, uint16_t port) {
  asio::error_code error;
  const tcp::endpoint endpoint(asio::ip::make_address(options_.host, error), port);
  if (!error) acceptor.open(endpoint.protocol(), error);
  if (!error) acceptor.set_option(tcp::acceptor::reuse_address(true), error);
  if (!error) acceptor.bind(endpoint, error);
  if (!error) acceptor.listen(asio::socket_base::max_listen_connections, error);
  if (error) {
    return Status(ErrorCode::IoError, "cannot serve clients on " + options_.host + ":" +
                                          std::to_string(port) + ": " + error.message());
  }
  return Status::ok();
}

Status ClientServer::start() {
  if (Status status = listen(acceptor_, options_.port); !status.is_ok()) return status;
  asio::co_spawn(io_, accept_loop(acceptor_, false), asio::detached);
  if (options_.tls_port == 0) return Status::ok();
  RAFT_ASSERT(options_.tls_context != nullptr);
  if (Status status = listen(tls_acceptor_, options_.tls_port); !status.is_ok()) return status;
  asio::co_spawn(io_, accept_loop(tls_acceptor_, true), asio::detached);
  return Status::ok();
}

void ClientServer::stop() {
  if (stopped_) return;
  stopped_ = true;
  asio::error_code ignored;
  acceptor_.close(ignored);
  tls_acceptor_.close(ignored);
}

// Writes `text` (best effort; nothing on a TLS port, whose client could not read plaintext
// before its handshake), then closes the socket.
void ClientServer::refuse(tcp::socket socket, std::string text) {
  auto shared = std::make_shared<tcp::socket>(std::move(socket));
  auto bytes = std::make_shared<std::string>(std::move(text));
  asio::async_write(*shared, asio::buffer(*bytes), [shared, bytes](asio::error_code, size_t) {
    asio::error_code ignored;
    shared->shutdown(tcp::socket::shutdown_both, ignored);
    shared->close(ignored);
  });
}

// Protected mode (Redis'): with no password for the default user, only loopback clients.
// Others get the error saying how to open the node (on the plaintext port: a TLS client could
// not read it before its handshake); the write is best effort, then the socket closes.
bool ClientServer::refused_by_protected_mode(tcp::socket& socket, bool tls) {
  if (!options_.auth.protected_mode || !options_.auth.requirepass.empty()) return false;
  asio::error_code error;
  const tcp::endpoint remote = socket.remote_endpoint(error);
  if (error || remote.address().is_loopback()) return false;
  log_to(logger_, LogLevel::Info, "protected mode: refused client ", endpoint_text(remote),
         " (no requirepass set)");
  refuse(std::move(socket), tls ? "" : protected_mode_error());
  return true;
}

// Over maxclients, as Redis: the error, then the close.
bool ClientServer::refused_as_too_many(tcp::socket& socket, bool tls) {
  if (connections_.size() < options_.clients_max) return false;
  ++counters_.connections_rejected;
  log_to(logger_, LogLevel::Warn, "refused a client: ", connections_.size(),
         " connections are open, the most --maxclients allows");
  refuse(std::move(socket), tls ? "" : "-ERR max number of clients reached\r\n");
  return true;
}

// A failed accept leaves the connection queued, so retrying at once would spin while the
// cause lasts (out of file descriptors, above all): wait a moment, and log it once a second.
awaitable<void> ClientServer::pause_accepting(const asio::error_code& error) {
  const uint64_t now = wall_clock_ms();
  if (now >= accept_errors_logged_ms_ + 1000) {
    accept_errors_logged_ms_ = now;
    log_to(logger_, LogLevel::Warn, "accepting a client failed: ", error.message(), " (",
           connections_.size(), " connections open; retrying every 100 ms, logged once a "
           "second)");
  }
  asio::steady_timer pause(io_, std::chrono::milliseconds(100));
  asio::error_code ignored;
  co_await pause.async_wait(asio::redirect_error(use_awaitable, ignored));
}

awaitable<void> ClientServer::accept_loop(tcp::acceptor& acceptor, bool tls) {
  while (!stopped_) {
    asio::error_code error;
    tcp::socket socket = co_await acceptor.async_accept(asio::redirect_error(use_awaitable, error));
    if (error) {
      if (stopped_) co_return;
      co_await pause_accepting(error);
      continue;
    }
    socket.set_option(tcp::no_delay(true), error);
    ++counters_.connections_received;
    if (refused_by_protected_mode(socket, tls) || refused_as_too_many(socket, tls)) continue;
    // The context current now: a reload (SIGHUP) applies from the next connection on.
    ClientStream stream = tls ? ClientStream(std::move(socket), options_.tls_context())
                              : ClientStream(std::move(socket));
    auto connection = std::make_shared<Connection>(std::move(stream), *this, next_id_++);
    asio::co_spawn(io_, connection->read_loop(), asio::detached);
  }
}

}  // namespace raftkv::server
