#pragma once

#include <cstdint>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <ostream>
#include <set>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "common/logger.h"
#include "common/prng.h"
#include "raft/memory_storage.h"
#include "raft/raft.h"

// Unit-test scaffolding: a few nodes whose Readies are persisted into MemoryStorage and whose
// messages the test delivers by hand (or all at once with deliver_all). No time, threads or
// randomness beyond a fixed seed.
namespace raftkv::raft {

// How gtest shows an entry in a failed comparison.
inline void PrintTo(const Entry& entry, std::ostream* out) {
  *out << "{term " << entry.term << ", index " << entry.index << ", type "
       << static_cast<int>(entry.type) << ", \"" << entry.data << "\"}";
}

}  // namespace raftkv::raft

namespace raftkv::raft::testing {

// Election timeouts observed (ticks -> how often) must cover the whole randomized range
// [election_ticks, 2 * election_ticks) and nothing else (Raft §5.2). Prints what was seen.
inline void expect_whole_timeout_range(const std::map<uint32_t, int>& seen,
                                       uint32_t election_ticks) {
  for (const auto& [ticks, count] : seen) std::cout << ticks << " ticks: " << count << "\n";
  for (uint32_t ticks = election_ticks; ticks < 2 * election_ticks; ++ticks) {
    EXPECT_TRUE(seen.contains(ticks)) << "no timeout after " << ticks << " ticks";
  }
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.begin()->first, election_ticks);
  EXPECT_EQ(seen.rbegin()->first, 2 * election_ticks - 1);
}

inline NodeId n(uint64_t id) { return NodeId{id}; }
inline Index i(uint64_t index) { return Index{index}; }
inline Term t(uint64_t term) { return Term{term}; }

// Entries at indexes first, first + 1, ... with the given terms: a log as Raft figures draw it.
inline std::vector<Entry> entries_with_terms(uint64_t first, const std::vector<uint64_t>& terms) {
  std::vector<Entry> entries;
  for (uint64_t term : terms) {
    entries.push_back(Entry{Term{term}, Index{first + entries.size()}, EntryType::Normal, {}});
  }
  return entries;
}

// The terms along a node's log from its first index: the figures' picture of it.
inline std::vector<uint64_t> log_terms(const Raft& raft) {
  std::vector<uint64_t> terms;
  for (Index index = raft.log().first_index(); index <= raft.log().last_index(); ++index) {
    terms.push_back(raft.log().term_or_zero(index).value());
  }
  return terms;
}

// What a node's storage holds when its core starts, as after a restart.
struct Stored {
  std::vector<Entry> log;
  HardState hard_state;
};

inline MemoryStorage make_storage(const Stored& stored) {
  MemoryStorage storage;
  EXPECT_TRUE(storage.append(stored.log).is_ok());
  storage.set_hard_state(stored.hard_state);
  return storage;
}

// The same stored state on nodes 1..size.
inline std::map<uint64_t, Stored> on_every_node(size_t size, const Stored& stored) {
  std::map<uint64_t, Stored> all;
  for (uint64_t id = 1; id <= size; ++id) all.emplace(id, stored);
  return all;
}

struct TestNode {
  TestNode(const Config& config, uint64_t seed, MemoryStorage stored = {})
      : storage(std::move(stored)), prng(seed), raft(config, storage, prng, logger) {}
  MemoryStorage storage;
  Prng prng;
  NullLogger logger;
  Raft raft;
  std::vector<Entry> applied;
  std::vector<ReadState> read_states;
  // Every Ready the core handed out, oldest first, without its messages (they went out).
  std::vector<Ready> readies;
};

