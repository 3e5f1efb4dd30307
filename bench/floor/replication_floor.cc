// replication_floor: the least one replicated write can cost on this machine, with no Raft in
// it. Four processes on loopback TCP stand in for a client and a 3-node cluster:
//
//   client --request--> leader --copy--> each follower: pwrite + fdatasync, then ack
//                       leader: sends both copies, then pwrite + fdatasync of its own;
//                       replies once its own sync and one follower's ack are done
//
// It does what every replicated write must (two network round trips, the wake-ups they cost,
// an fdatasync on a majority) and nothing else: no encoding, batching, event loop, log index
// or state machine. Its 1-client latency is therefore the floor under raftkv's on the same
// machine; bench/compare.sh runs it beside fio and reports raftkv's latency against both.
//
// With large records (--record-bytes in MiB) it is also the floor for large values that
// includes the network: bench/large_values.sh runs it beside fio and large_value_floor (the
// disk alone). There the leader's own append overlaps its sends, as raftkv's does.
//
//   replication_floor --dir D [--seconds 5] [--warmup 1] [--record-bytes 300]
// prints one JSON line: {"writes":..,"throughput":..,"mib_per_s":..,"p50_ms":..,"p90_ms":..,
// "p99_ms":..}. Files are zero-filled ahead (as WAL segments are), so no write allocates.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "floor_file.h"

namespace {
using floor_file::die;
using floor_file::fail;
using floor_file::LogFile;


// Records at least this large are appended by the leader while it sends them. Smaller ones
// are appended after the sends, which take microseconds: a thread hand-off would cost more
// than it overlaps, and the 1-client floor of small writes stays as it was measured.
constexpr size_t kOverlapRecordBytes = 1 << 20;

// Each log file holds at least four records before its appends wrap, and a WAL segment's
// 64 MiB when records are small.
off_t file_bytes_for(size_t record_bytes) {
  return std::max<off_t>(64 << 20, 4 * static_cast<off_t>(record_bytes));
}

// A listening socket on an ephemeral loopback port; returns the fd and sets `port`.
int listen_loopback(uint16_t* port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0) die("bind");
  if (::listen(fd, 1) != 0) die("listen");
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) die("getsockname");
  *port = ntohs(address.sin_port);
  return fd;
}

void no_delay(int fd) {
  const int on = 1;
  if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) != 0) die("TCP_NODELAY");
}

int accept_one(int listener) {
  const int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0) die("accept");
  ::close(listener);
  no_delay(fd);
  return fd;
}

int connect_loopback(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) die("connect");
  no_delay(fd);
  return fd;
}

// Reads exactly `size` bytes; false on a clean end of stream before the first byte.
bool read_exact(int fd, char* out, size_t size) {
  size_t done = 0;
  while (done < size) {
    const ssize_t got = ::read(fd, out + done, size - done);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) die("read");
    if (got == 0) {
      if (done == 0) return false;
      fail("connection closed in the middle of a message");
    }
    done += static_cast<size_t>(got);
  }
  return true;
}

void write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t put = ::write(fd, data, size);
    if (put < 0 && errno == EINTR) continue;
    if (put < 0) die("write");
    data += put;
    size -= static_cast<size_t>(put);
  }
}

void run_follower(int listener, const std::string& path, size_t record_bytes) {
  LogFile log(path, file_bytes_for(record_bytes));
  const int leader = accept_one(listener);
  std::vector<char> record(record_bytes);
  const char ack = 'a';
  while (read_exact(leader, record.data(), record.size())) {
    log.append_durably(record.data(), record.size());
    write_all(leader, &ack, 1);
  }
}

