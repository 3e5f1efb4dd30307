#include "local_cluster.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

namespace raftkv::tools {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr const char* kServerName = "raftkv-server";

std::string node_string(int id) { return std::to_string(id); }

uint16_t port_of(uint16_t base, int id) {
  return static_cast<uint16_t>(base + static_cast<uint16_t>(id - 1));
}

bool parse_number(const std::string& text, uint64_t max, uint64_t* value) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, *value);
  return !text.empty() && ec == std::errc() && ptr == end && *value <= max;
}

constexpr size_t kServerArgsMax = 256;
constexpr size_t kConfLinesMax = 64 + kServerArgsMax;  // Bounds reading a damaged file.
constexpr const char* kServerArgKey = "server_arg";

// Flags server_args() sets from the layout, and what to use instead of --server-arg.
struct ReservedFlag {
  const char* flag;
  const char* instead;
};
constexpr ReservedFlag kReservedFlags[] = {
    {"--id", "it is the node number"},
    {"--data-dir", "it is DIR/nodeI/data (choose --dir)"},
    {"--peers", "they follow from --nodes and --base-peer-port"},
    {"--client-addr", "use --base-client-port"},
    {"--http-addr", "use --base-http-port"},
    {"--peer-http-addrs", "they follow from --nodes and --base-http-port"},
    {"--log-level", "use raftkv's own --log-level"},
    {"--heartbeat-ms", "use raftkv's own --heartbeat-ms"},
    {"--election-ms", "use raftkv's own --election-ms"},
};

// Why `arg` cannot be an extra server argument, or nullopt if it can.
std::optional<std::string> server_arg_problem(const std::string& arg) {
  if (arg.empty()) return "an empty argument";
  if (arg.find_first_of(std::string("\n\r\0", 3)) != std::string::npos) {
    return "holds a line break or NUL, which cluster.conf cannot store";
  }
  for (const ReservedFlag& reserved : kReservedFlags) {
    const std::string flag = reserved.flag;
    if (arg == flag || arg.starts_with(flag + "=")) {
      return "raftkv sets " + flag + " for every node itself; " + reserved.instead;
    }
  }
  return std::nullopt;
}

Status invalid(std::string message) {
  return Status(ErrorCode::InvalidArgument, std::move(message));
}

Status check_layout_numbers(const ClusterLayout& layout) {
  if (layout.nodes < 1 || layout.nodes > kNodesMax) {
    return invalid("--nodes must be 1.." + std::to_string(kNodesMax));
  }
  for (uint16_t base : {layout.base_peer_port, layout.base_client_port, layout.base_http_port}) {
    if (base == 0 || base + layout.nodes - 1 > 65535) {
      return invalid("port range does not fit below 65536");
    }
  }
  if (layout.tls && layout.base_client_port + kTlsPortOffset + layout.nodes - 1 > 65535) {
    return invalid("TLS port range does not fit below 65536");
  }
  for (int id : layout.removed) {
    if (id < 1 || id > layout.nodes) {
      return invalid("removed node " + std::to_string(id) + " is not in 1.." +
                     std::to_string(layout.nodes));
    }
  }
  if (layout.member_nodes().empty()) return invalid("every node was removed");
  return Status::ok();
}

// "2,4" (the `removed` value of cluster.conf) into ids; false on anything else. Ranges are
// checked with the other numbers (check_layout_numbers).
bool parse_removed(const std::string& text, std::set<int>* removed) {
  RAFT_ASSERT(removed != nullptr);
  size_t begin = 0;
  while (begin <= text.size()) {
    const size_t comma = std::min(text.find(',', begin), text.size());
    uint64_t id = 0;
    if (!parse_number(text.substr(begin, comma - begin), kNodesMax, &id)) return false;
    removed->insert(static_cast<int>(id));
    begin = comma + 1;
  }
  return !removed->empty();
}

// cluster.conf split into lines: single values by key, server_arg values in file order.
struct ConfLines {
  std::map<std::string, std::string> values;
  std::vector<std::string> server_args;
};

