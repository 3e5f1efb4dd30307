#include "fault_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>

#include "common/prng.h"

namespace raftkv::bank {
namespace {

using Clock = std::chrono::steady_clock;

constexpr milliseconds kPollInterval{20};       // How soon the threads notice stop().
constexpr milliseconds kProbeInterval{100};     // Re-checking a server that refused us.
constexpr milliseconds kUpstreamConnectTimeout{500};
constexpr size_t kChunkBytesMax = 16 * 1024;    // One read; replies here are small.
constexpr uint64_t kChanceDenominator = 1'000'000;

sockaddr_in loopback_address(uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

// A bound, listening socket on 127.0.0.1:port (0: any free port); -1 on failure.
int listen_on(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const int one = 1;
  // Reopening the same port after the server came back must not wait out TIME_WAIT.
  (void)::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address = loopback_address(port);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(fd, 64) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

uint16_t bound_port(int fd) {
  sockaddr_in address{};
  socklen_t length = sizeof address;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return 0;
  return ntohs(address.sin_port);
}

// Sends are bounded in time too: a client that stops reading cannot hang a relay thread.
void set_send_timeout(int fd) {
  timeval timeout{1, 0};
  (void)::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  const int one = 1;
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// Connects to the upstream server within kUpstreamConnectTimeout; -1 if it refuses or is slow.
int connect_upstream(const client::Endpoint& upstream) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  sockaddr_in address = loopback_address(upstream.port);
  if (::inet_pton(AF_INET, upstream.host.c_str(), &address.sin_addr) != 1) {
    ::close(fd);
    return -1;
  }
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 &&
      errno != EINPROGRESS) {
    ::close(fd);
    return -1;
  }
  pollfd entry{fd, POLLOUT, 0};
  int so_error = 0;
  socklen_t length = sizeof so_error;
  if (::poll(&entry, 1, static_cast<int>(kUpstreamConnectTimeout.count())) != 1 ||
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &length) != 0 || so_error != 0) {
    ::close(fd);
    return -1;
  }
  const int flags = ::fcntl(fd, F_GETFL);
  (void)::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);  // The relay uses blocking I/O + poll.
  set_send_timeout(fd);
  return fd;
}

bool send_all(int fd, const char* data, size_t size) {
  size_t sent = 0;
  while (sent < size) {
    const ssize_t n = ::send(fd, data + sent, size - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

// Closes with a reset, so the peer learns at once that nothing will be served here.
void close_with_reset(int fd) {
  linger option{1, 0};
  (void)::setsockopt(fd, SOL_SOCKET, SO_LINGER, &option, sizeof option);
  ::close(fd);
}

uint64_t chance_numerator(double probability) {
  const double clamped = std::clamp(probability, 0.0, 1.0);
  return static_cast<uint64_t>(clamped * static_cast<double>(kChanceDenominator));
}

}  // namespace

// One listener and the server behind it. Accept thread only, except `port` (fixed at start).
struct FaultProxy::Route {
  client::Endpoint upstream;
  uint16_t port = 0;
  int listen_fd = -1;  // -1 while the server refuses connections.
  Clock::time_point next_probe{};
};

// One relayed connection. Its thread owns both fds; `done` tells the accept thread to join.
struct FaultProxy::Pair {
  int client_fd = -1;
  int upstream_fd = -1;
  Prng prng;
  std::thread thread;
  std::atomic<bool> done{false};
  explicit Pair(uint64_t seed) : prng(seed) {}
};

FaultProxy::FaultProxy(FaultOptions options)
    : options_(options), faults_left_(options.faults_max) {}

Result<std::unique_ptr<FaultProxy>> FaultProxy::start(
    const std::vector<client::Endpoint>& upstreams, FaultOptions options) {
  RAFT_ASSERT(!upstreams.empty());
  RAFT_ASSERT(options.delay_max.count() >= 1);
  std::unique_ptr<FaultProxy> proxy(new FaultProxy(options));
  for (const client::Endpoint& upstream : upstreams) {
    if (upstream.host != "127.0.0.1") {
      return Status(ErrorCode::InvalidArgument,
                    "the fault proxy is for loopback only, not " + upstream.to_string());
    }
    auto route = std::make_unique<Route>();
    route->upstream = upstream;
    route->listen_fd = listen_on(0);
    if (route->listen_fd < 0) {
      return Status(ErrorCode::IoError, std::string("proxy listen: ") + std::strerror(errno));
    }
    route->port = bound_port(route->listen_fd);
    proxy->routes_.push_back(std::move(route));
  }
  proxy->accept_thread_ = std::thread([raw = proxy.get()] { raw->accept_loop(); });
  return proxy;
}

FaultProxy::~FaultProxy() {
  stop();
  for (auto& route : routes_) {
    if (route->listen_fd >= 0) ::close(route->listen_fd);  // Only if start() failed midway.
  }
}

void FaultProxy::stop() {
  stopping_ = true;
  if (accept_thread_.joinable()) accept_thread_.join();
  reap_pairs(/*all=*/true);
}

std::vector<client::Endpoint> FaultProxy::endpoints() const {
  std::vector<client::Endpoint> out;
  for (const auto& route : routes_) out.push_back({"127.0.0.1", route->port});
  return out;
}

ProxyStats FaultProxy::stats() const {
  return {connections_.load(), replies_.load(), dropped_.load(), delayed_.load(),
          refused_.load()};
}

void FaultProxy::accept_loop() {
  const Clock::time_point end = Clock::now() + options_.lifetime;
  while (!stopping_ && Clock::now() < end) {
    std::vector<pollfd> entries;
    std::vector<Route*> polled;
    for (auto& route : routes_) {
      if (route->listen_fd < 0) {
        probe_closed(*route);
        continue;
      }
      entries.push_back({route->listen_fd, POLLIN, 0});
      polled.push_back(route.get());
    }
    const int ready = ::poll(entries.data(), entries.size(),
                             static_cast<int>(kPollInterval.count()));
    for (size_t i = 0; ready > 0 && i < entries.size(); ++i) {
      if ((entries[i].revents & POLLIN) != 0) accept_one(*polled[i]);
    }
    reap_pairs(/*all=*/false);
  }
  stopping_ = true;  // The lifetime ended: the relays stop too.
  for (auto& route : routes_) {
    if (route->listen_fd >= 0) ::close(route->listen_fd);
    route->listen_fd = -1;
  }
}

void FaultProxy::accept_one(Route& route) {
  RAFT_ASSERT(route.listen_fd >= 0);
  const int client_fd = ::accept4(route.listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
  if (client_fd < 0) return;  // The client gave up already; nothing to relay.
  size_t open_pairs = 0;
  {
    std::lock_guard<std::mutex> lock(pairs_mutex_);
    open_pairs = pairs_.size();
  }
  if (open_pairs >= options_.connections_max) {
    close_with_reset(client_fd);
    return;
  }
  const int upstream_fd = connect_upstream(route.upstream);
  if (upstream_fd < 0) {
    // The server is down: behave as it would (refuse), from now until it is back.
    ++refused_;
    close_with_reset(client_fd);
    ::close(route.listen_fd);
    route.listen_fd = -1;
    route.next_probe = Clock::now() + kProbeInterval;
    return;
  }
  set_send_timeout(client_fd);
  ++connections_;
  // Each pair draws from its own generator, so one seed fixes every pair's fault sequence.
  auto pair = std::make_unique<Pair>(options_.seed * 1'000'003 + ++pairs_started_);
  pair->client_fd = client_fd;
  pair->upstream_fd = upstream_fd;
  Pair* raw = pair.get();
  std::lock_guard<std::mutex> lock(pairs_mutex_);
  pairs_.push_back(std::move(pair));
  raw->thread = std::thread([this, raw] { relay(*raw); });
}

void FaultProxy::probe_closed(Route& route) {
  RAFT_ASSERT(route.listen_fd < 0);
  if (Clock::now() < route.next_probe) return;
  route.next_probe = Clock::now() + kProbeInterval;
  const int probe = connect_upstream(route.upstream);
  if (probe < 0) return;
  ::close(probe);
  route.listen_fd = listen_on(route.port);  // -1 again if the port is busy: probe later.
}

void FaultProxy::relay(Pair& pair) {
  RAFT_ASSERT(pair.client_fd >= 0);
  RAFT_ASSERT(pair.upstream_fd >= 0);
  std::vector<char> buffer(kChunkBytesMax);
  while (!stopping_) {
    pollfd entries[2] = {{pair.client_fd, POLLIN, 0}, {pair.upstream_fd, POLLIN, 0}};
    const int ready = ::poll(entries, 2, static_cast<int>(kPollInterval.count()));
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    if (entries[0].revents != 0) {
      const ssize_t n = ::recv(pair.client_fd, buffer.data(), buffer.size(), 0);
      if (n <= 0 || !send_all(pair.upstream_fd, buffer.data(), static_cast<size_t>(n))) break;
    }
    if (entries[1].revents != 0) {
      const ssize_t n = ::recv(pair.upstream_fd, buffer.data(), buffer.size(), 0);
      if (n <= 0 || !forward_reply(pair, buffer.data(), static_cast<size_t>(n))) break;
    }
  }
  ::close(pair.client_fd);
  ::close(pair.upstream_fd);
  pair.done = true;
}

bool FaultProxy::forward_reply(Pair& pair, const char* data, size_t size) {
  RAFT_ASSERT(size > 0);
  ++replies_;
  if (pair.prng.chance(chance_numerator(options_.drop_probability), kChanceDenominator) &&
      take_fault()) {
    ++dropped_;
    return false;  // The caller closes both sides: the client sees the connection end.
  }
  if (pair.prng.chance(chance_numerator(options_.delay_probability), kChanceDenominator) &&
      take_fault()) {
    ++delayed_;
    const auto delay_ms = static_cast<int64_t>(
        pair.prng.uniform(1, static_cast<uint64_t>(options_.delay_max.count())));
    const Clock::time_point until = Clock::now() + milliseconds(delay_ms);
    while (!stopping_ && Clock::now() < until) std::this_thread::sleep_for(milliseconds(5));
    if (stopping_) return false;
  }
  return send_all(pair.client_fd, data, size);
}

bool FaultProxy::take_fault() {
  int left = faults_left_.load();
  // Decrement only while positive, so the budget ends at 0 however many relays ask.
  while (left > 0 && !faults_left_.compare_exchange_weak(left, left - 1)) {
  }
  return left > 0;
}

void FaultProxy::reap_pairs(bool all) {
  std::vector<std::unique_ptr<Pair>> finished;
  {
    std::lock_guard<std::mutex> lock(pairs_mutex_);
    auto keep = std::partition(pairs_.begin(), pairs_.end(),
                               [all](const auto& pair) { return !all && !pair->done; });
    finished.assign(std::make_move_iterator(keep), std::make_move_iterator(pairs_.end()));
    pairs_.erase(keep, pairs_.end());
  }
  // Joined outside the lock. With `all`, stopping_ is set, so every relay ends within a poll.
  for (auto& pair : finished) {
    if (pair->thread.joinable()) pair->thread.join();
  }
}

}  // namespace raftkv::bank
