#include "server/client_commands.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <iterator>
#include <cstdio>
#include <limits>

#include "kv/command_args.h"
#include "kv/commands.h"
#include "kv/resp_reply.h"
#include "net/resp_encoder.h"
#include "protocol/command_table.h"
#include "server/acl_commands.h"
#include "server/admin_commands.h"
#include "server/allocator.h"
#include "server/replies.h"

namespace raftkv::server {
namespace {

using kv::Command;
using kv::Reply;

// What HELLO and INFO say this server is: the Redis release whose behaviour it follows.
constexpr const char* kRedisVersion = "7.0.15";
constexpr const char* kRaftkvVersion = "0.2.0";

Action silent() {
  Action action;
  action.silent = true;
  return action;
}


Action wrong_arity(const std::string& name) {
  return error("ERR wrong number of arguments for '" + lower(name) + "' command");
}

Action unknown_subcommand(const std::string& command, const std::string& sub) {
  return error("ERR unknown subcommand '" + sub + "'. Try " + upper(command) + " HELP.");
}

// Redis' checks before a command runs or is queued: its argument count and, for a container
// (CLIENT, CLUSTER, COMMAND, CONFIG), that the subcommand exists and its argument count.
std::optional<Action> refusal(const protocol::CommandSpec& spec,
                              const std::vector<std::string>& args) {
  if (!spec.arity_ok(args.size())) return wrong_arity(std::string(spec.name));
  if (args.size() < 2 || !spec.is(protocol::kContainer)) return std::nullopt;
  const protocol::CommandSpec* sub = protocol::find_subcommand(spec.name, args[1]);
  if (sub == nullptr) return unknown_subcommand(std::string(spec.name), args[1]);
  if (!sub->arity_ok(args.size())) return wrong_arity(std::string(sub->name));
  return std::nullopt;
}

bool parse_int(const std::string& text, int64_t* value) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, *value);
  return ec == std::errc() && ptr == end && !text.empty();
}

// ---- RESP replies the store wrote, split into their elements (for EXEC's merge) ----

// The end of the RESP2 reply that starts at `at`, or npos when it is not one.
size_t skip_reply(std::string_view bytes, size_t at) {
  if (at >= bytes.size()) return std::string_view::npos;
  const size_t line_end = bytes.find("\r\n", at);
  if (line_end == std::string_view::npos) return line_end;
  const char type = bytes[at];
  if (type == '+' || type == '-' || type == ':') return line_end + 2;
  int64_t count = 0;
  const std::string header(bytes.substr(at + 1, line_end - at - 1));
  if ((type != '$' && type != '*') || !parse_int(header, &count)) return std::string_view::npos;
  size_t end = line_end + 2;
  if (count < 0) return end;
  if (type == '$') return end + static_cast<size_t>(count) + 2;
  for (int64_t i = 0; i < count && end != std::string_view::npos; ++i) {
    end = skip_reply(bytes, end);
  }
  return end;
}

// The elements of a RESP2 array reply; nullopt when `bytes` is not one (an error, a nil).
std::optional<std::vector<std::string_view>> split_array(std::string_view bytes) {
  const size_t line_end = bytes.find("\r\n");
  int64_t count = 0;
  if (bytes.empty() || bytes[0] != '*' || line_end == std::string_view::npos ||
      !parse_int(std::string(bytes.substr(1, line_end - 1)), &count) || count < 0) {
    return std::nullopt;
  }
  std::vector<std::string_view> elements;
  size_t at = line_end + 2;
  for (int64_t i = 0; i < count; ++i) {
    const size_t end = skip_reply(bytes, at);
    if (end == std::string_view::npos || end > bytes.size()) return std::nullopt;
    elements.push_back(bytes.substr(at, end - at));
    at = end;
  }
  return elements;
}

// EXEC's reply: the store's replies (its array) with the connection's own replies put back in
// their places (`locals[i]` set for a command the connection answered). Anything but an
// array (a nil array for changed WATCHed keys, an error) passes as it is.
std::string merge_exec(const std::vector<std::optional<std::string>>& locals,
                       std::string store_reply) {
  const std::optional<std::vector<std::string_view>> stored = split_array(store_reply);
  if (!stored) return store_reply;
  std::string out;
  net::resp_append_array_header(&out, locals.size());
  size_t next = 0;
  for (const std::optional<std::string>& local : locals) {
    if (local) {
      out += *local;
    } else if (next < stored->size()) {
      out += (*stored)[next++];
    }
  }
  RAFT_ASSERT(next == stored->size());
  return out;
}

// ---- Sessions ----

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

// Key-value commands: the kv layer owns their syntax and Redis' error texts.
// Takes the arguments: a large value moves on into the command (kv::command_from_args).
Action translate_data(std::vector<std::string> args) {
  Result<Command> command = kv::command_from_args(std::move(args));
  if (!command.is_ok()) return error(command.status().message());
  return run(std::move(command).value());
}

// SESSION.CALL client_id seq COMMAND args...: the command under an exactly-once session. The
// leader stamps the time (to_entry); the state machine drops duplicates (thesis 6.3).
Action translate_session_call(std::vector<std::string> args) {
  uint64_t client_id = 0;
  uint64_t sequence = 0;
  if (!parse_session_ids(args, 1, &client_id, &sequence)) {
    return error("ERR client id and sequence must be positive integers");
  }
  std::vector<std::string> inner_args(std::make_move_iterator(args.begin() + 3),
                                      std::make_move_iterator(args.end()));
  Action inner = translate_data(std::move(inner_args));
  if (inner.kind != Action::Kind::Run) return inner;
  return run(Command::session(client_id, sequence, 0, std::move(inner.command)));
}

Action translate_connection(ClientState& state, const std::vector<std::string>& args,
                            const ServerContext& context, bool at_exec);

// ---- Transactions ----

// EXEC or SESSION.EXEC id seq: one Batch entry with the WATCHed versions; the connection's own
// commands run now, in order, and their replies are merged into the store's.
// Leaves MULTI (EXEC, DISCARD): the queue and the watched keys go.
void end_multi(ClientState& state) {
  state.in_multi = false;
  state.multi_failed = false;
  state.queued.clear();
  state.queued_bytes = 0;
  state.watched.clear();
}