constexpr const char* kConfKeys[] = {"nodes",          "base_peer_port", "base_client_port",
                                     "base_http_port", "server",         "log_level",
                                     "heartbeat_ms",   "election_ms",    "peer_hosts",
                                     "tls",            "bootstrap_nodes", "removed"};

// Splits the file into ConfLines; an error names the line ("PATH:LINE: ...").
Result<ConfLines> read_conf_lines(const std::string& path, std::istream& file) {
  ConfLines conf;
  std::string line;
  for (size_t number = 1; std::getline(file, line); ++number) {
    const std::string where = path + ":" + std::to_string(number) + ": ";
    if (number > kConfLinesMax) return invalid(where + "more lines than a layout has");
    if (line.empty() || line[0] == '#') continue;
    const size_t equals = line.find('=');
    if (equals == std::string::npos) return invalid(where + "not key=value: \"" + line + "\"");
    const std::string key = line.substr(0, equals);
    std::string value = line.substr(equals + 1);
    if (key == kServerArgKey) {
      if (std::optional<std::string> problem = server_arg_problem(value)) {
        return invalid(where + "server_arg \"" + value + "\": " + *problem);
      }
      if (conf.server_args.size() == kServerArgsMax) {
        return invalid(where + "more than " + std::to_string(kServerArgsMax) + " server_arg lines");
      }
      conf.server_args.push_back(std::move(value));
      continue;
    }
    if (std::find_if(std::begin(kConfKeys), std::end(kConfKeys),
                     [&](const char* known) { return key == known; }) == std::end(kConfKeys)) {
      return invalid(where + "unknown key \"" + key + "\"");
    }
    if (!conf.values.emplace(key, std::move(value)).second) {
      return invalid(where + key + " given twice");
    }
  }
  if (file.bad()) return Status(ErrorCode::IoError, "cannot read " + path);
  return conf;
}

// Fills the numbers of `layout` from `conf`; an error names the key and its range.
Status parse_conf_numbers(const std::string& path, const ConfLines& conf, ClusterLayout* layout) {
  struct NumberKey {
    const char* key;
    uint64_t min;
    uint64_t max;
  };
  constexpr NumberKey kKeys[6] = {{"nodes", 1, kNodesMax},        {"base_peer_port", 1, 65535},
                                  {"base_client_port", 1, 65535}, {"base_http_port", 1, 65535},
                                  {"heartbeat_ms", 0, 1'000'000}, {"election_ms", 0, 1'000'000}};
  RAFT_ASSERT(layout != nullptr);
  uint64_t n[6] = {};
  for (size_t i = 0; i < 6; ++i) {
    const auto found = conf.values.find(kKeys[i].key);
    const std::string text = found == conf.values.end() ? "" : found->second;
    if (!parse_number(text, kKeys[i].max, &n[i]) || n[i] < kKeys[i].min) {
      return invalid(path + ": bad or missing " + kKeys[i].key + " (\"" + text + "\"; want " +
                     std::to_string(kKeys[i].min) + ".." + std::to_string(kKeys[i].max) + ")");
    }
  }
  layout->nodes = static_cast<int>(n[0]);
  layout->base_peer_port = static_cast<uint16_t>(n[1]);
  layout->base_client_port = static_cast<uint16_t>(n[2]);
  layout->base_http_port = static_cast<uint16_t>(n[3]);
  layout->heartbeat_ms = static_cast<uint32_t>(n[4]);
  layout->election_ms = static_cast<uint32_t>(n[5]);
  // Without the key no node was removed.
  const auto removed = conf.values.find("removed");
  if (removed != conf.values.end() && !parse_removed(removed->second, &layout->removed)) {
    return invalid(path + ": removed must be node ids separated by commas, not \"" +
                   removed->second + "\"");
  }
  if (Status numbers = check_layout_numbers(*layout); !numbers.is_ok()) {
    return invalid(path + ": " + numbers.message());
  }
  return Status::ok();
}

}  // namespace

std::vector<int> ClusterLayout::member_nodes() const {
  std::vector<int> out;
  for (int id = 1; id <= nodes; ++id) {
    if (!removed.contains(id)) out.push_back(id);
  }
  return out;
}

