#include "kv/state_machine.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

#include "kv/commands.h"

namespace raftkv::kv {

namespace {

constexpr const char* kSequenceTooOld = "ERR sequence number too old";
// A session remembers its last reply for a retry. One to a read of a large value (GETSET, GETDEL,
// SET ... GET, a session-wrapped GET) would pin a copy of that value in every replica's
// memory and snapshot until the session's next request; past this size a retry gets an error
// that says so instead, and the request still runs exactly once. A constant, not a setting:
// every replica must remember the same reply.
constexpr size_t kRememberedReplyBytesMax = 64 << 10;

size_t reply_bytes(const Reply& reply) {
  size_t bytes = reply.text.size();
  for (const Reply& element : reply.elements) bytes += reply_bytes(element);
  return bytes;
}

Reply remembered(const Reply& reply) {
  const size_t bytes = reply_bytes(reply);
  if (bytes <= kRememberedReplyBytesMax) return reply;
  return Reply::error("ERR this request was applied once; its reply (" + std::to_string(bytes) +
                      " bytes) is too large to remember for a retry");
}

// The argument vector of a typed command, as a client would have sent it: typed commands run
// through the same handlers as Calls (commands.h). Consumes the command's arguments.
std::vector<std::string> call_args(Command& command) {
  if (command.type == CommandType::Call) return std::move(command.args);
  std::vector<std::string> args;
  args.reserve(command.args.size() + 2);
  switch (command.type) {
    case CommandType::Set: args.emplace_back("set"); break;
    case CommandType::Get: args.emplace_back("get"); break;
    case CommandType::Del: args.emplace_back("del"); break;
    case CommandType::Exists: args.emplace_back("exists"); break;
    case CommandType::Incr: args.emplace_back("incr"); break;
    case CommandType::IncrBy: args.emplace_back("incrby"); break;
    case CommandType::DecrBy: args.emplace_back("decrby"); break;
    case CommandType::Append: args.emplace_back("append"); break;
    case CommandType::MGet: args.emplace_back("mget"); break;
    case CommandType::MSet: args.emplace_back("mset"); break;
    case CommandType::DbSize: args.emplace_back("dbsize"); break;
    default: RAFT_ASSERT(false);  // Not a key-space command of the table.
  }
  for (std::string& arg : command.args) args.push_back(std::move(arg));
  if (command.type == CommandType::IncrBy || command.type == CommandType::DecrBy) {
    args.push_back(std::to_string(command.delta));
  }
  if (command.set_condition != SetCondition::None) {
    args.emplace_back(command.set_condition == SetCondition::IfMissing ? "nx" : "xx");
  }
  return args;
}

// The table entry the store runs `command` by, once call_args() made `args` of it: a Call's
// own (validated: Command::spec), a typed command's by its name.
const protocol::CommandSpec& spec_of(const Command& command, const std::vector<std::string>& args) {
  if (command.spec != nullptr) return *command.spec;
  const protocol::CommandSpec* spec = protocol::find_command(args[0]);
  RAFT_ASSERT(spec != nullptr);
  return *spec;
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
  // Every entry is stamped by its leader (to_entry); the command runs at the new log time,
  // and under its leader's limit on a value's size when it states one.
  advance_log_time(command.value().timestamp_ms);
  const uint64_t stated = command.value().value_bytes_max;
  entry_value_bytes_max_ = stated != 0 ? static_cast<size_t>(std::min<uint64_t>(
                                             stated, config_.value_bytes_max))
                                       : config_.value_bytes_max;
  return apply_command(index, command.value());  // Consumes the decoded command.
}

void KvStateMachine::prefetch(std::span<const std::string_view> commands) const {
  std::vector<std::string_view> keys;
  keys.reserve(commands.size());
  for (std::string_view command : commands) {
    if (std::string_view key = first_key_hint(command); !key.empty()) keys.push_back(key);
  }
  keys_.prefetch(keys);
}

void KvStateMachine::apply_empty(Index index) {
  RAFT_ASSERT(index > applied_index_);
  applied_index_ = index;
}

Reply KvStateMachine::apply_command(Index index, Command& command) {
  switch (command.type) {
    case CommandType::RegisterSession: return register_session(index, command);
    case CommandType::Session: return apply_session(index, command);
    case CommandType::ExpireSweep: return apply_sweep(command);
    case CommandType::AclSetUser: return apply_acl_setuser(command);
    case CommandType::AclDelUser: return apply_acl_deluser(command);
    default: return apply_data(index, command);
  }
}

Reply KvStateMachine::apply_data(Index index, Command& command) {
  RAFT_ASSERT(command.type != CommandType::Session);
  RAFT_ASSERT(command.type != CommandType::RegisterSession);
  if (command.type == CommandType::Batch) return apply_batch(index, command);
  return apply_simple(index, command);
}

// MULTI/EXEC: every command runs within this one apply call, so no read or other write sees a
// partial batch. As in Redis, a command that fails (say INCR of a non-integer) answers its
// error in its slot and the others still apply; there is no rollback. With WATCHed keys, the
// batch runs only if none of them changed since it was watched (a nil array otherwise).
Reply KvStateMachine::apply_batch(Index index, Command& command) {
  RAFT_ASSERT(command.type == CommandType::Batch);
  if (!watched_unchanged(command)) return Reply::nil_array();
  std::vector<Reply> replies;
  replies.reserve(command.inner.size());
  for (Command& inner : command.inner) replies.push_back(apply_simple(index, inner));
  RAFT_ASSERT(replies.size() == command.inner.size());
  return Reply::array(std::move(replies));
}

// Each watched key's version is the index of its last change (0: missing or expired), so
// "unchanged" is exact: any write to the key since the WATCH read moved it.
bool KvStateMachine::watched_unchanged(const Command& batch) const {
  for (size_t i = 0; i + 1 < batch.args.size(); i += 2) {
    const Record* value = keys_.find(batch.args[i], log_now());
    const uint64_t version = value != nullptr ? value->version() : 0;
    if (std::to_string(version) != batch.args[i + 1]) return false;
  }
  return true;
}

Reply KvStateMachine::apply_simple(Index index, Command& command) {
  switch (command.type) {
    case CommandType::Cas: return apply_cas(index, command);
    case CommandType::Versions:
    case CommandType::KeyStats:
    case CommandType::AclList:
    case CommandType::AclGetUser:
      return query(std::move(command));  // Consumed, as the other commands' arguments are.
    case CommandType::Batch:
    case CommandType::RegisterSession:
    case CommandType::Session:
    case CommandType::ExpireSweep:
    case CommandType::AclSetUser:
    case CommandType::AclDelUser:
      RAFT_ASSERT(false);  // validate_command keeps nested batches and sessions out.
      return {};
    default: break;
  }
  RAFT_ASSERT(entry_value_bytes_max_ > 0);  // Set by apply() before any command runs.
  WriteContext context{keys_, log_now(), index, entry_value_bytes_max_};
  std::vector<std::string> args = call_args(command);
  return execute_write(context, spec_of(command, args), args);
}

// CAS key expected desired: swap when the key holds exactly `expected` (a missing key never
// matches, not even an empty `expected`). With cas_expect_missing: swap only when the key is
// missing (create-if-absent). Reply 1 when swapped, 0 when not; WRONGTYPE for a hash. A swap
// is a SET: the key's deadline goes.
Reply KvStateMachine::apply_cas(Index index, Command& command) {
  RAFT_ASSERT(command.args.size() == 3);
  keys_.expire_if_due(command.args[0], log_now());
  const Record* stored = keys_.find(command.args[0], log_now());
  if (stored != nullptr && stored->kind() != Value::Kind::String) {
    return Reply::error("WRONGTYPE Operation against a key holding the wrong kind of value");
  }
  const bool matches = command.cas_expect_missing
                           ? stored == nullptr
                           : stored != nullptr && stored->string() == command.args[1];
  if (!matches) return Reply::integer_value(0);
  keys_.put(std::move(command.args[0]), Value::of_string(std::move(command.args[2])), index);
  return Reply::integer_value(1);
}

// The leader's sweep: deletes the listed keys that are still past their deadline at this
// entry's log time (one may have been rewritten since the leader listed it).
Reply KvStateMachine::apply_sweep(const Command& command) {
  RAFT_ASSERT(command.type == CommandType::ExpireSweep);
  int64_t removed = 0;
  for (const std::string& key : command.args) {
    removed += keys_.expire_if_due(key, log_now()) ? 1 : 0;
  }
  return Reply::integer_value(removed);
}

Reply KvStateMachine::query(Command command, uint64_t now_ms, uint64_t seed) const {
  RAFT_ASSERT(is_read_only(command));
  const auto now = static_cast<int64_t>(std::max(now_ms, log_time_ms_));
  if (command.type == CommandType::Versions) {
    std::vector<Reply> versions;
    for (const std::string& key : command.args) {
      const Record* value = keys_.find(key, now);
      versions.push_back(Reply::integer_value(
          value != nullptr ? static_cast<int64_t>(value->version()) : 0));
    }
    return Reply::array(std::move(versions));
  }
  if (command.type == CommandType::AclList || command.type == CommandType::AclGetUser) {
    return query_acl(command);
  }
  if (command.type == CommandType::KeyStats) {
    return Reply::array({Reply::integer_value(static_cast<int64_t>(keys_.size())),
                         Reply::integer_value(static_cast<int64_t>(keys_.expiring()))});
  }
  const std::vector<std::string> args = call_args(command);
  return execute_read(ReadContext{keys_, now, seed}, spec_of(command, args), args);
}

// "default" is each node's own (its requirepass), so the log never names it.
Reply KvStateMachine::apply_acl_setuser(const Command& command) {
  RAFT_ASSERT(command.type == CommandType::AclSetUser);
  RAFT_ASSERT(!command.args.empty());
  const std::string& name = command.args[0];
  if (!acl_name_ok(name)) {
    return Reply::error("ERR Usernames can't contain spaces or null characters");
  }
  if (name == "default") {
    return Reply::error("ERR the default user is set by each node's requirepass, not by ACL");
  }
  const AclUser* found = users_.find(name);
  if (found == nullptr && users_.size() >= kAclUsersMax) {
    return Reply::error("ERR too many ACL users (at most " + std::to_string(kAclUsersMax) + ")");
  }
  AclUser user = found != nullptr ? *found : AclUser{};
  const std::span<const std::string> rules(command.args.begin() + 1, command.args.end());
  if (Status status = acl_apply_rules(rules, &user); !status.is_ok()) {
    return Reply::error(status.message());
  }
  users_.insert_or_assign(name, std::move(user));
  RAFT_ASSERT(users_.size() <= kAclUsersMax);
  return Reply::ok();
}

Reply KvStateMachine::apply_acl_deluser(const Command& command) {
  RAFT_ASSERT(command.type == CommandType::AclDelUser);
  for (const std::string& name : command.args) {
    if (name == "default") return Reply::error("ERR The 'default' user cannot be removed");
  }
  int64_t removed = 0;
  for (const std::string& name : command.args) removed += users_.erase(name) ? 1 : 0;
  RAFT_ASSERT(removed <= static_cast<int64_t>(command.args.size()));
  return Reply::integer_value(removed);
}

Reply KvStateMachine::query_acl(const Command& command) const {
  if (command.type == CommandType::AclList) {
    std::vector<Reply> lines;
    users_.for_each([&](const std::string& name, const AclUser& user) {
      lines.push_back(Reply::bulk(acl_describe(name, user)));
    });
    return Reply::array(std::move(lines));
  }
  RAFT_ASSERT(command.type == CommandType::AclGetUser);
  const AclUser* user = users_.find(command.args.at(0));
  if (user == nullptr) return Reply::nil();
  std::string text = std::string(user->enabled ? "on " : "off ") +
                     std::to_string(user->categories) + (user->nopass ? " nopass" : " pass");
  for (const std::string& hash : user->password_hashes) text += " " + hash;
  return Reply::bulk(std::move(text));
}

std::optional<Command> KvStateMachine::sweep_due(uint64_t now_ms) const {
  const auto now = static_cast<int64_t>(std::max(now_ms, log_time_ms_));
  std::vector<std::string> due = keys_.due(now, config_.sweep_keys_max);
  if (due.empty()) return std::nullopt;
  return Command::expire_sweep(std::move(due));
}

Reply KvStateMachine::register_session(Index index, const Command& command) {
  RAFT_ASSERT(command.type == CommandType::RegisterSession);
  const uint64_t client_id = index.value();
  RAFT_ASSERT(sessions_.find(client_id) == nullptr);  // Ids are log indexes: never reused.
  while (sessions_.size() >= config_.sessions_max) erase_session(lru_.begin()->second);
  put_session(client_id, Session{0, Reply::nil(), log_time_ms_, client_id});
  return Reply::integer_value(static_cast<int64_t>(client_id));
}

Reply KvStateMachine::apply_session(Index index, Command& command) {
  RAFT_ASSERT(command.type == CommandType::Session);
  RAFT_ASSERT(command.inner.size() == 1);
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
  Reply reply = is_new ? apply_data(index, command.inner[0]) : found->last_reply;
  put_session(command.client_id, Session{std::max(command.sequence, found->last_sequence),
                                         remembered(reply), log_time_ms_, index.value()});
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
  view.keys_ = keys_.map();
  view.sessions_ = sessions_;
  view.users_ = users_;
  view.applied_index_ = applied_index_;
  view.log_time_ms_ = log_time_ms_;
  return view;
}

Status KvStateMachine::save(runtime::ByteSink& writer) const {
  return snapshot_view().save(writer);
}

}  // namespace raftkv::kv
