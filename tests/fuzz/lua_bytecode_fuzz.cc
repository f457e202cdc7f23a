// Fuzz target for the reader of lua_dump images behind the sandbox's
// straight-line proof (lua/src/bytecode.cc). The input is taken as an image.
// Checked invariants:
//   1. Reading never crashes; a failure names an offset ("at offset N")
//      no further than the input's end.
//   2. A read function has at least one instruction, and all of them came
//      from the input (4 bytes each).
//   3. IsStraightLine is true only for a function that was read, takes no
//      varargs, has no string constant, ends with a return and is shorter
//      than the limit.
//
// Concurrency: the entry point is called from one thread at a time.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "bytecode.h"

namespace {

void Require(bool cond, const char* what) {
  if (!cond) {
    std::fprintf(stderr, "lua_bytecode_fuzz: invariant violated: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace detail = atrium::lua::detail;
  const std::string_view image(reinterpret_cast<const char*>(data), size);
  const detail::DumpedFunction f = detail::ReadDumpedFunction(image);
  if (!f.ok) {
    const size_t at = f.error.rfind(" at offset ");
    Require(at != std::string::npos, "an error names an offset");
    const unsigned long offset = std::strtoul(f.error.c_str() + at + 11, nullptr, 10);
    Require(offset <= size, "the offset is inside the input");
  } else {
    Require(!f.code.empty(), "a read function has code");
    Require(f.code.size() * 4 < size, "the code came from the input");
  }
  for (int limit : {0, 7, 1000}) {
    if (!detail::IsStraightLine(image, limit)) continue;
    Require(f.ok && !f.is_vararg && !f.has_string_constant, "straight code was read whole");
    Require(f.code.size() < static_cast<size_t>(limit), "straight code is under the limit");
    const int last = detail::OpcodeOf(f.code.back());
    Require(last >= 70 && last <= 72, "straight code ends with a return");
  }
  return 0;
}
