// LuaSandbox: a Lua 5.4 state with an allow-listed library set
// (safe_globals.cc), a byte-counting allocator and an instruction/time count
// hook (budget.cc).
//
// Concurrency: as the header says, one thread at a time per sandbox; the
// functions here keep no global mutable state.
//
// Invariants the sandbox relies on (here, in safe_globals.cc and budget.cc):
//  1. Liblua5.4 is a C build: Lua errors are longjmps. Every function Lua
//     can call (and every function that calls a raising Lua API) keeps no
//     C++ object with a non-trivial destructor alive across a call that may
//     raise; data crossing such a point lives in Budget (heap, owned by the
//     sandbox) or in trivially destructible locals.
//  2. Host-side entry points (LoadChunk, PushFunction, Push, PushGuarded,
//     PCall) never call an allocating Lua API outside a protected call, so
//     hitting the memory cap is reported as a fault instead of reaching the
//     panic handler (which aborts).
//  3. No sandboxed code runs with hooks off, except a straight-line
//     function (bytecode.h) called with CallHook::kStraightLine, whose
//     instructions each run at most once and fewer than the hook's
//     interval: PCall checks that no argument is a table or userdata with
//     a metatable (whose metamethods the function's arithmetic or
//     comparisons could run), else counts the call. Lua turns hooks off
//     while a hook runs (and leaves them off while the message handler of
//     an error the hook raised runs) and while __gc finalizers run, so:
//     setmetatable refuses metatables with __gc, and xpcall's handler is
//     skipped once the budget is exceeded.
//  4. Once a call exceeds its budget (instructions, time, or a memory error
//     Lua raised), `tripped` stays set until the call returns: the hook
//     raises at every firing and the pcall/xpcall wrappers re-raise instead
//     of catching, so sandboxed code cannot swallow the fault.
//  5. Chunks cannot write state another chunk sees: globals go to the
//     chunk's own environment; the shared globals table is reachable only
//     through the environment's locked metatable; the library tables and
//     `host` are read-only proxies (rawset refuses them); the string
//     metatable is locked.
#include "atrium/lua/sandbox.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <lua.hpp>
#include <string>
#include <string_view>
#include <utility>

#include "budget.h"
#include "bytecode.h"
#include "safe_globals.h"

