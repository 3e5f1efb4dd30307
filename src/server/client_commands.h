#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kv/acl.h"
#include "kv/command.h"
#include "runtime/node.h"
#include "runtime/request.h"
#include "server/auth.h"
#include "server/server_status.h"

// Translates one client request (a RESP array of strings) into what the server must do: a
// reply it can give at once (PING, ECHO, INFO, CLIENT, CLUSTER, HELLO, errors, MULTI
// bookkeeping), or a key-value command for the node to run through the log or as a read. Pure:
// no I/O, so every command's parsing and every error text is unit-tested here.
//
// Commands: the key-value commands of the table (protocol/command_table.h), which the store
// parses (kv/commands.h); PING ECHO QUIT RESET SELECT HELLO AUTH TIME COMMAND INFO CONFIG
// CLIENT CLUSTER; ACL (acl_commands.h, which also checks every command's access); MULTI EXEC
// DISCARD WATCH UNWATCH; READONLY READWRITE; SESSION.OPEN (-> client id), SESSION.CALL
// client_id seq COMMAND args... and, ending a MULTI instead of EXEC, SESSION.EXEC client_id
// seq (the transaction under the session): exactly-once.
//
// Transactions: inside MULTI every command valid outside it is queued (the connection's own
// ones run at EXEC, in order, their replies merged with the store's). EXEC is one log entry,
// applied atomically; it carries the WATCHed keys with the versions a linearizable read found
// (the log index of each key's last change), and the store applies it only if none changed.
namespace raftkv::server {

// A command queued between MULTI and EXEC: for the store, or for the connection (`args`).
struct Queued {
  std::optional<kv::Command> command;
  std::vector<std::string> args;
};

// Per-connection state the commands change, and what CLIENT LIST shows of a connection.
struct ClientState {
  // Set by the connection.
  uint64_t id = 0;
  std::string addr;   // The client's address, "ip:port".
  std::string laddr;  // Ours.
  bool tls = false;   // Came in on the TLS port: CLUSTER names the members' TLS ports.
  uint64_t created_ms = 0;
  uint64_t last_command_ms = 0;
  // The last command's CommandSpec::name ("client|list" for a subcommand), set by translate();
  // empty after an unknown one, which CLIENT LIST shows as NULL, as Redis does.
  std::string_view last_command;
  // CLIENT SETNAME / SETINFO.
  std::string name;
  std::string lib_name;
  std::string lib_ver;
  // MULTI ... EXEC.
  bool in_multi = false;
  bool multi_failed = false;  // A queued command was malformed: EXEC aborts.
  std::vector<Queued> queued;
  uint64_t queued_bytes = 0;  // Their arguments' bytes: EXEC is one request, and one entry.
  // WATCH: each key and the version a linearizable read found.
  std::vector<std::pair<std::string, uint64_t>> watched;
  bool stale_reads = false;  // READONLY: serve reads locally, possibly stale.
  // CLIENT REPLY OFF / SKIP: no reply to any later command / to the next one.
  bool replies_off = false;
  bool skip_next_reply = false;
  bool kill = false;  // CLIENT KILL of this connection: close once its replies are out.
  // Who the connection runs as: set at AUTH (or HELLO AUTH), reset by RESET. Until it has
  // authenticated (when the default user needs a password) only AUTH, HELLO, QUIT and RESET
  // run. `categories` (kv/acl.h) are the user's when it authenticated: a later ACL change
  // holds for the user's next AUTH, not for connections already open.
  std::string user = "default";
  bool authenticated = true;
  uint8_t categories = kv::kAclAll;
};

// Server-wide counters for INFO (the connection layer keeps them).
struct ServerCounters {
  uint64_t now_ms = 0;
  uint64_t started_ms = 0;
  int64_t pid = 0;
  uint64_t used_memory_bytes = 0;  // Resident set size.
  double cpu_user_s = 0;
  double cpu_sys_s = 0;
  uint64_t connections_received = 0;
  uint64_t connections_rejected = 0;  // Over maxclients.
  uint64_t clients_max = 0;           // maxclients.
  uint64_t commands_processed = 0;
  uint16_t port = 0;
  // By command name (CommandSpec::name, "client|list" for a subcommand): INFO commandstats.
  std::map<std::string_view, uint64_t> calls;
};

// The server's open connections, for CLIENT LIST / KILL and INFO (client_server.h has one).
class ClientDirectory {
 public:
  virtual ~ClientDirectory() = default;
  // Every open connection, by id.
  [[nodiscard]] virtual std::vector<const ClientState*> clients() const = 0;
  // Closes connection `id` once its pending replies are written; false when unknown.
  virtual bool kill(uint64_t id) = 0;
  [[nodiscard]] virtual ServerCounters counters() const = 0;
};

// What a command may consult beyond its connection: the node's status (called only for the
// commands that show it), the other connections, the wall clock, and the node's size limit.
struct ServerContext {
  std::function<ServerStatus()> status;
  ClientDirectory* directory = nullptr;  // Null: CLIENT LIST and KILL see this connection only.
  uint64_t now_ms = 0;
  uint64_t bulk_bytes_max = 0;  // --max-bulk-bytes: CONFIG GET proto-max-bulk-len.
  uint64_t request_bytes_max = 0;  // --max-request-bytes: bounds a MULTI's queue too.
  const AuthOptions* auth = nullptr;  // Null: no password, as AuthOptions{}.
  AuthLimiter* limiter = nullptr;     // Null: failed AUTH attempts are not limited.
};

struct Action {
  // Admin: a cluster administration command (admin_commands.h), run by `admin` on the node.
  enum class Kind { Reply, Run, Quit, Admin };
  Kind kind = Kind::Reply;
  std::string reply;         // RESP bytes (Reply, Quit).
  bool silent = false;       // Reply: none at all (CLIENT REPLY OFF and SKIP).
  kv::Command command;       // Run: the command parsed.
  runtime::Request request;  // Run: what the runtime runs: the command encoded, read-only or not.
  bool stale_read = false;   // Run: may be served from this node's state without the leader.
  // Run: turns the store's reply (when the runtime answered Ok) into the client's; unset: as
  // it is. May change the state (WATCH records its versions).
  std::function<std::string(ClientState& state, std::string reply)> finish;
  // Run: later requests of the connection wait until this one is answered (WATCH: a later EXEC
  // must carry its versions).
  bool blocks = false;
  // Admin: runs on the node's loop; `done` gets the client's reply (RESP bytes, outcome Ok).
  std::function<void(runtime::Node& node, runtime::Done done)> admin;
};

// Takes the arguments: a value moves on into the command and is copied only once more, into
// the request's encoding (issue 21: each copy of a 16 MiB value costs milliseconds). Names the
// command in state.last_command (CLIENT LIST, INFO commandstats).
[[nodiscard]] Action translate(ClientState& state, std::vector<std::string> args,
                               const ServerContext& context);

// INFO's text for `sections` (INFO's arguments; empty: the default ones). `keyspace`: the
// store's key count and keys with a deadline, when known.
[[nodiscard]] std::string info_text(const ServerStatus& status, const ServerCounters& counters,
                                    const std::vector<std::string>& sections,
                                    std::optional<std::pair<int64_t, int64_t>> keyspace,
                                    size_t connected_clients);

// One connection's CLIENT LIST line (without the newline).
[[nodiscard]] std::string client_line(const ClientState& client, uint64_t now_ms);

}  // namespace raftkv::server
