#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "client/endpoint.h"
#include "client/reply.h"
#include "client/reply_parser.h"
#include "client/tls.h"
#include "common/status.h"

struct ssl_st;  // OpenSSL's SSL.

// The client's view of one connection to one node, and of how connections are made. The
// retry policies (client.h) see only these interfaces, so unit tests script a fake transport
// and no test needs a port or a real clock.
//
// The real implementation is plain POSIX sockets with poll(): blocking calls with deadlines
// are all a client needs, and poll() gives deadlines without threads, exceptions or an event
// loop (asio would add both for no gain here).

namespace raftkv::client {

using SteadyClock = std::chrono::steady_clock;
using TimePoint = SteadyClock::time_point;
using Millis = std::chrono::milliseconds;

// What became of one exchange of commands and replies. The distinction that matters is
// whether the server can have received the whole request: a request not fully handed to the
// kernel cannot be executed (the server executes only complete frames), so it is NotSent;
// once it was, a missing reply is Lost and the outcome is unknown.
struct Exchange {
  enum class Kind {
    Replied,  // replies holds one reply per command, in order.
    NotSent,  // Nothing was executed: the connection was already closed or the send failed.
    Lost,     // Sent, but the replies did not all arrive (timeout, reset, EOF, garbage).
  };
  Kind kind = Kind::NotSent;
  std::vector<Reply> replies;
  std::string detail;  // Why, for NotSent and Lost ("timed out after 3000 ms").
};

class Connection {
 public:
  virtual ~Connection() = default;
  // Sends the commands as one pipelined write and reads one reply per command, all before
  // `deadline`. After NotSent or Lost the connection is unusable; drop it.
  [[nodiscard]] virtual Exchange exchange(const std::vector<std::vector<std::string>>& commands,
                                          TimePoint deadline) = 0;
  [[nodiscard]] virtual const Endpoint& endpoint() const = 0;

  // One command, one reply.
  [[nodiscard]] Exchange call(const std::vector<std::string>& args, TimePoint deadline) {
    return exchange({args}, deadline);
  }
};

class Transport {
 public:
  virtual ~Transport() = default;
  // Connects before `deadline`. On failure, Unavailable whose message is the reason alone
  // ("connection refused", "timed out"); callers name the endpoint.
  [[nodiscard]] virtual Result<std::unique_ptr<Connection>> connect(const Endpoint& endpoint,
                                                                    TimePoint deadline) = 0;
};

// Time as the retry policies see it; tests substitute a clock that sleeps instantly.
class Clock {
 public:
  virtual ~Clock() = default;
  [[nodiscard]] virtual TimePoint now() = 0;
  virtual void sleep_until(TimePoint when) = 0;
};

class SystemClock final : public Clock {
 public:
  [[nodiscard]] TimePoint now() override { return SteadyClock::now(); }
  void sleep_until(TimePoint when) override;
};

// A TCP connection to one node, plain or TLS. Not thread-safe.
class SocketConnection final : public Connection {
 public:
  // Takes ownership of a connected stream socket `fd` (a socketpair end works too), and of
  // `ssl` when not null: a TLS session over `fd` whose handshake is done.
  SocketConnection(int fd, Endpoint endpoint, ReplyLimits limits = {}, ssl_st* ssl = nullptr);
  ~SocketConnection() override;
  SocketConnection(const SocketConnection&) = delete;
  SocketConnection& operator=(const SocketConnection&) = delete;

  // Resolves and connects with a deadline; TCP_NODELAY set. With `tls`, then does the TLS
  // handshake before the same deadline (Unavailable with OpenSSL's reason if it fails).
  [[nodiscard]] static Result<std::unique_ptr<Connection>> open(
      const Endpoint& endpoint, TimePoint deadline, const TlsContext* tls = nullptr);

  [[nodiscard]] Exchange exchange(const std::vector<std::vector<std::string>>& commands,
                                  TimePoint deadline) override;
  [[nodiscard]] const Endpoint& endpoint() const override { return endpoint_; }

 private:
  // True if the peer has closed (or sent something unasked): a pooled connection the server
  // dropped while idle must not swallow a request.
  [[nodiscard]] bool closed_by_peer() const;
  [[nodiscard]] Exchange send_all(const std::string& bytes, size_t first_frame_bytes,
                                  TimePoint deadline);
  [[nodiscard]] Exchange read_replies(size_t count, TimePoint deadline);
  // One send or receive, through TLS when on: bytes moved (receive: 0 at end of stream), or -1
  // with *wait set to the poll() event to wait for before trying again, or 0 and *error set.
  [[nodiscard]] ssize_t send_some(const char* data, size_t size, short* wait, std::string* error);
  [[nodiscard]] ssize_t receive_some(char* data, size_t size, short* wait, std::string* error);

  int fd_ = -1;
  ssl_st* ssl_ = nullptr;  // Owned; null for plain TCP.
  bool broken_ = false;  // Set after NotSent or Lost; every later exchange is NotSent.
  Endpoint endpoint_;
  ReplyParser parser_;
};

class SocketTransport final : public Transport {
 public:
  // `tls`: every connection speaks TLS with this context; null: plain TCP.
  explicit SocketTransport(std::shared_ptr<const TlsContext> tls = nullptr)
      : tls_(std::move(tls)) {}
  [[nodiscard]] Result<std::unique_ptr<Connection>> connect(const Endpoint& endpoint,
                                                            TimePoint deadline) override {
    return SocketConnection::open(endpoint, deadline, tls_.get());
  }

 private:
  std::shared_ptr<const TlsContext> tls_;
};

}  // namespace raftkv::client