Action exec_transaction(ClientState& state, const std::vector<std::string>& args,
                        const ServerContext& context) {
  const bool failed = state.multi_failed;
  std::vector<Queued> queued = std::move(state.queued);
  std::vector<std::pair<std::string, uint64_t>> watched = std::move(state.watched);
  end_multi(state);
  if (failed) return error("EXECABORT Transaction discarded because of previous errors.");
  std::vector<Command> commands;
  std::vector<std::optional<std::string>> locals;
  for (Queued& item : queued) {
    if (item.command) {
      commands.push_back(std::move(*item.command));
      locals.emplace_back();
    } else {
      locals.push_back(translate_connection(state, item.args, context, true).reply);
    }
  }
  if (commands.empty() && watched.empty()) {  // Nothing for the store: no log entry.
    Action action;
    net::resp_append_array_header(&action.reply, locals.size());
    for (const std::optional<std::string>& local : locals) action.reply += *local;
    return action;
  }
  Command batch = Command::batch(std::move(commands), watched);  // One entry, atomic.
  uint64_t client_id = 0;
  uint64_t sequence = 0;
  if (upper(args[0]) == "SESSION.EXEC") {
    if (!parse_session_ids(args, 1, &client_id, &sequence)) {
      return error("ERR usage: SESSION.EXEC client_id seq (positive integers)");
    }
    batch = Command::session(client_id, sequence, 0, std::move(batch));
  }
  Action action = run(std::move(batch));
  action.finish = [locals = std::move(locals)](ClientState&, std::string store_reply) {
    return merge_exec(locals, std::move(store_reply));
  };
  return action;
}

// A command between MULTI and EXEC: queued, or refused (which makes EXEC abort, as in Redis,
// for an unknown command or a wrong argument count). EXEC becomes one log entry, so the
// queue's arguments together must fit --max-request-bytes, as one command's must.
Action queue_in_multi(ClientState& state, const std::vector<std::string>& args,
                      const std::string& name, const ServerContext& context) {
  const protocol::CommandSpec* spec = protocol::find_command(args[0]);
  std::optional<Action> refused;
  uint64_t bytes = 0;
  for (const std::string& arg : args) bytes += arg.size();
  if (context.request_bytes_max != 0 && state.queued_bytes + bytes > context.request_bytes_max) {
    refused = error("ERR request exceeds maximum allowed size (max-request-bytes)");
  } else if (spec == nullptr) {
    refused = translate_data(args);  // Its unknown-command error.
  } else if (name.starts_with("SESSION.") || name.starts_with("RAFT.")) {
    refused = error("ERR " + name + " inside MULTI is not allowed");
  } else if (name == "ACL" || name == "AUTH" || name == "HELLO") {
    // They read or change the replicated users, which EXEC's one entry does not do.
    refused = error("ERR Command not allowed inside a transaction");
  } else {
    refused = refusal(*spec, args);
  }
  if (refused) {
    state.multi_failed = true;
    return *refused;
  }
  Queued item;
  if (spec->is(protocol::kConnection)) {
    item.args = args;
  } else {
    Action data = translate_data(args);
    if (data.kind != Action::Kind::Run) {
      state.multi_failed = true;
      return data;
    }
    item.command = std::move(data.command);
  }
  state.queued.push_back(std::move(item));
  state.queued_bytes += bytes;
  return reply(Reply::simple("QUEUED"));
}

Action translate_multi(ClientState& state, const std::string& name,
                       const std::vector<std::string>& args, const ServerContext& context) {
  if (name == "MULTI") return error("ERR MULTI calls can not be nested");
  if (name == "WATCH") return error("ERR WATCH inside MULTI is not allowed");
  if (name == "DISCARD") {
    end_multi(state);
    return reply(Reply::ok());
  }
  if (name == "EXEC" || name == "SESSION.EXEC") return exec_transaction(state, args, context);
  if (name == "QUIT" || name == "RESET") return translate_connection(state, args, context, false);
  return queue_in_multi(state, args, name, context);
}

// WATCH key...: a linearizable read of the keys' versions; the connection waits for it before
// its next request, so that a later EXEC carries them.
Action watch(const std::vector<std::string>& args) {
  std::vector<std::string> keys(args.begin() + 1, args.end());
  Action action = run(Command::versions(keys));
  action.blocks = true;
  action.finish = [keys = std::move(keys)](ClientState& state, std::string versions) {
    const std::optional<std::vector<std::string_view>> elements = split_array(versions);
    if (!elements || elements->size() != keys.size()) return versions;  // An error: as it is.
    for (size_t i = 0; i < keys.size(); ++i) {
      int64_t version = 0;
      const std::string_view element = (*elements)[i];
      // Each element is ":<n>\r\n".
      if (!parse_int(std::string(element.substr(1, element.size() - 3)), &version)) continue;
      state.watched.emplace_back(keys[i], static_cast<uint64_t>(version));
    }
    return resp(Reply::ok());
  };
  return action;
}


// ---- CLIENT ----

// Redis refuses names and library tags that would break CLIENT LIST's "k=v" format.
bool valid_client_text(const std::string& text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c > ' ' && c <= '~'; });
}

std::vector<const ClientState*> all_clients(const ClientState& self,
                                            const ServerContext& context) {
  if (context.directory == nullptr) return {&self};
  return context.directory->clients();
}