std::string ClusterLayout::node_dir(int id) const { return dir + "/node" + node_string(id); }
std::string ClusterLayout::data_dir(int id) const { return node_dir(id) + "/data"; }
std::string ClusterLayout::log_path(int id) const { return node_dir(id) + "/server.log"; }
std::string ClusterLayout::pid_path(int id) const { return node_dir(id) + "/server.pid"; }

client::Endpoint ClusterLayout::client_endpoint(int id) const {
  return {"127.0.0.1", port_of(base_client_port, id)};
}

client::Endpoint ClusterLayout::tls_endpoint(int id) const {
  return {"127.0.0.1", port_of(static_cast<uint16_t>(base_client_port + kTlsPortOffset), id)};
}

std::vector<client::Endpoint> ClusterLayout::client_endpoints() const {
  std::vector<client::Endpoint> out;
  for (int id : member_nodes()) out.push_back(client_endpoint(id));
  return out;
}

std::string ClusterLayout::http_addr(int id) const {
  return "127.0.0.1:" + std::to_string(port_of(base_http_port, id));
}

std::string ClusterLayout::peer_host(int id) const {
  return distinct_peer_hosts ? "127.0.1." + node_string(id) : "127.0.0.1";
}

std::string ClusterLayout::peer_addr(int id) const {
  return peer_host(id) + ":" + std::to_string(port_of(base_peer_port, id));
}

bool ClusterLayout::joins(int id) const { return bootstrap_nodes > 0 && id > bootstrap_nodes; }

int ClusterLayout::add_joining_node() {
  if (bootstrap_nodes == 0) bootstrap_nodes = nodes;
  return ++nodes;
}

client::Endpoint ClusterLayout::join_endpoint(int id) const {
  for (int member : member_nodes()) {
    if (member != id) return client_endpoint(member);
  }
  return client_endpoint(id);  // Alone: nobody to join; the server then says so.
}

std::string ClusterLayout::peers_flag() const {
  std::string out;
  for (int id = 1; id <= nodes; ++id) {
    if (joins(id)) break;
    if (!out.empty()) out += ",";
    out += node_string(id) + "=" + peer_addr(id);
  }
  return out;
}

std::string ClusterLayout::http_addrs_flag() const {
  std::string out;
  for (int id : member_nodes()) {
    if (!out.empty()) out += ",";
    out += node_string(id) + "=" + http_addr(id);
  }
  return out;
}

std::vector<std::string> ClusterLayout::server_args(int id) const {
  std::vector<std::string> args = {"--id", node_string(id), "--data-dir", data_dir(id)};
  if (joins(id)) {
    args.insert(args.end(), {"--join", join_endpoint(id).to_string(), "--peer-addr",
                             peer_addr(id)});
  } else {
    args.insert(args.end(), {"--peers", peers_flag()});
  }
  args.insert(args.end(), {"--client-addr", client_endpoint(id).to_string(), "--http-addr",
                           http_addr(id), "--peer-http-addrs", http_addrs_flag(), "--log-level",
                           log_level});
  if (heartbeat_ms > 0) args.insert(args.end(), {"--heartbeat-ms", std::to_string(heartbeat_ms)});
  if (election_ms > 0) args.insert(args.end(), {"--election-ms", std::to_string(election_ms)});
  if (tls) {
    const std::string name = tls_dir() + "/raftkv-node-" + node_string(id);
    args.insert(args.end(), {"--tls-port", std::to_string(tls_endpoint(id).port),
                             "--tls-cert-file", name + ".crt", "--tls-key-file", name + ".key",
                             "--tls-ca-cert-file", tls_dir() + "/ca.crt", "--http-tls"});
    // The same certificate on the peer links: it names raftkv-node-I, the id it speaks as.
    args.insert(args.end(), {"--peer-tls-cert-file", name + ".crt", "--peer-tls-key-file",
                             name + ".key", "--peer-tls-ca-cert-file", tls_dir() + "/ca.crt"});
  }
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  return args;
}

