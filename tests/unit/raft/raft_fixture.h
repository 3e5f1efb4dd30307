#pragma once

#include <map>
#include <set>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "common/logger.h"
#include "common/prng.h"
#include "raft/memory_storage.h"
#include "raft/raft.h"

// Unit-test scaffolding: a few nodes whose Readies are persisted into MemoryStorage and whose
// messages the test delivers by hand (or all at once with deliver_all). No time, threads or
// randomness beyond a fixed seed.
namespace raftkv::raft::testing {

inline NodeId n(uint64_t id) { return NodeId{id}; }
inline Index i(uint64_t index) { return Index{index}; }
inline Term t(uint64_t term) { return Term{term}; }

struct TestNode {
  TestNode(const Config& config, uint64_t seed) : prng(seed), raft(config, storage, prng, logger) {}
  MemoryStorage storage;
  Prng prng;
  NullLogger logger;
  Raft raft;
  std::vector<Entry> applied;
  std::vector<ReadState> read_states;
};

class Cluster {
 public:
  explicit Cluster(size_t size, Config base = {}) {
    for (uint64_t id = 1; id <= size; ++id) base.voters.push_back(NodeId{id});
    for (uint64_t id = 1; id <= size; ++id) {
      Config config = base;
      config.id = NodeId{id};
      nodes_.emplace(NodeId{id}, std::make_unique<TestNode>(config, 1000 + id));
    }
  }

  Raft& raft(uint64_t id) { return nodes_.at(NodeId{id})->raft; }
  TestNode& node(uint64_t id) { return *nodes_.at(NodeId{id}); }

  // Persists, collects messages, applies and advances every node with a Ready.
  void process_readies() {
    for (auto& [id, node] : nodes_) {
      while (node->raft.has_ready()) {
        Ready ready = node->raft.ready();
        if (ready.snapshot) {
          ASSERT_TRUE(node->storage.apply_snapshot(*ready.snapshot).is_ok());
        }
        ASSERT_TRUE(node->storage.append(ready.entries).is_ok());
        if (ready.hard_state) node->storage.set_hard_state(*ready.hard_state);
        for (Message& message : ready.messages) outbox_.push_back(std::move(message));
        for (const Entry& entry : ready.committed_entries) node->applied.push_back(entry);
        for (const ReadState& read : ready.read_states) node->read_states.push_back(read);
        node->raft.advance(ready);
        node->raft.check_invariants();
      }
    }
  }

  // Takes every message sent so far (after processing Readies).
  std::vector<Message> take_messages() {
    process_readies();
    std::vector<Message> out = std::move(outbox_);
    outbox_.clear();
    return out;
  }

  // Delivers messages until none are left; drops those to or from isolated nodes. Returns how
  // many messages were delivered.
  size_t deliver_all(size_t rounds_max = 1000) {
    size_t delivered = 0;
    for (size_t round = 0; round < rounds_max; ++round) {
      std::vector<Message> batch = take_messages();
      if (batch.empty()) return delivered;
      for (const Message& message : batch) {
        if (isolated_.contains(message.to) || isolated_.contains(message.from)) continue;
        ++delivered;
        EXPECT_TRUE(raft(message.to.value()).step(message).is_ok());
      }
    }
    ADD_FAILURE() << "messages still flowing after " << rounds_max << " rounds";
    return delivered;
  }

  // Makes node `id` leader by letting it time out and delivering everything.
  void elect(uint64_t id) {
    Raft& candidate = raft(id);
    for (uint32_t tick = 0; tick < 100 && candidate.role() != Role::Leader; ++tick) {
      candidate.tick();
      deliver_all();
    }
    ASSERT_EQ(candidate.role(), Role::Leader);
    deliver_all();
  }

  // Ticks every reachable node until one leads; returns its id (0 if none within the bound).
  uint64_t tick_until_leader(uint32_t ticks_max = 200) {
    for (uint32_t tick = 0; tick < ticks_max; ++tick) {
      for (auto& [id, node] : nodes_) {
        if (!isolated_.contains(id)) node->raft.tick();
      }
      deliver_all();
      for (auto& [id, node] : nodes_) {
        if (!isolated_.contains(id) && node->raft.role() == Role::Leader) return id.value();
      }
    }
    return 0;
  }

  void isolate(uint64_t id) { isolated_.insert(NodeId{id}); }
  void heal() { isolated_.clear(); }

 private:
  std::map<NodeId, std::unique_ptr<TestNode>> nodes_;
  std::vector<Message> outbox_;
  std::set<NodeId> isolated_;
};

}  // namespace raftkv::raft::testing