// CLIENT KILL addr, or CLIENT KILL [ID id] [ADDR a] [LADDR a] [SKIPME yes|no] [TYPE normal]...
Action client_kill(ClientState& state, const std::vector<std::string>& args,
                   const ServerContext& context) {
  const bool old_form = args.size() == 3;
  std::optional<uint64_t> id;
  std::optional<std::string> addr;
  std::optional<std::string> laddr;
  bool skip_me = !old_form;
  if (!old_form && args.size() % 2 != 0) return error("ERR syntax error");
  for (size_t i = 2; !old_form && i + 1 < args.size(); i += 2) {
    const std::string option = upper(args[i]);
    const std::string& value = args[i + 1];
    int64_t number = 0;
    if (option == "ID" && parse_int(value, &number) && number > 0) {
      id = static_cast<uint64_t>(number);
    } else if (option == "ID") {
      return error("ERR client-id should be greater than 0");
    } else if (option == "ADDR") {
      addr = value;
    } else if (option == "LADDR") {
      laddr = value;
    } else if (option == "SKIPME" && (lower(value) == "yes" || lower(value) == "no")) {
      skip_me = lower(value) == "yes";
    } else if (!(option == "TYPE" && lower(value) == "normal") &&
               !(option == "USER" && value == "default")) {
      return error("ERR syntax error");  // Every connection is a normal one, of user default.
    }
  }
  if (old_form) addr = args[2];
  std::vector<uint64_t> victims;
  for (const ClientState* client : all_clients(state, context)) {
    if ((id && client->id != *id) || (addr && client->addr != *addr) ||
        (laddr && client->laddr != *laddr) || (skip_me && client->id == state.id)) {
      continue;
    }
    victims.push_back(client->id);
  }
  for (uint64_t victim : victims) {
    if (victim == state.id) {
      state.kill = true;
    } else if (context.directory != nullptr) {
      (void)context.directory->kill(victim);
    }
  }
  if (old_form) return victims.empty() ? error("ERR No such client") : reply(Reply::ok());
  return reply(Reply::integer_value(static_cast<int64_t>(victims.size())));
}

Action client_list(const ClientState& state, const std::vector<std::string>& args,
                   const ServerContext& context) {
  std::vector<uint64_t> ids;
  for (size_t i = 2; i < args.size(); ++i) {
    const std::string option = upper(args[i]);
    if (option == "TYPE" && i + 1 < args.size()) {
      ++i;  // Every connection is a normal one.
      continue;
    }
    if (option != "ID" || i + 1 >= args.size()) return error("ERR syntax error");
    for (++i; i < args.size(); ++i) {
      int64_t id = 0;
      if (!parse_int(args[i], &id) || id <= 0) return error("ERR Invalid client ID");
      ids.push_back(static_cast<uint64_t>(id));
    }
  }
  std::string out;
  for (const ClientState* client : all_clients(state, context)) {
    if (!ids.empty() && std::find(ids.begin(), ids.end(), client->id) == ids.end()) continue;
    out += client_line(*client, context.now_ms) + "\n";
  }
  return reply(Reply::bulk(out));
}

// CLIENT SETINFO LIB-NAME name | LIB-VER version.
Action client_setinfo(ClientState& state, const std::vector<std::string>& args) {
  const std::string attribute = upper(args[2]);
  if (attribute != "LIB-NAME" && attribute != "LIB-VER") {
    return error("ERR Unrecognized option '" + args[2] + "'");
  }
  if (!valid_client_text(args[3]) && !args[3].empty()) {
    return error("ERR " + args[2] + " cannot contain spaces, newlines or special characters.");
  }
  (attribute == "LIB-NAME" ? state.lib_name : state.lib_ver) = args[3];
  return reply(Reply::ok());
}

Action client_reply(ClientState& state, const std::string& mode) {
  const std::string wanted = upper(mode);
  if (wanted == "ON") {
    state.replies_off = false;
    return reply(Reply::ok());
  }
  if (wanted == "OFF") state.replies_off = true;
  if (wanted == "SKIP") state.skip_next_reply = true;
  if (wanted == "OFF" || wanted == "SKIP") return silent();
  return error("ERR syntax error");
}

Action client_command(ClientState& state, const std::vector<std::string>& args,
                      const ServerContext& context) {
  // refusal() checked the subcommand and its argument count.
  const std::string sub = upper(args[1]);
  if (sub == "ID") return reply(Reply::integer_value(static_cast<int64_t>(state.id)));
  if (sub == "GETNAME") return reply(state.name.empty() ? Reply::nil() : Reply::bulk(state.name));
  if (sub == "SETNAME") {
    if (!valid_client_text(args[2]) && !args[2].empty()) {
      return error("ERR Client names cannot contain spaces, newlines or special characters.");
    }
    state.name = args[2];
    return reply(Reply::ok());
  }
  if (sub == "INFO") return reply(Reply::bulk(client_line(state, context.now_ms) + "\n"));
  if (sub == "LIST") return client_list(state, args, context);
  if (sub == "KILL") return client_kill(state, args, context);
  if (sub == "SETINFO") return client_setinfo(state, args);
  if (sub == "REPLY") return client_reply(state, args[2]);
  RAFT_ASSERT(sub == "NO-EVICT" || sub == "NO-TOUCH");
  const std::string value = upper(args[2]);
  if (value != "ON" && value != "OFF") return error("ERR syntax error");
  return reply(Reply::ok());  // Nothing is ever evicted; reads touch nothing.
}

// ---- CLUSTER: one shard, the leader its master, the followers its replicas ----

// A node's 40-character cluster id, stable for its node id.
std::string cluster_node_id(NodeId id) {
  std::string hex = std::to_string(id.value());
  return std::string(40 - std::min<size_t>(hex.size(), 40), '0') + hex;
}

std::pair<std::string, int64_t> split_address(const std::string& address) {
  const size_t colon = address.rfind(':');
  int64_t port = 0;
  if (colon == std::string::npos || !parse_int(address.substr(colon + 1), &port)) {
    return {address, 0};
  }
  return {address.substr(0, colon), port};
}

struct ClusterMember {
  NodeId id;
  std::string address;
  bool master = false;
};

// The master is the leader; with none known (no election settled while cluster_command
// waited: this node may be cut off), or one whose client address it has not learnt yet, a
// node names itself, so that a client keeps talking to a live node, which holds the request
// until a leader is elected and then forwards it. Members without a client address yet are
// left out. A client on the TLS port gets the members' TLS ports (a client that follows these
// answers must stay encrypted), and members with no TLS port are left out for it.
std::vector<ClusterMember> cluster_members(const ServerStatus& server, bool tls) {
  const runtime::NodeStatus& status = server.node;
  const std::map<NodeId, std::string>& addrs = tls ? status.client_tls_addrs : status.client_addrs;
  const NodeId leader = status.raft.leader;
  const NodeId master = leader != kNoNode && addrs.contains(leader) ? leader : status.raft.id;
  std::vector<NodeId> ids = status.raft.conf_state.voters;
  ids.insert(ids.end(), status.raft.conf_state.learners.begin(),
             status.raft.conf_state.learners.end());
  std::vector<ClusterMember> members;
  for (NodeId id : ids) {
    const auto address = addrs.find(id);
    if (address == addrs.end()) continue;
    members.push_back({id, address->second, id == master});
  }
  std::stable_partition(members.begin(), members.end(),
                        [](const ClusterMember& member) { return member.master; });
  return members;
}

