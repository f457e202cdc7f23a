// Reading lua_dump images and the straight-line proof (see bytecode.h).
//
// The image layout read here is Lua 5.4's (ldump.c): a header (signature,
// version 0x54, format 0, a check string, the sizes of an instruction, an
// integer and a number, and a sample integer and number), the top
// closure's upvalue count, then the function: source (a size, 0 for none),
// line defined and last line (sizes), parameter count, vararg flag, stack
// size, the code (a count, then 4-byte instructions) and the constants (a
// count, then a type tag and its value each). Sizes are big-endian groups
// of 7 bits, the last byte marked with 0x80. What follows the constants
// (upvalues, nested functions, debug information) is not needed.
#include "bytecode.h"

#include <cstring>
#include <lua.hpp>

namespace atrium::lua::detail {
namespace {

// Lua 5.4's opcodes (lopcodes.h; the same in every 5.4 release, and checked
// against the installed Lua by tests/lua/straight_line_test.cc).
enum Op : int {
  kMove = 0,
  kLoadI = 1,
  kLoadF = 2,
  kLoadK = 3,
  kLoadKX = 4,
  kLoadFalse = 5,
  kLFalseSkip = 6,
  kLoadTrue = 7,
  kLoadNil = 8,
  // 9..20: upvalues, tables, self: not straight-line.
  kAddI = 21,
  // 22..45: arithmetic and bitwise with constants, registers, immediates.
  kShl = 44,
  kShr = 45,
  kMmBin = 46,
  kMmBinI = 47,
  kMmBinK = 48,
  kUnm = 49,
  kBNot = 50,
  kNot = 51,
  // 52 len, 53 concat, 54 close, 55 tbc: not straight-line.
  kJmp = 56,
  kEq = 57,
  // 58..65: comparisons.
  kGeI = 65,
  kTest = 66,
  kTestSet = 67,
  // 68 call, 69 tailcall: not straight-line.
  kReturn = 70,
  kReturn0 = 71,
  kReturn1 = 72,
  // 73.. for loops, setlist, closure, vararg, varargprep, extraarg.
  kExtraArg = 82,
};

// Constant type tags (lobject.h's variant tags).
constexpr int kTagNil = 0x00;
constexpr int kTagFalse = 0x01;
constexpr int kTagTrue = 0x11;
constexpr int kTagInt = 0x03;
constexpr int kTagFloat = 0x13;
constexpr int kTagShortString = 0x04;
constexpr int kTagLongString = 0x14;

constexpr char kSignature[] = "\x1bLua";
constexpr char kCheckData[] = "\x19\x93\r\n\x1a\n";

class Reader {
 public:
  explicit Reader(std::string_view image) : image_(image) {}

