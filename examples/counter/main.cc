// A replicated counter: three replicas of counter.h's state machine in one process, each with
// the pieces raftkv-server uses (DiskStorage, the asio transport and environment) and the one
// runtime (runtime::Node). It adds through every replica, stops the leader as a crash would,
// keeps adding, restarts it, and checks that every replica ends with the same value. Exits 0 on
// success. README.md shows the embedding surface; CTest runs this as `counter_example`.
//   counter [--dir DIR] [--base-port 27100]
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "counter.h"
#include "net/asio_environment.h"
#include "net/peer_transport.h"
#include "runtime/node.h"
#include "storage/disk_storage.h"

namespace {

using namespace raftkv;
using namespace std::chrono_literals;

class StderrLogger final : public Logger {
 public:
  explicit StderrLogger(uint64_t id) : prefix_("node " + std::to_string(id) + " | ") {}
  [[nodiscard]] bool enabled(LogLevel level) const override { return level >= LogLevel::Info; }
  void write(LogLevel, std::string_view line) override {
    std::fprintf(stderr, "%s%.*s\n", prefix_.c_str(), static_cast<int>(line.size()), line.data());
  }

 private:
  std::string prefix_;
};

[[noreturn]] void fail(const Status& status) {
  std::fprintf(stderr, "counter: %s\n", status.to_string().c_str());
  std::exit(2);
}

// One replica: everything an embedding application sets up, on its own loop thread.
class Replica {
 public:
  Replica(uint64_t id, const std::string& dir, const std::vector<net::PeerAddress>& peers)
      : logger_(id), env_(io_, logger_) {
    std::filesystem::create_directories(dir);
    auto opened = storage::DiskStorage::open(dir, {.logger = &logger_});
    if (!opened.is_ok()) fail(opened.status());
    storage_ = std::move(opened).value();
    runtime::NodeOptions options;
    options.raft.id = NodeId{id};
    // The bootstrap voters, with the addresses the transport dials (the runtime hands them to
    // it, and takes later changes from the log).
    for (const net::PeerAddress& peer : peers) {
      options.members.push_back(runtime::Member{
          .id = peer.id, .peer_addr = peer.host + ":" + std::to_string(peer.port)});
    }
    options.raft.election_ticks = 30;  // 300 ms at the 10 ms tick.
    options.seed = id * 7919 + static_cast<uint64_t>(std::chrono::steady_clock::now()
                                                          .time_since_epoch().count());
    transport_ = std::make_unique<net::PeerTransport>(io_, NodeId{id}, peers,
                                                      net::TransportOptions{}, logger_);
    node_ = std::make_unique<runtime::Node>(options, env_, *storage_, counter_, *transport_,
                                            logger_, metrics_);
    if (Status started = node_->start(); !started.is_ok()) fail(started);
    if (Status listening = transport_->start(*node_); !listening.is_ok()) fail(listening);
    env_.tick_every(options.tick_ms, [this] { node_->tick(); });
    thread_ = std::thread([this] { io_.run(); });
  }
  ~Replica() {  // Stops the loop mid-flight, as a crash would (the disk keeps what was synced).
    io_.stop();
    thread_.join();
  }

  // Runs one request through this replica: a write, or a linearizable read.
  runtime::Response call(std::string request, bool read_only) {
    auto answer = std::make_shared<std::promise<runtime::Response>>();
    std::future<runtime::Response> future = answer->get_future();
    asio::post(io_, [this, answer, request = std::move(request), read_only]() mutable {
      node_->submit({std::move(request), read_only},
                    [answer](runtime::Response response) { answer->set_value(response); });
    });
    return future.get();  // The runtime answers every request, within its timeout.
  }
  // This replica's own value, without asking the leader.
  long local_value() {
    std::promise<long> value;
    asio::post(io_, [&] {
      node_->submit_local_read({"get", true}, [&](runtime::Response response) {
        value.set_value(std::stol(response.reply));
      });
    });
    return value.get_future().get();
  }
  bool leads() {
    std::promise<bool> leads;
    asio::post(io_, [&] { leads.set_value(node_->core().role() == raft::Role::Leader); });
    return leads.get_future().get();
  }

 private:
  asio::io_context io_{1};
  StderrLogger logger_;
  net::AsioEnvironment env_;  // Before the storage and node it outlives on destruction.
  std::unique_ptr<storage::DiskStorage> storage_;
  counter::Counter counter_;
  runtime::Metrics metrics_;
  std::unique_ptr<net::PeerTransport> transport_;
  std::unique_ptr<runtime::Node> node_;
  std::thread thread_;
};

// Adds 1 through each live replica in turn, `count` times; returns how many were acknowledged.
int add_ones(std::vector<std::unique_ptr<Replica>>& replicas, int count, int* unknown) {
  int acked = 0;
  for (int i = 0; i < count; ++i) {
    Replica* replica = replicas[static_cast<size_t>(i) % replicas.size()].get();
    if (replica == nullptr) continue;
    const runtime::Response response = replica->call("add 1", false);
    if (response.outcome == runtime::Outcome::Ok) ++acked;
    if (response.outcome == runtime::Outcome::MaybeApplied) ++*unknown;
    if (response.outcome == runtime::Outcome::NotApplied) std::this_thread::sleep_for(50ms);
  }
  return acked;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "/tmp/raftkv-counter-" + std::to_string(::getpid());
  uint16_t base_port = 27100;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--dir") dir = argv[i + 1];
    if (std::string(argv[i]) == "--base-port") {
      base_port = static_cast<uint16_t>(std::stoi(argv[i + 1]));
    }
  }
  std::filesystem::remove_all(dir);
  std::vector<net::PeerAddress> peers;
  for (uint64_t id = 1; id <= 3; ++id) {
    peers.push_back({NodeId{id}, "127.0.0.1", static_cast<uint16_t>(base_port + id)});
  }
  auto data_dir = [&](size_t i) { return dir + "/node" + std::to_string(i + 1); };
  std::vector<std::unique_ptr<Replica>> replicas;
  for (size_t i = 0; i < 3; ++i) {
    replicas.push_back(std::make_unique<Replica>(i + 1, data_dir(i), peers));
  }
  int unknown = 0;
  int acked = add_ones(replicas, 30, &unknown);
  size_t leader = 0;
  while (!replicas[leader]->leads()) leader = (leader + 1) % replicas.size();
  std::printf("leader is node %zu; stopping it\n", leader + 1);
  replicas[leader].reset();
  acked += add_ones(replicas, 30, &unknown);
  replicas[leader] = std::make_unique<Replica>(leader + 1, data_dir(leader), peers);
  const runtime::Response read = replicas[0]->call("get", true);  // Linearizable.
  const long value = read.outcome == runtime::Outcome::Ok ? std::stol(read.reply) : -1;
  // Every replica, the restarted one included, reaches that value by itself (catch-up is the
  // runtime's job): each one's own state is read until it agrees, for at most 5 s.
  int failures = value < acked || value > acked + unknown ? 1 : 0;
  for (size_t i = 0; i < replicas.size(); ++i) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    long mine = replicas[i]->local_value();
    while (mine != value && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(20ms);
      mine = replicas[i]->local_value();
    }
    std::printf("node %zu holds %ld\n", i + 1, mine);
    if (mine != value) ++failures;
  }
  std::printf("%d adds acknowledged, %d unknown, the counter reads %ld: %s\n", acked, unknown,
              value, failures == 0 ? "every replica agrees" : "REPLICAS DISAGREE");
  replicas.clear();
  std::filesystem::remove_all(dir);
  return failures == 0 && acked >= 50 ? 0 : 1;
}
