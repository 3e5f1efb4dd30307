#pragma once

#include <functional>
#include <string>
#include <vector>

#include "kv/command.h"
#include "runtime/request.h"
#include "server/server_status.h"

// Translates one client request (a RESP array of strings) into what the server must do: a
// reply it can give at once (PING, ECHO, INFO, errors, MULTI bookkeeping), or a key-value
// command for the node to run through the log or a read. Pure: no I/O, so every command's
// parsing and every error text is unit-tested here.
//
// Commands: PING ECHO QUIT COMMAND INFO SELECT CONFIG CLIENT, GET MGET EXISTS DBSIZE, SET [NX|XX]
// DEL INCR INCRBY DECR DECRBY APPEND MSET, CAS key expected new (1 swapped / 0 not),
// CASNX key new (CAS that expects the key missing), MULTI EXEC DISCARD, READONLY READWRITE,
// SESSION.OPEN (-> client id), SESSION.CALL client_id seq COMMAND args... and, ending a MULTI
// instead of EXEC, SESSION.EXEC client_id seq (the transaction under the session): exactly-once.
namespace raftkv::server {

// Per-connection state the commands change.
struct ClientState {
  bool in_multi = false;
  bool multi_failed = false;          // A queued command was malformed: EXEC aborts.
  std::vector<kv::Command> queued;    // Commands between MULTI and EXEC.
  bool stale_reads = false;           // READONLY: serve reads locally, possibly stale.
};

struct Action {
  enum class Kind { Reply, Run, Quit };
  Kind kind = Kind::Reply;
  std::string reply;         // RESP bytes (Reply, Quit).
  kv::Command command;       // Run: the command parsed.
  runtime::Request request;  // Run: what the runtime runs: the command encoded, read-only or not.
  bool stale_read = false;   // Run: may be served from this node's state without the leader.
};

// `status` is called only for INFO.
[[nodiscard]] Action translate(ClientState& state, const std::vector<std::string>& args,
                               const std::function<ServerStatus()>& status);

// INFO's text: "# Server" and "# Raft" sections (role, term, leader id and address, commit and
// applied indexes, last log index, members).
[[nodiscard]] std::string info_text(const ServerStatus& status);

}  // namespace raftkv::server
