// Tests for hotpatch's marshalling through the Lua sandbox: PatchValues and
// records to and from the Lua stack (type mismatches named, metamethods
// never run), and the app's HostValue functions adapted to the sandbox's
// host functions.
#include "patch_marshal.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <lua.hpp>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "atrium/lua/sandbox.h"

struct Money {
  int64_t cents = 0;
  std::string currency;
};
struct Quote {
  Money price;
  double rate = 0;
  bool firm = false;
  int32_t days = 0;
};

namespace atrium::hotpatch {
template <>
struct RecordTraits<Money> {
  static constexpr const char* kName = "Money";
  static constexpr auto kFields =
      std::make_tuple(Field("cents", &Money::cents), Field("currency", &Money::currency));
};
template <>
struct RecordTraits<Quote> {
  static constexpr const char* kName = "Quote";
  static constexpr auto kFields =
      std::make_tuple(Field("price", &Quote::price), Field("rate", &Quote::rate),
                      Field("firm", &Quote::firm), Field("days", &Quote::days));
};
}  // namespace atrium::hotpatch

namespace atrium::hotpatch::internal {
namespace {

using lua::Fault;
using lua::HostFunctionTable;
using lua::LuaSandbox;
using lua::LuaValue;

std::unique_ptr<LuaSandbox> MakeSandbox(const HostFunctionTable* host = nullptr,
                                        size_t memory_bytes = 1u << 20) {
  lua::SandboxOptions options;
  options.limits.memory_bytes = memory_bytes;
  options.limits.time_us_per_call = 30'000'000;  // no loaded CI machine hits it
  options.host = host;
  auto sandbox = LuaSandbox::Create(std::move(options));
  if (!sandbox.ok()) {
    ADD_FAILURE() << sandbox.error().ToString();
    return nullptr;
  }
  return std::move(sandbox).value();
}

int Load(LuaSandbox& sandbox, std::string_view source) {
  auto env = sandbox.LoadChunk("patch", source);
  EXPECT_TRUE(env.ok()) << env.error().ToString();
  return env.ok() ? *env : LUA_NOREF;
}

PatchValue Int(int64_t i) {
  PatchValue v;
  v.type = ValueType::kInt;
  v.i = i;
  return v;
}
PatchValue Str(std::string_view s) {
  PatchValue v;
  v.type = ValueType::kString;
  v.s = s;
  return v;
}

// Calls env.<name>(args...) and returns its string result ("" on a fault,
// with the message in *message).
std::string CallForString(LuaSandbox& sandbox, int env, const char* name,
                          const std::vector<PatchValue>& args, std::string* message) {
  lua_State* L = sandbox.L();
  const int top = lua_gettop(L);
  if (!sandbox.PushFunction(env, name)) return "";
  for (const PatchValue& arg : args) PushPatchValue(L, arg);
  if (sandbox.PCall(static_cast<int>(args.size()), 1, message) != Fault::kNone) return "";
  std::string out = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
  lua_settop(L, top);
  return out;
}

// ---- conversions ----

class ConvertTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sandbox_ = MakeSandbox();
    L = sandbox_->L();
  }
  void TearDown() override {
    if (record_ != nullptr) record_type_->destroy(record_);
  }

  // Evaluates `expr` in the sandbox and reads the result as `type`.
  bool ReadExpr(const std::string& expr, ValueType type, const RecordType* record = nullptr) {
    const int env = Load(*sandbox_, "function get() return " + expr + " end");
    const int top = lua_gettop(L);
    EXPECT_TRUE(sandbox_->PushFunction(env, "get"));
    std::string message;
    EXPECT_EQ(sandbox_->PCall(0, 1, &message), Fault::kNone) << message;
    if (record_ != nullptr) record_type_->destroy(record_);
    record_ = nullptr;
    record_type_ = record;
    error_.clear();
    const bool ok = ReadPatchValue(L, -1, type, record, &value_, &storage_, &record_, &error_);
    lua_pop(L, 1);
    EXPECT_EQ(lua_gettop(L), top);
    return ok;
  }

  std::unique_ptr<LuaSandbox> sandbox_;
  lua_State* L = nullptr;
  PatchValue value_;
  std::string storage_;
  void* record_ = nullptr;
  const RecordType* record_type_ = nullptr;
  std::string error_;
};

TEST_F(ConvertTest, Scalars) {
  ASSERT_TRUE(ReadExpr("42", ValueType::kInt));
  EXPECT_EQ(value_.type, ValueType::kInt);
  EXPECT_EQ(value_.i, 42);
  ASSERT_TRUE(ReadExpr("-3.0", ValueType::kInt));
  EXPECT_EQ(value_.i, -3);
  ASSERT_TRUE(ReadExpr("math.mininteger", ValueType::kInt));
  EXPECT_EQ(value_.i, INT64_MIN);
  ASSERT_TRUE(ReadExpr("2.5", ValueType::kDouble));
  EXPECT_EQ(value_.d, 2.5);
  ASSERT_TRUE(ReadExpr("7", ValueType::kDouble));
  EXPECT_EQ(value_.type, ValueType::kDouble);
  EXPECT_EQ(value_.d, 7.0);
  ASSERT_TRUE(ReadExpr("false", ValueType::kBool));
  EXPECT_FALSE(value_.b);
  ASSERT_TRUE(ReadExpr("'he\\0llo'", ValueType::kString));
  EXPECT_EQ(value_.s, std::string_view("he\0llo", 6));
  EXPECT_EQ(value_.s.data(), storage_.data());
  ASSERT_TRUE(ReadExpr("nil", ValueType::kNil));
  EXPECT_EQ(value_.type, ValueType::kNil);
}

