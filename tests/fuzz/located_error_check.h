// What the fuzz targets of the strict JSON manifests (config sets, patch.json,
// h5.json) require of every error their parser returns: it names the file,
// says something, is a parse, validation or internal error, puts a byte
// offset inside the input, and a validation error's pointer is a JSON
// pointer. A violation aborts, naming the target and the invariant.
#ifndef ATRIUM_TESTS_FUZZ_LOCATED_ERROR_CHECK_H_
#define ATRIUM_TESTS_FUZZ_LOCATED_ERROR_CHECK_H_

#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "atrium/result.h"

namespace atrium::fuzz {

inline void RequireLocatedJsonError(const char* target, const Error& e, std::string_view file,
                                    size_t size) {
  auto require = [target](bool condition, const char* what) {
    if (condition) return;
    std::fprintf(stderr, "%s: invariant violated: %s\n", target, what);
    std::abort();
  };
  require(e.file == file, "error names the file");
  require(!e.message.empty(), "error has a message");
  require(e.code == ErrorCode::kParse || e.code == ErrorCode::kValidation ||
              e.code == ErrorCode::kInternal,
          "error code is parse, validation or internal");
  if (e.offset) require(*e.offset <= size, "error offset lies inside the input");
  if (e.code == ErrorCode::kValidation) {
    require(e.pointer.empty() || e.pointer[0] == '/',
            "pointer is a JSON pointer (\"\" is the root)");
  }
}

}  // namespace atrium::fuzz

#endif  // ATRIUM_TESTS_FUZZ_LOCATED_ERROR_CHECK_H_