// CLUSTER SLOTS names the master only. The followers are replicas in CLUSTER SHARDS and NODES
// and INFO replication, but not here: redis-py 4.3.4 (Debian 12's) keeps a cached node's role
// when the topology changes, so a follower it learnt as a replica stays one after it becomes
// leader, and the client fails ("list index out of range") instead of following the
// failover. A master-only reply costs nothing else: writes and linearizable reads go to the
// leader anyway, and a client that wants stale reads can send READONLY to any node.
Reply cluster_slots(const std::vector<ClusterMember>& members) {
  if (members.empty() || !members.front().master) return Reply::array({});
  const auto [host, port] = split_address(members.front().address);
  return Reply::array({Reply::array(
      {Reply::integer_value(0), Reply::integer_value(16383),
       Reply::array({Reply::bulk(host), Reply::integer_value(port),
                     Reply::bulk(cluster_node_id(members.front().id))})})});
}

Reply cluster_shards(const ServerStatus& server, const std::vector<ClusterMember>& members) {
  std::vector<Reply> nodes;
  for (const ClusterMember& member : members) {
    const auto [host, port] = split_address(member.address);
    nodes.push_back(Reply::array(
        {Reply::bulk("id"), Reply::bulk(cluster_node_id(member.id)), Reply::bulk("port"),
         Reply::integer_value(port), Reply::bulk("ip"), Reply::bulk(host),
         Reply::bulk("endpoint"), Reply::bulk(host), Reply::bulk("role"),
         Reply::bulk(member.master ? "master" : "replica"), Reply::bulk("replication-offset"),
         Reply::integer_value(static_cast<int64_t>(server.node.raft.commit_index.value())),
         Reply::bulk("health"), Reply::bulk("online")}));
  }
  return Reply::array({Reply::array({Reply::bulk("slots"),
                                     Reply::array({Reply::integer_value(0),
                                                   Reply::integer_value(16383)}),
                                     Reply::bulk("nodes"), Reply::array(std::move(nodes))})});
}

std::string cluster_nodes(const ServerStatus& server, const std::vector<ClusterMember>& members) {
  std::string out;
  const std::string term = std::to_string(server.node.raft.term.value());
  const std::string master_id = members.empty() ? "-" : cluster_node_id(members.front().id);
  for (const ClusterMember& member : members) {
    const auto [host, port] = split_address(member.address);
    std::string flags = member.id == server.node.raft.id ? "myself," : "";
    flags += member.master ? "master" : "slave";
    out += cluster_node_id(member.id) + " " + host + ":" + std::to_string(port) + "@" +
           std::to_string(port + 10000) + " " + flags + " " +
           (member.master ? "-" : master_id) + " 0 0 " + term + " connected" +
           (member.master ? " 0-16383" : "") + "\n";
  }
  return out;
}

std::string cluster_info(const ServerStatus& server, size_t members) {
  const std::string term = std::to_string(server.node.raft.term.value());
  const bool ok = server.node.raft.leader != kNoNode;
  return std::string("cluster_enabled:1\r\ncluster_state:") + (ok ? "ok" : "fail") +
         "\r\ncluster_slots_assigned:16384\r\ncluster_slots_ok:" + (ok ? "16384" : "0") +
         "\r\ncluster_slots_pfail:0\r\ncluster_slots_fail:" + (ok ? "0" : "16384") +
         "\r\ncluster_known_nodes:" + std::to_string(members) +
         "\r\ncluster_size:1\r\ncluster_current_epoch:" + term + "\r\ncluster_my_epoch:" + term +
         "\r\n";
}

// CLUSTER SLOTS, SHARDS or NODES (`sub`).
Reply cluster_topology(const std::string& sub, const ServerStatus& server, bool tls) {
  const std::vector<ClusterMember> members = cluster_members(server, tls);
  if (sub == "SLOTS") return cluster_slots(members);
  if (sub == "SHARDS") return cluster_shards(server, members);
  return Reply::bulk(cluster_nodes(server, members));
}

Action cluster_command(const ClientState& state, const std::vector<std::string>& args,
                       const ServerContext& context) {
  const std::string sub = upper(args[1]);  // refusal() checked it and the argument count.
  const ServerStatus server = context.status();
  if (sub == "SLOTS" || sub == "SHARDS" || sub == "NODES") {
    if (server.node.raft.leader != kNoNode) {
      return reply(cluster_topology(sub, server, state.tls));
    }
    // An election is running, and this node would name itself master (cluster_members). A
    // client that took that answer would stay on this follower, a forward for each of its
    // writes, until its next refresh. Answered once the election settles instead
    // (Node::await_leader bounds the wait).
    Action action = admin([](runtime::Node& node, runtime::Done done) {
      node.await_leader(std::move(done));
    });
    action.finish = [sub, tls = state.tls, status = context.status](ClientState&, std::string) {
      return resp(cluster_topology(sub, status(), tls));
    };
    return action;
  }
  if (sub == "INFO") {
    return reply(Reply::bulk(cluster_info(server, cluster_members(server, state.tls).size())));
  }
  return reply(Reply::bulk(cluster_node_id(server.node.raft.id)));
}

// ---- COMMAND ----

// One command's COMMAND INFO entry, as Redis 7 gives it: name, arity, flags, first key, last
// key, key step, ACL categories, tips, key specs, subcommands.
Reply command_info(const protocol::CommandSpec& spec) {
  std::vector<Reply> subcommands;
  for (const protocol::CommandSpec& sub : protocol::subcommands(spec.name)) {
    subcommands.push_back(command_info(sub));
  }
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
                       Reply::array(std::move(subcommands))});
}

// COMMAND DOCS: per command its group (the rest of Redis' documentation is not kept here).
Reply command_docs(const protocol::CommandSpec& spec) {
  return Reply::array({Reply::bulk("summary"), Reply::bulk(""), Reply::bulk("since"),
                       Reply::bulk("1.0.0"), Reply::bulk("group"),
                       Reply::bulk(std::string(spec.group))});
}

