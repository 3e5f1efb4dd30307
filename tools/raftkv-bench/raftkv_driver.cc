#include "raftkv_driver.h"

#include <algorithm>
#include <asio.hpp>
#include <asio/ssl.hpp>
#include <chrono>
#include <deque>
#include <memory>
#include <string_view>

#include "client/reply_parser.h"
#include "client/tls.h"
#include "common/assert.h"
#include "net/resp_encoder.h"

#include <openssl/ssl.h>

namespace raftkv::bench {
namespace {

using asio::ip::tcp;
using std::chrono::nanoseconds;

constexpr size_t kReadBufferBytesMin = 4 << 10;
constexpr size_t kReadBufferBytesMax = 64 << 10;
constexpr int64_t kTickNs = 100'000'000;       // Deadlines, stop requests, publishing.
constexpr int64_t kRoundPauseNs = 10'000'000;   // After every endpoint failed in a row.

std::chrono::steady_clock::time_point time_point_of(int64_t ns) {
  return std::chrono::steady_clock::time_point(nanoseconds(ns));
}

// Replies that mean "not now, send it again": no leader yet, busy, leadership moved.
bool retryable(std::string_view error) {
  return error.starts_with("TRYAGAIN") || error.starts_with("MOVED");
}

bool would_block(const std::error_code& error) {
  return error == asio::error::would_block || error == asio::error::try_again;
}

// What every thread of a phase reads and nobody writes once the threads run.
struct PhaseShared {
  const BenchOptions& options;
  RunControl& control;
  std::vector<tcp::endpoint> endpoints;
  std::vector<std::string> endpoint_names;  // For failure messages.
  std::string value;                        // The bytes every SET carries.
  std::shared_ptr<asio::ssl::context> tls;  // --tls: every connection speaks TLS; else null.
};

// One TLS session over a Connection's socket, and the bytes being written through it. Shared
// with the session's pending operations: after a failure the Connection moves on to a new
// socket and session while the old operations still complete (aborted) into this one.
struct TlsSession {
  TlsSession(tcp::socket& socket, asio::ssl::context& context) : stream(socket, context) {}
  asio::ssl::stream<tcp::socket&> stream;
  std::string writing;
};

class Worker;
class Connection;

// One closed- or open-loop client: its schedule (ClientCore) plus a timer for due times and
// backoffs. Owned by a Worker; sends through one Connection.
class Client {
 public:
  Client(ClientCore core, Worker& worker, Connection& connection);

  // Plans the next op: sends it, waits for its due time, or stops.
  void advance();
  // The reply to the current op.
  void on_reply(const client::Reply& reply);
  [[nodiscard]] ClientCore& core() { return core_; }

 private:
  void resend_after(int64_t delay_ns);

  ClientCore core_;
  Worker& worker_;
  Connection& connection_;
  asio::steady_timer timer_;
};

// One TCP connection to a raftkv-server, carrying the requests of its clients pipelined.
// Invariant: in_flight_ lists exactly the requests written (or being written) on the current
// socket and not yet answered, in order; waiting_ lists clients whose op goes out once the
// connection (re)opens. session_ grows whenever the socket is closed, so completion handlers
// of an earlier socket know to do nothing.
class Connection {
 public:
  Connection(Worker& worker, size_t first_endpoint, size_t read_buffer_bytes);

  // Before the clock starts: a blocking connect, each endpoint at most once from the current.
  void connect_blocking();
  // After the clock started: opens the session (or starts connecting) on the thread's loop.
  void start();
  // Sends the client's current op (queued until the connection is open).
  void send(Client* client);
  // Tick: a connection silent past --timeout-ms with requests outstanding has failed.
  void check_deadline(int64_t now);

 private:
  struct InFlight {
    Client* client;  // nullptr: a setup command sent first on the connection (AUTH, READONLY).
    int64_t sent_ns;
  };