namespace atrium::lua {

namespace {

using detail::Budget;
using detail::BudgetOf;
using detail::TripMessage;

// Bytes of a fault message kept.
constexpr size_t kMaxMessageBytes = 4096;

int Panic(lua_State* L) {
  const char* message = lua_tostring(L, -1);
  Budget* budget = BudgetOf(L);
  std::fprintf(stderr, "atrium: %s: unprotected Lua error: %s\n",
               budget != nullptr ? budget->label.c_str() : "lua",
               message != nullptr ? message : "(not a string)");
  std::abort();
}

// Copies the error value at the top of the stack without running metamethods
// or allocating in Lua.
std::string ErrorText(lua_State* L) {
  std::string text;
  switch (lua_type(L, -1)) {
    case LUA_TSTRING: {
      size_t length = 0;
      const char* data = lua_tolstring(L, -1, &length);
      text.assign(data, std::min(length, kMaxMessageBytes));
      break;
    }
    case LUA_TNUMBER: {
      char buffer[64];
      if (lua_isinteger(L, -1)) {
        std::snprintf(buffer, sizeof buffer, "%" PRId64,
                      static_cast<int64_t>(lua_tointeger(L, -1)));
      } else {
        std::snprintf(buffer, sizeof buffer, "%.14g", static_cast<double>(lua_tonumber(L, -1)));
      }
      text = buffer;
      break;
    }
    default:
      text = std::string("(error object is a ") + luaL_typename(L, -1) + " value)";
  }
  return text;
}

struct LoadArgs {
  const char* source;
  size_t size;
  const char* chunk_name;
  bool compiled;
  int ref;
};

// Compiles, runs and references a chunk (protected; argument 1: LoadArgs*).
int LoadAndRun(lua_State* L) {
  auto* args = static_cast<LoadArgs*>(lua_touserdata(L, 1));
  if (luaL_loadbufferx(L, args->source, args->size, args->chunk_name, "t") != LUA_OK) {
    return lua_error(L);
  }
  args->compiled = true;
  lua_createtable(L, 0, 4);  // 3: env
  lua_rawgetp(L, LUA_REGISTRYINDEX, &detail::kEnvMetatableKey);
  lua_setmetatable(L, 3);
  lua_pushvalue(L, 3);
  lua_setfield(L, 3, LUA_GNAME);  // _G is the chunk's own environment
  lua_pushvalue(L, 3);
  if (lua_setupvalue(L, 2, 1) == nullptr) return luaL_error(L, "chunk has no _ENV upvalue");
  lua_pushvalue(L, 2);
  lua_call(L, 0, 0);
  lua_settop(L, 3);
  args->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 0;
}

struct NameArg {
  const char* data;
  size_t size;
};

// env[name] without metamethods (protected; arguments: env, NameArg*).
int RawField(lua_State* L) {
  const auto* name = static_cast<const NameArg*>(lua_touserdata(L, 2));
  if (lua_type(L, 1) != LUA_TTABLE) {
    lua_pushnil(L);
    return 1;
  }
  lua_pushlstring(L, name->data, name->size);
  lua_rawget(L, 1);
  return 1;
}

int PushValueProtected(lua_State* L) {
  detail::PushValueRaw(L, *static_cast<const LuaValue*>(lua_touserdata(L, 1)));
  return 1;
}

void BeginCall(lua_State* L, Budget* budget, CallHook hook) {
  ATRIUM_CHECK(!budget->running, "LuaSandbox is not reentrant (host function called back?)");
  budget->running = true;
  budget->instructions = 0;
  budget->clock_started = false;
  budget->unclocked_work = 0;
  budget->printed_this_call = 0;
  budget->tripped = Fault::kNone;
  if (hook == CallHook::kCounted) {
    lua_sethook(L, &detail::CountHook, LUA_MASKCOUNT, budget->hook_interval);  // restarts the count
    budget->hook_set = true;
  } else if (budget->hook_set) {
    // A straight-line function could not reach the hook (bytecode.h); with
    // none set, Lua's interpreter does not stop at every instruction.
    lua_sethook(L, nullptr, 0, 0);
    budget->hook_set = false;
  }
}

Fault EndCall(Budget* budget, int status) {
  budget->running = false;
  if (budget->tripped != Fault::kNone) return budget->tripped;
  if (status == LUA_ERRMEM) return Fault::kMemory;
  if (status != LUA_OK) return Fault::kError;
  return Fault::kNone;
}

}  // namespace

struct LuaSandbox::Budget : detail::Budget {};

const char* TypeName(LuaValue::Type type) {
  switch (type) {
    case LuaValue::Type::kNil:
      return "nil";
    case LuaValue::Type::kBool:
      return "bool";
    case LuaValue::Type::kInt:
      return "int";
    case LuaValue::Type::kDouble:
      return "double";
    case LuaValue::Type::kString:
      return "string";
  }
  return "?";
}

const char* FaultName(Fault fault) {
  switch (fault) {
    case Fault::kNone:
      return "none";
    case Fault::kError:
      return "error";
    case Fault::kMemory:
      return "memory";
    case Fault::kInstructions:
      return "instructions";
    case Fault::kTime:
      return "time";
  }
  return "unknown";
}

Result<std::unique_ptr<LuaSandbox>> LuaSandbox::Create(SandboxOptions options) {
  const SandboxLimits& limits = options.limits;
  if (limits.memory_bytes == 0 || limits.instructions_per_call == 0 ||
      limits.time_us_per_call <= 0) {
    return MakeError(ErrorCode::kInvalidArgument, "sandbox limits must be positive");
  }
  std::unique_ptr<LuaSandbox> sandbox(new LuaSandbox());
  sandbox->budget_ = std::make_unique<Budget>();
  Budget& budget = *sandbox->budget_;
  budget.cap = limits.memory_bytes;
  budget.limits = limits;
  budget.clock = options.clock != nullptr ? options.clock : &::atrium::internal::RealClock();
  budget.hook_interval =
      static_cast<int>(std::min<uint64_t>(detail::kHookInterval, limits.instructions_per_call));
  budget.label = std::move(options.label);

  lua_State* L = lua_newstate(&detail::CappedAlloc, static_cast<detail::Budget*>(&budget));
  if (L == nullptr) {
    return MakeError(ErrorCode::kInvalidArgument, "memory limit of " +
                                                      std::to_string(limits.memory_bytes) +
                                                      " bytes is too small for a Lua state");
  }
  sandbox->L_ = L;  // closed by the destructor from here on
  lua_atpanic(L, &Panic);
  lua_setwarnf(L, nullptr, nullptr);  // warnings off (and `warn` is not reachable)
  detail::GlobalsSpec spec{options.host, options.libraries};
  lua_pushcfunction(L, &detail::SetUpState);
  lua_pushlightuserdata(L, &spec);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    std::string message = ErrorText(L);
    return MakeError(ErrorCode::kInvalidArgument, "cannot set up the Lua sandbox within " +
                                                      std::to_string(limits.memory_bytes) +
                                                      " bytes: " + message);
  }
  lua_sethook(L, &detail::CountHook, LUA_MASKCOUNT, budget.hook_interval);
  budget.hook_set = true;
  return sandbox;
}