// The specs named by args[from..], or every one when there are none; unknown names: null.
std::vector<const protocol::CommandSpec*> named_specs(const std::vector<std::string>& args,
                                                      size_t from) {
  std::vector<const protocol::CommandSpec*> specs;
  if (args.size() <= from) {
    for (const protocol::CommandSpec& spec : protocol::all_commands()) specs.push_back(&spec);
  }
  for (size_t i = from; i < args.size(); ++i) specs.push_back(protocol::find_command(args[i]));
  return specs;
}

// COMMAND GETKEYS cmd args...: the key positions of the table.
Action command_getkeys(const std::vector<std::string>& args) {
  const protocol::CommandSpec* spec = protocol::find_command(args[2]);
  if (spec == nullptr) return error("ERR Invalid command specified");
  const size_t argc = args.size() - 2;
  if (!spec->arity_ok(argc)) return error("ERR Invalid number of arguments specified for command");
  if (spec->first_key == 0) return error("ERR The command has no key arguments");
  const int last = spec->last_key < 0 ? static_cast<int>(argc) + spec->last_key : spec->last_key;
  std::vector<Reply> keys;
  for (int i = spec->first_key; i <= last; i += spec->key_step) {
    keys.push_back(Reply::bulk(args[2 + static_cast<size_t>(i)]));
  }
  return reply(Reply::array(std::move(keys)));
}

Action command_command(const std::vector<std::string>& args) {
  const std::span<const protocol::CommandSpec> specs = protocol::all_commands();
  const std::string sub = args.size() > 1 ? upper(args[1]) : "";
  if (args.size() == 1 || sub == "INFO" || sub == "DOCS") {
    std::vector<Reply> out;
    for (const protocol::CommandSpec* spec : named_specs(args, args.size() == 1 ? 1 : 2)) {
      if (sub == "DOCS") {
        if (spec == nullptr) continue;  // Redis leaves unknown names out of DOCS.
        out.push_back(Reply::bulk(std::string(spec->name)));
        out.push_back(command_docs(*spec));
      } else {
        out.push_back(spec != nullptr ? command_info(*spec) : Reply::nil());
      }
    }
    return reply(Reply::array(std::move(out)));
  }
  if (sub == "COUNT") return reply(Reply::integer_value(static_cast<int64_t>(specs.size())));
  if (sub == "LIST") {
    if (args.size() > 2) return error("ERR syntax error");  // FILTERBY is not offered.
    std::vector<Reply> names;
    for (const protocol::CommandSpec& spec : specs) {
      names.push_back(Reply::bulk(std::string(spec.name)));
    }
    return reply(Reply::array(std::move(names)));
  }
  RAFT_ASSERT(sub == "GETKEYS");  // refusal() checked the subcommand.
  return command_getkeys(args);
}

// ---- HELLO, AUTH, CONFIG ----

// HELLO [protover [AUTH user pass] [SETNAME name]]. RESP2 only: HELLO 3 gets -NOPROTO, as
// Redis answers a version it does not speak, and clients then stay on RESP2 (the store's
// replies are RESP2 bytes, relayed as they are from the leader and kept by sessions).
Action hello(ClientState& state, const std::vector<std::string>& args,
             const ServerContext& context) {
  if (args.size() >= 2) {
    int64_t version = 0;
    if (!parse_int(args[1], &version)) {
      return error("ERR Protocol version is not an integer or out of range");
    }
    if (version != 2) return error("NOPROTO unsupported protocol version");
  }
  std::optional<std::string> name;
  std::optional<std::pair<std::string, std::string>> credentials;
  for (size_t j = 2; j < args.size(); ++j) {
    const size_t more = args.size() - 1 - j;
    if (upper(args[j]) == "AUTH" && more >= 2) {
      credentials.emplace(args[j + 1], args[j + 2]);
      j += 2;
    } else if (upper(args[j]) == "SETNAME" && more >= 1) {
      name = args[++j];
    } else {
      return error("ERR Syntax error in HELLO option '" + args[j] + "'");
    }
  }
  if (!credentials && !state.authenticated) {
    return error("NOAUTH HELLO must be called with the client already authenticated, "
                 "otherwise the HELLO <proto> AUTH <user> <pass> option can be used to "
                 "authenticate the client and select the RESP protocol version at the same "
                 "time");
  }
  const bool leader = context.status().node.raft.role == raft::Role::Leader;
  std::string hello_reply = resp(Reply::array(
      {Reply::bulk("server"), Reply::bulk("redis"), Reply::bulk("version"),
       Reply::bulk(kRedisVersion), Reply::bulk("proto"), Reply::integer_value(2),
       Reply::bulk("id"), Reply::integer_value(static_cast<int64_t>(state.id)),
       Reply::bulk("mode"), Reply::bulk("standalone"), Reply::bulk("role"),
       Reply::bulk(leader ? "master" : "replica"), Reply::bulk("modules"), Reply::array({})}));
  const auto set_name = [name](ClientState& client) {
    if (name) client.name = *name;
  };
  if (credentials) {
    return authenticate(state, credentials->first, credentials->second, context,
                        std::move(hello_reply), set_name);
  }
  set_name(state);
  Action action;
  action.reply = std::move(hello_reply);
  return action;
}

// Whether CONFIG SET may take `name` and change nothing: the encoding thresholds of Redis'
// compact representations (hash-max-listpack-entries, ...), which only change how Redis
// stores a value, never what a command answers; raftkv has one representation per type.
bool is_encoding_setting(const std::string& name) {
  return name.find("-max-") != std::string::npos &&
         (name.ends_with("-entries") || name.ends_with("-value") || name.ends_with("-size"));
}

// CONFIG SET name value [name value ...]: only encoding thresholds, accepted and ignored.
Action config_set(const std::vector<std::string>& args) {
  if (args.size() % 2 != 0) return error("ERR syntax error");  // A name without its value.
  for (size_t i = 2; i < args.size(); i += 2) {
    if (!is_encoding_setting(lower(args[i]))) {
      return error("ERR Unknown option or number of arguments for CONFIG SET - '" + args[i] +
                   "' (a raftkv node is configured by its command line)");
    }
  }
  return reply(Reply::ok());
}