  void open();
  void start_connect();
  // --tls: a new session on the connected socket, expecting the endpoint's host in the node's
  // certificate. Null (with the reason noted or failed) if OpenSSL refused the host name.
  std::shared_ptr<TlsSession> new_tls_session();
  [[nodiscard]] bool handshake_blocking();
  void start_handshake();
  void flush_tls();
  void fail(const std::string& why);
  void append_request(Client* client, int64_t now);
  void flush();
  void start_read();
  void on_read(size_t got);
  [[nodiscard]] bool drain_replies();
  void on_setup_reply(const client::Reply& reply);

  Worker& worker_;
  tcp::socket socket_;
  std::shared_ptr<TlsSession> tls_;  // The current socket's session with --tls; else null.
  asio::steady_timer reconnect_timer_;
  size_t endpoint_;
  enum class State { Idle, Connecting, Open } state_ = State::Idle;
  bool connected_early_ = false;  // connect_blocking() succeeded.
  uint64_t session_ = 0;
  std::deque<InFlight> in_flight_;
  std::vector<Client*> waiting_;
  std::string out_;              // Encoded requests not yet accepted by the socket.
  bool write_waiting_ = false;   // Waiting for the socket to take more of out_.
  bool dispatching_ = false;     // Inside drain_replies(): sends are flushed after it.
  std::vector<char> read_buffer_;  // Sized for a batch of replies to this connection's clients.
  client::ReplyParser parser_;
  int64_t connect_started_ns_ = 0;
  size_t failures_ = 0;          // Consecutive failures without a reply in between.
};

// One event-loop thread: its io_context, connections and clients. The io_context is declared
// first so that it is destroyed last, after the sockets and timers bound to it.
class Worker {
 public:
  Worker(PhaseShared& phase, ThreadStats& thread_stats)
      : shared(phase), stats(thread_stats), key(phase.options.key_size, 'k'),
        tick_timer_(io), end_timer_(io) {}

  void run();
  void client_stopped();

  asio::io_context io{1};
  PhaseShared& shared;
  ThreadStats& stats;
  std::string key;               // Scratch for format_key().
  std::vector<std::unique_ptr<Connection>> connections;
  std::vector<std::unique_ptr<Client>> clients;

 private:
  void arm_tick();
  void on_tick();

