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
#include "server/client_commands.h"

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

uint64_t wall_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

std::string endpoint_text(const asio::ip::tcp::endpoint& endpoint) {
  return endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
}

// What CLIENT LIST's cmd= shows: "get", or "client|list" for a command with subcommands.
std::string command_label(const std::vector<std::string>& args) {
  std::string name = args[0];
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const bool container = name == "client" || name == "command" || name == "config" ||
                         name == "cluster";
  if (!container || args.size() < 2) return name;
  std::string sub = args[1];
  for (char& c : sub) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name + "|" + sub;
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

class ClientServer::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, ClientServer& server, uint64_t id)
      : socket_(std::move(socket)),
        server_(server),
        parser_(net::RespLimits{.bulk_bytes_max = server.options_.bulk_bytes_max,
                                .request_bytes_max = server.options_.request_bytes_max,
                                .inline_bytes_max = server.options_.inline_bytes_max}),
        wakeup_(socket_.get_executor()),
        read_gate_(socket_.get_executor()) {
    asio::error_code error;
    state_.id = id;
    state_.addr = endpoint_text(socket_.remote_endpoint(error));
    state_.laddr = endpoint_text(socket_.local_endpoint(error));
    state_.created_ms = wall_ms();
    state_.last_command_ms = state_.created_ms;
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
    asio::co_spawn(socket_.get_executor(), write_loop(), asio::detached);
    std::array<char, 64 * 1024> buffer{};
    asio::error_code error;
    while (!closing_) {
      const size_t read = co_await socket_.async_read_some(
          asio::buffer(buffer), asio::redirect_error(use_awaitable, error));
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
  void handle_parsed() {
    std::vector<std::string_view> views;
    std::vector<std::string> args;
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
      args.assign(views.begin(), views.end());
      handle(args);
    }
  }

  ServerContext context() {
    return ServerContext{server_.status_, &server_, wall_ms()};
  }

  void count(const std::vector<std::string>& args) {
    state_.last_command = command_label(args);
    state_.last_command_ms = wall_ms();
    ++server_.counters_.commands_processed;
    ++server_.counters_.calls[state_.last_command];
  }

  void handle(const std::vector<std::string>& args) {
    if (!args.empty()) count(args);
    const bool skip = std::exchange(state_.skip_next_reply, false);
    Action action = translate(state_, args, context());
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
  void run(Action action, uint64_t slot, bool silent) {
    RAFT_ASSERT(!held_.has_value());  // Nothing is translated while a request is held.
    if (in_flight_ > 0 && action.request.read_only != in_flight_read_only_) {
      held_.emplace(Held{std::move(action), slot, silent});
      return;
    }
    submit(std::move(action), slot, silent);
  }

  void submit(Action action, uint64_t slot, bool silent) {
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
        asio::post(self->socket_.get_executor(), [self] { self->resume(); });
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
    if (held_ && in_flight_ == 0) {
      Held held = std::move(*held_);
      held_.reset();
      submit(std::move(held.action), held.slot, held.silent);
    }
    handle_parsed();
    schedule_flush();
  }

  [[nodiscard]] bool waiting() const { return blocked_ || held_.has_value(); }

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
    asio::post(socket_.get_executor(), [self = shared_from_this()] { self->flush(); });
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
        if (closing_ || (closing_after_flush_ && slots_.empty())) break;
        wakeup_.expires_at(asio::steady_timer::time_point::max());
        co_await wakeup_.async_wait(asio::redirect_error(use_awaitable, error));
        continue;
      }
      writing.swap(out_);
      co_await asio::async_write(socket_, asio::buffer(writing),
                                 asio::redirect_error(use_awaitable, error));
      writing.clear();
      if (error) break;
    }
    closing_ = true;
    read_gate_.cancel();
    socket_.shutdown(tcp::socket::shutdown_both, error);
    socket_.close(error);
  }

  tcp::socket socket_;
  ClientServer& server_;
  net::RespParser parser_;
  ClientState state_;
  std::deque<std::optional<std::string>> slots_;  // Replies in request order.
  uint64_t first_slot_ = 0;                       // Sequence number of slots_.front().
  std::string out_;
  bool flush_scheduled_ = false;
  bool closing_ = false;
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
  asio::steady_timer wakeup_;         // Cancelled when there is something to write.
  asio::steady_timer read_gate_;      // Cancelled when slots drain.
};

ClientServer::ClientServer(asio::io_context& io, runtime::Node& node,
                           std::function<ServerStatus()> status, ClientServerOptions options,
                           Logger& logger)
    : io_(io),
      node_(node),
      status_(std::move(status)),
      options_(std::move(options)),
      logger_(logger),
      acceptor_(io) {
  counters_.started_ms = wall_ms();
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
  counters.now_ms = wall_ms();
  counters.pid = static_cast<int64_t>(getpid());
  counters.port = options_.port;
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

Status ClientServer::start() {
  asio::error_code error;
  const tcp::endpoint endpoint(asio::ip::make_address(options_.host, error), options_.port);
  if (!error) acceptor_.open(endpoint.protocol(), error);
  if (!error) acceptor_.set_option(tcp::acceptor::reuse_address(true), error);
  if (!error) acceptor_.bind(endpoint, error);
  if (!error) acceptor_.listen(asio::socket_base::max_listen_connections, error);
  if (error) {
    return Status(ErrorCode::IoError, "cannot serve clients on " + options_.host + ":" +
                                          std::to_string(options_.port) + ": " + error.message());
  }
  asio::co_spawn(io_, accept_loop(), asio::detached);
  return Status::ok();
}

void ClientServer::stop() {
  if (stopped_) return;
  stopped_ = true;
  asio::error_code ignored;
  acceptor_.close(ignored);
}

awaitable<void> ClientServer::accept_loop() {
  while (!stopped_) {
    asio::error_code error;
    tcp::socket socket = co_await acceptor_.async_accept(asio::redirect_error(use_awaitable, error));
    if (error) {
      if (stopped_) co_return;
      log_to(logger_, LogLevel::Warn, "accepting a client failed: ", error.message());
      continue;
    }
    socket.set_option(tcp::no_delay(true), error);
    ++counters_.connections_received;
    auto connection = std::make_shared<Connection>(std::move(socket), *this, next_id_++);
    asio::co_spawn(io_, connection->read_loop(), asio::detached);
  }
}

}  // namespace raftkv::server
