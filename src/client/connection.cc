#include "client/connection.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <openssl/ssl.h>
#include <thread>

namespace raftkv::client {
namespace {

// Milliseconds left until `deadline`, rounded up so poll() never returns a hair early; 0 once
// passed.
int remaining_ms(TimePoint deadline) {
  const auto left = deadline - SteadyClock::now();
  if (left <= SteadyClock::duration::zero()) return 0;
  const auto ms = std::chrono::ceil<Millis>(left).count();
  return static_cast<int>(std::min<int64_t>(ms, 1'000'000));
}

// Waits for `events` on fd; false on timeout or poll error (*error says which).
bool wait_for(int fd, short events, TimePoint deadline, std::string* error) {
  while (true) {
    pollfd entry{fd, events, 0};
    const int ready = ::poll(&entry, 1, remaining_ms(deadline));
    if (ready > 0) return true;
    if (ready == 0) {
      *error = "timed out";
      return false;
    }
    if (errno != EINTR) {
      *error = std::string("poll: ") + std::strerror(errno);
      return false;
    }
  }
}

// The reason alone, lower-cased as in a sentence: "connection refused".
Status connect_error(std::string why) {
  if (!why.empty() && why[0] >= 'A' && why[0] <= 'Z') why[0] = static_cast<char>(why[0] + 32);
  return Status(ErrorCode::Unavailable, std::move(why));
}

// Non-blocking connect to one resolved address; returns the fd or -1 with *error set.
int connect_address(const addrinfo& address, TimePoint deadline, std::string* error) {
  const int fd = ::socket(address.ai_family, address.ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                          address.ai_protocol);
  if (fd < 0) {
    *error = std::string("socket: ") + std::strerror(errno);
    return -1;
  }
  if (::connect(fd, address.ai_addr, address.ai_addrlen) != 0 && errno != EINPROGRESS) {
    *error = std::strerror(errno);
    ::close(fd);
    return -1;
  }
  if (!wait_for(fd, POLLOUT, deadline, error)) {
    ::close(fd);
    return -1;
  }
  int so_error = 0;
  socklen_t length = sizeof so_error;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &length) != 0 || so_error != 0) {
    *error = std::strerror(so_error != 0 ? so_error : errno);
    ::close(fd);
    return -1;
  }
  const int one = 1;
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// A TLS session over the connected `fd`, its handshake done before `deadline`: the node's
// certificate must chain to the context's CA and name the host dialled. Null with *error set
// otherwise.
SSL* tls_handshake(int fd, const TlsContext& tls, const std::string& host, TimePoint deadline,
                   std::string* error) {
  SSL* ssl = SSL_new(tls.native());
  if (ssl == nullptr || SSL_set_fd(ssl, fd) != 1) {
    *error = tls_error_text("SSL_new");
    SSL_free(ssl);
    return nullptr;
  }
  const bool named = tls_expect_host(ssl, host);
  while (named) {
    const int done = SSL_connect(ssl);
    if (done == 1) return ssl;
    const int why = SSL_get_error(ssl, done);
    if (why != SSL_ERROR_WANT_READ && why != SSL_ERROR_WANT_WRITE) break;
    if (!wait_for(fd, why == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline, error)) {
      *error = "the TLS handshake " + *error;
      SSL_free(ssl);
      return nullptr;
    }
  }
  const long verified = SSL_get_verify_result(ssl);
  *error = "the TLS handshake failed: " +
           (verified != X509_V_OK ? std::string(X509_verify_cert_error_string(verified))
                                  : tls_error_text("connection closed"));
  SSL_free(ssl);
  return nullptr;
}

}  // namespace

void SystemClock::sleep_until(TimePoint when) { std::this_thread::sleep_until(when); }

SocketConnection::SocketConnection(int fd, Endpoint endpoint, ReplyLimits limits, ssl_st* ssl)
    : fd_(fd), ssl_(ssl), endpoint_(std::move(endpoint)), parser_(limits) {
  RAFT_ASSERT(fd >= 0);
  const int flags = ::fcntl(fd_, F_GETFL, 0);
  if (flags >= 0) (void)::fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
}

SocketConnection::~SocketConnection() {
  SSL_free(ssl_);  // Without close_notify: nodes, as Redis, do not wait for one.
  if (fd_ >= 0) ::close(fd_);
}

Result<std::unique_ptr<Connection>> SocketConnection::open(const Endpoint& endpoint,
                                                           TimePoint deadline,
                                                           const TlsContext* tls) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* addresses = nullptr;
  const std::string port = std::to_string(endpoint.port);
  const int resolved = ::getaddrinfo(endpoint.host.c_str(), port.c_str(), &hints, &addresses);
  if (resolved != 0) return connect_error(::gai_strerror(resolved));
  std::string error = "no address";
  int fd = -1;
  for (const addrinfo* address = addresses; address != nullptr && fd < 0;
       address = address->ai_next) {
    fd = connect_address(*address, deadline, &error);
  }
  ::freeaddrinfo(addresses);
  if (fd < 0) return connect_error(error);
  SSL* ssl = nullptr;
  if (tls != nullptr && (ssl = tls_handshake(fd, *tls, endpoint.host, deadline, &error)) ==
                            nullptr) {
    ::close(fd);
    return connect_error(error);
  }
  return std::unique_ptr<Connection>(new SocketConnection(fd, endpoint, {}, ssl));
}