  asio::steady_timer tick_timer_;
  asio::steady_timer end_timer_;
  size_t active_clients_ = 0;
  int64_t published_ns_ = 0;
};

// ---- Client ----------------------------------------------------------------------------------

Client::Client(ClientCore core, Worker& worker, Connection& connection)
    : core_(std::move(core)), worker_(worker), connection_(connection), timer_(worker.io) {}

void Client::advance() {
  int64_t due_ns = 0;
  switch (core_.plan(now_ns(), &due_ns)) {
    case ClientCore::Next::Send:
      connection_.send(this);
      return;
    case ClientCore::Next::Wait:
      timer_.expires_at(time_point_of(due_ns));
      timer_.async_wait([this](const std::error_code& error) {
        if (!error) advance();
      });
      return;
    case ClientCore::Next::Stop:
      worker_.client_stopped();
      return;
  }
}

void Client::on_reply(const client::Reply& reply) {
  const int64_t now = now_ns();
  if (reply.is_error()) {
    if (retryable(reply.text)) {
      resend_after(core_.retry(/*backoff=*/true));
      return;
    }
    core_.failed(now, reply.text);
  } else {
    core_.acknowledged(now);
  }
  advance();
}

void Client::resend_after(int64_t delay_ns) {
  RAFT_ASSERT(delay_ns > 0);
  timer_.expires_after(nanoseconds(delay_ns));
  timer_.async_wait([this](const std::error_code& error) {
    if (!error) connection_.send(this);
  });
}

// ---- Connection ------------------------------------------------------------------------------

Connection::Connection(Worker& worker, size_t first_endpoint, size_t read_buffer_bytes)
    : worker_(worker), socket_(worker.io), reconnect_timer_(worker.io),
      endpoint_(first_endpoint), read_buffer_(read_buffer_bytes) {
  RAFT_ASSERT(first_endpoint < worker.shared.endpoints.size());
  RAFT_ASSERT(read_buffer_bytes > 0);
}

void Connection::connect_blocking() {
  const size_t count = worker_.shared.endpoints.size();
  for (size_t tried = 0; tried < count; ++tried) {
    std::error_code error;
    socket_.connect(worker_.shared.endpoints[endpoint_], error);
    if (!error && (worker_.shared.tls == nullptr || handshake_blocking())) {
      connected_early_ = true;
      return;
    }
    if (error) {
      worker_.stats.note_failure(worker_.shared.endpoint_names[endpoint_] + ": connect: " +
                                 error.message());
    }
    socket_.close(error);
    endpoint_ = (endpoint_ + 1) % count;
  }
}

void Connection::start() {
  RAFT_ASSERT(state_ == State::Idle);
  if (connected_early_) {
    open();
  } else {
    start_connect();
  }
}

void Connection::start_connect() {
  state_ = State::Connecting;
  connect_started_ns_ = now_ns();
  socket_.async_connect(worker_.shared.endpoints[endpoint_],
                        [this, session = session_](const std::error_code& error) {
                          if (session != session_) return;
                          if (error) {
                            fail("connect: " + error.message());
                            return;
                          }
                          if (worker_.shared.tls != nullptr) {
                            start_handshake();
                          } else {
                            open();
                          }
                        });
}

std::shared_ptr<TlsSession> Connection::new_tls_session() {
  RAFT_ASSERT(worker_.shared.tls != nullptr);
  auto session = std::make_shared<TlsSession>(socket_, *worker_.shared.tls);
  const std::string& host = worker_.shared.options.endpoints[endpoint_].host;
  if (!client::tls_expect_host(session->stream.native_handle(), host)) return nullptr;
  return session;
}

// Before the clock starts, on the still blocking socket. False (noted) if it failed.
bool Connection::handshake_blocking() {
  std::error_code error;
  tls_ = new_tls_session();
  if (tls_ != nullptr) tls_->stream.handshake(asio::ssl::stream_base::client, error);
  if (tls_ != nullptr && !error) return true;
  worker_.stats.note_failure(worker_.shared.endpoint_names[endpoint_] + ": TLS handshake: " +
                             (error ? error.message() : client::tls_error_text("bad host")));
  tls_.reset();
  return false;
}

void Connection::start_handshake() {
  tls_ = new_tls_session();
  if (tls_ == nullptr) {
    fail("TLS: " + client::tls_error_text("bad host name"));
    return;
  }
  tls_->stream.async_handshake(
      asio::ssl::stream_base::client,
      [this, session = session_, keep = tls_](const std::error_code& error) {
        if (session != session_) return;
        if (error) {
          fail("TLS handshake: " + error.message());
          return;
        }
        open();
      });
}

void Connection::open() {
  RAFT_ASSERT(in_flight_.empty());
  RAFT_ASSERT(out_.empty());
  state_ = State::Open;
  std::error_code error;
  socket_.set_option(tcp::no_delay(true), error);
  socket_.non_blocking(true, error);
  if (error) {
    fail("non-blocking mode: " + error.message());
    return;
  }
  const int64_t now = now_ns();
  const BenchOptions& options = worker_.shared.options;
  if (!options.password.empty()) {  // First, so that every later command runs as the user.
    net::resp_append_array_header(&out_, options.user.empty() ? 2 : 3);
    net::resp_append_bulk(&out_, "AUTH");
    if (!options.user.empty()) net::resp_append_bulk(&out_, options.user);
    net::resp_append_bulk(&out_, options.password);
    in_flight_.push_back({nullptr, now});
  }
  if (options.read_mode == ReadMode::Serializable) {
    // Once per connection: this connection's reads may be served stale by the node it reaches.
    net::resp_append_array_header(&out_, 1);
    net::resp_append_bulk(&out_, "READONLY");
    in_flight_.push_back({nullptr, now});
  }
  std::vector<Client*> queued;
  queued.swap(waiting_);
  for (Client* client : queued) append_request(client, now);
  flush();
  if (state_ == State::Open) start_read();  // Unless the write failed (fail() reconnects).
}

void Connection::send(Client* client) {
  RAFT_ASSERT(client != nullptr);
  if (state_ != State::Open) {
    waiting_.push_back(client);
    return;
  }
  append_request(client, now_ns());
  if (!dispatching_) flush();  // Inside a batch of replies, one flush follows the batch.
}

void Connection::append_request(Client* client, int64_t now) {
  const Op& op = client->core().op();
  std::string& key = worker_.key;
  format_key(op.key, key);
  if (op.kind == OpKind::Read) {
    net::resp_append_array_header(&out_, 2);
    net::resp_append_bulk(&out_, "GET");
    net::resp_append_bulk(&out_, key);
  } else {
    net::resp_append_array_header(&out_, 3);
    net::resp_append_bulk(&out_, "SET");
    net::resp_append_bulk(&out_, key);
    net::resp_append_bulk(&out_, worker_.shared.value);
  }
  in_flight_.push_back({client, now});
}

// Writes as much of out_ as the socket takes now; waits for room only if some is left (rare:
// requests are small and the socket buffer large).
void Connection::flush() {
  if (state_ != State::Open || write_waiting_ || out_.empty()) return;
  if (tls_ != nullptr) {
    flush_tls();
    return;
  }
  std::error_code error;
  size_t written = socket_.write_some(asio::buffer(out_), error);
  if (would_block(error)) {
    written = 0;
    error.clear();
  }
  if (error) {
    fail("write: " + error.message());
    return;
  }
  RAFT_ASSERT(written <= out_.size());
  out_.erase(0, written);
  if (out_.empty()) return;
  write_waiting_ = true;
  socket_.async_wait(tcp::socket::wait_write,
                     [this, session = session_](const std::error_code& wait_error) {
                       if (session != session_) return;
                       write_waiting_ = false;
                       if (wait_error) {
                         fail("write: " + wait_error.message());
                         return;
                       }
                       flush();
                     });
}

// TLS cannot write part of out_ now and the rest later from the same bytes (OpenSSL wants a
// retried write repeated as it was): out_ moves to the session and goes whole, and what
// clients add meanwhile goes in the next write.
void Connection::flush_tls() {
  RAFT_ASSERT(tls_->writing.empty());
  write_waiting_ = true;
  tls_->writing.swap(out_);
  asio::async_write(tls_->stream, asio::buffer(tls_->writing),
                    [this, session = session_, keep = tls_](const std::error_code& error, size_t) {
                      keep->writing.clear();
                      if (session != session_) return;
                      write_waiting_ = false;
                      if (error) {
                        fail("write: " + error.message());
                        return;
                      }
                      flush();
                    });
}

// async_read_some into the connection's buffer: asio reads as soon as epoll reports data, and
// after a short read it skips the speculative read on the next call, so a reply costs one
// recv() and no epoll_ctl() (a reactor-style async_wait would re-arm epoll every time).
void Connection::start_read() {
  auto done = [this, session = session_, keep = tls_](const std::error_code& error, size_t got) {
    if (session != session_) return;
    if (error) {
      fail(error == asio::error::eof || error == asio::ssl::error::stream_truncated
               ? std::string("connection closed by the server")
               : "read: " + error.message());
      return;
    }
    on_read(got);
  };
  if (tls_ != nullptr) {
    tls_->stream.async_read_some(asio::buffer(read_buffer_), std::move(done));
  } else {
    socket_.async_read_some(asio::buffer(read_buffer_), std::move(done));
  }
}

void Connection::on_read(size_t got) {
  RAFT_ASSERT(got <= read_buffer_.size());
  parser_.feed(std::string_view(read_buffer_.data(), got));
  if (!drain_replies()) return;
  flush();  // The requests of every client answered in this batch, in one write.
  if (state_ == State::Open) start_read();  // Unless the write failed (fail() reconnects).
}

bool Connection::drain_replies() {
  std::string why;
  dispatching_ = true;
  client::Reply reply;
  while (true) {
    const client::ReplyParser::Outcome outcome = parser_.next(&reply);
    if (outcome == client::ReplyParser::Outcome::NeedMore) break;
    if (outcome == client::ReplyParser::Outcome::Error) {
      why = parser_.error();
      break;
    }
    if (in_flight_.empty()) {
      why = "a reply to no request";
      break;
    }
    const InFlight front = in_flight_.front();
    in_flight_.pop_front();
    failures_ = 0;
    if (front.client == nullptr) {
      on_setup_reply(reply);
    } else {
      front.client->on_reply(reply);
    }
  }
  dispatching_ = false;
  if (why.empty()) return true;
  fail(why);
  return false;
}

void Connection::on_setup_reply(const client::Reply& reply) {
  if (reply.type == client::ReplyType::Status && reply.text == "OK") return;
  const int64_t now = now_ns();
  worker_.stats.record_error(worker_.shared.control.measured(now),
                             "AUTH or READONLY: " + client::format_reply(reply), now);
}

void Connection::fail(const std::string& why) {
  RAFT_ASSERT(state_ != State::Idle);
  ++session_;
  std::error_code ignored;
  socket_.close(ignored);
  tls_.reset();  // Its aborted operations keep it alive until they complete.
  write_waiting_ = false;
  out_.clear();
  parser_ = client::ReplyParser();
  // Requests without a reply go again, first and in order, on the next endpoint: whether they
  // were applied is unknown, and a SET or GET may safely run twice.
  std::vector<Client*> again;
  for (const InFlight& request : in_flight_) {
    if (request.client == nullptr) continue;
    (void)request.client->core().retry(/*backoff=*/false);
    again.push_back(request.client);
  }
  in_flight_.clear();
  waiting_.insert(waiting_.begin(), again.begin(), again.end());
  const size_t count = worker_.shared.endpoints.size();
  worker_.stats.note_failure(worker_.shared.endpoint_names[endpoint_] + ": " + why);
  endpoint_ = (endpoint_ + 1) % count;
  ++failures_;
  state_ = State::Connecting;
  connect_started_ns_ = now_ns();
  if (failures_ < count) {
    start_connect();
    return;
  }
  // Every endpoint failed in a row: pause before the next round instead of spinning.
  failures_ = 0;
  reconnect_timer_.expires_after(nanoseconds(kRoundPauseNs));
  reconnect_timer_.async_wait([this, session = session_](const std::error_code& error) {
    if (session == session_ && !error) start_connect();
  });
}

void Connection::check_deadline(int64_t now) {
  const int64_t timeout_ns = int64_t{worker_.shared.options.timeout_ms} * 1'000'000;
  if (state_ == State::Connecting && now - connect_started_ns_ > timeout_ns) {
    fail("connect timed out");
  } else if (state_ == State::Open && !in_flight_.empty() &&
             now - in_flight_.front().sent_ns > timeout_ns) {
    fail("no reply within " + std::to_string(worker_.shared.options.timeout_ms) + " ms");
  }
}

// ---- Worker ----------------------------------------------------------------------------------

void Worker::run() {
  active_clients_ = clients.size();
  RAFT_ASSERT(active_clients_ > 0);
  published_ns_ = now_ns();
  for (auto& connection : connections) connection->start();
  for (auto& client : clients) client->advance();
  arm_tick();
  if (!shared.control.ops_mode()) {
    end_timer_.expires_at(time_point_of(shared.control.end_ns()));
    end_timer_.async_wait([this](const std::error_code& error) {
      if (!error) io.stop();
    });
  }
  if (active_clients_ > 0) io.run();
}

void Worker::client_stopped() {
  RAFT_ASSERT(active_clients_ > 0);
  if (--active_clients_ == 0) io.stop();
}

void Worker::arm_tick() {
  tick_timer_.expires_after(nanoseconds(kTickNs));
  tick_timer_.async_wait([this](const std::error_code& error) {
    if (!error) on_tick();
  });
}

void Worker::on_tick() {
  const int64_t now = now_ns();
  if (shared.control.stop_requested()) {
    io.stop();
    return;
  }
  for (auto& connection : connections) connection->check_deadline(now);
  if (now - published_ns_ >= kPublishNs) {
    stats.publish();
    published_ns_ = now;
  }
  arm_tick();
}

// ---- The phase -------------------------------------------------------------------------------

class RaftkvPhase : public PhaseThreads {
 public:
  RaftkvPhase(PhaseShared shared, const WorkloadSpec& spec, std::vector<ThreadStats>& stats)
      : shared_(std::move(shared)) {
    const BenchOptions& o = shared_.options;
    RAFT_ASSERT(stats.size() == o.threads);
    for (uint32_t t = 0; t < o.threads; ++t) {
      workers_.push_back(std::make_unique<Worker>(shared_, stats[t]));
    }
    // Connection j belongs to thread j % T; client i uses connection i % M. Its read buffer
    // holds one reply per client (a GET's value and framing), within [4 KiB, 64 KiB].
    const size_t clients_per_connection = (o.clients + o.connections - 1) / o.connections;
    const size_t read_buffer_bytes =
        std::clamp<size_t>(clients_per_connection * (size_t{o.value_size} + 64),
                           kReadBufferBytesMin, kReadBufferBytesMax);
    for (uint32_t j = 0; j < o.connections; ++j) {
      Worker& worker = *workers_[j % o.threads];
      worker.connections.push_back(std::make_unique<Connection>(worker, 0, read_buffer_bytes));
    }
    for (uint32_t i = 0; i < o.clients; ++i) {
      const uint32_t j = i % o.connections;
      Worker& worker = *workers_[j % o.threads];
      Connection& connection = *worker.connections[j / o.threads];
      ClientCore core = ClientCore::scheduled(i, o.clients, o.rate_ops_per_s, spec,
                                              shared_.control, stats[j % o.threads]);
      worker.clients.push_back(std::make_unique<Client>(std::move(core), worker, connection));
    }
  }

