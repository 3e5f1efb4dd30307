#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "client/endpoint.h"
#include "common/status.h"

// A fault-injecting TCP proxy on loopback, between a client and the raftkv servers: one
// listener per server, and for each accepted connection one upstream connection to that
// server. Requests (client -> server) pass untouched. Replies (server -> client) meet the
// faults, drawn from a seeded generator:
//   drop   the reply chunk is discarded and both connections are closed. The request did
//          reach the server (its reply exists), so the client sees the worst case of a
//          network: "connection lost after sending", outcome unknown.
//   delay  the reply chunk is held for a random time before it is passed on.
// A listener mirrors its server's availability: while the server refuses connections (it was
// killed), the listener is closed too, so the client's connect fails cleanly ("not sent")
// instead of succeeding against the proxy and losing its request.
//
// Bounded: at most `connections_max` connection pairs, `faults_max` faults, and the proxy stops
// by itself after `lifetime` (or when stop() is called or it is destroyed). Loopback only.
// Thread-safe: one thread accepts, one thread per connection pair relays; the methods may be
// called from any thread.

namespace raftkv::bank {

using std::chrono::milliseconds;

struct FaultOptions {
  uint64_t seed = 1;
  double drop_probability = 0.04;   // Per reply chunk.
  double delay_probability = 0.10;  // Per reply chunk not dropped.
  milliseconds delay_max{200};      // A delay is uniform in [1, delay_max].
  int faults_max = 10'000;          // Drops plus delays; then replies pass untouched.
  size_t connections_max = 64;      // Pairs open at once; more are refused (closed at once).
  milliseconds lifetime{10 * 60 * 1000};
};

struct ProxyStats {
  uint64_t connections = 0;      // Client connections relayed.
  uint64_t replies = 0;          // Reply chunks seen.
  uint64_t replies_dropped = 0;
  uint64_t replies_delayed = 0;
  uint64_t upstream_refused = 0;  // Accepted, but the server refused: listener closed.
};

class FaultProxy {
 public:
  // Listens on 127.0.0.1 with an ephemeral port per upstream (endpoints() tells which).
  // IoError if a socket cannot be bound.
  [[nodiscard]] static Result<std::unique_ptr<FaultProxy>> start(
      const std::vector<client::Endpoint>& upstreams, FaultOptions options);
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  // Closes the listeners and every connection, joins all threads. Idempotent.
  void stop();
  // Where clients connect: endpoints()[i] leads to upstreams[i].
  [[nodiscard]] std::vector<client::Endpoint> endpoints() const;
  [[nodiscard]] ProxyStats stats() const;

 private:
  struct Route;
  struct Pair;
  explicit FaultProxy(FaultOptions options);

  void accept_loop();
  void accept_one(Route& route);
  void probe_closed(Route& route);
  void relay(Pair& pair);
  // Returns false if the pair must close (the chunk was dropped or the stop flag rose).
  bool forward_reply(Pair& pair, const char* data, size_t size);
  bool take_fault();
  void reap_pairs(bool all);

  const FaultOptions options_;
  std::vector<std::unique_ptr<Route>> routes_;  // Fixed after start().
  std::mutex pairs_mutex_;
  std::vector<std::unique_ptr<Pair>> pairs_;    // Guarded by pairs_mutex_.
  uint64_t pairs_started_ = 0;                  // Accept thread only: seeds each pair.
  std::thread accept_thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> faults_left_;
  std::atomic<uint64_t> connections_{0};
  std::atomic<uint64_t> replies_{0};
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> delayed_{0};
  std::atomic<uint64_t> refused_{0};
};

}  // namespace raftkv::bank
