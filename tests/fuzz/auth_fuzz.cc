// libFuzzer target for the AUTH path (server/acl_commands.h: access_refusal, AUTH, RESET as the
// client server calls them, and HELLO [2|3] [AUTH user pass] [SETNAME name] through the server's
// own translate()), which takes bytes from anyone who reaches a client port before they have
// authenticated. The input is a session of commands on one connection, split at '\n', each
// command's arguments split at NUL; an argument "\x01" stands for the default user's password and
// "\x02" for the replicated user alice's, so that the fuzzer reaches the success paths without
// guessing them. A command for the store (AUTH as a replicated user) is answered as a store that
// has alice under every name would, or with nil (no such user), as the input's first byte says; its
// high bits set the rate limit's burst. It must never crash; a connection must never become
// authenticated, or switch user, by a command that does not carry that user's password; and AUTH
// without a right password must be answered with -WRONGPASS, the rate limit's refusal, or an arity
// or syntax error, nothing else; nor HELLO's AUTH, which may also answer NOPROTO, a bad version or
// NOAUTH (no AUTH option). HELLO's own reply (an array) reaches only a connection that is
// authenticated once it ran. Built by tests/fuzz/run.sh.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kv/resp_reply.h"
#include "protocol/command_table.h"
#include "server/acl_commands.h"
#include "server/auth.h"
#include "server/client_commands.h"
#include "server/replies.h"
#include "split.h"

namespace {

using raftkv::server::Action;
using raftkv::server::ClientState;
using raftkv::server::ServerContext;

constexpr const char* kPassword = "correct horse";
constexpr const char* kAlicePassword = "battery staple";
constexpr size_t kCommandsMax = 32;
constexpr size_t kArgsMax = 8;

// What AclGetUser gives for alice: enabled, read and write, her password's digest.
std::string alice_record() {
  const std::string record = "on 3 pass " + raftkv::server::password_hash(kAlicePassword);
  return "$" + std::to_string(record.size()) + "\r\n" + record + "\r\n";
}

bool carries(const std::vector<std::string>& args, std::string_view password) {
  for (const std::string& arg : args) {
    if (arg == password) return true;
  }
  return false;
}

bool carries_a_password(const std::vector<std::string>& args) {
  return carries(args, kPassword) || carries(args, kAlicePassword);
}

// Whether args[0] is `name` (lower case letters), in any case.
bool is_command(const std::vector<std::string>& args, std::string_view name) {
  if (args.empty() || args[0].size() != name.size()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if ((args[0][i] | 0x20) != name[i]) return false;
  }
  return true;
}

bool is_auth(const std::vector<std::string>& args) { return is_command(args, "auth"); }
bool is_hello(const std::vector<std::string>& args) { return is_command(args, "hello"); }

// The replies that refuse an AUTH or HELLO ... AUTH without a right password.
bool refusal(const std::string& reply) {
  for (const char* start : {"-WRONGPASS", "-ERR too many failed AUTH", "-ERR wrong number",
                            "-ERR syntax error", "-ERR Syntax error in HELLO", "-NOPROTO",
                            "-ERR Protocol version", "-NOAUTH HELLO"}) {
    if (reply.starts_with(start)) return true;
  }
  return false;
}

// The client's reply to `action` once the store answered (`store_has_alice`), as the server
// would write it.
std::string reply_of(Action& action, ClientState& state, bool store_has_alice) {
  if (action.kind != Action::Kind::Run || !action.finish) return action.reply;
  return action.finish(state, store_has_alice ? alice_record() : "$-1\r\n");
}

// What the client server does with a command on the AUTH path: the arity check of the command
// table, access (NOAUTH before authentication), then AUTH itself or RESET; HELLO as the server
// translates it. Anything else that passed access answers +OK here (the store is not part of
// this target).
Action dispatch(ClientState& state, const std::vector<std::string>& args,
                const ServerContext& context) {
  if (is_hello(args)) return raftkv::server::translate(state, args, context);
  Action action;
  const raftkv::protocol::CommandSpec* spec =
      args.empty() ? nullptr : raftkv::protocol::find_command(args[0]);
  if (spec == nullptr) return raftkv::server::reply(raftkv::kv::Reply::error("ERR unknown"));
  if (std::optional<Action> refused = raftkv::server::access_refusal(state, *spec, args)) {
    return *refused;
  }
  if (is_auth(args)) {
    if (args.size() < 2) {
      return raftkv::server::reply(
          raftkv::kv::Reply::error("ERR wrong number of arguments for 'auth' command"));
    }
    return raftkv::server::auth_command(state, args, context);
  }
  if (spec->name == "reset") raftkv::server::reset_auth(state, context.auth);
  action.reply = "+OK\r\n";
  return action;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool store_has_alice = (data[0] & 1) != 0;
  const uint32_t burst = 1 + (data[0] >> 4);
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  raftkv::server::AuthOptions options;
  options.requirepass = kPassword;
  raftkv::server::AuthLimiter limiter(burst, 1);
  ServerContext context;
  context.status = [] { return raftkv::server::ServerStatus{}; };  // HELLO names the role.
  context.auth = &options;
  context.limiter = &limiter;
  ClientState state;
  state.addr = "192.0.2.1:4000";
  raftkv::server::reset_auth(state, &options);
  if (state.authenticated) std::abort();  // A password is required.
  for (const std::string& line : split(bytes, '\n', kCommandsMax)) {
    std::vector<std::string> args = split(line, '\0', kArgsMax);
    for (std::string& arg : args) {
      if (arg == "\x01") arg = kPassword;
      if (arg == "\x02") arg = kAlicePassword;
    }
    context.now_ms += 100;
    const bool was_authenticated = state.authenticated;
    const std::string was_user = state.user;
    Action action = dispatch(state, args, context);
    const std::string reply = reply_of(action, state, store_has_alice);
    // Authenticated anew, or as another user: only with that user's password in the command.
    if (state.authenticated && (!was_authenticated || state.user != was_user)) {
      if (!carries(args, state.user == "default" ? kPassword : kAlicePassword)) std::abort();
    }
    if (is_auth(args) && !carries_a_password(args) && !refusal(reply)) std::abort();
    if (is_hello(args) && !was_authenticated) {
      if (!carries_a_password(args) && !refusal(reply)) std::abort();
      if (reply.starts_with("*") && !state.authenticated) std::abort();
    }
  }
  return 0;
}
