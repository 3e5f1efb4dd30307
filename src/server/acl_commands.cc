#include "server/acl_commands.h"

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "kv/resp_reply.h"
#include "server/replies.h"

namespace raftkv::server {
namespace {

using kv::Command;
using kv::Reply;

constexpr const char* kWrongPass = "WRONGPASS invalid username-password pair or user is disabled.";

bool needs_password(const AuthOptions* options) {
  return options != nullptr && !options->requirepass.empty();
}

// The spec whose flags decide access: a container's subcommand, SESSION.CALL's command.
const protocol::CommandSpec* governing_spec(const protocol::CommandSpec& spec,
                                            const std::vector<std::string>& args) {
  if (spec.name == "session.call" && args.size() > 3) {
    const protocol::CommandSpec* inner = protocol::find_command(args[3]);
    return inner != nullptr ? inner : &spec;
  }
  return &protocol::called_spec(spec, args);
}

uint8_t required_categories(const protocol::CommandSpec& spec) {
  if (spec.is(protocol::kAdmin)) return kv::kAclAdmin;
  if (spec.is(protocol::kWrite)) return kv::kAclWrite;
  if (spec.is(protocol::kRead)) return kv::kAclRead;
  return 0;  // The connection's own commands.
}

// The text of a RESP bulk reply; nullopt for nil or anything else.
std::optional<std::string> bulk_text(std::string_view bytes) {
  const size_t line_end = bytes.find("\r\n");
  if (bytes.empty() || bytes[0] != '$' || line_end == std::string_view::npos ||
      bytes.size() < line_end + 4) {
    return std::nullopt;
  }
  return std::string(bytes.substr(line_end + 2, bytes.size() - line_end - 4));
}

// Whether the store's AclGetUser answer ("on|off <categories> nopass|pass <hash>...") lets
// `password_digest` in; sets *categories when it does.
bool user_admits(std::string_view record, const std::string& password_digest,
                 uint8_t* categories) {
  std::vector<std::string_view> words;
  for (size_t at = 0; at <= record.size();) {
    const size_t end = std::min(record.find(' ', at), record.size());
    words.push_back(record.substr(at, end - at));
    at = end + 1;
  }
  if (words.size() < 3 || words[0] != "on") return false;
  const int value = std::atoi(std::string(words[1]).c_str());
  if (value < 0 || value > kv::kAclAll) return false;
  *categories = static_cast<uint8_t>(value);
  if (words[2] == "nopass") return true;
  bool match = false;
  for (size_t i = 3; i < words.size(); ++i) match |= hashes_equal(words[i], password_digest);
  return match;
}

void record_failure(const ServerContext& context, const ClientState& state) {
  if (context.limiter != nullptr) context.limiter->failed(source_of(state.addr), context.now_ms);
}

// ACL LIST's line for the default user, which the log does not hold.
std::string default_user_line(const AuthOptions* options) {
  if (!needs_password(options)) return "user default on nopass ~* &* +@all";
  return "user default on #" + password_hash(options->requirepass) + " ~* &* +@all";
}

// ACL SETUSER's rules with each plaintext password replaced by its digest, so that no
// password reaches the log: >p adds, <p removes.
std::vector<std::string> hashed_rules(const std::vector<std::string>& args) {
  std::vector<std::string> rules(args.begin() + 3, args.end());
  for (std::string& rule : rules) {
    if (rule.starts_with('>')) rule = "#" + password_hash(std::string_view(rule).substr(1));
    if (rule.starts_with('<')) rule = "!" + password_hash(std::string_view(rule).substr(1));
  }
  return rules;
}

}  // namespace

std::optional<Action> access_refusal(const ClientState& state, const protocol::CommandSpec& spec,
                                     const std::vector<std::string>& args) {
  if (!state.authenticated) {
    const bool before_auth = spec.name == "auth" || spec.name == "hello" ||
                             spec.name == "quit" || spec.name == "reset";
    if (before_auth) return std::nullopt;
    return reply(Reply::error("NOAUTH Authentication required."));
  }
  if (state.categories == kv::kAclAll) return std::nullopt;  // Every command's category.
  const protocol::CommandSpec* governing = governing_spec(spec, args);
  const uint8_t needed = required_categories(*governing);
  if ((state.categories & needed) == needed) return std::nullopt;
  return reply(Reply::error("NOPERM this user has no permissions to run the '" +
                             std::string(governing->name) + "' command"));
}

Action authenticate(ClientState& state, const std::string& user, const std::string& password,
                    const ServerContext& context, std::string success_reply,
                    std::function<void(ClientState&)> on_success) {
  const std::string source = source_of(state.addr);
  if (context.limiter != nullptr) {
    if (const uint64_t wait = context.limiter->wait_ms(source, context.now_ms); wait > 0) {
      return reply(Reply::error("ERR too many failed AUTH attempts from " + source +
                                 ", retry in " + std::to_string(wait) + " ms"));
    }
  }
  if (user == "default") {
    const bool ok = !needs_password(context.auth) ||
                    hashes_equal(password_hash(password), password_hash(context.auth->requirepass));
    if (!ok) {
      record_failure(context, state);
      return reply(Reply::error(kWrongPass));
    }
    state.user = user;
    state.authenticated = true;
    state.categories = kv::kAclAll;
    on_success(state);
    Action action;
    action.reply = std::move(success_reply);
    return action;
  }
  // A replicated user: read this node's state, then decide. Later requests wait for it.
  Action action = run(Command::acl_getuser(user));
  action.stale_read = true;
  action.blocks = true;
  action.finish = [context, user, digest = password_hash(password),
                   reply = std::move(success_reply),
                   on_success = std::move(on_success)](ClientState& client, std::string record) {
    const std::optional<std::string> text = bulk_text(record);
    uint8_t categories = 0;
    if (!text || !user_admits(*text, digest, &categories)) {
      record_failure(context, client);
      return resp(Reply::error(kWrongPass));
    }
    client.user = user;
    client.authenticated = true;
    client.categories = categories;
    on_success(client);
    return reply;
  };
  return action;
}

Action auth_command(ClientState& state, const std::vector<std::string>& args,
                    const ServerContext& context) {
  if (args.size() == 2 && !needs_password(context.auth)) {
    return reply(Reply::error("ERR AUTH <password> called without any password configured "
                               "for the default user. Are you sure your configuration is "
                               "correct?"));
  }
  if (args.size() > 3) return reply(Reply::error("ERR syntax error"));
  const std::string user = args.size() == 3 ? args[1] : "default";
  return authenticate(state, user, args.back(), context, resp(Reply::ok()),
                      [](ClientState&) {});
}

Action acl_command(const ClientState& state, const std::vector<std::string>& args,
                   const ServerContext& context) {
  const std::string sub = upper(args[1]);
  if (sub == "WHOAMI") return reply(Reply::bulk(state.user));
  if (sub == "SETUSER") return run(Command::acl_setuser(args[2], hashed_rules(args)));
  if (sub == "DELUSER") {
    return run(Command::acl_deluser(std::vector<std::string>(args.begin() + 2, args.end())));
  }
  RAFT_ASSERT(sub == "LIST");  // refusal() checked the subcommand.
  Action action = run(Command::acl_list());
  action.stale_read = state.stale_reads;
  // The store's array, with the default user first (it sorts before no name but is not there).
  action.finish = [line = default_user_line(context.auth)](ClientState&, std::string lines) {
    const size_t header_end = lines.find("\r\n");
    if (lines.empty() || lines[0] != '*' || header_end == std::string::npos) return lines;
    const int count = std::atoi(lines.substr(1, header_end - 1).c_str());
    return "*" + std::to_string(count + 1) + "\r\n" + resp(Reply::bulk(line)) +
           lines.substr(header_end + 2);
  };
  return action;
}

void reset_auth(ClientState& state, const AuthOptions* options) {
  state.user = "default";
  state.authenticated = !needs_password(options);
  state.categories = kv::kAclAll;
  RAFT_ASSERT(state.authenticated || needs_password(options));
}

}  // namespace raftkv::server