TEST_F(ConvertTest, ScalarMismatches) {
  EXPECT_FALSE(ReadExpr("'5'", ValueType::kInt));
  EXPECT_EQ(error_, "expected int, got string");
  EXPECT_FALSE(ReadExpr("1.5", ValueType::kInt));
  EXPECT_EQ(error_, "expected int, got non-integer number 1.5");
  EXPECT_FALSE(ReadExpr("2^63", ValueType::kInt));
  EXPECT_NE(error_.find("expected int, got non-integer number"), std::string::npos);
  EXPECT_FALSE(ReadExpr("0/0", ValueType::kInt));
  EXPECT_FALSE(ReadExpr("true", ValueType::kDouble));
  EXPECT_EQ(error_, "expected double, got boolean");
  EXPECT_FALSE(ReadExpr("1", ValueType::kBool));
  EXPECT_EQ(error_, "expected bool, got number");
  EXPECT_FALSE(ReadExpr("nil", ValueType::kBool));
  EXPECT_EQ(error_, "expected bool, got nil");
  EXPECT_FALSE(ReadExpr("12", ValueType::kString));
  EXPECT_EQ(error_, "expected string, got number");
  EXPECT_FALSE(ReadExpr("{}", ValueType::kString));
  EXPECT_EQ(error_, "expected string, got table");
  EXPECT_FALSE(ReadExpr("0", ValueType::kNil));
  EXPECT_EQ(error_, "expected nil, got number");
}

TEST_F(ConvertTest, PushScalars) {
  const int env = Load(*sandbox_,
                       "function show(...) local t = {} "
                       "for i = 1, select('#', ...) do local v = select(i, ...) "
                       "t[i] = math.type(v) or type(v) end "
                       "return table.concat(t, ',') end");
  PatchValue nil_value;
  PatchValue d;
  d.type = ValueType::kDouble;
  d.d = 2.0;
  PatchValue b;
  b.type = ValueType::kBool;
  b.b = true;
  std::string message;
  EXPECT_EQ(CallForString(*sandbox_, env, "show", {Int(1), d, b, Str("s"), nil_value}, &message),
            "integer,float,boolean,string,nil")
      << message;
}

TEST_F(ConvertTest, RecordsRoundTrip) {
  const RecordType* quote_type = detail::RecordTypeOf<Quote>();
  Quote quote{{1250, "EUR"}, 0.5, true, 30};
  const int env = Load(*sandbox_, R"(
    function adjust(q)
      return {price = {cents = q.price.cents + 1, currency = q.price.currency .. "!"},
              rate = q.rate * 2, firm = not q.firm, days = q.days - 1, extra = "ignored"}
    end)");
  ASSERT_TRUE(sandbox_->PushFunction(env, "adjust"));
  PushPatchValue(L, detail::ToValue(quote));
  std::string message;
  ASSERT_EQ(sandbox_->PCall(1, 1, &message), Fault::kNone) << message;
  PatchValue value;
  void* storage = nullptr;
  std::string error;
  ASSERT_TRUE(
      ReadPatchValue(L, -1, ValueType::kRecord, quote_type, &value, nullptr, &storage, &error))
      << error;
  lua_pop(L, 1);
  ASSERT_NE(storage, nullptr);
  EXPECT_EQ(value.type, ValueType::kRecord);
  EXPECT_EQ(value.record_type, quote_type);
  EXPECT_EQ(value.record, storage);
  Quote out;
  ASSERT_TRUE(detail::FromValue(value, &out));
  quote_type->destroy(storage);
  EXPECT_EQ(out.price.cents, 1251);
  EXPECT_EQ(out.price.currency, "EUR!");
  EXPECT_EQ(out.rate, 1.0);
  EXPECT_FALSE(out.firm);
  EXPECT_EQ(out.days, 29);
}

