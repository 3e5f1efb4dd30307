#include "web_control.h"

#include <signal.h>

#include <httplib.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <random>

namespace raftkv::tools {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

constexpr milliseconds kStopWait{5000};

client::ClientOptions write_client_options(const ClusterLayout& layout) {
  client::ClientOptions options;
  options.endpoints = layout.client_endpoints();
  options.call_timeout = milliseconds(5000);
  options.attempt_timeout = milliseconds(3000);
  return options;
}

void reply_json(httplib::Response& response, int status, const json& body) {
  response.status = status;
  response.set_content(body.dump() + "\n", "application/json");
}

}  // namespace

std::string random_token() {
  std::random_device device;
  std::uniform_int_distribution<uint64_t> any;
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(any(device)));
  return text;
}

WebControl::WebControl(LocalCluster& cluster, WebControlOptions options)
    : cluster_(cluster),
      layout_(cluster.layout()),
      options_(std::move(options)),
      client_(write_client_options(layout_)),
      server_(std::make_unique<httplib::Server>()) {
  RAFT_ASSERT(!options_.controls || !options_.token.empty());
  // As the server does (http_status.cc): a port in use is refused, not shared.
  server_->set_socket_options([](socket_t sock) {
    const int yes = 1;
    (void)::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  if (options_.controls) partitioner_ = std::make_unique<Partitioner>(layout_);
}

WebControl::~WebControl() { stop(); }

bool WebControl::allowed_origin(const std::string& origin) const {
  const std::string scheme = page_scheme();
  const ClusterLayout layout = current_layout();  // A node added since serves the page too.
  for (int id = 1; id <= layout.nodes; ++id) {
    const std::string port = std::to_string(layout.base_http_port + id - 1);
    if (origin == scheme + layout.http_addr(id) || origin == scheme + "localhost:" + port) {
      return true;
    }
  }
  return false;
}

Status WebControl::start() {
  server_->Get("/api/state", [this](const httplib::Request&, httplib::Response& response) {
    response.set_content(state_json() + "\n", "application/json");
  });
  // At most two digits: std::stoi cannot overflow, and act() checks the range.
  server_->Post(R"(/api/nodes/(\d{1,2})/(\w+))",
                [this](const httplib::Request& request, httplib::Response& response) {
                  Result<std::string> done =
                      act(std::stoi(request.matches[1].str()), request.matches[2].str());
                  if (done.is_ok()) return reply_json(response, 200, {{"ok", done.value()}});
                  reply_json(response, 400, {{"error", done.status().message()}});
                });
  server_->Post("/api/write", [this](const httplib::Request& request, httplib::Response& response) {
    if (!request.has_param("key") || request.get_param_value("key").empty()) {
      return reply_json(response, 400, {{"error", "a key is needed"}});
    }
    response.set_content(write(request.get_param_value("key"), request.get_param_value("value")),
                         "application/json");
  });
  server_->set_pre_routing_handler([this](const httplib::Request& request,
                                          httplib::Response& response) {
    const std::string origin = request.get_header_value("Origin");
    if (allowed_origin(origin)) response.set_header("Access-Control-Allow-Origin", origin);
    if (request.method != "POST") return httplib::Server::HandlerResponse::Unhandled;
    if (!options_.controls) {
      reply_json(response, 403, {{"error", "this page only watches; start the cluster with "
                                           "`raftkv cluster start --web` to act on it"}});
      return httplib::Server::HandlerResponse::Handled;
    }
    if (request.get_param_value("token") != options_.token) {
      reply_json(response, 403, {{"error", "wrong or missing token"}});
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  if (!server_->bind_to_port(options_.host, options_.port)) {
    return Status(ErrorCode::IoError, "cannot serve the web control on " + options_.host + ":" +
                                          std::to_string(options_.port));
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return Status::ok();
}

void WebControl::stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mu_);
  partitioner_.reset();  // Its destructor removes every rule.
}

void WebControl::set_step(const std::string& text) {
  std::lock_guard lock(mu_);
  step_ = text;
}

// A --tls cluster serves its pages over HTTPS (local_cluster.h).
std::string WebControl::page_scheme() const { return layout_.tls ? "https://" : "http://"; }

std::string WebControl::page_url(int id) const {
  std::string url = page_scheme() + layout_.http_addr(id) + "/?control=" + options_.host + ":" +
                    std::to_string(options_.port);
  if (options_.controls) url += "&token=" + options_.token;
  return url;
}

// `raftkv cluster add-node` and `remove-node`, run from another shell, change cluster.conf:
// the page lists and acts on the members it names now, not those of the start.
ClusterLayout WebControl::current_layout() const {
  Result<ClusterLayout> saved = load_layout(layout_.dir);
  return saved.is_ok() ? std::move(saved.value()) : layout_;
}

std::string WebControl::state_json() {
  std::lock_guard lock(mu_);
  const ClusterLayout layout = current_layout();
  json nodes = json::array();
  for (int id : layout.member_nodes()) {
    json node = {{"id", id},
                 {"http", layout.http_addr(id)},
                 {"client", layout.client_endpoint(id).to_string()}};
    if (options_.controls) {
      (void)cluster_.exit_description(id);  // Reaps a node that died by itself.
      const std::optional<pid_t> pid = cluster_.pid(id);
      node["pid"] = pid.value_or(0);
      node["running"] = pid.has_value();
      node["paused"] = pid.has_value() && paused_.contains(id);
      node["isolated"] = partitioner_->isolated().contains(id);
    }
    nodes.push_back(std::move(node));
  }
  json out = {{"controls", options_.controls}, {"step", step_}, {"nodes", std::move(nodes)}};
  if (options_.controls) {
    const Status& partitions = partitioner_->available();
    out["partition"] = {{"available", partitions.is_ok()}, {"why", partitions.message()}};
    out["transfer"] = {{"available", true}, {"why", ""}};
  }
  return out.dump();
}

Status WebControl::signal_node(int id, int signal) {
  const std::optional<pid_t> pid = cluster_.pid(id);
  if (!pid) return Status(ErrorCode::Unavailable, "node " + std::to_string(id) + " is not running");
  if (::kill(*pid, signal) != 0) {
    return Status(ErrorCode::IoError, "cannot signal node " + std::to_string(id));
  }
  return Status::ok();
}

Status WebControl::restart(int id) {
  if (cluster_.running(id)) {
    (void)signal_node(id, SIGCONT);  // A paused node could not act on SIGTERM.
    if (Status stopped = cluster_.stop_node(id, SIGTERM, kStopWait); !stopped.is_ok()) {
      return stopped;
    }
  }
  paused_.erase(id);
  return cluster_.start_node(id, /*detach=*/false);
}

Result<std::string> WebControl::act(int id, const std::string& action) {
  RAFT_ASSERT(options_.controls);  // The POST handlers refuse every action without them.
  std::lock_guard lock(mu_);
  const ClusterLayout layout = current_layout();
  if (id < 1 || id > layout.nodes) {
    return Status(ErrorCode::InvalidArgument, "no node " + std::to_string(id));
  }
  if (layout.removed.contains(id)) {
    return Status(ErrorCode::InvalidArgument,
                  "node " + std::to_string(id) + " was removed from the cluster");
  }
  const bool joined_since = id > layout_.nodes;
  if (joined_since && (action == "partition" || action == "heal")) {
    return Status(ErrorCode::InvalidArgument,
                  "node " + std::to_string(id) + " joined after this page's cluster started: "
                  "partitions cover the nodes it started with (start it again to include it)");
  }
  cluster_.mutable_layout() = layout;  // Ours alone with controls on (web_control.h).
  const std::string node = "node " + std::to_string(id);
  Status done = Status::ok();
  if (action == "kill") {
    done = cluster_.stop_node(id, SIGKILL, kStopWait);
    paused_.erase(id);
  } else if (action == "restart") {
    done = restart(id);
  } else if (action == "pause") {
    done = signal_node(id, SIGSTOP);
    if (done.is_ok()) paused_.insert(id);
  } else if (action == "resume") {
    done = signal_node(id, SIGCONT);
    paused_.erase(id);
  } else if (action == "partition") {
    done = partitioner_->isolate(id);
  } else if (action == "heal") {
    done = partitioner_->heal(id);
  } else if (action == "lead") {
    done = transfer_to(id);
  } else {
    return Status(ErrorCode::InvalidArgument, "no action " + action);
  }
  if (!done.is_ok()) return done;
  return node + ": " + action + " done";
}

// RAFT.TRANSFER through the client, which finds the leader: the leader hands over to `id`
// (Raft's TimeoutNow), and the page shows the new term and leader as they happen.
Status WebControl::transfer_to(int id) {
  std::lock_guard lock(write_mu_);
  const client::Outcome outcome =
      client_.call({"RAFT.TRANSFER", std::to_string(id)}, client::Semantics::AtMostOnce);
  if (!outcome.ok()) {
    return Status(ErrorCode::Unavailable, "transfer to node " + std::to_string(id) + ": " +
                                              outcome.detail + outcome.reply.text);
  }
  if (outcome.reply.is_error()) {
    return Status(ErrorCode::InvalidArgument, outcome.reply.text);
  }
  return Status::ok();
}

std::string WebControl::write(const std::string& key, const std::string& value) {
  std::lock_guard lock(write_mu_);
  const auto start = std::chrono::steady_clock::now();
  const client::Outcome outcome = client_.call({"SET", key, value});
  const auto ms = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() -
                                                           start);
  json out = {{"ok", outcome.ok()},
              {"outcome", client::outcome_kind_name(outcome.kind)},
              {"reply", client::format_reply(outcome.reply)},
              {"detail", outcome.detail},
              {"endpoint", outcome.endpoint.to_string()},
              {"ms", ms.count()}};
  return out.dump() + "\n";
}

}  // namespace raftkv::tools
