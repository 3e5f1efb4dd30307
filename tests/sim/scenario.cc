#include "sim/scenario.h"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unistd.h>

#include "common/assert.h"
#include "sim/scenarios.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#endif

namespace raftkv::sim {

const std::vector<Scenario>& all_scenarios() {
  static const std::vector<Scenario> scenarios = [] {
    std::vector<Scenario> out;
    append_election_scenarios(out);
    append_agreement_scenarios(out);
    append_economy_scenarios(out);
    append_persistence_scenarios(out);
    append_client_scenarios(out);
    append_hostile_scenarios(out);
    append_snapshot_scenarios(out);
    append_session_scenarios(out);
    append_kv_scenarios(out);
    append_expiry_scenarios(out);
    append_membership_scenarios(out);
    append_large_write_scenarios(out);
    return out;
  }();
  return scenarios;
}

const Scenario* find_scenario(std::string_view name) {
  for (const Scenario& scenario : all_scenarios()) {
    if (scenario.name == name) return &scenario;
  }
  return nullptr;
}

namespace {

std::string& replay_binary() {
  static std::string binary = "raftkv-sim";
  return binary;
}

// What a fatal signal prints: preformatted, because a signal handler may not allocate.
char crash_note[1024];
size_t crash_note_size = 0;

void write_crash_note() {
  if (crash_note_size == 0) return;
  ssize_t ignored = ::write(STDERR_FILENO, crash_note, crash_note_size);
  (void)ignored;
}

extern "C" void on_fatal_signal(int signal_number) {
  write_crash_note();
  std::signal(signal_number, SIG_DFL);
  std::raise(signal_number);
}

void install_crash_handlers() {
  static bool installed = false;
  if (installed) return;
  installed = true;
  for (int signal_number : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL}) {
    std::signal(signal_number, on_fatal_signal);
  }
#if defined(__SANITIZE_ADDRESS__)
  // Sanitizers exit without raising a signal; their death callback still runs.
  __sanitizer_set_death_callback(write_crash_note);
#endif
}

void arm_crash_note(const Run& run) {
  const std::string note = "\n*** raftkv sim: scenario " + run.scenario() + " seed " +
                           std::to_string(run.seed()) + " crashed; replay with:\n    " +
                           replay_command(run.scenario(), run.seed(), run.scale()) + "\n";
  crash_note_size = std::min(note.size(), sizeof(crash_note));
  std::memcpy(crash_note, note.data(), crash_note_size);
}

uint64_t env_u64(const char* name, uint64_t fallback) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return fallback;
  return std::strtoull(value, nullptr, 10);
}

}  // namespace

void set_replay_binary(std::string path) { replay_binary() = std::move(path); }

std::string replay_command(std::string_view scenario, uint64_t seed, uint64_t scale) {
  std::string command = replay_binary() + " --scenario=" + std::string(scenario) +
                        " --seed=" + std::to_string(seed);
  if (scale > 1) command += " --scale=" + std::to_string(scale);
  return command;
}

void run_scenario(const Scenario& scenario, Run& run) {
  RAFT_ASSERT(run.scenario() == scenario.name);
  install_crash_handlers();
  arm_crash_note(run);
  scenario.fn(run);
  crash_note_size = 0;
}

SeedPlan seed_plan_from_env(uint64_t default_count) {
  if (std::getenv("RAFTKV_SIM_SEED") != nullptr) {
    return SeedPlan{env_u64("RAFTKV_SIM_SEED", 1), 1};
  }
  return SeedPlan{env_u64("RAFTKV_SIM_FIRST_SEED", 1), env_u64("RAFTKV_SIM_SEEDS", default_count)};
}

}  // namespace raftkv::sim