bool SocketConnection::closed_by_peer() const {
  pollfd entry{fd_, POLLIN, 0};
  if (::poll(&entry, 1, 0) <= 0) return false;
  // Readable while no request is outstanding: EOF, a reset, or bytes nobody asked for. Over
  // TLS it may also be the session tickets a TLS 1.3 server sends after the handshake: a
  // peek reads those and then finds no data.
  if (ssl_ == nullptr) return true;
  char byte = 0;
  const int peeked = SSL_peek(ssl_, &byte, 1);
  return peeked > 0 || SSL_get_error(ssl_, peeked) != SSL_ERROR_WANT_READ;
}

ssize_t SocketConnection::send_some(const char* data, size_t size, short* wait,
                                    std::string* error) {
  *wait = 0;
  if (ssl_ == nullptr) {
    const ssize_t n = ::send(fd_, data, size, MSG_NOSIGNAL);
    if (n > 0) return n;
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) *wait = POLLOUT;
    if (*wait == 0) *error = n < 0 ? std::strerror(errno) : "send returned 0";
    return -1;
  }
  const int n = SSL_write(ssl_, data, static_cast<int>(std::min<size_t>(size, 1 << 30)));
  if (n > 0) return n;
  const int why = SSL_get_error(ssl_, n);
  if (why == SSL_ERROR_WANT_WRITE) *wait = POLLOUT;
  if (why == SSL_ERROR_WANT_READ) *wait = POLLIN;
  if (*wait == 0) *error = tls_error_text("TLS write failed");
  return -1;
}

ssize_t SocketConnection::receive_some(char* data, size_t size, short* wait,
                                       std::string* error) {
  *wait = 0;
  if (ssl_ == nullptr) {
    const ssize_t n = ::recv(fd_, data, size, 0);
    if (n >= 0) return n;
    if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) *wait = POLLIN;
    if (*wait == 0) *error = std::strerror(errno);
    return -1;
  }
  const int n = SSL_read(ssl_, data, static_cast<int>(std::min<size_t>(size, 1 << 30)));
  if (n > 0) return n;
  const int why = SSL_get_error(ssl_, n);
  if (why == SSL_ERROR_ZERO_RETURN) return 0;
  if (why == SSL_ERROR_WANT_READ) *wait = POLLIN;
  if (why == SSL_ERROR_WANT_WRITE) *wait = POLLOUT;
  if (*wait == 0) *error = tls_error_text("connection closed");
  return -1;
}

Exchange SocketConnection::exchange(const std::vector<std::vector<std::string>>& commands,
                                    TimePoint deadline) {
  RAFT_ASSERT(!commands.empty());
  if (broken_) return {Exchange::Kind::NotSent, {}, "connection already failed"};
  if (closed_by_peer() || parser_.mid_reply()) {
    broken_ = true;
    return {Exchange::Kind::NotSent, {}, "connection closed by " + endpoint_.to_string()};
  }
  std::string bytes;
  for (const auto& args : commands) bytes += encode_command(args);
  // Once the first command's frame is out whole, the server may execute it.
  const size_t first_frame_bytes = encode_command(commands.front()).size();
  Exchange sent = send_all(bytes, first_frame_bytes, deadline);
  if (sent.kind != Exchange::Kind::Replied) {
    broken_ = true;
    return sent;
  }
  Exchange result = read_replies(commands.size(), deadline);
  if (result.kind != Exchange::Kind::Replied) broken_ = true;
  RAFT_ASSERT(result.kind != Exchange::Kind::Replied || result.replies.size() == commands.size());
  return result;
}

Exchange SocketConnection::send_all(const std::string& bytes, size_t first_frame_bytes,
                                    TimePoint deadline) {
  size_t written = 0;
  std::string error;
  while (written < bytes.size()) {
    short wait = 0;
    const ssize_t n = send_some(bytes.data() + written, bytes.size() - written, &wait, &error);
    if (n > 0) {
      written += static_cast<size_t>(n);
      continue;
    }
    if (wait != 0 && wait_for(fd_, wait, deadline, &error)) continue;
    // The server never executes a partial frame, so unless a whole command went out nothing
    // was executed.
    const Exchange::Kind kind =
        written < first_frame_bytes ? Exchange::Kind::NotSent : Exchange::Kind::Lost;
    return {kind, {}, "sending to " + endpoint_.to_string() + ": " + error};
  }
  return {Exchange::Kind::Replied, {}, ""};
}

Exchange SocketConnection::read_replies(size_t count, TimePoint deadline) {
  Exchange result{Exchange::Kind::Replied, {}, ""};
  result.replies.reserve(count);
  char buffer[64 * 1024];
  std::string error;
  short wait = POLLIN;
  while (result.replies.size() < count) {
    Reply reply;
    const ReplyParser::Outcome parsed = parser_.next(&reply);
    if (parsed == ReplyParser::Outcome::Reply) {
      result.replies.push_back(std::move(reply));
      continue;
    }
    if (parsed == ReplyParser::Outcome::Error) {
      return {Exchange::Kind::Lost, {}, endpoint_.to_string() + ": " + parser_.error()};
    }
    // Bytes TLS already read from the socket are not seen by poll().
    const bool buffered = ssl_ != nullptr && SSL_has_pending(ssl_) == 1;
    if (!buffered && !wait_for(fd_, wait, deadline, &error)) {
      return {Exchange::Kind::Lost, {}, "no reply from " + endpoint_.to_string() + ": " + error};
    }
    const ssize_t n = receive_some(buffer, sizeof buffer, &wait, &error);
    if (n > 0) {
      parser_.feed(std::string_view(buffer, static_cast<size_t>(n)));
      wait = POLLIN;
    } else if (n == 0 || wait == 0) {
      if (n == 0) error = "connection closed";
      return {Exchange::Kind::Lost, {}, "no reply from " + endpoint_.to_string() + ": " + error};
    }
  }
  return result;
}

}  // namespace raftkv::client
