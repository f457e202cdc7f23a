// Reading a Lua 5.4 function's compiled code (as lua_dump writes it) to
// prove a call of it cannot reach the sandbox's count hook.
//
// A function is straight-line when it has no loops (no backward jump, no
// for-loop instruction), makes no calls, reads no upvalue, global or table,
// creates no closure or table, has no string constant and takes no
// varargs. Such a call executes each instruction at most once, and every
// operand it can touch is an argument or a numeric/boolean/nil constant.
// When its code is shorter than the hook interval, the count hook would
// never fire during the call, provided no metamethod written in Lua runs:
// its arithmetic and comparisons run the metamethods of an argument that is
// a table or userdata with a metatable, so LuaSandbox::PCall counts any
// call with such an argument (strings' metamethods are the string
// library's C functions). Then running it without the hook changes nothing
// the budget observes (allocations are still charged by the allocator; an
// arithmetic error is still an error).
//
// Concurrency: pure functions of their input.
#ifndef ATRIUM_LUA_BYTECODE_H_
#define ATRIUM_LUA_BYTECODE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace atrium::lua::detail {

// The top function of a lua_dump image (stripped or not): its opcodes and
// what the proof needs. `error` names the offset of anything it could not
// read.
struct DumpedFunction {
  bool ok = false;
  std::string error;
  bool is_vararg = false;
  std::vector<uint32_t> code;
  size_t constant_count = 0;
  bool has_string_constant = false;
};
DumpedFunction ReadDumpedFunction(std::string_view image);

// Lua 5.4's opcode of an instruction (the low 7 bits).
inline int OpcodeOf(uint32_t instruction) { return static_cast<int>(instruction & 0x7f); }

// True when the dumped function is straight-line (see above) with fewer
// than `max_instructions` instructions. Anything unreadable, or a dump of
// another Lua version or number format, is not.
bool IsStraightLine(std::string_view image, int max_instructions);

}  // namespace atrium::lua::detail

#endif  // ATRIUM_LUA_BYTECODE_H_
