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

}  // namespace

void SystemClock::sleep_until(TimePoint when) { std::this_thread::sleep_until(when); }

SocketConnection::SocketConnection(int fd, Endpoint endpoint, ReplyLimits limits)
    : fd_(fd), endpoint_(std::move(endpoint)), parser_(limits) {
  RAFT_ASSERT(fd >= 0);
  const int flags = ::fcntl(fd_, F_GETFL, 0);
  if (flags >= 0) (void)::fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
}

SocketConnection::~SocketConnection() {
  if (fd_ >= 0) ::close(fd_);
}

Result<std::unique_ptr<Connection>> SocketConnection::open(const Endpoint& endpoint,
                                                           TimePoint deadline) {
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
  return std::unique_ptr<Connection>(new SocketConnection(fd, endpoint));
}

bool SocketConnection::closed_by_peer() const {
  pollfd entry{fd_, POLLIN, 0};
  if (::poll(&entry, 1, 0) <= 0) return false;
  // Readable while no request is outstanding: EOF, a reset, or bytes nobody asked for.
  return true;
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
    const ssize_t n = ::send(fd_, bytes.data() + written, bytes.size() - written, MSG_NOSIGNAL);
    if (n > 0) {
      written += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (wait_for(fd_, POLLOUT, deadline, &error)) continue;
    } else {
      error = n < 0 ? std::strerror(errno) : "send returned 0";
    }
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
    if (!wait_for(fd_, POLLIN, deadline, &error)) {
      return {Exchange::Kind::Lost, {}, "no reply from " + endpoint_.to_string() + ": " + error};
    }
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n > 0) {
      parser_.feed(std::string_view(buffer, static_cast<size_t>(n)));
    } else if (n == 0 || (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)) {
      error = n == 0 ? "connection closed" : std::strerror(errno);
      return {Exchange::Kind::Lost, {}, "no reply from " + endpoint_.to_string() + ": " + error};
    }
  }
  return result;
}

}  // namespace raftkv::client
