// raftkv-sim: replays one simulation seed, soaks many seeds in parallel processes, or runs the
// narrated demo. Scenario code is shared with the GoogleTest suite (tests/sim), so a seed that
// fails in CI replays here bit for bit.
//
//   raftkv-sim --demo [--seed=S]
//   raftkv-sim --list
//   raftkv-sim --scenario=figure8 --seed=12345 [--verbose | --debug]
//   raftkv-sim --scenario=all --seeds=10000 --jobs=2 [--first-seed=1] [--scale=N]
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "demo.h"
#include "sim/console_sink.h"
#include "sim/scenario.h"

namespace raftkv::sim {
namespace {

struct Flags {
  bool demo = false;
  bool list = false;
  bool verbose = false;
  bool debug = false;
  bool worker = false;
  std::string scenario;
  uint64_t seed = 0;
  uint64_t seeds = 0;
  uint64_t first_seed = 1;
  uint64_t scale = 1;
  unsigned jobs = 2;
};

std::string self_path(const char* argv0) {
  char buffer[4096];
  const ssize_t size = ::readlink("/proc/self/exe", buffer, sizeof(buffer) - 1);
  if (size <= 0) return argv0;
  return std::string(buffer, static_cast<size_t>(size));
}

// Runs one seed; prints the outcome. True when it passed.
bool run_one(const Scenario& scenario, uint64_t seed, uint64_t scale, SimLogSink* sink,
             bool quiet_success) {
  Run run(std::string(scenario.name), seed);
  run.set_scale(scale);
  run.set_sink(sink);
  run_scenario(scenario, run);
  if (run.failed()) {
    std::printf("FAIL scenario %s seed %llu:\n%s\nreplay with:\n    %s\n",
                std::string(scenario.name).c_str(), static_cast<unsigned long long>(seed),
                run.failure().c_str(), replay_command(scenario.name, seed, scale).c_str());
    std::fflush(stdout);
    return false;
  }
  if (!quiet_success) {
    std::printf("ok   scenario %s seed %llu", std::string(scenario.name).c_str(),
                static_cast<unsigned long long>(seed));
    for (const auto& [metric, value] : run.metrics()) {
      std::printf("  %s=%llu", metric.c_str(), static_cast<unsigned long long>(value));
    }
    std::printf("\n");
  }
  return true;
}

int replay(const Flags& flags) {
  const Scenario* scenario = find_scenario(flags.scenario);
  if (scenario == nullptr) {
    std::fprintf(stderr, "unknown scenario '%s' (see --list)\n", flags.scenario.c_str());
    return 2;
  }
  ConsoleSink sink(stdout, ::isatty(STDOUT_FILENO) != 0,
                   flags.debug ? LogLevel::Debug : LogLevel::Info);
  const bool logs = flags.verbose || flags.debug;
  return run_one(*scenario, flags.seed, flags.scale, logs ? &sink : nullptr, false) ? 0 : 1;
}

// A soak worker: seeds [first_seed, first_seed + seeds) of one scenario, in this process.
int work(const Flags& flags) {
  const Scenario* scenario = find_scenario(flags.scenario);
  if (scenario == nullptr) return 2;
  int failed = 0;
  for (uint64_t seed = flags.first_seed; seed < flags.first_seed + flags.seeds; ++seed) {
    if (!run_one(*scenario, seed, flags.scale, nullptr, true)) ++failed;
  }
  return failed == 0 ? 0 : 1;
}

struct Chunk {
  std::string scenario;
  uint64_t first = 0;
  uint64_t count = 0;
};

std::vector<Chunk> plan_chunks(const Flags& flags) {
  std::vector<std::string> names;
  if (flags.scenario.empty() || flags.scenario == "all") {
    for (const Scenario& scenario : all_scenarios()) names.emplace_back(scenario.name);
  } else {
    names.push_back(flags.scenario);
  }
  // Small chunks, so that a crash (which ends its worker) loses few seeds.
  const uint64_t size = std::clamp<uint64_t>(flags.seeds / (4 * flags.jobs), 1, 50);
  std::vector<Chunk> chunks;
  for (const std::string& name : names) {
    for (uint64_t first = flags.first_seed; first < flags.first_seed + flags.seeds;
         first += size) {
      chunks.push_back({name, first, std::min(size, flags.first_seed + flags.seeds - first)});
    }
  }
  return chunks;
}

pid_t spawn(const std::string& self, const Chunk& chunk, uint64_t scale) {
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  const std::string scenario = "--scenario=" + chunk.scenario;
  const std::string first = "--first-seed=" + std::to_string(chunk.first);
  const std::string count = "--seeds=" + std::to_string(chunk.count);
  const std::string scale_flag = "--scale=" + std::to_string(scale);
  const char* args[] = {self.c_str(), "--worker",        scenario.c_str(), first.c_str(),
                        count.c_str(), scale_flag.c_str(), nullptr};
  ::execv(self.c_str(), const_cast<char* const*>(args));
  std::perror("execv");
  ::_exit(127);
}

int soak(const Flags& flags, const std::string& self) {
  if (!flags.scenario.empty() && flags.scenario != "all" && !find_scenario(flags.scenario)) {
    std::fprintf(stderr, "unknown scenario '%s' (see --list)\n", flags.scenario.c_str());
    return 2;
  }
  const std::vector<Chunk> chunks = plan_chunks(flags);
  const auto start = std::chrono::steady_clock::now();
  std::map<pid_t, Chunk> running;
  size_t next = 0, done = 0, failed = 0;
  while (next < chunks.size() || !running.empty()) {
    while (next < chunks.size() && running.size() < std::max(1U, flags.jobs)) {
      const pid_t pid = spawn(self, chunks[next], flags.scale);
      if (pid < 0) return std::perror("fork"), 1;
      running[pid] = chunks[next++];
    }
    int status = 0;
    const pid_t pid = ::wait(&status);
    if (pid < 0) break;
    const Chunk chunk = running[pid];
    running.erase(pid);
    ++done;
    const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!ok) ++failed;
    // Workers print each failing seed with its replay command; here only chunk outcomes that
    // need attention, and progress every tenth of the way.
    if (!ok || done * 10 / chunks.size() != (done - 1) * 10 / chunks.size()) {
      std::printf("[%zu/%zu] %s seeds %llu..%llu %s\n", done, chunks.size(),
                  chunk.scenario.c_str(), static_cast<unsigned long long>(chunk.first),
                  static_cast<unsigned long long>(chunk.first + chunk.count - 1),
                  ok ? "ok" : (WIFSIGNALED(status) ? "CRASHED (later seeds of it not run)"
                                                   : "FAILED"));
      std::fflush(stdout);
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("soak: %zu chunks (%llu seeds per scenario), %zu failed, %.1f s\n", chunks.size(),
              static_cast<unsigned long long>(flags.seeds), failed, seconds);
  return failed == 0 ? 0 : 1;
}

int list() {
  for (const Scenario& scenario : all_scenarios()) {
    std::printf("%-28s %s\n", std::string(scenario.name).c_str(),
                std::string(scenario.summary).c_str());
  }
  return 0;
}

}  // namespace
}  // namespace raftkv::sim

int main(int argc, char** argv) {
  using namespace raftkv::sim;
  Flags flags;
  CLI::App app{"raftkv-sim: deterministic Raft cluster simulator"};
  app.add_flag("--demo", flags.demo, "narrated election/replication demo");
  app.add_flag("--list", flags.list, "list the scenarios");
  app.add_option("--scenario", flags.scenario, "scenario name ('all' when soaking)");
  app.add_option("--seed", flags.seed, "replay this one seed (with --demo: the demo's seed)");
  app.add_option("--seeds", flags.seeds, "soak: number of seeds per scenario");
  app.add_option("--first-seed", flags.first_seed, "soak: first seed");
  app.add_option("--jobs", flags.jobs, "soak: parallel worker processes");
  app.add_option("--scale", flags.scale, "lengthen the long scenarios N times (soak)");
  app.add_flag("--verbose", flags.verbose, "replay: print the cores' log lines");
  app.add_flag("--debug", flags.debug, "replay: print debug log lines too");
  app.add_flag("--worker", flags.worker, "internal: run a chunk of seeds")->group("");
  CLI11_PARSE(app, argc, argv);

  const std::string self = self_path(argv[0]);
  set_replay_binary(self);
  if (flags.demo) {
    return run_demo(::isatty(STDOUT_FILENO) != 0, flags.seed != 0 ? flags.seed : kDemoSeed);
  }
  if (flags.list) return list();
  if (flags.worker) return work(flags);
  if (flags.seeds > 0) return soak(flags, self);
  if (!flags.scenario.empty() && flags.seed != 0) return replay(flags);
  std::fprintf(stderr, "%s", app.help().c_str());
  return 2;
}