class Cluster {
 public:
  // Nodes 1..size, all voters. A node listed in `stored` starts from that log and hard state;
  // the others start empty.
  explicit Cluster(size_t size, Config base = {}, const std::map<uint64_t, Stored>& stored = {}) {
    for (uint64_t id = 1; id <= size; ++id) base.voters.push_back(NodeId{id});
    for (uint64_t id = 1; id <= size; ++id) {
      Config config = base;
      config.id = NodeId{id};
      configs_.emplace(NodeId{id}, config);
      auto it = stored.find(id);
      nodes_.emplace(NodeId{id}, std::make_unique<TestNode>(config, 1000 + id,
                                                            it == stored.end()
                                                                ? MemoryStorage{}
                                                                : make_storage(it->second)));
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
        ready.messages.clear();
        for (const Entry& entry : ready.committed_entries) node->applied.push_back(entry);
        for (const ReadState& read : ready.read_states) node->read_states.push_back(read);
        node->raft.advance(ready);
        node->raft.check_invariants();
        node->readies.push_back(std::move(ready));
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
    return deliver_all_if([](const Message&) { return true; }, rounds_max);
  }

  // As deliver_all, but also drops every message for which `keep` is false (a lossy network
  // that the test steers).
  size_t deliver_all_if(const std::function<bool(const Message&)>& keep,
                        size_t rounds_max = 1000) {
    size_t delivered = 0;
    for (size_t round = 0; round < rounds_max; ++round) {
      const size_t in_round = deliver_round(keep);
      if (in_round == kNoMessages) return delivered;
      delivered += in_round;
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

  // Ticks node `id` alone until it sends something (its election timer fired) and returns how
  // many ticks that took, or 0 if it sent nothing within `ticks_max`. What it sent goes to
  // *sent when given; everything else in flight is dropped.
  uint32_t ticks_until_sends(uint64_t id, std::vector<Message>* sent = nullptr,
                             uint32_t ticks_max = 100) {
    take_messages();
    for (uint32_t tick = 1; tick <= ticks_max; ++tick) {
      raft(id).tick();
      std::vector<Message> out = take_messages();
      if (out.empty()) continue;
      if (sent != nullptr) *sent = std::move(out);
      return tick;
    }
    return 0;
  }

  // Grants a pre-candidate's pre-vote from its peers, one at a time, until it is a candidate:
  // a node that becomes a candidate this way has a freshly drawn election timer. Times out
  // first if the node is not campaigning yet. What it sends is dropped.
  void make_candidate(uint64_t id) {
    Raft& candidate = raft(id);
    if (candidate.role() != Role::PreCandidate) {
      ASSERT_NE(ticks_until_sends(id), 0u);
    }
    ASSERT_EQ(candidate.role(), Role::PreCandidate);
    for (const auto& [peer, node] : nodes_) {
      if (peer == NodeId{id} || candidate.role() != Role::PreCandidate) continue;
      ASSERT_TRUE(candidate.step(Message{.type = MessageType::PreVoteResponse, .from = peer,
                                         .to = NodeId{id}, .term = candidate.term() + 1})
                      .is_ok());
    }
    ASSERT_EQ(candidate.role(), Role::Candidate);
    take_messages();
  }

  // Ticks node `id` alone until it wins an election, delivering every message among reachable
  // nodes, and stops as soon as it leads: what it sent on winning (the Appends carrying its
  // no-op) is still undelivered, for the test to deliver or drop.
  void win_election(uint64_t id) {
    Raft& candidate = raft(id);
    for (uint32_t tick = 0; tick < 200 && candidate.role() != Role::Leader; ++tick) {
      candidate.tick();
      while (candidate.role() != Role::Leader &&
             deliver_round([](const Message&) { return true; }) != kNoMessages) {
      }
    }
    ASSERT_EQ(candidate.role(), Role::Leader);
  }

  // The node stops: it first syncs what it had (its last Ready), then everything sent to or by
  // it is lost, and its peers see their connections to it close (report_peer_down).
  void crash(uint64_t id) {
    process_readies();
    isolate(id);
    for (auto& [peer, node] : nodes_) {
      if (peer != NodeId{id}) node->raft.report_peer_down(NodeId{id});
    }
  }

  // A new core for node `id` over what it persisted, reachable again. Its state machine starts
  // empty and is rebuilt from the committed log; messages to or from the old incarnation that
  // were still in flight are lost.
  void restart(uint64_t id) {
    std::erase_if(outbox_, [&](const Message& message) {
      return message.to == NodeId{id} || message.from == NodeId{id};
    });
    TestNode& old = node(id);
    nodes_[NodeId{id}] = std::make_unique<TestNode>(configs_.at(NodeId{id}), 2000 + id,
                                                    old.storage);
    reconnect(id);
  }

  void isolate(uint64_t id) { isolated_.insert(NodeId{id}); }
  void reconnect(uint64_t id) { isolated_.erase(NodeId{id}); }
  void heal() { isolated_.clear(); }

 private:
  static constexpr size_t kNoMessages = SIZE_MAX;

  // Delivers every message sent so far that `keep` accepts and that neither comes from nor goes
  // to an isolated node. Returns how many it delivered, or kNoMessages when none was pending.
  size_t deliver_round(const std::function<bool(const Message&)>& keep) {
    std::vector<Message> batch = take_messages();
    if (batch.empty()) return kNoMessages;
    size_t delivered = 0;
    for (const Message& message : batch) {
      if (isolated_.contains(message.to) || isolated_.contains(message.from)) continue;
      if (!keep(message)) continue;
      ++delivered;
      EXPECT_TRUE(raft(message.to.value()).step(message).is_ok());
    }
    return delivered;
  }

  std::map<NodeId, Config> configs_;
  std::map<NodeId, std::unique_ptr<TestNode>> nodes_;
  std::vector<Message> outbox_;
  std::set<NodeId> isolated_;
};

}  // namespace raftkv::raft::testing
