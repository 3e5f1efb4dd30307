#include "sim/checkers.h"

#include <algorithm>
#include <charconv>
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
  // The first node to know an index committed is the leader that committed it, in its term.
  for (Index i = Index{commit_term_.size()}; i <= raft.log().committed(); ++i) {
    commit_term_.push_back(raft.term());
  }
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
  // Raft §5.4: what was committed in an earlier term. A leader of a term the cluster has
  // already moved past (its votes arrived late) need not hold what later terms committed.
  Index known{0};
  while (known.value() + 1 < commit_term_.size() && commit_term_[known.value() + 1] < raft.term()) {
    ++known;
  }
  known = std::min(known, oracle_last_index());
  if (log.last_index() < known) {
    std::ostringstream out;
    out << "Leader Completeness violated: node " << node << " became leader of term "
        << raft.term() << " with last index " << log.last_index() << " but index " << known
        << " was committed in an earlier term";
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
  if (normal) normals_.push_back(entry.data.str());
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
    if (!suffix.is_ok()) {
      // Only a read the simulated disk damaged (DiskFaults::read_flip_per_mille): the node
      // stops at its own next read of it. Its unapplied entries are compared once readable.
      RAFT_ASSERT(suffix.status().code() == ErrorCode::Corruption);
      view.last = applied;
      return view;
    }
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

void ClientHistory::on_apply(const raft::Entry& entry, size_t position) {
  if (entry.type != raft::EntryType::Normal) return;
  position_.emplace(entry.data.str(), position);
  if (failed_.contains(entry.data.str())) {
    fail("write '" + entry.data.str() + "' was answered not applied, and is applied at index " +
         std::to_string(entry.index.value()));
  }
}

void ClientHistory::on_write_submitted(const std::string& payload) {
  RAFT_ASSERT(!payload.empty());
  const bool fresh = pending_writes_.insert(payload).second;
  RAFT_ASSERT(fresh);  // Payloads are unique per proposal.
}

void ClientHistory::on_write_done(const std::string& payload, const runtime::Response& response) {
  if (pending_writes_.erase(payload) == 0) {
    return fail("write '" + payload + "' answered twice, or never submitted");
  }
  if (response.outcome == runtime::Outcome::NotApplied) {
    if (position_.contains(payload)) {
      return fail("write '" + payload + "' is applied but was answered not applied: " +
                  response.reply);
    }
    failed_.insert(payload);
    return;
  }
  if (response.outcome != runtime::Outcome::Ok) return;  // MaybeApplied: unknown.
  auto it = position_.find(payload);
  if (it == position_.end()) {
    return fail("write '" + payload + "' was acknowledged but never applied anywhere");
  }
  acked_.push_back(payload);
  acked_set_.insert(payload);
  acked_prefix_ = std::max<uint64_t>(acked_prefix_, it->second + 1);
}

void ClientHistory::on_write_lost(const std::string& payload) { pending_writes_.erase(payload); }

uint64_t ClientHistory::on_read_submitted(NodeId node) {
  const uint64_t read = ++last_read_;
  reads_.emplace(read, PendingRead{node, acked_prefix_});
  return read;
}

void ClientHistory::on_read_done(uint64_t read, const runtime::Response& response) {
  auto it = reads_.find(read);
  if (it == reads_.end()) return fail(text("read ", read, " answered twice"));
  const PendingRead pending = it->second;
  reads_.erase(it);
  if (response.outcome != runtime::Outcome::Ok) return;  // Refused: it observed nothing.
  uint64_t seen = 0;
  const auto [end, error] = std::from_chars(response.reply.data(),
                                            response.reply.data() + response.reply.size(), seen);
  if (error != std::errc() || end != response.reply.data() + response.reply.size()) {
    return fail("read " + std::to_string(read) + " returned '" + response.reply + "'");
  }
  ++reads_served_[pending.node];
  ++reads_served_total_;
  if (seen < pending.required) {
    fail(text("linearizable read violated: read ", read, " on node ", pending.node, " saw ",
              seen, " payloads, but ", pending.required,
              " were acknowledged (in order) before it was submitted"));
  }
}

void ClientHistory::on_read_lost(uint64_t read) { reads_.erase(read); }

uint64_t ClientHistory::reads_served(NodeId node) const {
  auto it = reads_served_.find(node);
  return it == reads_served_.end() ? 0 : it->second;
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
  std::unordered_set<std::string> seen;
  for (const std::string& payload : reference->payloads()) {
    if (!seen.insert(payload).second) return fail("payload '" + payload + "' was applied twice");
    if (failed_.contains(payload)) {
      return fail("write '" + payload + "' was answered not applied, and is applied");
    }
  }
  for (const std::string& payload : acked_) {
    if (!seen.contains(payload)) return fail("acknowledged write '" + payload + "' is lost");
  }
}

}  // namespace raftkv::sim