void run_leader(int listener, std::array<uint16_t, 2> follower_ports, const std::string& path,
                size_t record_bytes) {
  LogFile log(path, file_bytes_for(record_bytes));
  std::array<int, 2> followers{};
  for (size_t i = 0; i < followers.size(); ++i) followers[i] = connect_loopback(follower_ports[i]);
  const int client = accept_one(listener);
  std::vector<char> record(record_bytes);
  std::array<uint64_t, 2> acks{};  // Acks received from each follower so far.
  uint64_t writes = 0;
  while (read_exact(client, record.data(), record.size())) {
    ++writes;
    if (record.size() >= kOverlapRecordBytes) {
      std::thread own_append([&] { log.append_durably(record.data(), record.size()); });
      for (const int follower : followers) write_all(follower, record.data(), record.size());
      own_append.join();
    } else {
      for (const int follower : followers) write_all(follower, record.data(), record.size());
      log.append_durably(record.data(), record.size());
    }
    // Committed once one follower has acknowledged this write (its own sync makes two of three).
    while (std::max(acks[0], acks[1]) < writes) {
      std::array<pollfd, 2> ready{pollfd{followers[0], POLLIN, 0}, pollfd{followers[1], POLLIN, 0}};
      if (::poll(ready.data(), ready.size(), -1) < 0 && errno != EINTR) die("poll");
      for (size_t i = 0; i < ready.size(); ++i) {
        if ((ready[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
        char got[64];
        const ssize_t count = ::read(followers[i], got, sizeof(got));
        if (count < 0) die("read follower ack");
        if (count == 0) fail("a follower closed its connection");
        acks[i] += static_cast<uint64_t>(count);
      }
    }
    const char reply = 'r';
    write_all(client, &reply, 1);
  }
  // Done: let each follower see the end, then read its remaining acks until it hangs up
  // (closing with unread acks would reset the connection under the follower's read).
  for (const int follower : followers) {
    if (::shutdown(follower, SHUT_WR) != 0) die("shutdown");
    char got[64];
    ssize_t count = 0;
    while ((count = ::read(follower, got, sizeof(got))) > 0 || (count < 0 && errno == EINTR)) {
    }
    ::close(follower);
  }
}

double percentile_ms(const std::vector<double>& sorted_us, double fraction) {
  const auto at = static_cast<size_t>(fraction * static_cast<double>(sorted_us.size() - 1));
  return sorted_us[at] / 1000.0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir;
  double seconds = 5;
  double warmup = 1;
  size_t record_bytes = 300;  // About a raftkv WAL record for a SET of a 256-byte value.
  CLI::App app{"The least one replicated write costs on this machine (no Raft)"};
  app.add_option("--dir", dir, "Directory for the three nodes' files (on the disk to measure)")
      ->required();
  app.add_option("--seconds", seconds, "Measured seconds")->check(CLI::PositiveNumber);
  app.add_option("--warmup", warmup, "Seconds before measuring")->check(CLI::NonNegativeNumber);
  app.add_option("--record-bytes", record_bytes, "Bytes per write")->check(CLI::Range(size_t{1}, size_t{256} << 20));
  CLI11_PARSE(app, argc, argv);
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) die("mkdir " + dir);

  std::array<uint16_t, 2> follower_ports{};
  std::array<int, 2> follower_listeners{};
  for (size_t i = 0; i < 2; ++i) follower_listeners[i] = listen_loopback(&follower_ports[i]);
  uint16_t leader_port = 0;
  const int leader_listener = listen_loopback(&leader_port);
  std::vector<pid_t> children;
  const pid_t parent = ::getpid();
  // In a child: dies with the parent (the client), so a failure anywhere ends every process:
  // a node that exits closes its connections, which fails its peers and then the client.
  const auto die_with_parent = [parent] {
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) die("prctl");
    if (::getppid() != parent) std::_Exit(1);  // The parent is already gone.
  };
  for (size_t i = 0; i < 2; ++i) {
    const pid_t pid = ::fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
      die_with_parent();
      // Only this follower's listener stays open here: a leader that dies before accepting
      // must leave no listener behind that would hold the client's connection forever.
      ::close(leader_listener);
      for (size_t other = i + 1; other < follower_listeners.size(); ++other) {
        ::close(follower_listeners[other]);
      }
      run_follower(follower_listeners[i], dir + "/follower" + std::to_string(i + 1) + ".log",
                   record_bytes);
      std::_Exit(0);
    }
    ::close(follower_listeners[i]);
    children.push_back(pid);
  }
  const pid_t leader = ::fork();
  if (leader < 0) die("fork");
  if (leader == 0) {
    die_with_parent();
    run_leader(leader_listener, follower_ports, dir + "/leader.log", record_bytes);
    std::_Exit(0);
  }
  ::close(leader_listener);
  children.push_back(leader);

  // The client: one write at a time, each timed from its send to the leader's reply.
  const int connection = connect_loopback(leader_port);
  // A node that hangs instead of failing still ends the run: no reply within 30 s is an error.
  const timeval reply_timeout{30, 0};
  if (::setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &reply_timeout, sizeof(reply_timeout)) !=
      0) {
    die("SO_RCVTIMEO");
  }
  std::vector<char> record(record_bytes, 'v');
  std::vector<double> latencies_us;
  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  const auto to_clock = [](double s) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  };
  const Clock::time_point measure_from = start + to_clock(warmup);
  const Clock::time_point end = measure_from + to_clock(seconds);
  for (Clock::time_point now = start; now < end; now = Clock::now()) {
    write_all(connection, record.data(), record.size());
    char reply = 0;
    if (!read_exact(connection, &reply, 1)) fail("the leader closed the connection");
    const Clock::time_point done = Clock::now();
    if (now >= measure_from) {
      latencies_us.push_back(std::chrono::duration<double, std::micro>(done - now).count());
    }
  }
  ::close(connection);
  int failed = 0;
  for (const pid_t pid : children) {
    int status = 0;
    if (::waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failed;
  }
  for (const char* name : {"/leader.log", "/follower1.log", "/follower2.log"}) {
    ::unlink((dir + name).c_str());
  }
  if (failed > 0 || latencies_us.empty()) {
    std::fprintf(stderr, "replication_floor: %d node process(es) failed, %zu writes timed\n",
                 failed, latencies_us.size());
    return 1;
  }
  std::sort(latencies_us.begin(), latencies_us.end());
  const double throughput = static_cast<double>(latencies_us.size()) / seconds;
  std::printf("{\"writes\":%zu,\"throughput\":%.1f,\"mib_per_s\":%.1f,\"p50_ms\":%.3f,"
              "\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"record_bytes\":%zu}\n",
              latencies_us.size(), throughput,
              throughput * static_cast<double>(record_bytes) / (1 << 20),
              percentile_ms(latencies_us, 0.50), percentile_ms(latencies_us, 0.90),
              percentile_ms(latencies_us, 0.99), record_bytes);
  return 0;
}
