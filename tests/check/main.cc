// raftkv-lincheck: checks a history file (JSON Lines, tests/check/README.md) for
// linearizability, and when it has "final" lines, that appends applied exactly once.
//
//   raftkv-lincheck history.jsonl [--timeout-s 60]
//
// Exit status: 0 linearizable (and appends exactly once), 1 a violation was found, 2 the input
// could not be read, 3 undecided: the budget ran out before a verdict (never reported as a pass).
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <string>

#include "check/history_json.h"
#include "check/lincheck.h"

namespace {

constexpr int kExitLinearizable = 0;
constexpr int kExitViolation = 1;
constexpr int kExitUnreadable = 2;
constexpr int kExitUndecided = 3;

using raftkv::lincheck::HistoryFile;

// Runs the exactly-once check against every node's final values; true when all pass.
bool check_finals(const HistoryFile& file) {
  bool clean = true;
  for (const raftkv::lincheck::FinalState& final_state : file.finals) {
    const raftkv::lincheck::AppendsVerdict verdict =
        raftkv::lincheck::check_appends_exactly_once(file.history, final_state.values);
    std::printf("appends exactly once, node %lld: %s", static_cast<long long>(final_state.node),
                raftkv::lincheck::format_appends(verdict, file.history).c_str());
    clean = clean && verdict.offences.empty();
  }
  return clean;
}

int run(const std::string& path, double timeout_s) {
  raftkv::Result<HistoryFile> file = raftkv::lincheck::read_history_file(path);
  if (!file.is_ok()) {
    std::fprintf(stderr, "raftkv-lincheck: %s\n", file.status().message().c_str());
    return kExitUnreadable;
  }
  raftkv::lincheck::Options options;
  options.time_budget = std::chrono::milliseconds(std::llround(timeout_s * 1000));
  raftkv::Result<raftkv::lincheck::Verdict> verdict =
      raftkv::lincheck::check(file.value().history, options);
  RAFT_ASSERT(verdict.is_ok());  // The reader validated every operation.
  std::printf("%s", raftkv::lincheck::format_verdict(verdict.value()).c_str());
  const bool appends_clean = check_finals(file.value());
  switch (verdict.value().kind) {
    case raftkv::lincheck::VerdictKind::Violation: return kExitViolation;
    case raftkv::lincheck::VerdictKind::Undecided:
      return appends_clean ? kExitUndecided : kExitViolation;
    case raftkv::lincheck::VerdictKind::Linearizable:
      return appends_clean ? kExitLinearizable : kExitViolation;
  }
  return kExitUndecided;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("Checks a raftkv history (JSON Lines) for linearizability.");
  std::string path;
  double timeout_s = 60;
  app.add_option("file", path, "History file, one JSON object per line")->required();
  app.add_option("--timeout-s", timeout_s, "Time budget in seconds; past it: undecided (exit 3)")
      ->check(CLI::Range(0.001, 1e6));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);
    return code == 0 ? 0 : kExitUnreadable;
  }
  return run(path, timeout_s);
}
