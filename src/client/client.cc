#include "client/client.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <optional>
#include <utility>

#include "client/errors.h"
#include "protocol/command_table.h"

namespace raftkv::client {
namespace {

// Bound on endpoints learned from INFO: a cluster has a handful of members.
constexpr size_t kEndpointsMax = 64;

// What a retry loop learned so far, for the final outcome when it gives up.
struct Attempts {
  int sends = 0;
  bool maybe_applied = false;  // Some send had an ambiguous end.
  std::string last_failure = "deadline passed before any attempt";
};

Outcome give_up(const Attempts& attempts) {
  Outcome outcome;
  outcome.sends = attempts.sends;
  outcome.kind = attempts.maybe_applied ? OutcomeKind::Unknown : OutcomeKind::Unavailable;
  outcome.detail = attempts.maybe_applied
                       ? "gave up at the deadline; an earlier attempt may have been applied "
                         "(last failure: " + attempts.last_failure + ")"
                       : attempts.last_failure;
  return outcome;
}

}  // namespace

const char* semantics_name(Semantics semantics) {
  switch (semantics) {
    case Semantics::AtMostOnce: return "at-most-once";
    case Semantics::AtLeastOnce: return "at-least-once";
    case Semantics::ExactlyOnce: return "exactly-once";
  }
  return "?";
}

Result<Semantics> parse_semantics(std::string_view text) {
  for (Semantics semantics :
       {Semantics::AtMostOnce, Semantics::AtLeastOnce, Semantics::ExactlyOnce}) {
    if (text == semantics_name(semantics)) return semantics;
  }
  return Status(ErrorCode::InvalidArgument,
                "unknown semantics '" + std::string(text) +
                    "' (want at-most-once, at-least-once or exactly-once)");
}

const char* outcome_kind_name(OutcomeKind kind) {
  switch (kind) {
    case OutcomeKind::Ok: return "ok";
    case OutcomeKind::Error: return "error";
    case OutcomeKind::Unknown: return "unknown";
    case OutcomeKind::Unavailable: return "unavailable";
    case OutcomeKind::SessionExpired: return "session-expired";
  }
  return "?";
}

bool is_read_only_command(std::string_view name) {
  // Reads, and what a connection answers by itself: sending them again changes nothing.
  const protocol::CommandSpec* spec = protocol::find_command(name);
  if (spec == nullptr) return false;
  return spec->is(protocol::kRead) ||
         (spec->is(protocol::kConnection) && !spec->is(protocol::kTransaction));
}

Client::Client(ClientOptions options)
    : Client(options, std::make_unique<SocketTransport>(options.tls),
             std::make_unique<SystemClock>()) {}

Client::Client(ClientOptions options, std::unique_ptr<Transport> transport,
               std::unique_ptr<Clock> clock)
    : options_(std::move(options)),
      transport_(std::move(transport)),
      clock_(std::move(clock)),
      endpoints_(options_.endpoints),
      jitter_(options_.jitter_seed != 0 ? options_.jitter_seed : std::random_device{}()) {
  RAFT_ASSERT(!endpoints_.empty());
  RAFT_ASSERT(transport_ != nullptr);
  RAFT_ASSERT(clock_ != nullptr);
  RAFT_ASSERT(options_.backoff_initial.count() > 0);
  RAFT_ASSERT(options_.backoff_initial <= options_.backoff_max);
}

Outcome Client::call(const std::vector<std::string>& args) {
  return call(args, options_.semantics);
}

Outcome Client::call(const std::vector<std::string>& args, Semantics semantics) {
  RAFT_ASSERT(!args.empty());
  const TimePoint deadline = clock_->now() + options_.call_timeout;
  if (options_.reads_retry && is_read_only_command(args[0])) {
    return run({args}, Semantics::AtLeastOnce, deadline);
  }
  if (semantics == Semantics::ExactlyOnce) {
    return run_exactly_once(
        [&args](uint64_t client_id, uint64_t seq) {
          std::vector<std::string> wrapped = {"SESSION.CALL", std::to_string(client_id),
                                              std::to_string(seq)};
          wrapped.insert(wrapped.end(), args.begin(), args.end());
          return std::vector<std::vector<std::string>>{std::move(wrapped)};
        },
        deadline);
  }
  return run({args}, semantics, deadline);
}

Outcome Client::transaction(const std::vector<std::vector<std::string>>& commands) {
  return transaction(commands, options_.semantics);
}

Outcome Client::transaction(const std::vector<std::vector<std::string>>& commands,
                            Semantics semantics) {
  RAFT_ASSERT(!commands.empty());
  const TimePoint deadline = clock_->now() + options_.call_timeout;
  // The server treats a transaction as one command: one log entry, one reply (an array),
  // and under a session one sequence number for the whole of it.
  auto batch = [&commands](std::vector<std::string> exec) {
    std::vector<std::vector<std::string>> out = {{"MULTI"}};
    out.insert(out.end(), commands.begin(), commands.end());
    out.push_back(std::move(exec));
    return out;
  };
  if (semantics == Semantics::ExactlyOnce) {
    return run_exactly_once(
        [&batch](uint64_t client_id, uint64_t seq) {
          return batch({"SESSION.EXEC", std::to_string(client_id), std::to_string(seq)});
        },
        deadline);
  }
  return run(batch({"EXEC"}), semantics, deadline);
}

Result<RaftInfo> Client::info() {
  Outcome outcome = call({"INFO"});
  if (outcome.kind != OutcomeKind::Ok) {
    const std::string why = outcome.kind == OutcomeKind::Error ? outcome.reply.text
                                                               : outcome.detail;
    return Status(ErrorCode::Unavailable, why);
  }
  if (outcome.reply.type != ReplyType::Bulk) {
    return Status(ErrorCode::InvalidArgument, "INFO reply is not a bulk string");
  }
  return parse_info(outcome.reply.text);
}

std::optional<Endpoint> Client::connected_endpoint() const {
  if (connection_ == nullptr) return std::nullopt;
  return connection_->endpoint();
}

Outcome Client::run_exactly_once(const SessionRequest& request, TimePoint deadline) {
  if (session_id_ == 0) {
    Outcome opened = open_session(deadline);
    if (!opened.ok()) {
      // Whatever became of the registration, the command itself was never sent.
      if (opened.kind == OutcomeKind::Unknown) opened.kind = OutcomeKind::Unavailable;
      opened.detail = "could not open an exactly-once session, so the command was not sent: " +
                      (opened.detail.empty() ? format_reply(opened.reply) : opened.detail);
      return opened;
    }
  }
  RAFT_ASSERT(session_id_ > 0);
  // The seq is consumed whatever the outcome: reusing it for another command would make the
  // server answer that command with this one's remembered reply. Gaps are allowed.
  const uint64_t sequence = next_sequence_++;
  const std::vector<std::vector<std::string>> wrapped = request(session_id_, sequence);
  RAFT_ASSERT(!wrapped.empty());
  Outcome outcome = run(wrapped, Semantics::AtLeastOnce, deadline);
  if (outcome.kind == OutcomeKind::SessionExpired) {
    session_id_ = 0;  // The next call opens a new session; this request is not re-sent.
    next_sequence_ = 1;
  }
  return outcome;
}

// Opening is retried at least once: a duplicate registration only leaves an unused session,
// which the servers expire.
Outcome Client::open_session(TimePoint deadline) {
  Outcome outcome = run({{"SESSION.OPEN"}}, Semantics::AtLeastOnce, deadline);
  if (!outcome.ok()) return outcome;
  if (outcome.reply.type != ReplyType::Integer || outcome.reply.integer <= 0) {
    outcome.kind = OutcomeKind::Error;
    outcome.detail = "SESSION.OPEN answered " + format_reply(outcome.reply) +
                     ", not a positive client id";
    return outcome;
  }
  session_id_ = static_cast<uint64_t>(outcome.reply.integer);
  next_sequence_ = 1;
  return outcome;
}

Outcome Client::run(const std::vector<std::vector<std::string>>& commands, Semantics semantics,
                    TimePoint deadline) {
  RAFT_ASSERT(semantics != Semantics::ExactlyOnce);
  RAFT_ASSERT(!commands.empty());
  Attempts attempts;
  int unreachable_rounds = 0;
  for (int failures = 0;; ++failures) {
    if (failures > 0 && !backoff(failures, deadline)) return give_up(attempts);
    Status connected = ensure_connected(deadline);
    if (auth_refusal_) {
      const std::string refusal = *std::exchange(auth_refusal_, std::nullopt);
      return {OutcomeKind::Error, Reply::error(refusal), refusal, attempts.sends, {}};
    }
    if (!connected.is_ok()) {
      attempts.last_failure = connected.message();
      unreachable_rounds += connected.code() == ErrorCode::Unavailable ? 1 : 0;
      if (attempts.sends == 0 && options_.unreachable_rounds_max > 0 &&
          unreachable_rounds >= options_.unreachable_rounds_max) {
        return give_up(attempts);
      }
      continue;
    }
    Exchange exchange = connection_->exchange(commands, attempt_deadline(deadline));
    const Endpoint endpoint = connection_->endpoint();
    if (exchange.kind != Exchange::Kind::Replied) {
      drop_connection(/*rotate=*/true);
      attempts.last_failure = exchange.detail;
      if (exchange.kind == Exchange::Kind::NotSent) continue;
      ++attempts.sends;
      attempts.maybe_applied = true;
      if (semantics == Semantics::AtLeastOnce) continue;
      return {OutcomeKind::Unknown, {}, exchange.detail, attempts.sends, endpoint};
    }
    ++attempts.sends;
    Reply& reply = exchange.replies.back();  // EXEC's for a transaction.
    if (!reply.is_error()) return {OutcomeKind::Ok, std::move(reply), "", attempts.sends, endpoint};
    switch (classify_error(reply.text)) {
      case ErrorClass::Application:
        return {OutcomeKind::Error, reply, reply.text, attempts.sends, endpoint};
      case ErrorClass::SessionExpired:
        return {OutcomeKind::SessionExpired, reply, reply.text, attempts.sends, endpoint};
      case ErrorClass::NotApplied:
        // Safe to send again, but not necessarily here: a node cut off in a minority answers
        // "no leader" for as long as the partition lasts while the majority serves. The next
        // attempt goes to the next endpoint.
        drop_connection(/*rotate=*/true);
        attempts.last_failure = endpoint.to_string() + ": " + reply.text;
        continue;
      case ErrorClass::Ambiguous:
        drop_connection(/*rotate=*/false);
        attempts.maybe_applied = true;
        attempts.last_failure = endpoint.to_string() + ": " + reply.text;
        if (semantics == Semantics::AtLeastOnce) continue;
        return {OutcomeKind::Unknown, reply, reply.text, attempts.sends, endpoint};
    }
  }
}

Status Client::ensure_connected(TimePoint deadline) {
  if (connection_ != nullptr) return Status::ok();
  std::vector<std::string> reasons;
  bool any_reachable = false;
  const size_t count = endpoints_.size();  // Members learned below are tried next time.
  const size_t first = cursor_;
  for (size_t i = 0; i < count && clock_->now() < deadline; ++i) {
    const size_t index = (first + i) % count;
    const Endpoint endpoint = endpoints_[index];
    std::string why;
    connection_ = connect_one(endpoint, deadline, &why);
    if (connection_ != nullptr) {
      any_reachable = true;
      cursor_ = index;
      why = options_.follow_leader ? follow_leader(deadline) : "";
      if (connection_ != nullptr) return Status::ok();
    }
    if (std::find(reasons.begin(), reasons.end(), why) == reasons.end()) reasons.push_back(why);
  }
  std::string message = (any_reachable ? "no usable node at " : "no node reachable at ") +
                        join_endpoints(endpoints_) + " (";
  for (size_t i = 0; i < reasons.size(); ++i) message += (i > 0 ? "; " : "") + reasons[i];
  message += reasons.empty() ? "deadline passed)" : ")";
  // NotLeader: some node answered but none is usable yet (an election is likely under way).
  return Status(any_reachable ? ErrorCode::NotLeader : ErrorCode::Unavailable, message);
}

std::unique_ptr<Connection> Client::connect_one(const Endpoint& endpoint, TimePoint deadline,
                                                std::string* why) {
  const TimePoint connect_deadline = std::min(deadline, clock_->now() + options_.connect_timeout);
  Result<std::unique_ptr<Connection>> connected = transport_->connect(endpoint, connect_deadline);
  if (!connected.is_ok()) {
    *why = connected.status().message();
    return nullptr;
  }
  std::unique_ptr<Connection> connection = std::move(connected).value();
  if (!authenticate(*connection, connect_deadline, why)) return nullptr;
  return connection;
}

bool Client::authenticate(Connection& connection, TimePoint deadline, std::string* why) {
  if (options_.password.empty()) return true;
  std::vector<std::string> auth = {"AUTH"};
  if (!options_.user.empty()) auth.push_back(options_.user);
  auth.push_back(options_.password);
  Exchange exchange = connection.call(auth, deadline);
  if (exchange.kind != Exchange::Kind::Replied) {
    *why = "no answer to AUTH (" + exchange.detail + ")";
    return false;
  }
  const Reply& reply = exchange.replies.front();
  if (!reply.is_error()) return true;
  *why = "AUTH refused: " + reply.text;
  auth_refusal_ = connection.endpoint().to_string() + ": " + reply.text;
  return false;
}

// Asks the connected node who leads and moves there: a follower would forward every request
// (one more hop), and INFO also tells the member list so later failovers know every node.
// Returns why the connection was dropped, or "" if the client keeps one (here or at the
// leader). Best effort otherwise: any node serves.
std::string Client::follow_leader(TimePoint deadline) {
  RAFT_ASSERT(connection_ != nullptr);
  // Every node answers INFO itself (no forwarding), so a short bound suffices.
  const TimePoint probe_deadline = std::min(deadline, clock_->now() + options_.connect_timeout);
  Exchange exchange = connection_->call({"INFO"}, probe_deadline);
  if (exchange.kind != Exchange::Kind::Replied) {
    drop_connection(/*rotate=*/false);  // The node does not answer: the caller tries others.
    return "no answer to INFO";
  }
  const Reply& reply = exchange.replies.front();
  if (reply.type != ReplyType::Bulk) return "";
  Result<RaftInfo> info = parse_info(reply.text);
  if (!info.is_ok()) return "";
  learn_members(info.value());
  const std::string& leader_addr =
      options_.tls != nullptr ? info.value().leader_tls_addr : info.value().leader_addr;
  if (info.value().is_leader() || leader_addr.empty()) {
    stale_hint_since_.reset();  // A leader, or a node that will wait for one: both serve.
    return "";
  }
  Result<Endpoint> leader = parse_endpoint(leader_addr);
  if (!leader.is_ok() || leader.value() == connection_->endpoint()) return "";
  std::string why;
  std::unique_ptr<Connection> moved = connect_one(leader.value(), deadline, &why);
  if (moved != nullptr) {
    stale_hint_since_.reset();
    connection_ = std::move(moved);
    cursor_ = endpoint_index(leader.value());
    return "";
  }
  // The named leader is unreachable: most likely it just crashed and this node has not yet
  // noticed, so a request sent here would be forwarded into the void until the node's own
  // timeout (ambiguous, and slow). Prefer other nodes for a grace period; past it (perhaps
  // only this client is cut off from a leader the followers still reach) use this one.
  const TimePoint now = clock_->now();
  if (!stale_hint_since_.has_value()) stale_hint_since_ = now;
  if (now - *stale_hint_since_ >= options_.stale_leader_grace) return "";
  drop_connection(/*rotate=*/false);
  return "the leader it names, " + leader.value().to_string() + ", is unreachable (" + why + ")";
}

void Client::learn_members(const RaftInfo& info) {
  for (const MemberInfo& member : info.members) {
    Result<Endpoint> endpoint = parse_endpoint(member.addr(options_.tls != nullptr));
    if (endpoint.is_ok()) (void)endpoint_index(endpoint.value());
  }
}

// The index of `endpoint` in endpoints_, appending it if new (up to the bound).
size_t Client::endpoint_index(const Endpoint& endpoint) {
  auto found = std::find(endpoints_.begin(), endpoints_.end(), endpoint);
  if (found != endpoints_.end()) return static_cast<size_t>(found - endpoints_.begin());
  if (endpoints_.size() >= kEndpointsMax) return cursor_;
  endpoints_.push_back(endpoint);
  return endpoints_.size() - 1;
}

void Client::drop_connection(bool rotate) {
  connection_.reset();
  if (rotate) cursor_ = (cursor_ + 1) % endpoints_.size();
}

bool Client::backoff(int failures, TimePoint deadline) {
  RAFT_ASSERT(failures >= 1);
  const int shift = std::min(failures - 1, 20);
  const auto initial = options_.backoff_initial.count();
  const auto ceiling = std::min<int64_t>(options_.backoff_max.count(), initial << shift);
  // Equal jitter: half the delay fixed (always some backoff), half uniformly random.
  std::uniform_int_distribution<int64_t> random_part(0, ceiling / 2);
  const Millis delay(ceiling - ceiling / 2 + random_part(jitter_));
  const TimePoint wake = clock_->now() + delay;
  if (wake >= deadline) return false;
  clock_->sleep_until(wake);
  return true;
}

TimePoint Client::attempt_deadline(TimePoint deadline) {
  return std::min(deadline, clock_->now() + options_.attempt_timeout);
}

}  // namespace raftkv::client
