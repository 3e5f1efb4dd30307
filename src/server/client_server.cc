#include "server/client_server.h"

#include <deque>
#include <optional>

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

}  // namespace

using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;

class ClientServer::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, ClientServer& server)
      : socket_(std::move(socket)),
        server_(server),
        parser_(net::RespLimits{.bulk_bytes_max = server.options_.bulk_bytes_max,
                                .request_bytes_max = server.options_.request_bytes_max,
                                .inline_bytes_max = server.options_.inline_bytes_max}),
        wakeup_(socket_.get_executor()),
        read_gate_(socket_.get_executor()) {}

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
      while (slots_.size() >= server_.options_.slots_max && !closing_) {
        // Back-pressure: wait until replies drain before reading more requests.
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
    while (!closing_) {
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

  void handle(const std::vector<std::string>& args) {
    Action action = translate(state_, args, server_.status_);
    const uint64_t slot = open_slot();
    switch (action.kind) {
      case Action::Kind::Quit:
        closing_after_flush_ = true;
        [[fallthrough]];
      case Action::Kind::Reply:
        fill(slot, std::move(action.reply));
        return;
      case Action::Kind::Run: {
        auto done = [self = shared_from_this(), slot](runtime::Response response) {
          self->fill(slot, to_resp(std::move(response)));
          self->schedule_flush();
        };
        runtime::Node& node = server_.node_;
        if (action.stale_read) {
          node.submit_local_read(action.request, std::move(done));
        } else {
          node.submit(std::move(action.request), std::move(done));
        }
        return;
      }
    }
  }

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
  bool closing_after_flush_ = false;  // QUIT or a protocol error: close once replies are out.
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
      acceptor_(io) {}

ClientServer::~ClientServer() { stop(); }

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
    auto connection = std::make_shared<Connection>(std::move(socket), *this);
    asio::co_spawn(io_, connection->read_loop(), asio::detached);
  }
}

}  // namespace raftkv::server
