#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

// Starting and stopping local processes (fork/exec, signals, waitpid), for `raftkv cluster`,
// `raftkv demo` and the process tests. POSIX only; no threads.

namespace raftkv::tools {

struct SpawnOptions {
  std::string program;              // Path of the executable.
  std::vector<std::string> args;    // argv[1..].
  // Where the child's stdout and stderr go: a file opened for append (log_path), or a pipe
  // whose read end is returned (capture), or inherited if neither.
  std::string log_path;
  bool capture = false;
  // Detach into a new session: the child outlives this process and the terminal (background
  // clusters). Otherwise it gets its own process group (Ctrl-C reaches only us, and we stop
  // it in order) and SIGTERM when this process dies (no orphaned servers after a crash).
  bool detach = false;
};

struct Spawned {
  pid_t pid = -1;
  int output_fd = -1;  // Read end of the stdout+stderr pipe when capture was asked.
};

// Starts the program. InvalidArgument if it is not an executable file; IoError if fork or
// the log file fails. A failure of exec itself shows as exit status 127 with a message on
// the child's stderr.
[[nodiscard]] Result<Spawned> spawn(const SpawnOptions& options);

// Whether `pid` is alive (not a zombie) and, if `name_part` is given, its command line contains
// it (guards against a recycled pid).
[[nodiscard]] bool process_alive(pid_t pid, const std::string& name_part = "");

// Reaps `pid` if it is our child and has exited; returns its exit description ("exited with
// status 1", "killed by signal 9"), or nullopt while it runs (or if it is not our child).
[[nodiscard]] std::optional<std::string> reap_if_exited(pid_t pid);

// Sends `signal` and waits up to `wait` for the process to go; then SIGKILL and wait again.
// Works for children (reaped) and for other processes (polled). True if it is gone.
bool stop_process(pid_t pid, int signal, std::chrono::milliseconds wait);

// Reads a pid file ("1234\n"); nullopt if missing or malformed.
[[nodiscard]] std::optional<pid_t> read_pid_file(const std::string& path);
[[nodiscard]] Status write_pid_file(const std::string& path, pid_t pid);

// The directory holding this executable (from /proc/self/exe), for finding sibling binaries.
[[nodiscard]] std::string self_exe_dir();

}  // namespace raftkv::tools
