#include "sim/checkers.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <sstream>

#include "common/assert.h"

namespace raftkv::sim {

std::string format_time(uint64_t now_us) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "t=%llu.%llu",
                static_cast<unsigned long long>(now_us / kTickUs),
                static_cast<unsigned long long>((now_us % kTickUs) * 10 / kTickUs));
  return buffer;
}

namespace {

// Formats a failure message; used only on the failure path (streams are slow to build).
template <typename... Args>
std::string text(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}

std::string describe(const raft::Entry& entry) {
  std::ostringstream out;
  out << "(index " << entry.index << ", term " << entry.term << ", type "
      << static_cast<int>(entry.type) << ", data '" << entry.data << "')";
  return out.str();
}

}  // namespace

// --- SafetyChecker ---

void SafetyChecker::fail(const std::string& what) {
  run_.fail(format_time(now_us_) + ": " + what);
}

void SafetyChecker::after_input(NodeId node, const raft::Raft& raft, Index applied) {
  RAFT_ASSERT(raft.id() == node);
  if (raft.role() != raft::Role::Leader) {
    leader_tracks_.erase(node);
    return;
  }
  const Term term = raft.term();
  auto [it, inserted] = leaders_by_term_.emplace(term, node);
  if (!inserted && it->second != node) {
    std::ostringstream out;
    out << "Election Safety violated: term " << term << " has two leaders, node " << it->second
        << " and node " << node;
    return fail(out.str());
  }
  auto track = leader_tracks_.find(node);
  if (track == leader_tracks_.end() || track->second.term != term) {
    // Just became leader of `term`.
    check_leader_completeness(node, raft, applied);
    leader_tracks_[node] = LeaderTrack{term, raft.log().last_index(), raft.log().last_term()};
    return;
  }
  check_append_only(node, raft, track->second);
}

void SafetyChecker::check_leader_completeness(NodeId node, const raft::Raft& raft,
                                              Index applied) {
  const raft::RaftLog& log = raft.log();
  const Index known = oracle_last_index();
  if (log.last_index() < known) {
    std::ostringstream out;
    out << "Leader Completeness violated: node " << node << " became leader of term "
        << raft.term() << " with last index " << log.last_index() << " but index " << known
        << " is committed";
    return fail(out.str());
  }
  // Entries up to `applied` were checked when applied (or restored from a checked snapshot);
  // entries below first_index() - 1 were compacted into such a snapshot.
  const Index from = std::max({log.first_index() - 1, applied + 1, Index{1}});
  for (Index i = from; i <= known; ++i) {
    const OracleEntry& committed = oracle_[i.value()];
    if (!committed.present) continue;
    if (log.term_or_zero(i) != committed.entry.term) {
      std::ostringstream out;
      out << "Leader Completeness violated: node " << node << " became leader of term "
          << raft.term() << " holding term " << log.term_or_zero(i) << " at index " << i
          << " where committed entry " << describe(committed.entry) << " was applied";
      return fail(out.str());
    }
  }
}

void SafetyChecker::check_append_only(NodeId node, const raft::Raft& raft, LeaderTrack& track) {
  const raft::RaftLog& log = raft.log();
  if (log.last_index() < track.last_index) {
    return fail(text("Leader Append-Only violated: leader ", node, " of term ", track.term,
                     " shrank its log from last index ", track.last_index, " to ",
                     log.last_index()));
  }
  // The entry that was last must still be there (unless compacted into a snapshot).
  if (track.last_index + 1 >= log.first_index() &&
      log.term_or_zero(track.last_index) != track.last_term) {
    return fail(text("Leader Append-Only violated: leader ", node, " of term ", track.term,
                     " replaced its entry at index ", track.last_index, " (term ",
                     track.last_term, " -> ", log.term_or_zero(track.last_index), ")"));
  }
  track.last_index = log.last_index();
  track.last_term = log.last_term();
}

