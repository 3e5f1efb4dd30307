#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>

#include "commands.h"

namespace raftkv::tools {
namespace {

using client::Client;
using client::ClientOptions;
using client::Endpoint;
using client::Outcome;
using client::OutcomeKind;
using client::RaftInfo;

}  // namespace

Result<ClientOptions> client_options(const DataOptions& options) {
  Result<std::vector<Endpoint>> endpoints = client::parse_endpoints(options.endpoints);
  if (!endpoints.is_ok()) return endpoints.status();
  Result<client::Semantics> semantics = client::parse_semantics(options.semantics);
  if (!semantics.is_ok()) return semantics.status();
  if (options.timeout_ms <= 0) {
    return Status(ErrorCode::InvalidArgument, "--timeout-ms must be positive");
  }
  ClientOptions out;
  out.endpoints = std::move(endpoints).value();
  out.semantics = semantics.value();
  out.call_timeout = client::Millis(options.timeout_ms);
  out.attempt_timeout = std::min(out.attempt_timeout, out.call_timeout);
  out.unreachable_rounds_max = 3;  // A person at a prompt wants "no node reachable" quickly.
  out.user = options.user;
  out.password = options.password;
  if (options.tls.enabled) {
    Result<std::shared_ptr<client::TlsContext>> tls = client::TlsContext::make(options.tls);
    if (!tls.is_ok()) return tls.status();
    out.tls = std::move(tls).value();
  }
  return out;
}

Credentials credentials_of(const DataOptions& options) {
  Credentials credentials{options.user, options.password, nullptr};
  if (options.tls.enabled) {
    // A bad file leaves TLS off here: every node then reads as unreachable, and data commands
    // (client_options) name the file.
    Result<std::shared_ptr<client::TlsContext>> tls = client::TlsContext::make(options.tls);
    if (tls.is_ok()) credentials.tls = std::move(tls).value();
  }
  return credentials;
}
namespace {

// Every endpoint worth asking about: the configured ones plus members any node reports (at
// their TLS client ports when the credentials speak TLS).
std::vector<Endpoint> all_endpoints(const std::vector<Endpoint>& configured,
                                    const Credentials& credentials) {
  std::vector<Endpoint> out = configured;
  for (const Endpoint& endpoint : configured) {
    Result<RaftInfo> info = node_info(endpoint, std::chrono::milliseconds(1000), credentials);
    if (!info.is_ok()) continue;
    for (const client::MemberInfo& member : info.value().members) {
      Result<Endpoint> parsed = client::parse_endpoint(member.addr(credentials.tls != nullptr));
      if (parsed.is_ok() && std::find(out.begin(), out.end(), parsed.value()) == out.end()) {
        out.push_back(parsed.value());
      }
    }
    break;  // One answering node knows the whole membership.
  }
  return out;
}

}  // namespace

int report(const Outcome& outcome, bool raw) {
  switch (outcome.kind) {
    case OutcomeKind::Ok:
      std::cout << (raw ? client::format_reply_raw(outcome.reply)
                        : client::format_reply(outcome.reply))
                << "\n";
      return kExitOk;
    case OutcomeKind::Error:
      std::cout << (raw ? outcome.reply.text : client::format_reply(outcome.reply)) << "\n";
      return kExitError;
    case OutcomeKind::Unknown:
      return fail(kExitUnknown, "outcome unknown, the command may or may not have been "
                                "applied (" + outcome.detail + "); with --semantics "
                                "exactly-once the client could have retried it safely");
    case OutcomeKind::Unavailable: return fail(kExitUnavailable, outcome.detail);
    case OutcomeKind::SessionExpired:
      return fail(kExitSessionExpired, "session expired: " + outcome.detail);
  }
  return kExitError;
}

int fail(int code, const std::string& message) {
  std::cerr << "raftkv: " << message << "\n";
  return code;
}

bool stdout_is_tty() { return ::isatty(STDOUT_FILENO) == 1; }

int run_data_command(const DataOptions& options, const std::vector<std::string>& args) {
  Result<ClientOptions> parsed = client_options(options);
  if (!parsed.is_ok()) return fail(kExitUsage, parsed.status().message());
  Client client(std::move(parsed).value());
  return report(client.call(args), options.raw);
}

int run_info(const DataOptions& options) {
  Result<ClientOptions> parsed = client_options(options);
  if (!parsed.is_ok()) return fail(kExitUsage, parsed.status().message());
  Client client(std::move(parsed).value());
  const Outcome outcome = client.call({"INFO"});
  if (outcome.ok()) {
    std::string text = outcome.reply.text;
    std::erase(text, '\r');
    std::cout << text;
    return kExitOk;
  }
  return report(outcome, options.raw);
}

int run_status(const DataOptions& options) {
  Result<std::vector<Endpoint>> endpoints = client::parse_endpoints(options.endpoints);
  if (!endpoints.is_ok()) return fail(kExitUsage, endpoints.status().message());
  std::printf("%-22s %-5s %-14s %-6s %-7s %-8s %-8s %-8s\n", "ENDPOINT", "ID", "ROLE", "TERM",
              "LEADER", "COMMIT", "APPLIED", "LAST");
  int reachable = 0;
  const Credentials credentials = credentials_of(options);
  for (const Endpoint& endpoint : all_endpoints(endpoints.value(), credentials)) {
    Result<RaftInfo> info = node_info(endpoint, std::chrono::milliseconds(1000), credentials);
    if (!info.is_ok()) {
      std::printf("%-22s unreachable (%s)\n", endpoint.to_string().c_str(),
                  info.status().message().c_str());
      continue;
    }
    ++reachable;
    const RaftInfo& i = info.value();
    std::printf("%-22s %-5llu %-14s %-6llu %-7s %-8llu %-8llu %-8llu\n",
                endpoint.to_string().c_str(), static_cast<unsigned long long>(i.node_id),
                i.role.c_str(), static_cast<unsigned long long>(i.term),
                i.leader_id == 0 ? "-" : std::to_string(i.leader_id).c_str(),
                static_cast<unsigned long long>(i.commit_index),
                static_cast<unsigned long long>(i.applied_index),
                static_cast<unsigned long long>(i.last_log_index));
  }
  if (reachable == 0) {
    return fail(kExitUnavailable, "no node reachable at " + options.endpoints);
  }
  return kExitOk;
}

int run_leader(const DataOptions& options) {
  Result<ClientOptions> parsed = client_options(options);
  if (!parsed.is_ok()) return fail(kExitUsage, parsed.status().message());
  Client client(std::move(parsed).value());
  // Ask until someone names a leader: right after a crash the survivors may still be voting.
  const auto deadline = std::chrono::steady_clock::now() + client::Millis(options.timeout_ms);
  std::string last;
  while (std::chrono::steady_clock::now() < deadline) {
    Result<RaftInfo> info = client.info();
    if (!info.is_ok()) return fail(kExitUnavailable, info.status().message());
    if (info.value().leader_id != 0) {
      const std::string& tls_addr = info.value().leader_tls_addr;
      std::cout << "node " << info.value().leader_id << " at "
                << (options.tls.enabled && !tls_addr.empty() ? tls_addr : info.value().leader_addr)
                << " leads term " << info.value().term << " (as node " << info.value().node_id
                << " sees it)\n";
      return kExitOk;
    }
    last = "node " + std::to_string(info.value().node_id) + " knows no leader in term " +
           std::to_string(info.value().term);
    usleep(100'000);
  }
  return fail(kExitUnavailable, "no leader: " + last);
}

int run_members(const DataOptions& options) {
  Result<ClientOptions> parsed = client_options(options);
  if (!parsed.is_ok()) return fail(kExitUsage, parsed.status().message());
  Client client(std::move(parsed).value());
  Result<RaftInfo> info = client.info();
  if (!info.is_ok()) return fail(kExitUnavailable, info.status().message());
  for (const client::MemberInfo& member : info.value().members) {
    std::string role = "unreachable";
    const std::string& addr = member.addr(options.tls.enabled);
    if (Result<Endpoint> endpoint = client::parse_endpoint(addr); endpoint.is_ok()) {
      Result<RaftInfo> its = node_info(endpoint.value(), std::chrono::milliseconds(1000),
                                           credentials_of(options));
      if (its.is_ok()) role = its.value().role;
    }
    std::cout << member.id << "  " << addr << "  " << role << "\n";
  }
  return kExitOk;
}

}  // namespace raftkv::tools
