#include "server/client_commands.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "kv/command_args.h"
#include "kv/resp_reply.h"
#include "protocol/command_table.h"
#include "server/allocator.h"

namespace raftkv::server {
namespace {

using kv::Command;
using kv::Reply;

std::string upper(const std::string& text) {
  std::string out = text;
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return out;
}

std::string lower(const std::string& text) {
  std::string out = text;
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

Action reply(const Reply& value) {
  Action action;
  kv::resp_append_reply(&action.reply, value);
  return action;
}

Action error(const std::string& text) { return reply(Reply::error(text)); }

Action run(Command command) {
  Action action;
  action.kind = Action::Kind::Run;
  action.command = std::move(command);
  return action;
}

Action wrong_arity(const std::string& name) {
  return error("ERR wrong number of arguments for '" + lower(name) + "' command");
}

bool parse_int(const std::string& text, int64_t* value) {  // For SESSION.CALL's numbers.
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, *value);
  return ec == std::errc() && ptr == end && !text.empty();
}

// args[at] and args[at + 1] as a session's client id and sequence number, both positive.
bool parse_session_ids(const std::vector<std::string>& args, size_t at, uint64_t* client_id,
                       uint64_t* sequence) {
  int64_t id = 0;
  int64_t seq = 0;
  if (args.size() < at + 2) return false;
  if (!parse_int(args[at], &id) || id <= 0 || !parse_int(args[at + 1], &seq) || seq <= 0) {
    return false;
  }
  *client_id = static_cast<uint64_t>(id);
  *sequence = static_cast<uint64_t>(seq);
  return true;
}

std::vector<std::string> rest(const std::vector<std::string>& args, size_t from) {
  return {args.begin() + static_cast<ptrdiff_t>(from), args.end()};
}

// Key-value commands: the kv layer owns their syntax and Redis' error texts.
Action translate_data(const std::vector<std::string>& args) {
  std::vector<std::string_view> views(args.begin(), args.end());
  Result<Command> command = kv::command_from_args(views);
  if (!command.is_ok()) return error(command.status().message());
  return run(std::move(command).value());
}

// SESSION.CALL client_id seq COMMAND args...: the command under an exactly-once session. The
// leader stamps the time (Node::propose); the state machine drops duplicates (thesis 6.3).
Action translate_session_call(const std::vector<std::string>& args) {
  if (args.size() < 4) return wrong_arity(args[0]);
  uint64_t client_id = 0;
  uint64_t sequence = 0;
  if (!parse_session_ids(args, 1, &client_id, &sequence)) {
    return error("ERR client id and sequence must be positive integers");
  }
  const std::vector<std::string> inner_args = rest(args, 3);
  Action inner = translate_data(inner_args);
  if (inner.kind != Action::Kind::Run) return inner;
  return run(Command::session(client_id, sequence, 0, std::move(inner.command)));
}

Action translate_multi(ClientState& state, const std::string& name,
                       const std::vector<std::string>& args) {
  if (name == "MULTI") return error("ERR MULTI calls can not be nested");
  if (name == "DISCARD") {
    state = ClientState{.stale_reads = state.stale_reads};
    return reply(Reply::ok());
  }
  if (name == "EXEC" || name == "SESSION.EXEC") {
    const bool failed = state.multi_failed;
    std::vector<Command> queued = std::move(state.queued);
    state = ClientState{.stale_reads = state.stale_reads};
    if (failed) return error("EXECABORT Transaction discarded because of previous errors.");
    Command batch = Command::batch(std::move(queued));  // One log entry, applied atomically.
    if (name == "EXEC") return run(std::move(batch));
    // SESSION.EXEC id seq: the whole transaction under an exactly-once session.
    uint64_t client_id = 0;
    uint64_t sequence = 0;
    if (args.size() != 3 || !parse_session_ids(args, 1, &client_id, &sequence)) {
      return error("ERR usage: SESSION.EXEC client_id seq (positive integers)");
    }
    return run(Command::session(client_id, sequence, 0, std::move(batch)));
  }
  Action action = translate_data(args);
  if (action.kind != Action::Kind::Run) {
    state.multi_failed = true;  // Redis: a command refused at queue time aborts EXEC.
    return action;
  }
  state.queued.push_back(std::move(action.command));
  return reply(Reply::simple("QUEUED"));
}

// One command's COMMAND INFO entry, as Redis 7 gives it: name, arity, flags, first key, last
// key, key step, ACL categories, tips, key specs, subcommands.
Reply command_info(const protocol::CommandSpec& spec) {
  std::vector<Reply> flags;
  std::vector<Reply> categories;
  if (spec.is(protocol::kRead)) {
    flags.push_back(Reply::simple("readonly"));
    categories.push_back(Reply::simple("@read"));
  }
  if (spec.is(protocol::kWrite)) {
    flags.push_back(Reply::simple("write"));
    categories.push_back(Reply::simple("@write"));
  }
  if (spec.is(protocol::kAdmin)) {
    flags.push_back(Reply::simple("admin"));
    categories.push_back(Reply::simple("@admin"));
  }
  if (spec.is(protocol::kConnection)) categories.push_back(Reply::simple("@connection"));
  if (spec.is(protocol::kTransaction)) categories.push_back(Reply::simple("@transaction"));
  return Reply::array({Reply::bulk(std::string(spec.name)), Reply::integer_value(spec.arity),
                       Reply::array(std::move(flags)), Reply::integer_value(spec.first_key),
                       Reply::integer_value(spec.last_key), Reply::integer_value(spec.key_step),
                       Reply::array(std::move(categories)), Reply::array({}), Reply::array({}),
                       Reply::array({})});
}

// COMMAND, COMMAND COUNT, COMMAND INFO name...: from the command table.
Action command_command(const std::vector<std::string>& args) {
  const std::span<const protocol::CommandSpec> specs = protocol::all_commands();
  if (args.size() == 1) {
    std::vector<Reply> all;
    for (const protocol::CommandSpec& spec : specs) all.push_back(command_info(spec));
    return reply(Reply::array(std::move(all)));
  }
  const std::string sub = upper(args[1]);
  if (sub == "COUNT" && args.size() == 2) {
    return reply(Reply::integer_value(static_cast<int64_t>(specs.size())));
  }
  if (sub == "INFO") {
    std::vector<Reply> infos;
    for (size_t i = 2; i < args.size(); ++i) {
      const protocol::CommandSpec* spec = protocol::find_command(args[i]);
      infos.push_back(spec != nullptr ? command_info(*spec) : Reply::nil());
    }
    return reply(Reply::array(std::move(infos)));
  }
  return error("ERR unknown subcommand or wrong number of arguments for '" + args[1] +
               "'. Try COMMAND HELP.");
}

// Everything but the encoding of a command to run (translate() adds it).
Action translate_args(ClientState& state, const std::vector<std::string>& args,
                      const std::function<ServerStatus()>& status) {
  if (args.empty()) return error("ERR empty command");
  const std::string name = upper(args[0]);
  if (state.in_multi) return translate_multi(state, name, args);
  if (name == "PING") {
    if (args.size() > 2) return wrong_arity(name);
    return reply(args.size() == 2 ? Reply::bulk(args[1]) : Reply::simple("PONG"));
  }
  if (name == "ECHO") return args.size() == 2 ? reply(Reply::bulk(args[1])) : wrong_arity(name);
  if (name == "QUIT") {
    Action action = reply(Reply::ok());
    action.kind = Action::Kind::Quit;
    return action;
  }
  if (name == "COMMAND") return command_command(args);
  // Enough for redis-cli and redis-benchmark, which ask at start-up.
  if (name == "CONFIG") return reply(Reply::array({}));
  if (name == "SELECT") {
    if (args.size() != 2) return wrong_arity(name);
    return args[1] == "0" ? reply(Reply::ok()) : error("ERR DB index is out of range");
  }
  if (name == "CLIENT") return reply(Reply::ok());
  if (name == "INFO") return reply(Reply::bulk(info_text(status())));
  if (name == "MULTI") {
    state.in_multi = true;
    return reply(Reply::ok());
  }
  if (name == "EXEC" || name == "DISCARD") return error("ERR " + name + " without MULTI");
  if (name == "SESSION.OPEN") {
    return args.size() == 1 ? run(Command::register_session(0)) : wrong_arity(name);
  }
  if (name == "SESSION.CALL") return translate_session_call(args);
  if (name == "READONLY" || name == "READWRITE") {
    state.stale_reads = name == "READONLY";
    return reply(Reply::ok());
  }
  Action action = translate_data(args);
  if (action.kind == Action::Kind::Run) {
    action.stale_read = state.stale_reads && kv::is_read_only(action.command);
  }
  return action;
}

}  // namespace

Action translate(ClientState& state, const std::vector<std::string>& args,
                 const std::function<ServerStatus()>& status) {
  Action action = translate_args(state, args, status);
  if (action.kind == Action::Kind::Run) {
    action.request = runtime::Request{kv::encode_command(action.command),
                                      kv::is_read_only(action.command)};
  }
  return action;
}

std::string info_text(const ServerStatus& server) {
  const runtime::NodeStatus& status = server.node;
  const raft::RaftStatus& raft = status.raft;
  std::string members;
  for (NodeId voter : raft.conf_state.voters) {
    if (!members.empty()) members += ",";
    members += std::to_string(voter.value());
    if (auto it = status.client_addrs.find(voter); it != status.client_addrs.end()) {
      members += "@" + it->second;
    }
  }
  std::string out = "# Server\r\nredis_version:7.0.0-raftkv\r\nraftkv_version:0.1.0\r\n";
  out += "mem_allocator:" + allocator_name() + "\r\n\r\n";
  out += "# Raft\r\n";
  out += "node_id:" + std::to_string(raft.id.value()) + "\r\n";
  out += std::string("role:") + raft::role_name(raft.role) + "\r\n";
  out += "term:" + std::to_string(raft.term.value()) + "\r\n";
  out += "leader_id:" + std::to_string(raft.leader.value()) + "\r\n";
  out += "leader_addr:" + status.leader_client_addr + "\r\n";
  out += "commit_index:" + std::to_string(raft.commit_index.value()) + "\r\n";
  out += "applied_index:" + std::to_string(raft.applied_index.value()) + "\r\n";
  out += "last_log_index:" + std::to_string(raft.last_index.value()) + "\r\n";
  out += "first_log_index:" + std::to_string(raft.first_index.value()) + "\r\n";
  out += "snapshot_index:" + std::to_string(status.snapshot_index.value()) + "\r\n";
  out += "members:" + members + "\r\n";
  out += "read_rounds:" + std::to_string(raft.read_rounds) + "\r\n";
  out += "pending_requests:" + std::to_string(status.pending_requests) + "\r\n";
  return out;
}

}  // namespace raftkv::server
