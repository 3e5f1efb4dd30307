#include "kv/state_machine.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

#include "kv/redis_int.h"

namespace raftkv::kv {

namespace {

// Redis' exact error texts, so that clients and their tests see what Redis would answer.
constexpr const char* kNotInteger = "ERR value is not an integer or out of range";
constexpr const char* kOverflow = "ERR increment or decrement would overflow";
constexpr const char* kDecrementOverflow = "ERR decrement would overflow";
constexpr const char* kTooBig = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
constexpr const char* kSequenceTooOld = "ERR sequence number too old";

bool add_overflows(int64_t value, int64_t delta) {
  if (delta < 0) return value < 0 && delta < std::numeric_limits<int64_t>::min() - value;
  return value > 0 && delta > std::numeric_limits<int64_t>::max() - value;
}

}  // namespace

KvStateMachine::KvStateMachine(KvConfig config) : config_(config) {
  RAFT_ASSERT(config_.sessions_max > 0);
  RAFT_ASSERT(config_.value_bytes_max > 0);
}

Reply KvStateMachine::apply(Index index, std::string_view entry) {
  RAFT_ASSERT(index > applied_index_);
  // Client ids are log indexes and travel as RESP integers (int64).
  RAFT_ASSERT(index.value() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()));
  applied_index_ = index;
  Result<Command> command = decode_command(entry);
  if (!command.is_ok()) {
    // Every replica decodes the same bytes the same way, so this reply is deterministic too.
    return Reply::error("ERR malformed command entry: " + command.status().message());
  }
  return apply_command(index, command.value());  // Consumes the decoded command.
}

void KvStateMachine::apply_empty(Index index) {
  RAFT_ASSERT(index > applied_index_);
  applied_index_ = index;
}

Reply KvStateMachine::apply_command(Index index, Command& command) {
  switch (command.type) {
    case CommandType::RegisterSession: return register_session(index, command);
    case CommandType::Session: return apply_session(index, command);
    default: return apply_data(command);
  }
}

Reply KvStateMachine::apply_data(Command& command) {
  RAFT_ASSERT(command.type != CommandType::Session);
  RAFT_ASSERT(command.type != CommandType::RegisterSession);
  if (command.type == CommandType::Batch) return apply_batch(command);
  return apply_simple(command);
}

// MULTI/EXEC: every command runs within this one apply call, so no read or other write sees a
// partial batch. As in Redis, a command that fails (say INCR of a non-integer) answers its
// error in its slot and the others still apply; there is no rollback.
Reply KvStateMachine::apply_batch(Command& command) {
  RAFT_ASSERT(command.type == CommandType::Batch);
  std::vector<Reply> replies;
  replies.reserve(command.inner.size());
  for (Command& inner : command.inner) replies.push_back(apply_simple(inner));
  RAFT_ASSERT(replies.size() == command.inner.size());
  return Reply::array(std::move(replies));
}

Reply KvStateMachine::apply_simple(Command& command) {
  std::vector<std::string>& args = command.args;
  switch (command.type) {
    case CommandType::Set: return apply_set(command);
    case CommandType::Incr: return apply_add(args[0], 1);
    case CommandType::IncrBy: return apply_add(args[0], command.delta);
    case CommandType::DecrBy:
      // -INT64_MIN does not exist; Redis answers this text for it.
      if (command.delta == std::numeric_limits<int64_t>::min()) {
        return Reply::error(kDecrementOverflow);
      }
      return apply_add(args[0], -command.delta);
    case CommandType::Append: return apply_append(command);
    case CommandType::Cas: return apply_cas(command);
    case CommandType::Del: {
      int64_t removed = 0;
      for (const std::string& key : args) removed += keys_.erase(key) ? 1 : 0;
      return Reply::integer_value(removed);
    }
    case CommandType::MSet:
      for (size_t i = 0; i + 1 < args.size(); i += 2) {
        keys_.insert_or_assign(std::move(args[i]), std::move(args[i + 1]));
      }
      return Reply::ok();
    case CommandType::Get:
    case CommandType::MGet:
    case CommandType::Exists:
    case CommandType::DbSize:
      return query(command);
    case CommandType::Batch:
    case CommandType::RegisterSession:
    case CommandType::Session:
      break;
  }
  RAFT_ASSERT(false);  // validate_command keeps nested batches and sessions out.
  return {};
}

