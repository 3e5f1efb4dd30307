#pragma once

#include <cstddef>
#include <cstdint>
#include <set>
#include <span>
#include <string>
#include <string_view>

#include "common/status.h"

// ACL users, part of the replicated state: ACL SETUSER and ACL DELUSER are log entries, so a
// change made through any node holds on every node once applied, and snapshots carry the
// users (format 3, state_machine.h). Pure: the rules here never see a plaintext password. The
// server hashes `>password` into `#<sha256 hex>` (and `<password` into `!<hex>`) before it
// logs the command, so neither the log, a snapshot nor ACL LIST holds a password.
//
// Rules (ACL SETUSER name rule...), a subset of Redis 7's, applied left to right:
//   on | off                  enable or disable the user (a new user starts off, as in Redis)
//   nopass | resetpass        any password works / no password works, the hashes dropped
//   #<hex> | !<hex>           add / remove a password by its SHA-256 (64 lower-case hex digits)
//   +@read +@write +@admin +@all, -@... , allcommands (+@all), nocommands (-@all)
//   ~* allkeys resetkeys &* allchannels resetchannels   accepted: every user reaches every key
//   reset                     off, no password, no categories
// Categories, from the command table's flags (protocol/command_table.h): read (kRead), write
// (kWrite), admin (kAdmin: FLUSHALL, FLUSHDB, CONFIG, CLIENT KILL/LIST, ACL changes,
// membership). Commands of the connection (PING, AUTH, HELLO, ACL WHOAMI, ...) need none.
namespace raftkv::kv {

enum AclCategory : uint8_t {
  kAclRead = 1u << 0,
  kAclWrite = 1u << 1,
  kAclAdmin = 1u << 2,
  kAclAll = kAclRead | kAclWrite | kAclAdmin,
};

// Bounds, so that a user table cannot grow without limit through the log.
inline constexpr size_t kAclUsersMax = 1024;
inline constexpr size_t kAclPasswordsMax = 16;  // Per user; two are enough to rotate.
inline constexpr size_t kAclNameBytesMax = 128;
inline constexpr size_t kAclHashHexChars = 64;  // SHA-256.

struct AclUser {
  bool enabled = false;
  bool nopass = false;                    // Any password authenticates (when enabled).
  std::set<std::string> password_hashes;  // Lower-case hex SHA-256 digests. Empty if nopass.
  uint8_t categories = 0;                 // AclCategory bits.
  bool operator==(const AclUser&) const = default;
};

// Whether `name` may name a user: 1 to kAclNameBytesMax bytes, no space, control byte or NUL
// (ACL LIST prints users as space-separated words).
[[nodiscard]] bool acl_name_ok(std::string_view name);

// Whether `hex` is a SHA-256 digest as the rules and snapshots hold it.
[[nodiscard]] bool acl_hash_ok(std::string_view hex);

// Applies `rules` in order to a copy of *user, then stores the copy: all or nothing. On a bad
// rule InvalidArgument with Redis' message, "ERR Error in ACL SETUSER modifier '<rule>':
// <why>", and *user unchanged. A plaintext password rule (`>`, `<`) is refused: it must be
// hashed before it reaches the log.
[[nodiscard]] Status acl_apply_rules(std::span<const std::string> rules, AclUser* user);

// ACL LIST's line for a user: "user <name> on|off nopass|#<hex>... ~* &* +@all|-@all|+@read...".
[[nodiscard]] std::string acl_describe(std::string_view name, const AclUser& user);

}  // namespace raftkv::kv