void SafetyChecker::before_persist(NodeId node, const raft::Ready& ready,
                                   Index stored_last_index, bool steady_leader, Term term) {
  if (!steady_leader || ready.entries.empty()) return;
  const raft::Entry& first = ready.entries.front();
  if (first.index != stored_last_index + 1) {
    return fail(text("Leader Append-Only violated: leader ", node, " of term ", term,
                     " asked to persist entries from index ", first.index,
                     ", overwriting its durable log that ends at ", stored_last_index));
  }
  for (const raft::Entry& entry : ready.entries) {
    if (entry.term != term) {
      return fail(text("leader ", node, " of term ", term,
                       " appended an entry of another term ", describe(entry)));
    }
  }
}

void SafetyChecker::on_apply(NodeId node, const raft::Entry& entry) {
  const uint64_t index = entry.index.value();
  RAFT_ASSERT(index >= 1);
  if (index > oracle_.size()) {
    std::ostringstream out;
    out << "node " << node << " applied " << describe(entry) << " but index " << oracle_.size()
        << " was never applied anywhere (gap)";
    return fail(out.str());
  }
  if (index < oracle_.size()) {
    const OracleEntry& first = oracle_[index];
    if (first.present && !(first.entry == entry)) {
      std::ostringstream out;
      out << "State Machine Safety violated: node " << node << " applied " << describe(entry)
          << " where another node applied " << describe(first.entry);
      fail(out.str());
    }
    return;
  }
  oracle_.push_back(OracleEntry{true, entry});
  const bool normal = entry.type == raft::EntryType::Normal;
  if (normal) normals_.push_back(entry.data);
  normal_count_.push_back(normal_count_.back() + (normal ? 1 : 0));
  RAFT_ASSERT(normal_count_.size() == oracle_.size());
}

void SafetyChecker::on_restore(NodeId node, const raft::SnapshotMeta& meta,
                               const std::vector<std::string>& payloads) {
  const uint64_t index = meta.index.value();
  std::ostringstream out;
  if (index >= oracle_.size()) {
    out << "node " << node << " restored a snapshot at index " << index
        << " beyond anything ever applied (" << oracle_.size() - 1 << ")";
    return fail(out.str());
  }
  if (oracle_[index].entry.term != meta.term) {
    out << "State Machine Safety violated: node " << node << " restored a snapshot at index "
        << index << " of term " << meta.term << " where " << describe(oracle_[index].entry)
        << " was applied";
    return fail(out.str());
  }
  const uint64_t expected = normal_count_[index];
  bool same = payloads.size() == expected;
  for (size_t i = 0; same && i < payloads.size(); ++i) same = payloads[i] == normals_[i];
  if (!same) {
    out << "State Machine Safety violated: node " << node << " restored a snapshot at index "
        << index << " with " << payloads.size() << " payloads that differ from the "
        << expected << " the cluster applied";
    fail(out.str());
  }
}

void SafetyChecker::check_logs(const std::vector<LiveNode>& nodes) {
  std::vector<LogView> views;
  views.reserve(nodes.size());
  for (const LiveNode& node : nodes) {
    views.push_back(view_of(node));
    check_against_oracle(views.back(), node.raft->log().committed());
    if (run_.failed()) return;
  }
  for (size_t a = 0; a < views.size(); ++a) {
    for (size_t b = a + 1; b < views.size(); ++b) {
      check_pair(views[a], views[b]);
      if (run_.failed()) return;
    }
  }
}

SafetyChecker::LogView SafetyChecker::view_of(const LiveNode& node) const {
  const raft::RaftLog& log = node.raft->log();
  // Below first_index() lies a snapshot, checked against the oracle when it was restored.
  const Index applied = std::max(node.applied, log.first_index() - 1);
  RAFT_ASSERT(applied.value() < oracle_.size());  // Applied entries are in the oracle.
  LogView view{node.id, applied, log.last_index(), {}};
  if (view.last > applied) {
    Result<std::vector<raft::Entry>> suffix =
        log.entries_from(applied + 1, std::numeric_limits<uint64_t>::max());
    RAFT_ASSERT(suffix.is_ok());  // [first_index, last_index] is always readable.
    view.suffix = std::move(suffix).value();
  }
  RAFT_ASSERT(view.suffix.size() == view.last - std::min(view.last, applied));
  return view;
}

const raft::Entry& SafetyChecker::entry_at(const LogView& view, Index index) const {
  RAFT_ASSERT(index >= Index{1});
  RAFT_ASSERT(index <= view.last);
  if (index <= view.applied) return oracle_[index.value()].entry;
  return view.suffix[index - (view.applied + 1)];
}

