#include "server/log_sink.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace raftkv::server {

SpdLogger::SpdLogger(LogLevel level) : level_(level) {
  auto logger = spdlog::stderr_logger_mt("raftkv");
  logger->set_pattern("%H:%M:%S.%e %-5l %v");
  logger->set_level(spdlog::level::trace);
  logger->flush_on(spdlog::level::trace);  // Lines must survive kill -9 for post-mortems.
  spdlog::set_default_logger(logger);
}

void SpdLogger::write(LogLevel level, std::string_view line) {
  switch (level) {
    case LogLevel::Debug: spdlog::debug("{}", line); return;
    case LogLevel::Info: spdlog::info("{}", line); return;
    case LogLevel::Warn: spdlog::warn("{}", line); return;
    case LogLevel::Error: spdlog::error("{}", line); return;
  }
}

LogLevel parse_log_level(const std::string& name) {
  if (name == "debug") return LogLevel::Debug;
  if (name == "warn") return LogLevel::Warn;
  if (name == "error") return LogLevel::Error;
  return LogLevel::Info;
}

}  // namespace raftkv::server
