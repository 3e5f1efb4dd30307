#include "runtime/request.h"

namespace raftkv::runtime {

const char* outcome_name(Outcome outcome) {
  switch (outcome) {
    case Outcome::Ok: return "ok";
    case Outcome::NotApplied: return "not applied";
    case Outcome::MaybeApplied: return "may have been applied";
  }
  return "?";
}

}  // namespace raftkv::runtime