Status validate_layout(const ClusterLayout& layout) {
  if (layout.dir.empty()) return invalid("--dir is required");
  if (Status numbers = check_layout_numbers(layout); !numbers.is_ok()) return numbers;
  if (Status args = check_server_args(layout.extra_args); !args.is_ok()) return args;
  if (::access(layout.server_path.c_str(), X_OK) != 0) {
    return Status(ErrorCode::NotFound,
                  "raftkv-server not found at " + layout.server_path +
                      " (build it: scripts/build.sh release raftkv-server, or pass --server)");
  }
  return Status::ok();
}

Status check_server_args(const std::vector<std::string>& args) {
  if (args.size() > kServerArgsMax) {
    return invalid("at most " + std::to_string(kServerArgsMax) + " --server-arg values");
  }
  for (const std::string& arg : args) {
    if (std::optional<std::string> problem = server_arg_problem(arg)) {
      return invalid("--server-arg \"" + arg + "\": " + *problem);
    }
  }
  return Status::ok();
}

Status check_ports_free(const ClusterLayout& layout) {
  for (int id : layout.member_nodes()) {
    for (uint16_t base : {layout.base_peer_port, layout.base_client_port, layout.base_http_port}) {
      const uint16_t port = port_of(base, id);
      const std::string host = base == layout.base_peer_port ? layout.peer_host(id) : "127.0.0.1";
      const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd < 0) return Status(ErrorCode::IoError, "socket failed");
      const int one = 1;
      (void)::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      sockaddr_in address{};
      address.sin_family = AF_INET;
      address.sin_port = htons(port);
      (void)::inet_pton(AF_INET, host.c_str(), &address.sin_addr);
      const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
      ::close(fd);
      if (!bound) {
        return Status(ErrorCode::Unavailable,
                      "port " + std::to_string(port) + " (node " + std::to_string(id) +
                          ") is in use; is another cluster running? Pick other --base-*-port");
      }
    }
  }
  return Status::ok();
}

Status save_layout(const ClusterLayout& layout) {
  // Checked again here, as load_layout() will: a line break would split an argument in two.
  if (Status args = check_server_args(layout.extra_args); !args.is_ok()) return args;
  std::error_code error;
  std::filesystem::create_directories(layout.dir, error);
  if (error) return Status(ErrorCode::IoError, "cannot create " + layout.dir + ": " +
                                                   error.message());
  std::ofstream file(layout.dir + "/cluster.conf", std::ios::trunc);
  file << "# Written by `raftkv cluster start`; read by later raftkv commands.\n"
       << "nodes=" << layout.nodes << "\nbase_peer_port=" << layout.base_peer_port
       << "\nbase_client_port=" << layout.base_client_port
       << "\nbase_http_port=" << layout.base_http_port << "\nserver=" << layout.server_path
       << "\nlog_level=" << layout.log_level << "\nheartbeat_ms=" << layout.heartbeat_ms
       << "\nelection_ms=" << layout.election_ms << "\n";
  // Written only when set, so a shared-host layout reads exactly as before the key existed.
  if (layout.distinct_peer_hosts) file << "peer_hosts=distinct\n";
  if (layout.tls) file << "tls=on\n";
  if (layout.bootstrap_nodes > 0) file << "bootstrap_nodes=" << layout.bootstrap_nodes << "\n";
  if (!layout.removed.empty()) {
    file << "removed=";
    for (int id : layout.removed) file << (id == *layout.removed.begin() ? "" : ",") << id;
    file << "\n";
  }
  if (!layout.extra_args.empty()) {
    file << "# Extra raftkv-server arguments (--server-arg), one argv element a line, in order.\n";
  }
  for (const std::string& arg : layout.extra_args) file << kServerArgKey << "=" << arg << "\n";
  file.close();
  if (!file) return Status(ErrorCode::IoError, "cannot write " + layout.dir + "/cluster.conf");
  return Status::ok();
}

