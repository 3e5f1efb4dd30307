#include "common/assert.h"

#include <cstdio>
#include <cstdlib>

namespace raftkv {

void assert_failed(const char* expression, const char* file, int line, const char* function) {
  // stdio rather than the logger: the logger may be what is broken, and this must reach stderr.
  std::fprintf(stderr, "%s:%d: %s: assertion failed: %s\n", file, line, function, expression);
  std::fflush(stderr);
  std::abort();
}

}  // namespace raftkv
