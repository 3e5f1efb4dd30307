#include "client/errors.h"

#include "protocol/reply_codes.h"

namespace raftkv::client {

ErrorClass classify_error(std::string_view text) {
  if (text.starts_with("SESSION_EXPIRED")) return ErrorClass::SessionExpired;
  switch (protocol::error_kind(text)) {
    case protocol::ErrorKind::NotApplied: return ErrorClass::NotApplied;
    case protocol::ErrorKind::MaybeApplied: return ErrorClass::Ambiguous;
    case protocol::ErrorKind::Application: break;
  }
  return ErrorClass::Application;
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
