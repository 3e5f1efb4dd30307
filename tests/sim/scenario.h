#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sim/run.h"

// The registry of simulation scenarios and the one code path that runs them: the gtest suite
// (sim_test.cc) and the raftkv-sim tool both go through run_scenario(), so a seed that fails
// in CI replays bit for bit with `raftkv-sim --scenario=NAME --seed=S`.
namespace raftkv::sim {

using ScenarioFn = void (*)(Run& run);

struct Scenario {
  std::string_view name;     // Stable; used on the command line.
  std::string_view summary;  // One line for --list.
  ScenarioFn fn;
};

[[nodiscard]] const std::vector<Scenario>& all_scenarios();
// nullptr when no scenario has that name.
[[nodiscard]] const Scenario* find_scenario(std::string_view name);

// The binary that replays a seed (the raftkv-sim tool); set once at start-up.
void set_replay_binary(std::string path);
[[nodiscard]] std::string replay_command(std::string_view scenario, uint64_t seed,
                                         uint64_t scale = 1);

// Runs `scenario` for run.seed(). While it runs, a fatal signal (RAFT_ASSERT aborts, a
// sanitizer report) still prints the seed and the replay command before the process dies.
void run_scenario(const Scenario& scenario, Run& run);

// Which seeds to run: RAFTKV_SIM_SEED=S runs only S; otherwise RAFTKV_SIM_SEEDS=N (default
// `default_count`) runs seeds [first, first + N) with first = RAFTKV_SIM_FIRST_SEED or 1.
struct SeedPlan {
  uint64_t first = 1;
  uint64_t count = 0;
};
[[nodiscard]] SeedPlan seed_plan_from_env(uint64_t default_count);

}  // namespace raftkv::sim