// CONFIG GET pattern...: the few settings clients and tools ask about, as facts of raftkv
// (proto-max-bulk-len is this node's --max-bulk-bytes). CONFIG SET: see config_set().
Action config_command(const std::vector<std::string>& args, const ServerContext& context) {
  const std::vector<std::pair<std::string, std::string>> settings = {
      {"appendfsync", "always"},
      {"appendonly", "yes"},
      {"databases", "1"},
      {"maxclients", context.directory != nullptr
                         ? std::to_string(context.directory->counters().clients_max)
                         : "0"},
      {"maxmemory", "0"},
      {"maxmemory-policy", "noeviction"},
      {"proto-max-bulk-len", std::to_string(context.bulk_bytes_max)},
      {"save", ""},
      {"timeout", "0"},
  };
  const std::string sub = upper(args[1]);  // refusal() checked it and the argument count.
  if (sub == "GET") {
    std::vector<Reply> out;
    for (const auto& [name, value] : settings) {
      // The name by an explicit reference: clang 14 (the fuzz build) cannot capture a
      // structured binding.
      const bool wanted =
          std::any_of(args.begin() + 2, args.end(), [&setting = name](const std::string& p) {
            return kv::glob_match(lower(p), setting);
          });
      if (!wanted) continue;
      out.push_back(Reply::bulk(name));
      out.push_back(Reply::bulk(value));
    }
    return reply(Reply::array(std::move(out)));
  }
  if (sub == "RESETSTAT") return reply(Reply::ok());
  RAFT_ASSERT(sub == "SET");
  return config_set(args);
}

// ---- INFO ----

// INFO's keyspace section comes from the store: a read of this node's state (like any
// INFO figure, it is this node's view).
Action info_command(const std::vector<std::string>& args, const ServerContext& context) {
  const std::vector<std::string> sections(args.begin() + 1, args.end());
  const ServerStatus status = context.status();
  const ServerCounters counters =
      context.directory != nullptr ? context.directory->counters() : ServerCounters{};
  const size_t clients = context.directory != nullptr ? context.directory->clients().size() : 1;
  Action action = run(Command::key_stats());
  action.stale_read = true;
  action.finish = [=](ClientState&, std::string stats) {
    std::optional<std::pair<int64_t, int64_t>> keyspace;
    const std::optional<std::vector<std::string_view>> numbers = split_array(stats);
    int64_t keys = 0;
    int64_t expires = 0;
    if (numbers && numbers->size() == 2 &&
        parse_int(std::string((*numbers)[0].substr(1, (*numbers)[0].size() - 3)), &keys) &&
        parse_int(std::string((*numbers)[1].substr(1, (*numbers)[1].size() - 3)), &expires)) {
      keyspace = {keys, expires};
    }
    return resp(Reply::bulk(info_text(status, counters, sections, keyspace, clients)));
  };
  return action;
}

// ---- The connection's own commands ----

Action select(const std::vector<std::string>& args) {
  int64_t db = 0;
  // Redis 7.0 reads the index as a C int, with its generic errors for that.
  if (!parse_int(args[1], &db)) return error("ERR value is not an integer or out of range");
  if (db < std::numeric_limits<int32_t>::min() || db > std::numeric_limits<int32_t>::max()) {
    return error("ERR value is out of range, value must between -2147483648 and 2147483647");
  }
  // One database: raftkv replicates one key space.
  return db == 0 ? reply(Reply::ok()) : error("ERR DB index is out of range");
}

Action reset(ClientState& state, const ServerContext& context) {
  ClientState fresh;
  fresh.id = state.id;
  fresh.addr = state.addr;
  fresh.laddr = state.laddr;
  fresh.created_ms = state.created_ms;
  reset_auth(fresh, context.auth);
  state = std::move(fresh);
  return reply(Reply::simple("RESET"));
}

// `at_exec`: run by EXEC for a command queued in MULTI (INFO then answers without the
// keyspace section, which needs a read of the store).
Action translate_connection(ClientState& state, const std::vector<std::string>& args,
                            const ServerContext& context, bool at_exec) {
  const std::string name = upper(args[0]);
  if (name == "PING") {
    if (args.size() > 2) return wrong_arity(name);
    return reply(args.size() == 2 ? Reply::bulk(args[1]) : Reply::simple("PONG"));
  }
  if (name == "ECHO") return reply(Reply::bulk(args[1]));
  if (name == "QUIT") {
    Action action = reply(Reply::ok());
    action.kind = Action::Kind::Quit;
    return action;
  }
  if (name == "RESET") return reset(state, context);
  if (name == "SELECT") return select(args);
  if (name == "HELLO") return hello(state, args, context);
  if (name == "AUTH") return auth_command(state, args, context);
  if (name == "TIME") {
    return reply(Reply::array({Reply::bulk(std::to_string(context.now_ms / 1000)),
                               Reply::bulk(std::to_string(context.now_ms % 1000 * 1000))}));
  }
  if (name == "COMMAND") return command_command(args);
  if (name == "CONFIG") return config_command(args, context);
  if (name == "CLIENT") return client_command(state, args, context);
  if (name == "CLUSTER") return cluster_command(state, args, context);
  if (name == "UNWATCH") {
    state.watched.clear();
    return reply(Reply::ok());
  }
  if (name == "READONLY" || name == "READWRITE") {
    state.stale_reads = name == "READONLY";
    return reply(Reply::ok());
  }
  RAFT_ASSERT(name == "INFO");  // Every other connection command of the table is above.
  if (!at_exec) return info_command(args, context);
  const std::vector<std::string> sections(args.begin() + 1, args.end());
  const ServerCounters counters =
      context.directory != nullptr ? context.directory->counters() : ServerCounters{};
  return reply(Reply::bulk(info_text(context.status(), counters, sections, std::nullopt, 1)));
}

// A command of the key space, run by the store; a read may be served locally (READONLY).
Action translate_store(const ClientState& state, std::vector<std::string> args) {
  Action action = translate_data(std::move(args));
  if (action.kind == Action::Kind::Run) {
    action.stale_read = state.stale_reads && kv::is_read_only(action.command);
  }
  return action;
}

