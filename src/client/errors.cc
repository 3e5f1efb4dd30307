#include "client/errors.h"

#include <array>

namespace raftkv::client {
namespace {

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

// Prefixes of TRYAGAIN replies that raftkv-server sends only when the request was not
// applied (src/server/node.cc). Keep in step with the server's texts.
constexpr std::array<std::string_view, 4> kNotAppliedPrefixes = {
    "TRYAGAIN no leader",
    "TRYAGAIN busy",
    "TRYAGAIN leadership moved",              // A forward reached a node no longer leader.
    "TRYAGAIN leadership changed during the read",  // Reads are never applied.
};

}  // namespace

ErrorClass classify_error(std::string_view text) {
  if (starts_with(text, "SESSION_EXPIRED")) return ErrorClass::SessionExpired;
  if (!starts_with(text, "TRYAGAIN")) return ErrorClass::Application;
  // "may or may not have been applied" also contains "been applied": check it first.
  if (text.find("may or may not") != std::string_view::npos) return ErrorClass::Ambiguous;
  for (std::string_view prefix : kNotAppliedPrefixes) {
    if (starts_with(text, prefix)) return ErrorClass::NotApplied;
  }
  if (text.find("it was not applied") != std::string_view::npos) return ErrorClass::NotApplied;
  return ErrorClass::Ambiguous;
}

const char* error_class_name(ErrorClass error_class) {
  switch (error_class) {
    case ErrorClass::Application: return "application";
    case ErrorClass::NotApplied: return "not-applied";
    case ErrorClass::Ambiguous: return "ambiguous";
    case ErrorClass::SessionExpired: return "session-expired";
  }
  return "?";
}

}  // namespace raftkv::client