Reply KvStateMachine::apply_set(Command& command) {
  RAFT_ASSERT(command.args.size() == 2);
  if (command.set_condition != SetCondition::None) {  // A plain SET needs no lookup first.
    const bool present = keys_.find(command.args[0]) != nullptr;
    if (command.set_condition == SetCondition::IfMissing && present) return Reply::nil();
    if (command.set_condition == SetCondition::IfPresent && !present) return Reply::nil();
  }
  keys_.insert_or_assign(std::move(command.args[0]), std::move(command.args[1]));
  return Reply::ok();
}

Reply KvStateMachine::apply_add(const std::string& key, int64_t delta) {
  int64_t value = 0;
  if (const std::string* stored = keys_.find(key)) {
    const std::optional<int64_t> parsed = parse_redis_int64(*stored);
    if (!parsed) return Reply::error(kNotInteger);
    value = *parsed;
  }
  if (add_overflows(value, delta)) return Reply::error(kOverflow);
  value += delta;
  keys_.insert_or_assign(key, std::to_string(value));
  return Reply::integer_value(value);
}

Reply KvStateMachine::apply_append(const Command& command) {
  RAFT_ASSERT(command.args.size() == 2);
  const std::string* stored = keys_.find(command.args[0]);
  const size_t old_size = stored != nullptr ? stored->size() : 0;
  if (command.args[1].size() > config_.value_bytes_max - std::min(old_size,
                                                                  config_.value_bytes_max)) {
    return Reply::error(kTooBig);
  }
  std::string value = stored != nullptr ? *stored : std::string();
  value += command.args[1];
  const auto length = static_cast<int64_t>(value.size());
  keys_.insert_or_assign(command.args[0], std::move(value));
  return Reply::integer_value(length);
}

// CAS key expected desired: swap when the key holds exactly `expected` (a missing key never
// matches, not even an empty `expected`). With cas_expect_missing: swap only when the key is
// missing (create-if-absent). Reply 1 when swapped, 0 when not.
Reply KvStateMachine::apply_cas(Command& command) {
  RAFT_ASSERT(command.args.size() == 3);
  const std::string* stored = keys_.find(command.args[0]);
  const bool matches = command.cas_expect_missing ? stored == nullptr
                                                  : stored != nullptr && *stored == command.args[1];
  if (!matches) return Reply::integer_value(0);
  keys_.insert_or_assign(std::move(command.args[0]), std::move(command.args[2]));
  return Reply::integer_value(1);
}

Reply KvStateMachine::query(const Command& command) const {
  RAFT_ASSERT(is_read_only(command));
  RAFT_ASSERT(!command.args.empty() || command.type == CommandType::DbSize);
  const std::vector<std::string>& args = command.args;
  switch (command.type) {
    case CommandType::Get: {
      const std::string* value = keys_.find(args[0]);
      return value != nullptr ? Reply::bulk(*value) : Reply::nil();
    }
    case CommandType::MGet: {
      std::vector<Reply> values;
      values.reserve(args.size());
      for (const std::string& key : args) {
        const std::string* value = keys_.find(key);
        values.push_back(value != nullptr ? Reply::bulk(*value) : Reply::nil());
      }
      return Reply::array(std::move(values));
    }
    case CommandType::Exists: {
      int64_t present = 0;
      for (const std::string& key : args) present += keys_.find(key) != nullptr ? 1 : 0;
      return Reply::integer_value(present);
    }
    case CommandType::DbSize: return Reply::integer_value(static_cast<int64_t>(keys_.size()));
    default: break;
  }
  RAFT_ASSERT(false);
  return {};
}