// Everything but the encoding of a command to run (translate() adds it).
Action translate_args(ClientState& state, std::vector<std::string> args,
                      const ServerContext& context) {
  if (args.empty()) return error("ERR empty command");
  const std::string name = upper(args[0]);
  const protocol::CommandSpec* spec = protocol::find_command(args[0]);
  state.last_command = spec != nullptr ? protocol::called_spec(*spec, args).name : "";
  // As Redis: an unknown command or a wrong argument count first, then -NOAUTH and -NOPERM
  // (which also make a transaction's EXEC abort).
  const std::optional<Action> refused =
      spec != nullptr ? refusal(*spec, args) : std::optional<Action>();
  if (spec != nullptr && !refused) {
    if (std::optional<Action> denied = access_refusal(state, *spec, args)) {
      if (state.in_multi) state.multi_failed = true;
      return *denied;
    }
  }
  if (state.in_multi) return translate_multi(state, name, args, context);
  if (spec == nullptr) return translate_data(std::move(args));  // Its unknown-command error.
  if (refused) return *refused;
  // The key space's own commands go straight to the store; the rest are named below.
  const bool plain = !spec->is(protocol::kConnection) && !spec->name.starts_with("session.");
  if (plain) return translate_store(state, std::move(args));
  if (name == "MULTI") {
    state.in_multi = true;
    return reply(Reply::ok());
  }
  if (name == "EXEC" || name == "DISCARD") return error("ERR " + name + " without MULTI");
  if (name == "SESSION.EXEC") return error("ERR SESSION.EXEC without MULTI");
  if (name == "WATCH") return watch(args);
  if (name == "SESSION.OPEN") return run(Command::register_session(0));
  if (name == "SESSION.CALL") return translate_session_call(std::move(args));
  if (name == "ACL") return acl_command(state, args, context);
  if (name.starts_with("RAFT.")) return translate_admin(args, context);
  return translate_connection(state, args, context, false);  // Every one left is kConnection.
}

}  // namespace

Action translate(ClientState& state, std::vector<std::string> args,
                 const ServerContext& context) {
  Action action = translate_args(state, std::move(args), context);
  if (action.kind == Action::Kind::Run) {
    action.request = runtime::Request{kv::encode_command(action.command),
                                      kv::is_read_only(action.command)};
  }
  return action;
}

namespace {

bool wants(const std::vector<std::string>& sections, const std::string& section, bool default_on) {
  if (sections.empty()) return default_on;
  for (const std::string& wanted : sections) {
    const std::string name = lower(wanted);
    if (name == section || name == "all" || name == "everything") return true;
    if (name == "default" && default_on) return true;
  }
  return false;
}

std::string line(const std::string& key, const std::string& value) {
  return key + ":" + value + "\r\n";
}

std::string server_section(const ServerCounters& counters, uint64_t now_ms) {
  const uint64_t uptime_s = (now_ms - std::min(now_ms, counters.started_ms)) / 1000;
  return "# Server\r\n" + line("redis_version", kRedisVersion) +
         line("raftkv_version", kRaftkvVersion) + line("redis_mode", "standalone") +
         line("os", "Linux") + line("arch_bits", "64") +
         line("process_id", std::to_string(counters.pid)) +
         line("tcp_port", std::to_string(counters.port)) +
         line("uptime_in_seconds", std::to_string(uptime_s)) +
         line("uptime_in_days", std::to_string(uptime_s / 86400)) + "\r\n";
}

std::string memory_section(const ServerCounters& counters) {
  const std::string used = std::to_string(counters.used_memory_bytes);
  return "# Memory\r\n" + line("used_memory", used) + line("used_memory_rss", used) +
         line("used_memory_human",
              std::to_string(counters.used_memory_bytes / (1024 * 1024)) + "M") +
         line("maxmemory", "0") + line("maxmemory_policy", "noeviction") +
         line("mem_allocator", allocator_name()) + "\r\n";
}

std::string stats_section(const ServerCounters& counters) {
  return "# Stats\r\n" +
         line("total_connections_received", std::to_string(counters.connections_received)) +
         line("total_commands_processed", std::to_string(counters.commands_processed)) +
         line("instantaneous_ops_per_sec", "0") +
         line("rejected_connections", std::to_string(counters.connections_rejected)) +
         line("expired_keys", "0") + line("evicted_keys", "0") + line("keyspace_hits", "0") +
         line("keyspace_misses", "0") + "\r\n";
}

std::string cpu_section(const ServerCounters& counters) {
  const auto seconds = [](double s) {
    char buffer[32];
    std::snprintf(buffer, sizeof(buffer), "%.6f", s);
    return std::string(buffer);
  };
  return "# CPU\r\n" + line("used_cpu_sys", seconds(counters.cpu_sys_s)) +
         line("used_cpu_user", seconds(counters.cpu_user_s)) +
         line("used_cpu_sys_children", "0.000000") +
         line("used_cpu_user_children", "0.000000") + "\r\n";
}

// Replication as Redis reports it: the leader is the master, with the followers as its
// replicas (offset: what each has replicated); a follower names its master.
std::string replication_section(const ServerStatus& server) {
  const runtime::NodeStatus& status = server.node;
  const raft::RaftStatus& raft = status.raft;
  std::string out = "# Replication\r\n";
  if (raft.role == raft::Role::Leader) {
    out += line("role", "master") + line("connected_slaves", std::to_string(raft.peers.size()));
    for (size_t i = 0; i < raft.peers.size(); ++i) {
      const raft::PeerStatus& peer = raft.peers[i];
      const auto address = status.client_addrs.find(peer.id);
      const auto [host, port] = split_address(
          address != status.client_addrs.end() ? address->second : std::string());
      out += line("slave" + std::to_string(i),
                  "ip=" + host + ",port=" + std::to_string(port) + ",state=online,offset=" +
                      std::to_string(peer.match_index.value()) + ",lag=" +
                      std::to_string(peer.ticks_since_contact));
    }
  } else {
    const auto [host, port] = split_address(status.leader_client_addr);
    out += line("role", "slave") + line("master_host", host) +
           line("master_port", std::to_string(port)) +
           line("master_link_status", raft.leader != kNoNode ? "up" : "down") +
           line("master_sync_in_progress", "0") +
           line("slave_repl_offset", std::to_string(raft.applied_index.value())) +
           line("slave_read_only", "0") + line("connected_slaves", "0");
  }
  out += line("master_failover_state", "no-failover") +
         line("master_replid", cluster_node_id(raft.leader)) +
         line("master_repl_offset", std::to_string(raft.commit_index.value())) + "\r\n";
  return out;
}

std::string raft_section(const ServerStatus& server) {
  const runtime::NodeStatus& status = server.node;
  const raft::RaftStatus& raft = status.raft;
  // "1@127.0.0.1:6381,2@..." (an id without a known client address stands alone).
  const auto listed = [&](const std::vector<NodeId>& ids,
                          const std::map<NodeId, std::string>& addrs) {
    std::string out;
    for (NodeId id : ids) {
      if (!out.empty()) out += ",";
      out += std::to_string(id.value());
      if (auto it = addrs.find(id); it != addrs.end()) out += "@" + it->second;
    }
    return out;
  };
  const std::string members = listed(raft.conf_state.voters, status.client_addrs);
  return "# Raft\r\n" + line("node_id", std::to_string(raft.id.value())) +
         line("role", raft::role_name(raft.role)) +
         line("term", std::to_string(raft.term.value())) +
         line("leader_id", std::to_string(raft.leader.value())) +
         line("leader_addr", status.leader_client_addr) +
         line("leader_tls_addr", status.leader_client_tls_addr) +
         line("commit_index", std::to_string(raft.commit_index.value())) +
         line("applied_index", std::to_string(raft.applied_index.value())) +
         line("last_log_index", std::to_string(raft.last_index.value())) +
         line("first_log_index", std::to_string(raft.first_index.value())) +
         line("snapshot_index", std::to_string(status.snapshot_index.value())) +
         line("members", members) +
         line("learners", listed(raft.conf_state.learners, status.client_addrs)) +
         // The voters' TLS client ports, for TLS clients (a line of its own: older clients
         // read members' addresses as plaintext ones).
         line("tls_members", listed(raft.conf_state.voters, status.client_tls_addrs)) +
         line("conf_index", std::to_string(status.conf_index.value())) +
         line("conf_change_pending", raft.conf_change_pending ? "1" : "0") +
         line("removed", status.removed ? "1" : "0") +
         line("read_rounds", std::to_string(raft.read_rounds)) +
         line("pending_requests", std::to_string(status.pending_requests)) +
         // The leader's budget for large writes (--max-bulk-bytes sized values): what is in
         // its log unanswered, and how many wait for room.
         line("large_write_bytes_in_flight", std::to_string(status.large_write_bytes_in_flight)) +
         line("large_writes_waiting", std::to_string(status.large_writes_waiting)) + "\r\n";
}

std::string commandstats_section(const ServerCounters& counters) {
  std::string out = "# Commandstats\r\n";
  for (const auto& [name, calls] : counters.calls) {
    out += line("cmdstat_" + std::string(name), "calls=" + std::to_string(calls) +
                                       ",usec=0,usec_per_call=0.00,rejected_calls=0,"
                                       "failed_calls=0");
  }
  return out + "\r\n";
}

}  // namespace