Result<ClusterLayout> load_layout(const std::string& dir) {
  const std::string path = dir + "/cluster.conf";
  std::ifstream file(path);
  if (!file) {
    return Status(ErrorCode::NotFound, "no cluster at " + dir + " (" + path +
                                           " missing; start one with `raftkv cluster start`)");
  }
  Result<ConfLines> conf = read_conf_lines(path, file);
  if (!conf.is_ok()) return conf.status();
  ClusterLayout layout;
  layout.dir = dir;
  if (Status numbers = parse_conf_numbers(path, conf.value(), &layout); !numbers.is_ok()) {
    return numbers;
  }
  const auto& values = conf.value().values;
  const auto server = values.find("server");
  if (server == values.end() || server->second.empty()) {
    return invalid(path + ": bad or missing server (the raftkv-server path)");
  }
  layout.server_path = server->second;
  const auto log_level = values.find("log_level");
  if (log_level != values.end()) layout.log_level = log_level->second;
  // Without the key every node's peer address is 127.0.0.1.
  const auto peer_hosts = values.find("peer_hosts");
  if (peer_hosts != values.end() && peer_hosts->second != "distinct") {
    return invalid(path + ": peer_hosts can only be \"distinct\", not \"" + peer_hosts->second +
                   "\"");
  }
  layout.distinct_peer_hosts = peer_hosts != values.end();
  const auto tls = values.find("tls");
  layout.tls = tls != values.end() && tls->second == "on";
  // Without the key every node bootstrapped (no node was added with `cluster add-node`).
  if (const auto bootstrap = values.find("bootstrap_nodes"); bootstrap != values.end()) {
    uint64_t count = 0;
    if (!parse_number(bootstrap->second, static_cast<uint64_t>(layout.nodes), &count) ||
        count == 0) {
      return invalid(path + ": bootstrap_nodes must be 1.." + std::to_string(layout.nodes));
    }
    layout.bootstrap_nodes = static_cast<int>(count);
  }
  layout.extra_args = std::move(conf).value().server_args;
  RAFT_ASSERT(check_server_args(layout.extra_args).is_ok());  // read_conf_lines() checked.
  return layout;
}

std::string tail_lines(const std::string& path, size_t count) {
  std::ifstream file(path);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(file, line)) {
    lines.push_back(line);
    if (lines.size() > count) lines.erase(lines.begin());
  }
  std::string out;
  for (const std::string& item : lines) out += "    " + item + "\n";
  return out;
}

std::string default_server_path() {
  const std::string here = self_exe_dir();
  for (const std::string& candidate :
       {here + "/../../src/server/" + kServerName, here + "/" + kServerName}) {
    if (::access(candidate.c_str(), X_OK) == 0) {
      std::error_code error;
      const auto canonical = std::filesystem::weakly_canonical(candidate, error);
      return error ? candidate : canonical.string();
    }
  }
  return here + "/../../src/server/" + kServerName;
}

Credentials ClusterLayout::credentials() const {
  Credentials out;
  for (size_t i = 0; i < extra_args.size(); ++i) {
    if (extra_args[i] == "--requirepass" && i + 1 < extra_args.size()) {
      out.password = extra_args[i + 1];
    } else if (extra_args[i].starts_with("--requirepass=")) {
      out.password = extra_args[i].substr(std::string_view("--requirepass=").size());
    }
  }
  return out;
}

Result<std::vector<client::Reply>> node_exchange(
    const client::Endpoint& endpoint, const std::vector<std::vector<std::string>>& commands,
    milliseconds timeout, const Credentials& credentials) {
  const client::TimePoint deadline = client::SteadyClock::now() + timeout;
  Result<std::unique_ptr<client::Connection>> connection =
      client::SocketConnection::open(endpoint, deadline, credentials.tls.get());
  if (!connection.is_ok()) {
    return Status(ErrorCode::Unavailable,
                  endpoint.to_string() + ": " + connection.status().message());
  }
  std::vector<std::vector<std::string>> sent;
  if (!credentials.password.empty()) {
    sent.push_back({"AUTH"});
    if (!credentials.user.empty()) sent.back().push_back(credentials.user);
    sent.back().push_back(credentials.password);
  }
  sent.insert(sent.end(), commands.begin(), commands.end());
  client::Exchange exchange = connection.value()->exchange(sent, deadline);
  if (exchange.kind != client::Exchange::Kind::Replied) {
    return Status(ErrorCode::Unavailable, exchange.detail);
  }
  if (sent.size() > commands.size()) {
    const client::Reply auth = exchange.replies.front();
    if (auth.is_error()) {
      return Status(ErrorCode::InvalidArgument, endpoint.to_string() + ": " + auth.text);
    }
    exchange.replies.erase(exchange.replies.begin());
  }
  RAFT_ASSERT(exchange.replies.size() == commands.size());
  return std::move(exchange.replies);
}