Reply KvStateMachine::register_session(Index index, const Command& command) {
  RAFT_ASSERT(command.type == CommandType::RegisterSession);
  advance_log_time(command.timestamp_ms);
  const uint64_t client_id = index.value();
  RAFT_ASSERT(sessions_.find(client_id) == nullptr);  // Ids are log indexes: never reused.
  while (sessions_.size() >= config_.sessions_max) erase_session(lru_.begin()->second);
  put_session(client_id, Session{0, Reply::nil(), log_time_ms_, client_id});
  return Reply::integer_value(static_cast<int64_t>(client_id));
}

Reply KvStateMachine::apply_session(Index index, Command& command) {
  RAFT_ASSERT(command.type == CommandType::Session);
  RAFT_ASSERT(command.inner.size() == 1);
  advance_log_time(command.timestamp_ms);
  const Session* found = sessions_.find(command.client_id);
  if (found == nullptr) {
    return Reply::error("SESSION_EXPIRED client " + std::to_string(command.client_id) +
                        " is unknown or expired; register a new session");
  }
  if (command.sequence < found->last_sequence) return Reply::error(kSequenceTooOld);
  // A retry (equal sequence) gets the remembered reply; only a new sequence applies. Either
  // way the session was used now: the client is alive.
  // apply_data touches only the key space, so `found` stays valid across it.
  const bool is_new = command.sequence > found->last_sequence;
  Reply reply = is_new ? apply_data(command.inner[0]) : found->last_reply;
  put_session(command.client_id, Session{std::max(command.sequence, found->last_sequence),
                                         reply, log_time_ms_, index.value()});
  return reply;
}

void KvStateMachine::advance_log_time(uint64_t timestamp_ms) {
  if (timestamp_ms <= log_time_ms_) return;  // Log time never runs backwards.
  log_time_ms_ = timestamp_ms;
  expire_sessions();
}

void KvStateMachine::expire_sessions() {
  // lru_ is ordered by last use index and log time never decreases along the log, so the
  // front has the oldest last_active_ms: stop at the first session still alive.
  while (!lru_.empty()) {
    const uint64_t client_id = lru_.begin()->second;
    const Session* session = sessions_.find(client_id);
    RAFT_ASSERT(session != nullptr);
    RAFT_ASSERT(session->last_active_ms <= log_time_ms_);
    if (log_time_ms_ - session->last_active_ms <= config_.session_timeout_ms) break;
    erase_session(client_id);
  }
}

void KvStateMachine::put_session(uint64_t client_id, Session session) {
  if (const Session* old = sessions_.find(client_id)) {
    lru_.erase({old->last_index, client_id});
  }
  lru_.insert({session.last_index, client_id});
  sessions_.insert_or_assign(client_id, std::move(session));
  RAFT_ASSERT(lru_.size() == sessions_.size());
}

void KvStateMachine::erase_session(uint64_t client_id) {
  const Session* session = sessions_.find(client_id);
  RAFT_ASSERT(session != nullptr);
  const size_t lru_erased = lru_.erase({session->last_index, client_id});
  RAFT_ASSERT(lru_erased == 1);
  const bool session_erased = sessions_.erase(client_id);
  RAFT_ASSERT(session_erased);
  RAFT_ASSERT(lru_.size() == sessions_.size());
}

KvSnapshotView KvStateMachine::snapshot_view() const {
  KvSnapshotView view;
  view.keys_ = keys_;
  view.sessions_ = sessions_;
  view.applied_index_ = applied_index_;
  view.log_time_ms_ = log_time_ms_;
  return view;
}

Status KvStateMachine::save(runtime::ByteSink& writer) const {
  return snapshot_view().save(writer);
}

}  // namespace raftkv::kv