LuaSandbox::~LuaSandbox() {
  if (L_ != nullptr) lua_close(L_);  // before budget_: the allocator uses it
}

Result<int> LuaSandbox::LoadChunk(std::string_view chunk_name, std::string_view source) {
  const std::string name = "=" + std::string(chunk_name);
  LoadArgs args{source.data(), source.size(), name.c_str(), false, LUA_NOREF};
  const int top = lua_gettop(L_);
  if (!lua_checkstack(L_, 2)) {
    return MakeError(ErrorCode::kActivation, "memory: not enough memory to load the chunk");
  }
  lua_pushcfunction(L_, &LoadAndRun);
  lua_pushlightuserdata(L_, &args);
  BeginCall(L_, budget_.get(), CallHook::kCounted);
  const int status = lua_pcall(L_, 1, 0, 0);
  const Fault fault = EndCall(budget_.get(), status);
  if (fault == Fault::kNone) return args.ref;
  std::string message =
      fault == Fault::kError || fault == Fault::kMemory ? ErrorText(L_) : TripMessage(fault);
  lua_settop(L_, top);
  if (!args.compiled && fault == Fault::kError) {
    return MakeError(ErrorCode::kParse, std::move(message));
  }
  return MakeError(ErrorCode::kActivation, std::string(FaultName(fault)) + ": " + message);
}

bool LuaSandbox::PushFunction(int env_ref, std::string_view name) {
  budget_->push_failed = false;  // a new call starts here
  if (!lua_checkstack(L_, 3)) return false;
  NameArg arg{name.data(), name.size()};
  lua_pushcfunction(L_, &RawField);
  lua_rawgeti(L_, LUA_REGISTRYINDEX, env_ref);
  lua_pushlightuserdata(L_, &arg);
  if (lua_pcall(L_, 2, 1, 0) == LUA_OK && lua_type(L_, -1) == LUA_TFUNCTION) return true;
  lua_pop(L_, 1);
  return false;
}

namespace {
int AppendDump(lua_State* /*L*/, const void* bytes, size_t size, void* out) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(bytes), size);
  return 0;
}
}  // namespace