Result<client::RaftInfo> node_info(const client::Endpoint& endpoint, milliseconds timeout,
                                   const Credentials& credentials) {
  Result<std::vector<client::Reply>> replies =
      node_exchange(endpoint, {{"INFO"}}, timeout, credentials);
  if (!replies.is_ok()) return replies.status();
  const client::Reply& reply = replies.value().front();
  if (reply.type != client::ReplyType::Bulk) {
    return Status(ErrorCode::InvalidArgument,
                  endpoint.to_string() + " answered INFO with " + client::format_reply(reply));
  }
  return client::parse_info(reply.text);
}

}  // namespace raftkv::tools

namespace raftkv::tools {

using std::chrono::milliseconds;

Status LocalCluster::start_node(int id, bool detach, bool capture, int* output_fd) {
  RAFT_ASSERT(id >= 1 && id <= layout_.nodes);
  RAFT_ASSERT(!capture || output_fd != nullptr);
  if (running(id)) return Status::ok();
  std::error_code error;
  std::filesystem::create_directories(layout_.data_dir(id), error);
  if (error) {
    return Status(ErrorCode::IoError, "cannot create " + layout_.data_dir(id) + ": " +
                                          error.message());
  }
  SpawnOptions options{layout_.server_path, layout_.server_args(id), layout_.log_path(id),
                       capture, detach};
  Result<Spawned> spawned = spawn(options);
  if (!spawned.is_ok()) return spawned.status();
  if (capture) *output_fd = spawned.value().output_fd;
  // Detached or not, the node is our child until we exit: exit_description() can reap it.
  const pid_t child = spawned.value().pid;
  children_.emplace_back(id, child);
  return write_pid_file(layout_.pid_path(id), child);
}

Status LocalCluster::stop_node(int id, int signal, milliseconds wait) {
  // Our own child is stopped (and reaped) by its pid even if it already exited: otherwise it
  // stays a zombie, and after we exit nobody may reap it.
  std::optional<pid_t> found;
  for (const auto& [node, child] : children_) {
    if (node == id) found = child;
  }
  if (!found.has_value()) found = pid(id);
  if (!found.has_value()) return Status::ok();
  if (!stop_process(*found, signal, wait)) {
    return Status(ErrorCode::IoError, "node " + std::to_string(id) + " (pid " +
                                          std::to_string(*found) + ") did not stop");
  }
  std::error_code error;
  std::filesystem::remove(layout_.pid_path(id), error);
  std::erase_if(children_, [&](const auto& child) { return child.first == id; });
  return Status::ok();
}

void LocalCluster::stop_all(milliseconds wait) {
  // Signal every node first, then wait: stopping them one by one would let the others hold
  // elections in between, which only makes the logs noisy.
  for (int id = 1; id <= layout_.nodes; ++id) {
    if (std::optional<pid_t> found = pid(id)) (void)::kill(*found, SIGTERM);
  }
  for (int id = 1; id <= layout_.nodes; ++id) (void)stop_node(id, SIGTERM, wait);
}

LocalCluster::~LocalCluster() {
  for (const auto& child : children_) (void)reap_if_exited(child.second);  // No zombies.
}

std::optional<pid_t> LocalCluster::pid(int id) const {
  std::optional<pid_t> found = read_pid_file(layout_.pid_path(id));
  if (!found.has_value()) return std::nullopt;
  // Our own child is known by pid (right after fork its command line is still ours); any
  // other pid must look like a server, in case the number was recycled.
  const bool ours = std::find(children_.begin(), children_.end(), std::pair{id, *found}) !=
                    children_.end();
  if (!process_alive(*found, ours ? "" : kServerName)) return std::nullopt;
  return found;
}

bool LocalCluster::running(int id) const { return pid(id).has_value(); }

std::optional<std::string> LocalCluster::exit_description(int id) {
  for (auto it = children_.begin(); it != children_.end(); ++it) {
    if (it->first != id) continue;
    std::optional<std::string> how = reap_if_exited(it->second);
    if (how.has_value()) children_.erase(it);
    return how;
  }
  return std::nullopt;
}

Result<client::RaftInfo> LocalCluster::info(int id, milliseconds timeout) const {
  return node_info(layout_.client_endpoint(id), timeout, layout_.credentials());
}

Status LocalCluster::wait_up(int id, milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (std::optional<std::string> how = exit_description(id)) {
      return Status(ErrorCode::Unavailable, "node " + std::to_string(id) + " " + *how +
                                                "; last lines of " + layout_.log_path(id) +
                                                ":\n" + tail_lines(layout_.log_path(id), 8));
    }
    Result<client::RaftInfo> answered = info(id, milliseconds(300));
    // The answer must come from node `id` (not a stranger on the port) while ours runs.
    if (answered.is_ok() && answered.value().node_id == static_cast<uint64_t>(id) &&
        running(id)) {
      return Status::ok();
    }
    std::this_thread::sleep_for(milliseconds(50));
  }
  return Status(ErrorCode::Unavailable, "node " + std::to_string(id) + " did not answer on " +
                                            layout_.client_endpoint(id).to_string() + " within " +
                                            std::to_string(timeout.count()) + " ms");
}

