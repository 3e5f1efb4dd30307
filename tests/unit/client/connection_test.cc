#include "client/connection.h"

#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>
#include <thread>

namespace raftkv::client {
namespace {

// A SocketConnection over one end of a socketpair; the test plays the server on the other.
// No ports. Where the "server" must answer after the request arrives, it runs on a thread:
// this is the one layer where real sockets are the thing under test.
struct Pair {
  Pair() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    server_fd = fds[1];
    connection = std::make_unique<SocketConnection>(fds[0], Endpoint{"pair", 1});
  }
  ~Pair() {
    if (server_fd >= 0) ::close(server_fd);
  }
  void server_write(const std::string& bytes) const {
    ASSERT_EQ(::write(server_fd, bytes.data(), bytes.size()),
              static_cast<ssize_t>(bytes.size()));
  }
  std::string server_read_nonblocking() const {
    char buffer[4096];
    const ssize_t n = ::recv(server_fd, buffer, sizeof buffer, MSG_DONTWAIT);
    return n > 0 ? std::string(buffer, static_cast<size_t>(n)) : std::string();
  }
  std::string server_read() const {
    char buffer[4096];
    const ssize_t n = ::read(server_fd, buffer, sizeof buffer);
    return n > 0 ? std::string(buffer, static_cast<size_t>(n)) : std::string();
  }
  int server_fd = -1;
  std::unique_ptr<SocketConnection> connection;
};

TimePoint soon() { return SteadyClock::now() + Millis(2000); }

TEST(SocketConnection, Exchange_UnaskedBytesBeforeSendIsNotSent) {
  Pair pair;
  pair.server_write("+OK\r\n");  // Nobody asked: replies would be out of step.
  Exchange exchange = pair.connection->call({"SET", "k", "v"}, soon());
  EXPECT_EQ(exchange.kind, Exchange::Kind::NotSent);
  EXPECT_EQ(pair.server_read_nonblocking(), "");  // The request never went out.
}

TEST(SocketConnection, Exchange_PipelinedRepliesInOrder) {
  Pair pair;
  std::thread server([&] {
    const std::string request = pair.server_read();
    EXPECT_EQ(request, "*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
    pair.server_write("+PONG\r\n$1\r\n");
    pair.server_write("v\r\n");
  });
  Exchange exchange = pair.connection->exchange({{"PING"}, {"GET", "k"}}, soon());
  server.join();
  ASSERT_EQ(exchange.kind, Exchange::Kind::Replied) << exchange.detail;
  ASSERT_EQ(exchange.replies.size(), 2u);
  EXPECT_EQ(exchange.replies[0], Reply::status("PONG"));
  EXPECT_EQ(exchange.replies[1], Reply::bulk("v"));
}

TEST(SocketConnection, Exchange_NoReplyBeforeDeadlineIsLost) {
  Pair pair;
  Exchange exchange = pair.connection->call({"GET", "k"}, SteadyClock::now());
  EXPECT_EQ(exchange.kind, Exchange::Kind::Lost);
  EXPECT_NE(exchange.detail.find("timed out"), std::string::npos) << exchange.detail;
  EXPECT_EQ(pair.server_read(), "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");  // It did go out.
  // A failed connection refuses later exchanges rather than mixing up replies.
  EXPECT_EQ(pair.connection->call({"PING"}, soon()).kind, Exchange::Kind::NotSent);
}

TEST(SocketConnection, Exchange_PeerClosedBeforeSendIsNotSent) {
  Pair pair;
  ::close(pair.server_fd);
  pair.server_fd = -1;
  Exchange exchange = pair.connection->call({"SET", "k", "v"}, soon());
  EXPECT_EQ(exchange.kind, Exchange::Kind::NotSent);
}

TEST(SocketConnection, Exchange_GarbageReplyIsLost) {
  Pair pair;
  std::thread server([&] {
    (void)pair.server_read();
    pair.server_write("%garbage\r\n");
  });
  Exchange exchange = pair.connection->call({"GET", "k"}, soon());
  server.join();
  EXPECT_EQ(exchange.kind, Exchange::Kind::Lost);
  EXPECT_NE(exchange.detail.find("protocol error"), std::string::npos) << exchange.detail;
}

TEST(SocketConnection, Open_RefusedPortIsUnavailable) {
  // Port 1 on loopback: nothing listens there in a test environment.
  Result<std::unique_ptr<Connection>> opened =
      SocketConnection::open(Endpoint{"127.0.0.1", 1}, soon());
  ASSERT_FALSE(opened.is_ok());
  EXPECT_EQ(opened.status().code(), ErrorCode::Unavailable);
  EXPECT_EQ(opened.status().message(), "connection refused");
}

}  // namespace
}  // namespace raftkv::client
