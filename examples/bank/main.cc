// bank: accounts and transfers on a local three-node raftkv cluster, run once with each
// delivery semantics through a fault-injecting proxy while the leader is killed with SIGKILL,
// then audited from the servers' state (issue 5 §2). See examples/bank/README.md.

#include <signal.h>
#include <stdlib.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>

#include "chaos.h"

namespace raftkv::bank {
namespace {

using client::Semantics;
using std::chrono::milliseconds;

struct Options {
  tools::ClusterLayout layout;
  BankOptions bank;
  FaultOptions faults;
  ChaosOptions chaos;
  std::vector<std::string> semantics = {"at-most-once", "at-least-once", "exactly-once"};
  uint16_t base_port = 24100;
  bool keep = false;
  bool verbose = false;
};

void add_options(CLI::App& app, Options& options) {
  app.add_option("--transfers", options.bank.transfers, "Transfers per semantics")
      ->capture_default_str()->check(CLI::Range(1, 100'000));
  app.add_option("--accounts", options.bank.accounts, "Number of accounts")
      ->capture_default_str()->check(CLI::Range(2, 1000));
  app.add_option("--kills", options.chaos.kills, "kill -9 of the leader per semantics")
      ->capture_default_str()->check(CLI::Range(0, 20));
  app.add_option("--seed", options.bank.seed, "Seeds the transfers and the proxy's faults")
      ->capture_default_str();
  app.add_option("--drop", options.faults.drop_probability,
                 "Probability that the proxy drops a reply and closes the connection")
      ->capture_default_str()->check(CLI::Range(0.0, 0.5));
  app.add_option("--delay", options.faults.delay_probability,
                 "Probability that the proxy delays a reply (up to 200 ms)")
      ->capture_default_str()->check(CLI::Range(0.0, 1.0));
  app.add_option("--semantics", options.semantics, "Which semantics to run, in order")
      ->capture_default_str()
      ->check(CLI::IsMember({"at-most-once", "at-least-once", "exactly-once"}));
  app.add_option("--base-port", options.base_port,
                 "Node I listens on base+I-1 (peers), base+10+I-1 (clients), base+20+I-1 (HTTP)")
      ->capture_default_str()->check(CLI::Range(1024, 65000));
  app.add_option("--dir", options.layout.dir, "Cluster directory (default: a new temp dir)");
  app.add_option("--server", options.layout.server_path, "Path of raftkv-server");
  app.add_flag("--keep", options.keep, "Keep the cluster directory (logs) afterwards");
  app.add_flag("-v,--verbose", options.verbose, "Print every kill and restart");
}

Status prepare_layout(Options& options) {
  tools::ClusterLayout& layout = options.layout;
  layout.nodes = 3;
  layout.base_peer_port = options.base_port;
  layout.base_client_port = static_cast<uint16_t>(options.base_port + 10);
  layout.base_http_port = static_cast<uint16_t>(options.base_port + 20);
  // Short timeouts keep failovers, and so the whole run, quick.
  layout.heartbeat_ms = 50;
  layout.election_ms = 500;
  if (layout.server_path.empty()) layout.server_path = tools::default_server_path();
  if (layout.dir.empty()) {
    char pattern[] = "/tmp/raftkv-bank-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) return Status(ErrorCode::IoError, "mkdtemp failed");
    layout.dir = pattern;
  } else if (std::filesystem::exists(layout.dir)) {
    return Status(ErrorCode::InvalidArgument, layout.dir + " exists; the bank needs a new one");
  }
  if (Status valid = tools::validate_layout(layout); !valid.is_ok()) return valid;
  return tools::check_ports_free(layout);
}

Status start_cluster(tools::LocalCluster& cluster) {
  for (int id = 1; id <= cluster.layout().nodes; ++id) {
    if (Status started = cluster.start_node(id, /*detach=*/false); !started.is_ok()) {
      return started;
    }
  }
  for (int id = 1; id <= cluster.layout().nodes; ++id) {
    if (Status up = cluster.wait_up(id, milliseconds(10'000)); !up.is_ok()) return up;
  }
  Result<client::RaftInfo> leader = cluster.wait_for_leader(milliseconds(15'000));
  return leader.is_ok() ? Status::ok() : leader.status();
}

void print_run(const FaultyRun& run, bool verbose) {
  const BankReport& report = run.report;
  if (verbose) {
    for (const std::string& event : run.events) std::printf("  %s\n", event.c_str());
  }
  std::printf("  %s: %d transfers attempted in %.1f s (%d declined: too little money), "
              "%d unknown of which %d applied; proxy dropped %llu and delayed %llu of %llu "
              "replies\n",
              client::semantics_name(report.semantics), report.tally.attempted,
              static_cast<double>(report.elapsed.count()) / 1000.0, report.tally.declined,
              report.tally.unknown, report.audit.unknown_applied,
              static_cast<unsigned long long>(run.proxy.replies_dropped),
              static_cast<unsigned long long>(run.proxy.replies_delayed),
              static_cast<unsigned long long>(run.proxy.replies));
  std::fflush(stdout);
}

// Runs every chosen semantics on one cluster (each under its own key prefix) and prints the
// table. Returns the exit code: 0 if every expectation held.
int run_all(Options& options, tools::LocalCluster& cluster) {
  std::vector<BankReport> reports;
  std::vector<uint64_t> dropped;
  std::vector<std::string> failures;
  for (size_t i = 0; i < options.semantics.size(); ++i) {
    Result<Semantics> semantics = client::parse_semantics(options.semantics[i]);
    RAFT_ASSERT(semantics.is_ok());  // CLI11 checked the names.
    BankOptions bank = options.bank;
    bank.semantics = semantics.value();
    bank.prefix = "bank:" + options.semantics[i] + ":";
    FaultOptions faults = options.faults;
    faults.seed = options.bank.seed * 31 + i;
    Result<FaultyRun> run = run_with_faults(cluster, bank, faults, options.chaos);
    if (!run.is_ok()) {
      std::fprintf(stderr, "bank: %s run failed: %s\n", options.semantics[i].c_str(),
                   run.status().message().c_str());
      return 1;
    }
    print_run(run.value(), options.verbose);
    reports.push_back(run.value().report);
    dropped.push_back(run.value().proxy.replies_dropped);
    const std::string failed = check_expectations(run.value().report);
    if (!failed.empty()) failures.push_back(options.semantics[i] + ": " + failed);
  }
  std::printf("\n%s\n", format_table(reports, dropped).c_str());
  for (const std::string& failure : failures) {
    std::printf("UNEXPECTED %s\n", failure.c_str());
  }
  return failures.empty() ? 0 : 1;
}

int run(Options& options) {
  if (Status prepared = prepare_layout(options); !prepared.is_ok()) {
    std::fprintf(stderr, "bank: %s\n", prepared.message().c_str());
    return 2;
  }
  std::printf("bank: 3 nodes under %s; %d accounts of %lld; %d transfers per semantics; "
              "%d leader kills each; proxy drops %.0f%% and delays %.0f%% of replies; "
              "seed %llu\n",
              options.layout.dir.c_str(), options.bank.accounts,
              static_cast<long long>(options.bank.initial_balance), options.bank.transfers,
              options.chaos.kills, options.faults.drop_probability * 100,
              options.faults.delay_probability * 100,
              static_cast<unsigned long long>(options.bank.seed));
  std::fflush(stdout);
  int code = 1;
  {
    tools::LocalCluster cluster(options.layout);
    if (Status started = start_cluster(cluster); !started.is_ok()) {
      std::fprintf(stderr, "bank: cluster start failed: %s\n", started.message().c_str());
    } else {
      code = run_all(options, cluster);
    }
    cluster.stop_all(milliseconds(3000));
  }
  std::error_code error;
  if (!options.keep) std::filesystem::remove_all(options.layout.dir, error);
  return code;
}

}  // namespace
}  // namespace raftkv::bank

int main(int argc, char** argv) {
  raftkv::bank::Options options;
  CLI::App app{"bank: transfers under at-most-once, at-least-once and exactly-once, with "
               "faults, audited from the servers' state"};
  raftkv::bank::add_options(app, options);
  CLI11_PARSE(app, argc, argv);
  return raftkv::bank::run(options);
}
