#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "protocol/command_table.h"
#include "server/client_commands.h"

// Authentication and access control of client connections, compatible with Redis 7.0: AUTH
// [user] password, HELLO's AUTH option, ACL SETUSER|DELUSER|LIST|WHOAMI, the -NOAUTH and
// -NOPERM refusals. Pure, like client_commands.h, which calls these.
//
// The default user is each node's own: with no requirepass it takes any password and may run
// everything (subject to protected mode, in the client server); with one, a connection runs
// nothing but AUTH, HELLO, QUIT and RESET until it authenticates. Other users are replicated
// state (kv/acl.h): AUTH as one of them reads this node's applied state, so a user created or
// changed on any node holds here once this node has applied it (typically within one
// heartbeat), and stays valid without a leader.
namespace raftkv::server {

// -NOAUTH or -NOPERM when `state` may not run `args` (whose spec is `spec`, and whose argument
// count refusal() has checked); nullopt when it may.
[[nodiscard]] std::optional<Action> access_refusal(const ClientState& state,
                                                   const protocol::CommandSpec& spec,
                                                   const std::vector<std::string>& args);

// AUTH [user] password.
[[nodiscard]] Action auth_command(ClientState& state, const std::vector<std::string>& args,
                                  const ServerContext& context);

// Authenticates `user` with `password`; on success applies `on_success` to the state and
// answers `success_reply` (RESP bytes: +OK for AUTH, HELLO's map for HELLO), else -WRONGPASS.
// A source over its limit of failed attempts gets an error without its password checked.
[[nodiscard]] Action authenticate(ClientState& state, const std::string& user,
                                  const std::string& password, const ServerContext& context,
                                  std::string success_reply,
                                  std::function<void(ClientState&)> on_success);

// ACL SETUSER|DELUSER|LIST|WHOAMI (refusal() has checked the subcommand and its arguments).
[[nodiscard]] Action acl_command(const ClientState& state, const std::vector<std::string>& args,
                                 const ServerContext& context);

// A connection's authentication as it opens (and after RESET): the default user,
// authenticated when it needs no password.
void reset_auth(ClientState& state, const AuthOptions* options);

}  // namespace raftkv::server
