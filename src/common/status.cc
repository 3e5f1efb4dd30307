#include "common/status.h"

namespace raftkv {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::Ok: return "Ok";
    case ErrorCode::InvalidArgument: return "InvalidArgument";
    case ErrorCode::NotLeader: return "NotLeader";
    case ErrorCode::Busy: return "Busy";
    case ErrorCode::Corruption: return "Corruption";
    case ErrorCode::IoError: return "IoError";
    case ErrorCode::NotFound: return "NotFound";
    case ErrorCode::Unavailable: return "Unavailable";
  }
  return "Unknown";
}

std::string Status::to_string() const {
  if (is_ok()) return "Ok";
  return std::string(error_code_name(code_)) + ": " + message_;
}

}  // namespace raftkv