  void connect(uint32_t thread) override {
    for (auto& connection : workers_.at(thread)->connections) connection->connect_blocking();
  }
  void run(uint32_t thread) override { workers_.at(thread)->run(); }

 private:
  PhaseShared shared_;
  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace

Result<std::unique_ptr<PhaseThreads>> make_raftkv_phase(const BenchOptions& options,
                                                        const WorkloadSpec& spec,
                                                        RunControl& control,
                                                        std::vector<ThreadStats>& stats) {
  PhaseShared shared{options, control, {}, {}, make_value(options.value_size, options.seed),
                     nullptr};
  if (options.tls.enabled) {
    Result<std::shared_ptr<client::TlsContext>> tls = client::TlsContext::make(options.tls);
    if (!tls.is_ok()) return tls.status();
    // asio's context frees the SSL_CTX it is given: it gets a reference of its own.
    SSL_CTX_up_ref(tls.value()->native());
    shared.tls = std::make_shared<asio::ssl::context>(tls.value()->native());
  }
  asio::io_context io;
  tcp::resolver resolver(io);
  for (const client::Endpoint& endpoint : options.endpoints) {
    std::error_code error;
    const auto results = resolver.resolve(endpoint.host, std::to_string(endpoint.port), error);
    if (error || results.empty()) {
      return Status(ErrorCode::InvalidArgument,
                    "cannot resolve " + endpoint.to_string() + ": " + error.message());
    }
    shared.endpoints.push_back(results.begin()->endpoint());
    shared.endpoint_names.push_back(endpoint.to_string());
  }
  return std::unique_ptr<PhaseThreads>(
      std::make_unique<RaftkvPhase>(std::move(shared), spec, stats));
}

}  // namespace raftkv::bench
