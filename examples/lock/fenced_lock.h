#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "client/client.h"
#include "common/status.h"

// A lock service on raftkv with fencing tokens (examples/lock/README.md says why it is safe
// where a lock on a single Redis, or Redlock, is not).
//
// A lock is a lease, `SET lock:<name> held NX PX <ttl>`, taken in one transaction with its
// token, `INCR lock:<name>:fence`: one log entry, so tokens grow in the order leases are
// granted, and a lease granted after another one expired always carries a larger token. A lease
// can still outlive its holder's belief (a paused process wakes after its TTL, a partitioned
// one never hears), so the lease alone protects nothing. What protects the resource is the
// fence: every write names its token, and the resource refuses a token smaller than the
// largest it has seen (FencedStore). The lock gives liveness; the fence gives safety.
//
// Not thread-safe: one per thread, like the Client it uses.
namespace raftkv::lock {

struct Lease {
  std::string name;
  uint64_t token = 0;
  std::chrono::milliseconds ttl{0};
};

class FencedLock {
 public:
  // `client` must outlive this. Its semantics matter little here: a retried transaction only
  // skips a token, and at worst leaves a lease nobody uses until it expires.
  explicit FencedLock(client::Client& client) : client_(client) {}

  // Tries once: the lease, or nullopt when another holder has it. Unavailable when
  // the cluster could not be asked.
  [[nodiscard]] Result<std::optional<Lease>> try_acquire(const std::string& name,
                                                         std::chrono::milliseconds ttl);

 private:
  client::Client& client_;
};

// A resource that honours fencing tokens, kept in raftkv too: `fence:<name>` holds the
// largest token that wrote, `data:<name>` the data. A write checks and moves the fence and
// writes the data in one transaction, WATCHing the fence so that it applies only if nobody
// else wrote in between (else it starts over).
class FencedStore {
 public:
  enum class Written { Ok, Refused };

  // `endpoints`: the cluster's nodes; a write talks to the leader (or any node) on one
  // connection of its own, as WATCH needs.
  explicit FencedStore(std::vector<client::Endpoint> endpoints)
      : endpoints_(std::move(endpoints)) {}

  // Ok: written with `token`. Refused: a larger token already wrote (*fence is it). An error
  // when no node could be reached, or the outcome is unknown (the EXEC's reply was lost).
  [[nodiscard]] Result<Written> write(const std::string& name, uint64_t token,
                                      const std::string& data, uint64_t* fence);

 private:
  std::vector<client::Endpoint> endpoints_;
};

}  // namespace raftkv::lock
