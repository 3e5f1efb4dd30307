#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace raftkv::protocol {
struct CommandSpec;
}  // namespace raftkv::protocol

// Commands of the replicated key-value state machine and their binary encoding, which is what
// a log entry's data holds. Decoding validates everything: the bytes come from the log, a peer
// or a snapshot, so garbage yields an InvalidArgument Status, never a crash or a huge
// allocation.
//
// Encoding (little-endian; version 3, what encode_command writes):
//   entry   := u8 version(=3) u64 timestamp_ms u64 value_bytes_max command
//   command := u8 type u8 flags [fields] u32 argc { u32 length bytes }*argc [inner]
//     fields (by type): IncrBy/DecrBy: i64 delta
//                       Session: u64 client_id u64 sequence
//     inner  (by type): Batch: u32 count command*count;  Session: exactly one command
//   flags: Set: 0 none, 1 NX, 2 XX.  Cas: bit 0 = expect the key to be missing.  Else 0.
// timestamp_ms is the leader's clock when it logged the entry (RespStateMachine::to_entry),
// 0 when not stamped; inner commands carry none. value_bytes_max is the proposing leader's
// limit on a string's length (its --max-bulk-bytes, stamped by to_entry too), so that APPEND
// and SETRANGE refuse to grow a value past it on every replica alike; 0 when not stated.
// Version 2 had no value_bytes_max (its entries apply under the state machine's own cap).
// Version 1 (written by earlier releases, still decoded so that their logs replay) had no
// header timestamp: RegisterSession and Session carried one as their last field, other
// commands none. The version byte lets a later
// release add fields; a node refuses versions it does not know (the entry then applies as an
// error reply on every replica alike, so replicas agree).

namespace raftkv::kv {

enum class CommandType : uint8_t {
  Set = 1,          // args: key value. Condition in `set_condition`. Reply: OK, or nil.
  Get,              // args: key. Reply: bulk or nil.
  Del,              // args: key+. Reply: number of keys removed.
  Exists,           // args: key+. Reply: number of keys present (repeats count again).
  Incr,             // args: key. Reply: the new value.
  IncrBy,           // args: key; `delta`. Reply: the new value.
  DecrBy,           // args: key; `delta` (subtracted). Reply: the new value.
  Append,           // args: key value. Reply: the new length.
  MGet,             // args: key+. Reply: array of bulk or nil.
  MSet,             // args: (key value)+. Reply: OK.
  Cas,              // args: key expected new; `cas_expect_missing`. Reply: 1 swapped, 0 not.
  DbSize,           // args: none. Reply: number of keys.
  Batch,            // MULTI/EXEC: `inner` applied in one apply call. Reply: array of replies.
  RegisterSession,  // `timestamp_ms`. Reply: the new client id (= the entry's log index).
  Session,          // `client_id`, `sequence`, `timestamp_ms`, `inner` = one command.
  // Any other command of the table (protocol/command_table.h) the store executes, as the
  // client sent it: args = lower-case name, then the arguments. Parsed when applied (or
  // queried), with Redis' replies and error texts (kv/commands.h). Version 2 on.
  Call,
  // Read-only, internal (WATCH): args: key+. Reply: array of each key's version, 0 when
  // missing or expired.
  Versions,
  // The leader's expiry sweep (RespStateMachine::maintenance): args: key+. Deletes those still
  // past their deadline at this entry's time. Reply: number deleted.
  ExpireSweep,
  // Read-only, internal (INFO keyspace): no args. Reply: [keys, keys with a deadline].
  KeyStats,
  // ACL SETUSER: args: name rule+ (kv/acl.h; passwords already hashed). Reply: OK, or the
  // rule's error (nothing changed).
  AclSetUser,
  // ACL DELUSER: args: name+. Reply: number of users removed.
  AclDelUser,
  // Read-only (ACL LIST): no args. Reply: array of each user's line, by name.
  AclList,
  // Read-only, internal (AUTH): args: name. Reply: nil when unknown, else the bulk
  // "on|off <categories> nopass|pass <hash>..." (server/auth.h reads it).
  AclGetUser,
};

inline constexpr CommandType kCommandTypeLast = CommandType::AclGetUser;

enum class SetCondition : uint8_t {
  None = 0,
  IfMissing = 1,  // NX.
  IfPresent = 2,  // XX.
};

// Bounds on what decode accepts, so that a corrupt count cannot ask for gigabytes. Arguments
// are bounded by the entry size itself (a length must fit in the remaining bytes).
inline constexpr uint32_t kBatchCommandsMax = 1u << 20;
inline constexpr uint8_t kCommandVersion = 3;

struct Command {
  CommandType type = CommandType::DbSize;
  SetCondition set_condition = SetCondition::None;  // Set only.
  bool cas_expect_missing = false;                  // Cas only; `expected` must then be "".
  int64_t delta = 0;                                // IncrBy, DecrBy.
  uint64_t client_id = 0;                           // Session.
  uint64_t sequence = 0;                            // Session; >= 1.
  uint64_t timestamp_ms = 0;                        // Top level only: the leader's time.
  // Top level only: the proposer's limit on a string's length; 0: not stated (version 2 and
  // earlier), the state machine's own cap applies (KvConfig::value_bytes_max).
  uint64_t value_bytes_max = 0;
  // Batch: the keys WATCHed and the versions seen, alternating (key, decimal version): the
  // batch applies only if every key still has that version, else the reply is a nil array.
  std::vector<std::string> args;
  std::vector<Command> inner;  // Batch: the queued commands. Session: exactly one.
  // Call only: args[0]'s entry in the command table when it names, in the table's spelling, a
  // command the store executes; else null. call() and decode_command set it, so that the
  // checks and is_read_only() look nothing up again (a pipelined GET looked its name up eight
  // times: about 7% of a leader's CPU). Follows from args[0]; never encoded.
  const protocol::CommandSpec* spec = nullptr;