Result<client::RaftInfo> LocalCluster::wait_for_leader(milliseconds timeout,
                                                       const std::vector<int>& ignore) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string last = "no node answered";
  while (std::chrono::steady_clock::now() < deadline) {
    std::vector<client::RaftInfo> infos;
    const std::vector<int> members = layout_.member_nodes();
    for (int id : members) {
      if (std::find(ignore.begin(), ignore.end(), id) != ignore.end()) continue;
      Result<client::RaftInfo> got = info(id, milliseconds(300));
      if (got.is_ok()) infos.push_back(std::move(got).value());
    }
    for (const client::RaftInfo& candidate : infos) {
      if (!candidate.is_leader()) continue;
      const auto agree = std::count_if(infos.begin(), infos.end(), [&](const auto& other) {
        return other.term == candidate.term && other.leader_id == candidate.node_id;
      });
      if (static_cast<size_t>(agree) * 2 > members.size()) return candidate;
      last = "node " + std::to_string(candidate.node_id) + " leads term " +
             std::to_string(candidate.term) + " but a majority does not follow it yet";
    }
    std::this_thread::sleep_for(milliseconds(50));
  }
  return Status(ErrorCode::Unavailable, "no leader within " + std::to_string(timeout.count()) +
                                            " ms (" + last + ")");
}

Result<client::RaftInfo> LocalCluster::wait_applied(int id, uint64_t index, milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string last = "never answered";
  while (true) {
    Result<client::RaftInfo> got = info(id, milliseconds(300));
    if (got.is_ok() && got.value().applied_index >= index) return got;
    last = got.is_ok() ? "applied " + std::to_string(got.value().applied_index)
                       : got.status().message();
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(milliseconds(50));
  }
  return Status(ErrorCode::Unavailable, "node " + std::to_string(id) + " did not apply index " +
                                            std::to_string(index) + " within " +
                                            std::to_string(timeout.count()) + " ms (" + last +
                                            ")");
}

Result<client::Reply> LocalCluster::stale_get(int id, const std::string& key) const {
  Result<std::vector<client::Reply>> replies =
      node_exchange(layout_.client_endpoint(id), {{"READONLY"}, {"GET", key}}, milliseconds(2000),
                    layout_.credentials());
  if (!replies.is_ok()) return replies.status();
  return replies.value()[1];
}

}  // namespace raftkv::tools