std::string info_text(const ServerStatus& status, const ServerCounters& counters,
                      const std::vector<std::string>& sections,
                      std::optional<std::pair<int64_t, int64_t>> keyspace,
                      size_t connected_clients) {
  std::string out;
  const uint64_t now_ms = counters.now_ms;
  if (wants(sections, "server", true)) out += server_section(counters, now_ms);
  if (wants(sections, "clients", true)) {
    out += "# Clients\r\n" + line("connected_clients", std::to_string(connected_clients)) +
           line("blocked_clients", "0") +
           line("maxclients", std::to_string(counters.clients_max)) + "\r\n";
  }
  if (wants(sections, "memory", true)) out += memory_section(counters);
  if (wants(sections, "persistence", true)) {
    out += "# Persistence\r\n" + line("loading", "0") + line("aof_enabled", "1") +
           line("rdb_changes_since_last_save", "0") + "\r\n";
  }
  if (wants(sections, "stats", true)) out += stats_section(counters);
  if (wants(sections, "replication", true)) out += replication_section(status);
  if (wants(sections, "cpu", true)) out += cpu_section(counters);
  if (wants(sections, "commandstats", false)) out += commandstats_section(counters);
  if (wants(sections, "cluster", true)) {
    out += "# Cluster\r\n" + line("cluster_enabled", "1") + "\r\n";
  }
  if (wants(sections, "keyspace", true)) {
    out += "# Keyspace\r\n";
    if (keyspace && keyspace->first > 0) {
      out += line("db0", "keys=" + std::to_string(keyspace->first) + ",expires=" +
                             std::to_string(keyspace->second) + ",avg_ttl=0");
    }
    out += "\r\n";
  }
  if (wants(sections, "raft", true)) out += raft_section(status);
  while (out.size() >= 2 && out.ends_with("\r\n\r\n")) out.resize(out.size() - 2);
  return out;
}

std::string client_line(const ClientState& client, uint64_t now_ms) {
  const auto seconds_since = [&](uint64_t ms) {
    return std::to_string((now_ms - std::min(now_ms, ms)) / 1000);
  };
  std::string flags = client.in_multi ? "x" : "";
  if (client.stale_reads) flags += "r";
  if (flags.empty()) flags = "N";
  const std::string multi = client.in_multi ? std::to_string(client.queued.size()) : "-1";
  return "id=" + std::to_string(client.id) + " addr=" + client.addr + " laddr=" + client.laddr +
         " fd=-1 name=" + client.name + " age=" + seconds_since(client.created_ms) +
         " idle=" + seconds_since(client.last_command_ms) + " flags=" + flags +
         " db=0 sub=0 psub=0 ssub=0 multi=" + multi +
         " qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0"
         " events=r cmd=" + std::string(client.last_command.empty() ? "NULL"
                                                                     : client.last_command) +
         " user=" + client.user + " redir=-1 resp=2 lib-name=" + client.lib_name +
         " lib-ver=" + client.lib_ver;
}

}  // namespace raftkv::server