  // Builders (the server's RESP layer and tests use these).
  static Command set(std::string key, std::string value,
                     SetCondition condition = SetCondition::None);
  static Command get(std::string key);
  static Command del(std::vector<std::string> keys);
  static Command exists(std::vector<std::string> keys);
  static Command incr(std::string key);
  static Command incr_by(std::string key, int64_t delta);
  static Command decr_by(std::string key, int64_t delta);
  static Command append(std::string key, std::string value);
  static Command mget(std::vector<std::string> keys);
  // `pairs` alternates key, value.
  static Command mset(std::vector<std::string> pairs);
  // Swap in `desired` when the key holds `expected`.
  static Command cas(std::string key, std::string expected, std::string desired);
  // Swap in `desired` only when the key is missing.
  static Command cas_missing(std::string key, std::string desired);
  static Command dbsize();
  // `watched`: (key, version) pairs as Versions answered them.
  static Command batch(std::vector<Command> commands,
                       const std::vector<std::pair<std::string, uint64_t>>& watched = {});
  // `args`: the command's name (any case) and its arguments, as the client sent them.
  static Command call(std::vector<std::string> args);
  // The same, for a caller that looked args[0] up already and found `spec`.
  static Command call(const protocol::CommandSpec& spec, std::vector<std::string> args);
  static Command versions(std::vector<std::string> keys);
  static Command expire_sweep(std::vector<std::string> keys);
  static Command key_stats();
  // `rules`: as kv/acl.h takes them, passwords hashed.
  static Command acl_setuser(std::string name, std::vector<std::string> rules);
  static Command acl_deluser(std::vector<std::string> names);
  static Command acl_list();
  static Command acl_getuser(std::string name);
  static Command register_session(uint64_t timestamp_ms);
  static Command session(uint64_t client_id, uint64_t sequence, uint64_t timestamp_ms,
                         Command command);

  bool operator==(const Command&) const = default;
};

// Redis-style upper-case name ("SET", "BATCH", ...), for logs and errors.
const char* command_type_name(CommandType type);

// Whether `command` only reads, so the server may answer it after ReadIndex without the log:
// GET, MGET, EXISTS, DBSIZE, VERSIONS, KEY_STATS, ACL_LIST, ACL_GETUSER, and a Call of a
// read-only command of the table.
[[nodiscard]] bool is_read_only(const Command& command);

// Checks the shape rules above (argument counts, flags, nesting: a Batch holds no Batch,
// Session, RegisterSession or ACL change; a Session wraps one command that is neither Session nor
// RegisterSession). encode_command asserts them; decode_command returns them as errors.
[[nodiscard]] Status validate_command(const Command& command);

// Precondition: validate_command(command) is ok.
[[nodiscard]] std::string encode_command(const Command& command);

// Parses and validates one entry: InvalidArgument for a truncated, oversized, trailing-byte,
// unknown-version or ill-shaped input.
[[nodiscard]] Result<Command> decode_command(std::string_view bytes);

// The key that the entry's command touches first (inside a session's wrapper), or empty when it
// has none or is not in the current encoding. For prefetching only: it checks less than
// decode_command, and a wrong answer costs a wasted memory load, nothing else.
[[nodiscard]] std::string_view first_key_hint(std::string_view bytes);

}  // namespace raftkv::kv
