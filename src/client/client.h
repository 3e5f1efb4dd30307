#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "client/connection.h"
#include "client/endpoint.h"
#include "client/info.h"
#include "client/reply.h"
#include "common/status.h"

// The raftkv client: talks to any node of a cluster, finds and follows the leader, times out,
// backs off, and makes the delivery semantics of every call explicit (issue 5).
//
// Semantics, per client and per call:
//   AtMostOnce   A request is sent again only when it certainly was not applied (the
//                connection failed before the whole request went out, or the server said so:
//                "TRYAGAIN no leader", "... it was not applied"). After an ambiguous failure
//                (a timeout or lost connection after sending, "TRYAGAIN timed out; the write
//                may or may not have been applied") the call ends as Unknown: never applied
//                twice, but maybe not at all.
//   AtLeastOnce  Retried until acknowledged or the call's deadline: may be applied more than
//                once (a retried INCR can count twice).
//   ExactlyOnce  At-least-once retries of "SESSION.CALL <client id> <seq> <command...>" with
//                the same seq; the replicated state machine applies each (client id, seq) once
//                and answers a duplicate with the remembered reply (Raft thesis §6.3). The
//                session is opened lazily with SESSION.OPEN. If the server answers
//                SESSION_EXPIRED, the call ends as SessionExpired and the request is NOT sent
//                again under a new session (that could apply it twice); the next call opens a
//                new session. Transactions run the same way, ended by SESSION.EXEC.
// Read-only commands (GET, MGET, EXISTS, ...) cannot be applied twice in any harmful sense,
// so by default (reads_retry) they are retried like AtLeastOnce and never wrapped in a session.
//
// Retries wait a capped exponential backoff with jitter (half fixed, half random, so clients
// that failed together do not retry together). Every call ends by its deadline.
//
// Not thread-safe: one Client per thread. One request in flight at a time, which is also what
// a session requires.

namespace raftkv::client {

enum class Semantics { AtMostOnce, AtLeastOnce, ExactlyOnce };

[[nodiscard]] const char* semantics_name(Semantics semantics);
// "at-most-once", "at-least-once", "exactly-once".
[[nodiscard]] Result<Semantics> parse_semantics(std::string_view text);

struct ClientOptions {
  std::vector<Endpoint> endpoints;  // Any nodes of the cluster; at least one.
  Semantics semantics = Semantics::AtMostOnce;
  Millis connect_timeout{1000};
  // How long one attempt waits for its reply. Longer than the server's own bound on a request
  // (two election timeouts), so a server's TRYAGAIN normally arrives before this fires.
  Millis attempt_timeout{5000};
  Millis call_timeout{15000};   // Whole call, retries and backoff included.
  Millis backoff_initial{25};   // First retry waits about this; doubles per failure.
  Millis backoff_max{1000};
  bool reads_retry = true;      // Retry read-only commands under every semantics.
  bool follow_leader = true;    // After connecting, move to the leader INFO names.
  // Give up (Unavailable) after this many rounds in which no endpoint accepted a connection,
  // if nothing was sent yet; 0: keep trying until the deadline. A command-line tool wants a
  // quick "no node reachable"; a long-lived service rides out a full-cluster restart.
  int unreachable_rounds_max = 0;
  // How long to avoid followers that name a leader this client cannot reach (it most likely
  // just died; they would forward into the void until their own timeout). About two
  // election timeouts: by then a new leader exists, or the client is the one cut off.
  Millis stale_leader_grace{3000};
  uint64_t jitter_seed = 0;     // 0: seeded from std::random_device.
  // Sent as AUTH [user] password on every new connection when `password` is set (user empty:
  // the default user). A node refusing it ends the call at once with its error (a wrong
  // password is not a reason to retry).
  std::string user;
  std::string password;
  // Speak TLS to every node with this context (TlsContext::make); null: plain TCP. With TLS
  // the client follows INFO's TLS addresses (leader_tls_addr, tls_members), never the
  // plaintext ones; a node that names none (older, or a leader without a TLS port) is used as
  // it is, and forwards to the leader.
  std::shared_ptr<const TlsContext> tls;
};

enum class OutcomeKind {
  Ok,              // reply is the command's successful reply.
  Error,           // reply is a definite error from the server (WRONGTYPE, syntax, ...).
  Unknown,         // The request may or may not have been applied; detail says why.
  Unavailable,     // Not applied: no node reachable or answering in time; detail says why.
  SessionExpired,  // Exactly-once session expired; the request was not applied under it.
};

[[nodiscard]] const char* outcome_kind_name(OutcomeKind kind);

struct Outcome {
  OutcomeKind kind = OutcomeKind::Unavailable;
  Reply reply;
  std::string detail;
  int sends = 0;       // Requests that went out whole (each may have been applied).
  Endpoint endpoint;   // The node that answered last, if any.

