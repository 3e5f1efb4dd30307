#include "tls_files.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>
#include <vector>

#include "process.h"

namespace raftkv::tools {
namespace {

constexpr const char* kDays = "30";

// Runs openssl with `args` to completion (bounded: 60 s), its output appended to `log`.
Status run_openssl(const std::vector<std::string>& args, const std::string& log) {
  Result<Spawned> spawned = spawn({.program = kOpensslPath, .args = args, .log_path = log});
  if (!spawned.is_ok()) return spawned.status();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::optional<std::string> how;
  while (!(how = reap_if_exited(spawned.value().pid)) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!how) {
    (void)stop_process(spawned.value().pid, SIGKILL, std::chrono::milliseconds(1000));
    how = "timed out";
  }
  if (*how == "exited with status 0") return Status::ok();
  std::string command = "openssl";
  for (const std::string& arg : args) command += " " + arg;
  return Status(ErrorCode::IoError, command + ": " + *how + " (see " + log + ")");
}

// A fresh ECDSA P-256 key and a request for `subject`.
std::vector<std::string> key_and_request(const std::string& key, const std::string& subject) {
  return {"req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
          "-nodes", "-keyout", key, "-subj", subject};
}

// The openssl commands that make `name`'s key and its certificate signed by the CA in `dir`,
// with the extensions in `dir`/`name`.ext.
std::vector<std::vector<std::string>> certificate_commands(const std::string& dir,
                                                           const std::string& name) {
  const std::string base = dir + "/" + name;
  std::vector<std::string> request = key_and_request(base + ".key", "/CN=" + name);
  request.insert(request.end(), {"-out", base + ".csr"});
  std::vector<std::string> sign = {"x509", "-req", "-in", base + ".csr", "-CA", dir + "/ca.crt",
                                   "-CAkey", dir + "/ca.key", "-CAcreateserial", "-days", kDays,
                                   "-out", base + ".crt", "-extfile", base + ".ext"};
  return {request, sign};
}

}  // namespace

Status make_tls_files(const std::string& dir, int nodes) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) return Status(ErrorCode::IoError, "cannot create " + dir + ": " + error.message());
  const std::string log = dir + "/openssl.log";
  if (!std::filesystem::exists(dir + "/ca.crt", error)) {
    std::vector<std::string> ca = key_and_request(dir + "/ca.key", "/CN=raftkv-local-ca");
    ca.insert(ca.end(), {"-x509", "-days", kDays, "-out", dir + "/ca.crt"});
    if (Status status = run_openssl(ca, log); !status.is_ok()) return status;
  }
  std::vector<std::string> names = {"client"};
  for (int id = 1; id <= nodes; ++id) names.push_back("raftkv-node-" + std::to_string(id));
  for (const std::string& name : names) {
    if (std::filesystem::exists(dir + "/" + name + ".crt", error)) continue;
    // Server and client use alike: a node accepts peers and dials them.
    std::ofstream(dir + "/" + name + ".ext")
        << "subjectAltName=DNS:" << name << ",DNS:localhost,IP:127.0.0.1\n"
        << "extendedKeyUsage=serverAuth,clientAuth\n";
    for (const std::vector<std::string>& command : certificate_commands(dir, name)) {
      if (Status status = run_openssl(command, log); !status.is_ok()) return status;
    }
  }
  return Status::ok();
}

}  // namespace raftkv::tools