bool LuaSandbox::IsStraightLine(int index) {
#if LUA_VERSION_NUM != 504
  (void)index;
  return false;  // the opcodes and dump layout read are Lua 5.4's
#else
  if (lua_type(L_, index) != LUA_TFUNCTION || lua_iscfunction(L_, index)) return false;
  if (!lua_checkstack(L_, 1)) return false;
  lua_pushvalue(L_, index);
  std::string image;
  const int status = lua_dump(L_, &AppendDump, &image, /*strip=*/1);
  lua_pop(L_, 1);
  return status == 0 && detail::IsStraightLine(image, budget_->hook_interval);
#endif
}

Fault LuaSandbox::PCall(int nargs, int nresults, std::string* message, CallHook hook) {
  const int base = lua_gettop(L_) - nargs - 1;
  ATRIUM_CHECK(nargs >= 0 && base >= 0, "PCall: function and arguments must be on the stack");
  Budget* budget = budget_.get();
  if (budget->push_failed) {
    budget->push_failed = false;
    lua_settop(L_, base);
    *message = "not enough memory to pass the arguments";
    return Fault::kMemory;
  }
  if (hook == CallHook::kStraightLine) {
    // Invariant 3: an argument with a metatable could run Lua metamethods.
    for (int i = base + 2; i <= base + 1 + nargs; ++i) {
      const int type = lua_type(L_, i);
      if ((type == LUA_TTABLE || type == LUA_TUSERDATA) && lua_getmetatable(L_, i) != 0) {
        lua_pop(L_, 1);
        hook = CallHook::kCounted;
        break;
      }
    }
  }
  BeginCall(L_, budget, hook);
  const int status = lua_pcall(L_, nargs, nresults, 0);
  const Fault fault = EndCall(budget, status);
  if (fault == Fault::kNone) return fault;
  if (status == LUA_OK) {
    *message = TripMessage(fault);
  } else if (fault == Fault::kError || fault == Fault::kMemory) {
    *message = ErrorText(L_);
  } else {
    *message = TripMessage(fault);
  }
  lua_settop(L_, base);
  return fault;
}

void LuaSandbox::Push(lua_State* L, const LuaValue& value) {
  if (value.type != LuaValue::Type::kString) {
    detail::PushValueRaw(L, value);  // no allocation: uses the slot the caller ensured
    return;
  }
  PushGuarded(L, &PushValueProtected, &value);
}

void LuaSandbox::PushGuarded(lua_State* L, int (*push)(lua_State* L), const void* data) {
  if (lua_checkstack(L, 2)) {
    lua_pushcfunction(L, push);
    lua_pushlightuserdata(L, const_cast<void*>(data));
    if (lua_pcall(L, 1, 1, 0) == LUA_OK) return;
    lua_pop(L, 1);
  }
  detail::Budget* budget = BudgetOf(L);
  if (budget != nullptr) budget->push_failed = true;
  lua_pushnil(L);
}

bool LuaSandbox::Read(lua_State* L, int index, LuaValue* out, std::string* error) {
  LuaValue value;
  switch (lua_type(L, index)) {
    case LUA_TNIL:
      break;
    case LUA_TBOOLEAN:
      value.type = LuaValue::Type::kBool;
      value.b = lua_toboolean(L, index) != 0;
      break;
    case LUA_TNUMBER:
      if (lua_isinteger(L, index)) {
        value.type = LuaValue::Type::kInt;
        value.i = lua_tointeger(L, index);
      } else {
        value.type = LuaValue::Type::kDouble;
        value.d = lua_tonumber(L, index);
      }
      break;
    case LUA_TSTRING: {
      size_t length = 0;
      const char* data = lua_tolstring(L, index, &length);  // a string: no conversion
      value.type = LuaValue::Type::kString;
      value.s.assign(data, length);
      break;
    }
    default:
      *error = std::string("unsupported type ") + luaL_typename(L, index);
      return false;
  }
  *out = std::move(value);
  return true;
}

size_t LuaSandbox::memory_used() const { return budget_->used; }

const SandboxLimits& LuaSandbox::limits() const { return budget_->limits; }

}  // namespace atrium::lua
