// lock: the fenced lock of fenced_lock.h from the command line (examples/lock/README.md).
//   lock hold -e HOST:PORT,... --name N --ttl-ms T --data D [--go-file F]
//       acquires N (retrying while another holds it), prints "acquired N token=T", waits for
//       F to exist (a stand-in for whatever keeps a real holder busy: a GC pause, a slow disk),
//       then writes D to the fenced resource N with its token. Exit 0 written, 3 refused by the
//       fence (a later holder wrote), 1 on an error.
//   lock demo -e HOST:PORT,...
//       the whole story in one process: A's lease expires while A sleeps, B takes the lock
//       and writes, A wakes and writes with its old token: refused.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "fenced_lock.h"

namespace raftkv::lock {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kAcquireTimeout{10'000};
constexpr milliseconds kGoTimeout{60'000};

struct Options {
  std::string endpoints = "127.0.0.1:6381,127.0.0.1:6382,127.0.0.1:6383";
  std::string name = "report";
  uint32_t ttl_ms = 1000;
  std::string data = "hello";
  std::string go_file;
};

client::ClientOptions client_options(const std::vector<client::Endpoint>& endpoints) {
  client::ClientOptions options;
  options.endpoints = endpoints;
  options.semantics = client::Semantics::AtLeastOnce;
  return options;
}

// Acquires `name`, retrying while another holder has it, up to kAcquireTimeout.
Result<Lease> acquire(FencedLock& lock, const std::string& name, milliseconds ttl) {
  const auto deadline = std::chrono::steady_clock::now() + kAcquireTimeout;
  while (std::chrono::steady_clock::now() < deadline) {
    Result<std::optional<Lease>> lease = lock.try_acquire(name, ttl);
    if (!lease.is_ok()) return lease.status();
    if (lease.value()) return *lease.value();
    std::this_thread::sleep_for(milliseconds(50));
  }
  return Status(ErrorCode::Unavailable, "the lock stayed held for " +
                                            std::to_string(kAcquireTimeout.count()) + " ms");
}

// Writes with the lease's token; the exit status of `lock hold`.
int write_with(FencedStore& store, const Lease& lease, const std::string& who,
               const std::string& data) {
  uint64_t fence = 0;
  Result<FencedStore::Written> written = store.write(lease.name, lease.token, data, &fence);
  if (!written.is_ok()) {
    std::printf("%s: write failed: %s\n", who.c_str(), written.status().to_string().c_str());
    return 1;
  }
  if (written.value() == FencedStore::Written::Refused) {
    std::printf("%s: write refused: token=%llu < fence=%llu (a later holder wrote)\n",
                who.c_str(), static_cast<unsigned long long>(lease.token),
                static_cast<unsigned long long>(fence));
    return 3;
  }
  std::printf("%s: written with token=%llu\n", who.c_str(),
              static_cast<unsigned long long>(lease.token));
  return 0;
}

int hold(const Options& options, const std::vector<client::Endpoint>& endpoints) {
  client::Client client(client_options(endpoints));
  FencedLock lock(client);
  Result<Lease> lease = acquire(lock, options.name, milliseconds(options.ttl_ms));
  if (!lease.is_ok()) {
    std::printf("acquire failed: %s\n", lease.status().to_string().c_str());
    return 1;
  }
  std::printf("acquired %s token=%llu ttl=%u ms\n", options.name.c_str(),
              static_cast<unsigned long long>(lease.value().token), options.ttl_ms);
  std::fflush(stdout);
  const auto give_up = std::chrono::steady_clock::now() + kGoTimeout;
  while (!options.go_file.empty() && !std::filesystem::exists(options.go_file)) {
    if (std::chrono::steady_clock::now() > give_up) return 1;
    std::this_thread::sleep_for(milliseconds(10));
  }
  FencedStore store(endpoints);
  return write_with(store, lease.value(), "holder", options.data);
}

int demo(const std::vector<client::Endpoint>& endpoints) {
  client::Client client_a(client_options(endpoints));
  client::Client client_b(client_options(endpoints));
  FencedLock lock_a(client_a);
  FencedLock lock_b(client_b);
  FencedStore store(endpoints);
  const milliseconds ttl(500);
  Result<Lease> a = acquire(lock_a, "demo", ttl);
  if (!a.is_ok()) return 1;
  std::printf("A: acquired token=%llu for %lld ms, then stalls (a GC pause) for %lld ms\n",
              static_cast<unsigned long long>(a.value().token),
              static_cast<long long>(ttl.count()), static_cast<long long>(2 * ttl.count()));
  std::this_thread::sleep_for(2 * ttl);
  Result<Lease> b = acquire(lock_b, "demo", ttl);
  if (!b.is_ok()) return 1;
  std::printf("B: acquired token=%llu (A's lease expired)\n",
              static_cast<unsigned long long>(b.value().token));
  if (write_with(store, b.value(), "B", "written by B") != 0) return 1;
  std::printf("A: wakes up, still believes it holds the lock, writes\n");
  return write_with(store, a.value(), "A", "written by A") == 3 ? 0 : 1;
}

}  // namespace
}  // namespace raftkv::lock

int main(int argc, char** argv) {
  using raftkv::lock::Options;
  Options options;
  CLI::App app{"A fenced lock on raftkv"};
  app.require_subcommand(1);
  app.add_option("-e,--endpoints", options.endpoints, "The cluster's nodes")->capture_default_str();
  CLI::App* hold = app.add_subcommand("hold", "Acquire, wait for --go-file, write fenced");
  hold->add_option("--name", options.name)->capture_default_str();
  hold->add_option("--ttl-ms", options.ttl_ms)->capture_default_str()->check(CLI::Range(1, 600000));
  hold->add_option("--data", options.data)->capture_default_str();
  hold->add_option("--go-file", options.go_file, "Write once this file exists");
  app.add_subcommand("demo", "A's lease expires in a pause; B writes; A's write is refused");
  CLI11_PARSE(app, argc, argv);
  raftkv::Result<std::vector<raftkv::client::Endpoint>> endpoints =
      raftkv::client::parse_endpoints(options.endpoints);
  if (!endpoints.is_ok()) {
    std::fprintf(stderr, "%s\n", endpoints.status().to_string().c_str());
    return 2;
  }
  if (hold->parsed()) return raftkv::lock::hold(options, endpoints.value());
  return raftkv::lock::demo(endpoints.value());
}