  [[nodiscard]] bool ok() const { return kind == OutcomeKind::Ok; }
};

class Client {
 public:
  explicit Client(ClientOptions options);
  Client(ClientOptions options, std::unique_ptr<Transport> transport,
         std::unique_ptr<Clock> clock);

  // Runs one command ("SET", "k", "v") under the client's semantics, or the given one.
  [[nodiscard]] Outcome call(const std::vector<std::string>& args);
  [[nodiscard]] Outcome call(const std::vector<std::string>& args, Semantics semantics);

  // Runs the commands atomically (MULTI, the commands, EXEC, sent as one pipelined write).
  // Ok: reply is EXEC's array, one reply per command. Error: the server refused it (a bad
  // command aborts EXEC). Retries follow the semantics exactly as call() does. ExactlyOnce
  // ends the transaction with "SESSION.EXEC <client id> <seq>" instead of EXEC: the whole
  // transaction is one request of the session, so a retry with the same seq gets the
  // remembered array instead of applying the commands again.
  [[nodiscard]] Outcome transaction(const std::vector<std::vector<std::string>>& commands);
  [[nodiscard]] Outcome transaction(const std::vector<std::vector<std::string>>& commands,
                                    Semantics semantics);

  // INFO's Raft section from the node the client is connected to (the leader when known).
  [[nodiscard]] Result<RaftInfo> info();

  // The node the client currently talks to, if connected.
  [[nodiscard]] std::optional<Endpoint> connected_endpoint() const;
  // Configured endpoints plus those learned from INFO's member list.
  [[nodiscard]] const std::vector<Endpoint>& known_endpoints() const { return endpoints_; }
  // 0 until a session is open.
  [[nodiscard]] uint64_t session_id() const { return session_id_; }
  // The seq the next exactly-once call will use.
  [[nodiscard]] uint64_t next_sequence() const { return next_sequence_; }

 private:
  // One retry loop. `semantics` is AtMostOnce or AtLeastOnce (sessions wrap before this).
  // The commands go out as one pipelined exchange; the last reply is the outcome's.
  Outcome run(const std::vector<std::vector<std::string>>& commands, Semantics semantics,
              TimePoint deadline);
  // The request the session sends for one sequence number: SESSION.CALL for a command,
  // MULTI ... SESSION.EXEC for a transaction.
  using SessionRequest =
      std::function<std::vector<std::vector<std::string>>(uint64_t client_id, uint64_t seq)>;
  Outcome run_exactly_once(const SessionRequest& request, TimePoint deadline);
  Outcome open_session(TimePoint deadline);
  // Connects to some node (trying each endpoint from the cursor) and follows its leader hint.
  Status ensure_connected(TimePoint deadline);
  std::unique_ptr<Connection> connect_one(const Endpoint& endpoint, TimePoint deadline,
                                          std::string* why);
  // AUTH on a new connection, when options_ ask for it; false (and *why) when refused.
  bool authenticate(Connection& connection, TimePoint deadline, std::string* why);
  std::string follow_leader(TimePoint deadline);
  void learn_members(const RaftInfo& info);
  size_t endpoint_index(const Endpoint& endpoint);
  void drop_connection(bool rotate);
  // Sleeps before retry number `failures` (1-based); false if that would pass the deadline.
  bool backoff(int failures, TimePoint deadline);
  TimePoint attempt_deadline(TimePoint deadline);

  ClientOptions options_;
  std::unique_ptr<Transport> transport_;
  std::unique_ptr<Clock> clock_;
  std::vector<Endpoint> endpoints_;  // Bounded: configured ones plus the cluster's members.
  size_t cursor_ = 0;                // Next endpoint to try; advanced past failing nodes.
  std::unique_ptr<Connection> connection_;
  // Since when nodes have named a leader this client cannot reach (see follow_leader).
  std::optional<TimePoint> stale_hint_since_;
  uint64_t session_id_ = 0;
  uint64_t next_sequence_ = 1;
  std::mt19937_64 jitter_;
  // A node's error to our AUTH (-WRONGPASS, ...), set by connect_one: the call ends with it.
  std::optional<std::string> auth_refusal_;
};

// Whether a command only reads (so retrying it can never apply anything twice).
[[nodiscard]] bool is_read_only_command(std::string_view name);

}  // namespace raftkv::client
