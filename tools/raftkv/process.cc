#include "process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace raftkv::tools {
namespace {

// Runs in the child between fork and exec: only async-signal-safe calls.
[[noreturn]] void exec_child(const SpawnOptions& options, char* const* argv, int out_fd,
                             pid_t parent) {
  if (options.detach) {
    (void)::setsid();
  } else {
    (void)::setpgid(0, 0);
    (void)::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(1);  // The parent died before prctl took effect.
  }
  const int null_fd = ::open("/dev/null", O_RDONLY);
  if (null_fd >= 0) (void)::dup2(null_fd, STDIN_FILENO);
  if (out_fd >= 0) {
    (void)::dup2(out_fd, STDOUT_FILENO);
    (void)::dup2(out_fd, STDERR_FILENO);
  }
  ::execv(options.program.c_str(), argv);
  const char message[] = "raftkv: exec of the server failed\n";
  (void)!::write(STDERR_FILENO, message, sizeof message - 1);
  ::_exit(127);
}

}  // namespace

Result<Spawned> spawn(const SpawnOptions& options) {
  if (::access(options.program.c_str(), X_OK) != 0) {
    return Status(ErrorCode::InvalidArgument,
                  options.program + " is not an executable file (" + std::strerror(errno) + ")");
  }
  int out_fd = -1;
  int pipe_fds[2] = {-1, -1};
  if (options.capture) {
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return Status(ErrorCode::IoError, "pipe failed");
    out_fd = pipe_fds[1];
  } else if (!options.log_path.empty()) {
    out_fd = ::open(options.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (out_fd < 0) {
      return Status(ErrorCode::IoError,
                    "cannot open " + options.log_path + ": " + std::strerror(errno));
    }
  }
  std::vector<std::string> strings = {options.program};
  strings.insert(strings.end(), options.args.begin(), options.args.end());
  std::vector<char*> argv;
  for (std::string& item : strings) argv.push_back(item.data());
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) exec_child(options, argv.data(), out_fd, parent);
  if (out_fd >= 0) ::close(out_fd);
  if (pid < 0) {
    if (pipe_fds[0] >= 0) ::close(pipe_fds[0]);
    return Status(ErrorCode::IoError, std::string("fork failed: ") + std::strerror(errno));
  }
  return Spawned{pid, pipe_fds[0]};
}

bool process_alive(pid_t pid, const std::string& name_part) {
  if (pid <= 0 || ::kill(pid, 0) != 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const size_t close_paren = line.rfind(')');
  if (close_paren != std::string::npos && close_paren + 2 < line.size() &&
      line[close_paren + 2] == 'Z') {
    return false;  // A zombie has exited; only its parent has not reaped it yet.
  }
  if (name_part.empty()) return true;
  std::ifstream cmdline("/proc/" + std::to_string(pid) + "/cmdline");
  std::stringstream text;
  text << cmdline.rdbuf();
  return text.str().find(name_part) != std::string::npos;
}

std::optional<std::string> reap_if_exited(pid_t pid) {
  int status = 0;
  const pid_t reaped = ::waitpid(pid, &status, WNOHANG);
  if (reaped != pid) return std::nullopt;
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "stopped";
}

namespace {

bool wait_gone(pid_t pid, std::chrono::milliseconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (true) {
    (void)reap_if_exited(pid);
    if (!process_alive(pid)) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace

bool stop_process(pid_t pid, int signal, std::chrono::milliseconds wait) {
  if (pid <= 0) return true;
  if (::kill(pid, signal) != 0 && errno == ESRCH) {
    (void)reap_if_exited(pid);
    return true;
  }
  if (wait_gone(pid, wait)) return true;
  (void)::kill(pid, SIGKILL);
  return wait_gone(pid, std::chrono::milliseconds(5000));
}

std::optional<pid_t> read_pid_file(const std::string& path) {
  std::ifstream file(path);
  long long value = 0;
  if (!(file >> value) || value <= 0 || value > 1'000'000'000) return std::nullopt;
  return static_cast<pid_t>(value);
}

Status write_pid_file(const std::string& path, pid_t pid) {
  std::ofstream file(path, std::ios::trunc);
  file << pid << "\n";
  file.close();
  if (!file) return Status(ErrorCode::IoError, "cannot write " + path);
  return Status::ok();
}

std::string self_exe_dir() {
  char buffer[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buffer, sizeof buffer - 1);
  if (n <= 0) return ".";
  std::string path(buffer, static_cast<size_t>(n));
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

}  // namespace raftkv::tools