  bool Byte(const char* what, int* out) {
    if (pos_ >= image_.size()) return Fail(what);
    *out = static_cast<unsigned char>(image_[pos_++]);
    return true;
  }
  bool Bytes(const char* what, size_t n, std::string_view* out) {
    if (image_.size() - pos_ < n) return Fail(what);
    *out = image_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool Size(const char* what, size_t* out) {
    size_t x = 0;
    for (int i = 0; i < 10; ++i) {
      int b = 0;
      if (!Byte(what, &b)) return false;
      if (x > (SIZE_MAX >> 7)) return Fail(what);
      x = (x << 7) | static_cast<size_t>(b & 0x7f);
      if (b & 0x80) {
        *out = x;
        return true;
      }
    }
    return Fail(what);
  }
  bool Skip(const char* what, size_t n) {
    std::string_view unused;
    return Bytes(what, n, &unused);
  }
  // A string: its size + 1, or 0 for none, then its bytes.
  bool SkipString(const char* what) {
    size_t size = 0;
    if (!Size(what, &size)) return false;
    return size == 0 || Skip(what, size - 1);
  }
  bool Fail(const char* what) {
    if (error_.empty()) error_ = std::string(what) + " at offset " + std::to_string(pos_);
    return false;
  }
  size_t pos() const { return pos_; }
  const std::string& error() const { return error_; }

 private:
  std::string_view image_;
  size_t pos_ = 0;
  std::string error_;
};

bool ReadHeader(Reader& r) {
  std::string_view s;
  int b = 0;
  if (!r.Bytes("signature", 4, &s)) return false;
  if (s != std::string_view(kSignature, 4)) return r.Fail("not a Lua image: signature");
  if (!r.Byte("version", &b)) return false;
  if (b != 0x54) return r.Fail("not Lua 5.4: version");
  if (!r.Byte("format", &b)) return false;
  if (b != 0) return r.Fail("unknown format");
  if (!r.Bytes("check data", 6, &s)) return false;
  if (s != std::string_view(kCheckData, 6)) return r.Fail("corrupt check data");
  const int sizes[] = {4, static_cast<int>(sizeof(lua_Integer)),
                       static_cast<int>(sizeof(lua_Number))};
  for (int want : sizes) {
    if (!r.Byte("type sizes", &b)) return false;
    if (b != want) return r.Fail("other type sizes");
  }
  if (!r.Bytes("sample integer", sizeof(lua_Integer), &s)) return false;
  lua_Integer sample_int = 0;
  std::memcpy(&sample_int, s.data(), sizeof sample_int);
  if (sample_int != 0x5678) return r.Fail("other integer format");
  if (!r.Bytes("sample number", sizeof(lua_Number), &s)) return false;
  lua_Number sample_num = 0;
  std::memcpy(&sample_num, s.data(), sizeof sample_num);
  if (sample_num != 370.5) return r.Fail("other number format");
  return r.Byte("upvalue count", &b);
}

bool IsStraightOp(uint32_t instruction) {
  const int op = OpcodeOf(instruction);
  if (op >= kMove && op <= kLoadNil) return true;  // loads and moves
  if (op >= kAddI && op <= kShr) return true;      // arithmetic, bitwise
  if (op >= kMmBin && op <= kNot) return true;     // metamethod fallbacks, unary
  if (op >= kEq && op <= kTestSet) return true;    // comparisons and tests
  if (op >= kReturn && op <= kReturn1) return true;
  if (op == kExtraArg) return true;  // LOADKX's operand
  if (op == kJmp) {
    // sJ: 25 bits above the opcode, excess-(2^24 - 1).
    const int32_t offset = static_cast<int32_t>(instruction >> 7) - ((1 << 24) - 1);
    return offset >= 0;  // forward only: no loop
  }
  return false;
}

}  // namespace

DumpedFunction ReadDumpedFunction(std::string_view image) {
  DumpedFunction f;
  Reader r(image);
  size_t line = 0, instructions = 0, constants = 0;
  int numparams = 0, vararg = 0, stack = 0;
  const bool read = ReadHeader(r) && r.SkipString("source") && r.Size("line defined", &line) &&
                    r.Size("last line defined", &line) && r.Byte("parameter count", &numparams) &&
                    r.Byte("vararg flag", &vararg) && r.Byte("stack size", &stack) &&
                    r.Size("instruction count", &instructions);
  if (!read) {
    f.error = r.error();
    return f;
  }
  if (instructions == 0 || instructions > (image.size() - r.pos()) / 4) {
    r.Fail("instruction count beyond the image");
    f.error = r.error();
    return f;
  }
  std::string_view code;
  (void)r.Bytes("code", instructions * 4, &code);
  f.code.resize(instructions);
  std::memcpy(f.code.data(), code.data(), instructions * 4);  // the dumping machine's order
  if (!r.Size("constant count", &constants)) {
    f.error = r.error();
    return f;
  }
  for (size_t i = 0; i < constants; ++i) {
    int tag = 0;
    if (!r.Byte("constant type", &tag)) break;
    if (tag == kTagInt) {
      if (!r.Skip("integer constant", sizeof(lua_Integer))) break;
    } else if (tag == kTagFloat) {
      if (!r.Skip("float constant", sizeof(lua_Number))) break;
    } else if (tag == kTagShortString || tag == kTagLongString) {
      f.has_string_constant = true;
      if (!r.SkipString("string constant")) break;
    } else if (tag != kTagNil && tag != kTagFalse && tag != kTagTrue) {
      r.Fail("unknown constant type");
      break;
    }
  }
  if (!r.error().empty()) {
    f.error = r.error();
    return f;
  }
  f.is_vararg = vararg != 0;
  f.constant_count = constants;
  f.ok = true;
  return f;
}

bool IsStraightLine(std::string_view image, int max_instructions) {
  const DumpedFunction f = ReadDumpedFunction(image);
  if (!f.ok || f.is_vararg || f.has_string_constant) return false;
  if (f.code.size() >= static_cast<size_t>(max_instructions < 0 ? 0 : max_instructions)) {
    return false;
  }
  // Every function ends with a return; anything else means a misread.
  const int last = OpcodeOf(f.code.back());
  if (last != kReturn && last != kReturn0 && last != kReturn1) return false;
  for (uint32_t instruction : f.code) {
    if (!IsStraightOp(instruction)) return false;
  }
  return true;
}

}  // namespace atrium::lua::detail