TEST_F(ConvertTest, RecordMismatches) {
  const RecordType* money = detail::RecordTypeOf<Money>();
  const RecordType* quote = detail::RecordTypeOf<Quote>();
  EXPECT_TRUE(ReadExpr("{cents = 5.0, currency = 'USD', note = {}}", ValueType::kRecord, money));
  EXPECT_EQ(static_cast<const Money*>(record_)->cents, 5);
  EXPECT_FALSE(ReadExpr("{currency = 'USD'}", ValueType::kRecord, money));
  EXPECT_EQ(error_, "field 'cents': expected int, got nil");
  EXPECT_EQ(record_, nullptr);
  EXPECT_FALSE(ReadExpr("{cents = 1, currency = 2}", ValueType::kRecord, money));
  EXPECT_EQ(error_, "field 'currency': expected string, got number");
  EXPECT_FALSE(ReadExpr("{cents = 1.25, currency = 'x'}", ValueType::kRecord, money));
  EXPECT_EQ(error_, "field 'cents': expected int, got non-integer number 1.25");
  EXPECT_FALSE(ReadExpr("'Money'", ValueType::kRecord, money));
  EXPECT_EQ(error_, "expected record Money, got string");
  EXPECT_FALSE(ReadExpr("{price = {cents = 1}, rate = 1, firm = true, days = 1}",
                        ValueType::kRecord, quote));
  EXPECT_EQ(error_, "field 'price': field 'currency': expected string, got nil");
  EXPECT_FALSE(ReadExpr("{price = {cents = 1, currency = ''}, rate = 1, firm = 1, days = 1}",
                        ValueType::kRecord, quote));
  EXPECT_EQ(error_, "field 'firm': expected bool, got number");
  EXPECT_FALSE(
      ReadExpr("{price = {cents = 1, currency = ''}, rate = 1, firm = true, "
               "days = 1 << 40}",
               ValueType::kRecord, quote));
  EXPECT_EQ(error_, "field 'days': value out of range for the field");
  // Metamethods are not consulted: only the table's own fields count.
  EXPECT_FALSE(
      ReadExpr("setmetatable({currency = 'x'}, {__index = function() "
               "while true do end end})",
               ValueType::kRecord, money));
  EXPECT_EQ(error_, "field 'cents': expected int, got nil");
}

// ---- host functions ----

TEST(AdaptHostFunctionTest, ValuesCrossBothWays) {
  HostFunctionTable host;
  host["describe"] = AdaptHostFunction([](const std::vector<HostValue>& args) -> Result<HostValue> {
    HostValue out;
    out.type = ValueType::kString;
    for (const HostValue& a : args) {
      switch (a.type) {
        case ValueType::kNil:
          out.s += "nil ";
          break;
        case ValueType::kInt:
          out.s += "int" + std::to_string(a.i) + " ";
          break;
        case ValueType::kDouble:
          out.s += "double" + std::to_string(a.d) + " ";
          break;
        case ValueType::kBool:
          out.s += a.b ? "true " : "false ";
          break;
        case ValueType::kString:
          out.s += "'" + a.s + "' ";
          break;
        case ValueType::kRecord:
          out.s += "? ";
          break;
      }
    }
    return out;
  });
  host["half"] = AdaptHostFunction([](const std::vector<HostValue>& args) -> Result<HostValue> {
    HostValue out;
    out.type = ValueType::kDouble;
    out.d = static_cast<double>(args.at(0).i) / 2;
    return out;
  });
  host["fail"] = AdaptHostFunction([](const std::vector<HostValue>&) -> Result<HostValue> {
    return MakeError(ErrorCode::kNotFound, "no such account");
  });
  host["record"] = AdaptHostFunction([](const std::vector<HostValue>&) -> Result<HostValue> {
    HostValue out;
    out.type = ValueType::kRecord;
    return out;
  });
  auto sandbox = MakeSandbox(&host);
  ASSERT_TRUE(sandbox);
  const int env = Load(*sandbox, R"(
    function describe() return host.describe(nil, 7, 1.5, false, 'x') end
    function half() return tostring(host.half(5)) end
    function fail() return host.fail() end
    function record() return host.record() end)");
  std::string message;
  EXPECT_EQ(CallForString(*sandbox, env, "describe", {}, &message),
            "nil int7 double1.500000 false 'x' ")
      << message;
  EXPECT_EQ(CallForString(*sandbox, env, "half", {}, &message), "2.5") << message;
  EXPECT_EQ(CallForString(*sandbox, env, "fail", {}, &message), "");
  EXPECT_EQ(message, "patch:4: host.fail: no such account");
  EXPECT_EQ(CallForString(*sandbox, env, "record", {}, &message), "");
  EXPECT_NE(message.find("host.record: records are not supported as host results"),
            std::string::npos)
      << message;
}

TEST(PushPatchValueTest, ArgumentsThatDoNotFitAreAMemoryFault) {
  auto sandbox = MakeSandbox(nullptr, 256u << 10);
  const int env = Load(*sandbox, R"(
    hog = {}
    function fill() while true do hog[#hog + 1] = {} end end
    function echo(s) return s end
    function free() hog = nil return "freed" end)");
  std::string message;
  EXPECT_EQ(CallForString(*sandbox, env, "fill", {}, &message), "");
  const int top = lua_gettop(sandbox->L());
  std::string big(200u << 10, 'x');
  EXPECT_EQ(CallForString(*sandbox, env, "echo", {Str(big)}, &message), "");
  EXPECT_EQ(message, "not enough memory to pass the arguments");
  EXPECT_EQ(lua_gettop(sandbox->L()), top);
  EXPECT_EQ(CallForString(*sandbox, env, "free", {}, &message), "freed");
  EXPECT_EQ(CallForString(*sandbox, env, "echo", {Str("small")}, &message), "small");
}

}  // namespace
}  // namespace atrium::hotpatch::internal