void SafetyChecker::check_against_oracle(const LogView& view, Index commit) {
  for (const raft::Entry& entry : view.suffix) {
    if (entry.index > commit || entry.index.value() >= oracle_.size()) break;
    const OracleEntry& applied = oracle_[entry.index.value()];
    if (!(applied.entry == entry)) {
      std::ostringstream out;
      out << "State Machine Safety violated: node " << view.id << " holds committed "
          << describe(entry) << " where " << describe(applied.entry) << " was applied";
      return fail(out.str());
    }
  }
}

// Raft §5.3 Log Matching: if two logs hold an entry with the same index and term, the logs
// are identical in all entries up through that index. Below both applied indexes the two
// views are the oracle itself, so the comparison starts above the lower one.
void SafetyChecker::check_pair(const LogView& a, const LogView& b) {
  const Index lo = std::min(a.applied, b.applied) + 1;
  const Index hi = std::min(a.last, b.last);
  if (hi < lo) return;
  Index match{0};
  for (Index i = hi; i >= lo && match == Index{0}; i = i - 1) {
    if (entry_at(a, i).term == entry_at(b, i).term) match = i;
  }
  for (Index i = lo; i <= match; ++i) {
    if (entry_at(a, i) == entry_at(b, i)) continue;
    std::ostringstream out;
    out << "Log Matching violated: nodes " << a.id << " and " << b.id
        << " agree on the term at index " << match << " but differ at index " << i << ": "
        << describe(entry_at(a, i)) << " vs " << describe(entry_at(b, i));
    return fail(out.str());
  }
}

// --- ClientHistory ---

void ClientHistory::fail(const std::string& what) {
  run_.fail(format_time(now_us_) + ": " + what);
}

std::string ClientHistory::new_payload() {
  ++last_payload_;
  return "cmd-" + std::to_string(last_payload_);
}

void ClientHistory::on_proposed(NodeId node, const raft::Proposal& proposal,
                                const std::string& payload) {
  auto& pending = pending_[node];
  RAFT_ASSERT(!payload.empty());
  // A leader appends at increasing indexes; a leftover proposal at this index was replaced.
  pending[proposal.index] = Pending{proposal.term, payload};
}

void ClientHistory::on_apply(NodeId node, const raft::Entry& entry) {
  auto node_pending = pending_.find(node);
  if (node_pending == pending_.end()) return;
  auto& pending = node_pending->second;
  // Anything below this index that is still pending was skipped: its outcome is unknown.
  pending.erase(pending.begin(), pending.lower_bound(entry.index));
  auto it = pending.find(entry.index);
  if (it == pending.end()) return;
  const Pending proposal = std::move(it->second);
  pending.erase(it);
  if (entry.term != proposal.term) return;  // Replaced by another leader: failed, not lost.
  if (entry.data != proposal.payload || entry.type != raft::EntryType::Normal) {
    std::ostringstream out;
    out << "node " << node << " applied '" << entry.data << "' at index " << entry.index
        << " term " << entry.term << " where it had accepted proposal '" << proposal.payload
        << "' with the same index and term";
    return fail(out.str());
  }
  acked_.push_back(Acked{proposal.payload, entry.term, entry.index});
  acked_payloads_.emplace(proposal.payload, entry.index);
  if (entry.index > acked_index_max_) {
    acked_index_max_ = entry.index;
    acked_latest_ = proposal.payload;
  }
}

void ClientHistory::on_restore(NodeId node, Index snapshot_index) {
  auto node_pending = pending_.find(node);
  if (node_pending == pending_.end()) return;
  auto& pending = node_pending->second;
  pending.erase(pending.begin(), pending.upper_bound(snapshot_index));
}

void ClientHistory::on_crash(NodeId node) {
  pending_.erase(node);
  std::erase_if(issued_reads_, [&](const auto& item) { return item.second.node == node; });
  std::erase_if(released_reads_, [&](const auto& item) { return item.second.node == node; });
}

