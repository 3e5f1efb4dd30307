#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "check/history.h"
#include "check/lincheck.h"
#include "common/prng.h"
#include "kv/command.h"
#include "sim/simulator.h"

// Clients of the real key-value store in the simulator, and the checks of what they saw.
//
// Each client has one request in flight at a time and talks to any up node (followers
// forward), or to the node it is pinned to. Requests contend on a few keys, in three groups
// whose values keep one meaning each, so that every reply can be checked:
//   registers  GET, SET, DEL, CAS, CASNX, MGET, and MULTI/EXEC of two keys (atomic);
//   counters   INCR, INCRBY, GET;
//   appends    APPEND of a token unique to the request, GET.
// Every request becomes an operation of a lincheck::History, with its invoke and return in
// simulated time: Ok with the reply, Fail when the runtime answered NotApplied (or the store
// refused it), Unknown when it answered MaybeApplied or the node died first. check() then
// runs the project's linearizability checker over the history, and checks that every node
// holds each acknowledged append exactly once, every not-applied one never, and every unknown
// one at most once.
namespace raftkv::sim {

struct KvWorldOptions {
  uint32_t clients = 5;
  uint32_t keys_per_group = 3;
  // Registers' values are padded to between half this and this many bytes (0: not padded),
  // the same for the same value name, so that a CAS can still expect another client's value.
  size_t value_bytes_max = 0;
  // Appends' tokens are padded the same way (0: not padded), so that each acknowledged large
  // append is checked to be in its key's final value exactly once.
  size_t append_bytes_max = 0;
};

class KvWorld {
 public:
  KvWorld(Simulator& sim, Prng& prng, KvWorldOptions options = {});

  // Clients act four times per tick, for `ticks`.
  void run(uint64_t ticks);
  // Runs until `done()` (checked every client step), at most `ticks_max`; false on timeout.
  bool run_until(const std::function<bool()>& done, uint64_t ticks_max);
  // Stops new requests and waits until every one in flight is answered (or lost).
  bool settle(uint64_t ticks_max);
  // Lets the clients start requests again after settle().
  void resume() { stopped_ = false; }

  // Client `client` talks only to `node` from now on (nullopt: to any up node it may use).
  void pin(size_t client, std::optional<NodeId> node);
  // Unpinned clients talk only to these nodes from now on (empty: to any node), e.g. the
  // members while the membership changes: a node outside it would only make them wait.
  void serve_through(std::vector<NodeId> nodes) { serving_ = std::move(nodes); }
  // Requests of `client` answered Ok so far.
  [[nodiscard]] uint64_t oks(size_t client) const { return clients_.at(client).oks; }
  [[nodiscard]] uint64_t oks_total() const;

  // Each client's request in flight, for failure messages: "client 2 -> node 3 since t=41.5:
  // incr n1".
  [[nodiscard]] std::string describe_in_flight() const;

  // After Simulator::converge(): the history is linearizable and appends are exactly once.
  // Records the run's figures as metrics. Only `nodes` (every node when empty) must hold the
  // final values: after membership changes, the members.
  void check(const std::vector<NodeId>& nodes = {});

 private:
  struct Client {
    bool in_flight = false;
    NodeId node;             // Where the request in flight went.
    size_t operation = 0;    // Its place in the history.
    std::optional<NodeId> pinned;
    uint64_t requests = 0;  // Numbers the tokens of its appends and its written values.
    uint64_t oks = 0;
  };
  struct Request {
    kv::Command command;
    lincheck::Command recorded;
  };

  void step(size_t c);
  [[nodiscard]] Request next_request(size_t c);
  [[nodiscard]] Request register_request(size_t c);
  // `name` ("c2-17") padded to between half `bytes_max` and `bytes_max` bytes, the same for
  // the same name (unpadded when bytes_max is 0).
  [[nodiscard]] static std::string padded(const std::string& name, size_t bytes_max);
  // The register value called `name`, padded as options_.value_bytes_max says.
  [[nodiscard]] std::string value_named(const std::string& name) const {
    return padded(name, options_.value_bytes_max);
  }
  [[nodiscard]] Request counter_request();
  [[nodiscard]] Request append_request(size_t c);
  [[nodiscard]] std::string key(const char* group);
  [[nodiscard]] std::optional<NodeId> target(const Client& client);
  void on_answer(size_t c, size_t operation, const runtime::Response& response);
  void on_lost(size_t c, size_t operation);
  void check_appends(const std::vector<NodeId>& nodes);

  Simulator& sim_;
  Prng& prng_;
  const KvWorldOptions options_;
  std::vector<Client> clients_;
  lincheck::History history_;
  bool stopped_ = false;
  std::vector<NodeId> serving_;  // Empty: every node.
};

}  // namespace raftkv::sim