void ClientHistory::on_read_issued(NodeId node, uint64_t request_id) {
  const bool inserted =
      issued_reads_.emplace(request_id, IssuedRead{node, acked_index_max_, acked_latest_})
          .second;
  RAFT_ASSERT(inserted);
}

void ClientHistory::on_read_released(NodeId node, const raft::ReadState& read_state) {
  auto it = issued_reads_.find(read_state.request_id);
  if (it == issued_reads_.end() || it->second.node != node) {
    return fail(text("node ", node, " released read ", read_state.request_id,
                     " that it was never asked for (or released twice)"));
  }
  const Index required = it->second.acked_index_max;
  released_reads_.emplace(read_state.request_id, std::move(it->second));
  issued_reads_.erase(it);
  ++reads_released_[node];
  ++reads_released_total_;
  if (read_state.index < required) {
    fail(text("linearizable read violated: node ", node, " released read ",
              read_state.request_id, " at index ", read_state.index, " but a write at index ",
              required, " was acknowledged before it was issued"));
  }
}

void ClientHistory::on_read_served(NodeId node, uint64_t request_id,
                                   const SimStateMachine& state) {
  auto it = released_reads_.find(request_id);
  if (it == released_reads_.end()) return;  // Its release was already reported as a failure.
  RAFT_ASSERT(it->second.node == node);
  const IssuedRead read = std::move(it->second);
  released_reads_.erase(it);
  if (state.applied() < read.acked_index_max ||
      (!read.acked_latest.empty() && !state.contains(read.acked_latest))) {
    std::ostringstream out;
    out << "linearizable read violated: read " << request_id << " served by node " << node
        << " at applied index " << state.applied() << " misses write '" << read.acked_latest
        << "' (index " << read.acked_index_max << ") acknowledged before it was issued";
    fail(out.str());
  }
}

uint64_t ClientHistory::reads_released(NodeId node) const {
  auto it = reads_released_.find(node);
  return it == reads_released_.end() ? 0 : it->second;
}

void ClientHistory::check_same_payloads(NodeId node, const SimStateMachine& state,
                                        NodeId reference_node,
                                        const SimStateMachine& reference) {
  if (state.payloads() == reference.payloads() && state.applied() == reference.applied()) return;
  std::ostringstream out;
  out << "final state differs: node " << node << " applied " << state.payloads().size()
      << " payloads up to index " << state.applied() << ", node " << reference_node
      << " applied " << reference.payloads().size() << " up to index " << reference.applied();
  const size_t common = std::min(state.payloads().size(), reference.payloads().size());
  for (size_t i = 0; i < common; ++i) {
    if (state.payloads()[i] == reference.payloads()[i]) continue;
    out << "; first difference at position " << i << ": '" << state.payloads()[i] << "' vs '"
        << reference.payloads()[i] << "'";
    break;
  }
  fail(out.str());
}

void ClientHistory::check_final(
    const std::vector<std::pair<NodeId, const SimStateMachine*>>& nodes) {
  RAFT_ASSERT(!nodes.empty());
  const auto& [reference_node, reference] = nodes.front();
  for (const auto& [node, state] : nodes) {
    check_same_payloads(node, *state, reference_node, *reference);
    if (run_.failed()) return;
  }
  const std::vector<std::string>& payloads = reference->payloads();
  std::unordered_map<std::string, size_t> position;
  for (size_t i = 0; i < payloads.size(); ++i) {
    if (!position.emplace(payloads[i], i).second) {
      return fail("payload '" + payloads[i] + "' was applied twice");
    }
  }
  std::vector<Acked> by_index = acked_;
  std::sort(by_index.begin(), by_index.end(),
            [](const Acked& x, const Acked& y) { return x.index < y.index; });
  size_t previous = 0;
  for (size_t i = 0; i < by_index.size(); ++i) {
    auto it = position.find(by_index[i].payload);
    if (it == position.end()) {
      return fail("acknowledged proposal '" + by_index[i].payload + "' (index " +
                  std::to_string(by_index[i].index.value()) + ") is lost");
    }
    if (i > 0 && it->second <= previous) {
      return fail("acknowledged proposal '" + by_index[i].payload + "' applied out of order");
    }
    previous = it->second;
  }
}

}  // namespace raftkv::sim
