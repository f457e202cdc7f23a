// The hotpatch runtime end to end: signed patch directories installed into a
// real data dir, real Lua, patch points declared in this test binary.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "atrium/artifact_store.h"
#include "atrium/hotpatch.h"
#include "atrium/package.h"
#include "atrium/patch_point.h"
#include "patch_package.h"
#include "testing/package_fixture.h"

namespace atrium::hotpatch {
namespace {

struct Fee {
  int64_t cents = 0;
  std::string currency;
  bool waived = false;
  double rate = 0;
};

}  // namespace

template <>
struct RecordTraits<Fee> {
  static constexpr const char* kName = "Fee";
  static constexpr auto kFields =
      std::make_tuple(Field("cents", &Fee::cents), Field("currency", &Fee::currency),
                      Field("waived", &Fee::waived), Field("rate", &Fee::rate));
};

namespace {

std::atomic<int> original_calls{0};
int64_t FeeImpl(int64_t cents, std::string currency) {
  original_calls.fetch_add(1, std::memory_order_relaxed);
  return cents / 20 + static_cast<int64_t>(currency.size());
}
std::string Describe(std::string_view name, int count, bool loud, double ratio) {
  std::string s = std::string(name) + "#" + std::to_string(count) + "/" + std::to_string(ratio);
  return loud ? s + "!" : s;
}
Fee MakeFee(int64_t cents, const char* currency) { return Fee{cents, currency, false, 0.05}; }
int64_t Total(const Fee& fee, int64_t extra) { return fee.waived ? extra : fee.cents + extra; }
int64_t Scale(int64_t a, int64_t b) { return a * b; }
int64_t Spin(int64_t n) { return n; }
double Wrap(int64_t a, bool twice) { return twice ? 2.0 * static_cast<double>(a) : 0.5; }

class HotpatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/atrium-hotpatch-XXXXXX";
    root_ = mkdtemp(tmpl);
    Reopen();
  }
  void TearDown() override {
    runtime_.reset();
    std::filesystem::remove_all(root_);
  }
  void Reopen() {
    runtime_.reset();
    RuntimeOptions o;
    o.data_dir = root_ + "/data";
    o.trusted_keys = {keys_.pub_hex};
    o.app_id = "com.test.app";
    o.app_version = Version::Parse("1.4.0").value();
    o.bundle_version = [](std::string_view name) -> std::optional<Version> {
      if (name == "com.test.pay") return Version::Parse("2.1.0").value();
      return std::nullopt;
    };
    auto rt = Runtime::Open(std::move(o));
    ASSERT_TRUE(rt.ok()) << rt.error().ToString();
    runtime_ = std::move(rt).value();
  }
  // Packs `dir` into a signed lua_patch package beside it; returns its path.
  std::string Pack(const std::string& dir, bool sign_with_other = false) {
    return testing::PackDir(dir, sign_with_other ? other_keys_ : keys_, ArtifactKind::kLuaPatch);
  }
  // Writes a patch directory and packs it; returns the package's path.
  std::string MakePatch(const std::string& name, const std::string& points_json,
                        const std::string& lua, const std::string& extra = "",
                        const std::string& version = "1.0.0", bool sign_with_other = false) {
    std::string dir = root_ + "/src/" + name + "-" + version;
    std::filesystem::create_directories(dir);
    std::ofstream(dir + "/patch.json")
        << "{\"id\": \"" << name << "\", \"version\": \"" << version
        << "\", \"targets\": {\"app\": \"com.test.app\"" << extra << "}, \"points\": ["
        << points_json << "], \"limits\": {\"instructions\": 50000, \"time_ms\": 200, "
        << "\"memory_kb\": 256, \"max_faults\": 2}}";
    std::ofstream(dir + "/patch.lua") << lua;
    return Pack(dir, sign_with_other);
  }
  static std::string Point(const std::string& point, const std::string& mode, const std::string& fn,
                           const std::string& sig, int order = 0) {
    return "{\"point\": \"" + point + "\", \"mode\": \"" + mode + "\", \"function\": \"" + fn +
           "\", \"signature\": \"" + sig + "\", \"order\": " + std::to_string(order) + "}";
  }
  std::string StateOf(const std::string& id) {
    for (const auto& p : runtime_->List()) {
      if (p.id == id) return p.state;
    }
    return "absent";
  }

  std::string root_;
  testing::Keys keys_, other_keys_;
  std::shared_ptr<Runtime> runtime_;
};

TEST_F(HotpatchTest, UnpatchedPointRunsOriginalAndIsListed) {
  PatchPoint<&FeeImpl> fee(runtime_.get(), "pay.fee");
  EXPECT_EQ(fee(2000, "EUR"), 103);
  EXPECT_EQ(fee.core()->active.load(), nullptr);
  auto points = runtime_->Points();
  ASSERT_EQ(points.size(), 1u);
  EXPECT_EQ(points[0].id, "pay.fee");
  EXPECT_EQ(points[0].signature, "int(int,string)");
  // No runtime at all: always the original.
  PatchPoint<&FeeImpl> bare(nullptr, "pay.fee");
  EXPECT_EQ(bare(2000, "EUR"), 103);
}

TEST_F(HotpatchTest, ReplaceCanCallOriginalAndTakesEffectAtNextCall) {
  PatchPoint<&FeeImpl> fee(runtime_.get(), "pay.fee");
  EXPECT_EQ(fee(2000, "EUR"), 103);
  auto info = runtime_->Install(
      MakePatch("double-fee", Point("pay.fee", "replace", "fee", "int(int,string)"),
                "function fee(original, cents, cur) return 2 * original(cents, cur .. 'X') end"));
  ASSERT_TRUE(info.ok()) << info.error().ToString();
  EXPECT_EQ(info->state, "enabled");
  EXPECT_EQ(fee(2000, "EUR"), 2 * (100 + 4));
  ASSERT_TRUE(runtime_->Disable("double-fee", "test").ok());
  EXPECT_EQ(fee(2000, "EUR"), 103);
  EXPECT_EQ(StateOf("double-fee"), "disabled");
  ASSERT_TRUE(runtime_->Enable("double-fee").ok());
  EXPECT_EQ(fee(2000, "EUR"), 208);
}

// Scalar points with replaces only take the runtime's short path, and a
// straight-line replace runs without the count hook: a looping replace of
// the same patch, in the same sandbox on the same thread, still trips its
// budget between straight calls; `original` and wrong result types behave
// as on the general path.
TEST_F(HotpatchTest, ScalarReplacesStraightOrBudgeted) {
  PatchPoint<&Scale> scale(runtime_.get(), "calc.scale");
  PatchPoint<&Spin> spin(runtime_.get(), "calc.spin");
  PatchPoint<&Wrap> wrap(runtime_.get(), "calc.wrap");
  auto info =
      runtime_->Install(MakePatch("calc",
                                  Point("calc.scale", "replace", "scale", "int(int,int)") + "," +
                                      Point("calc.spin", "replace", "spin", "int(int)") + "," +
                                      Point("calc.wrap", "replace", "wrap", "double(int,bool)"),
                                  "function scale(original, a, b) return a * b // 1000 end\n"
                                  "function spin(original, n) while true do end end\n"
                                  "function wrap(original, a, twice)\n"
                                  "  if a == 0 then return 'zero' end\n"
                                  "  return original(a + 1, twice) + 0.25\n"
                                  "end"));
  ASSERT_TRUE(info.ok()) << info.error().ToString();
  EXPECT_EQ(scale(1999, 7), 13);
  EXPECT_EQ(wrap(3, true), 8.25);  // original(4, true) + 0.25
  EXPECT_EQ(wrap(3, false), 0.75);
  EXPECT_EQ(spin(5), 5);  // the budget ends the loop: the original runs
  auto list = runtime_->List();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].faults, 1u);
  EXPECT_EQ(StateOf("calc"), "enabled");
  EXPECT_EQ(scale(1999, 7), 13);  // still patched, still straight
  // From another thread (its own sandbox) too.
  int64_t other = 0;
  std::thread([&] { other = scale(2000, 3); }).join();
  EXPECT_EQ(other, 6);
  EXPECT_EQ(wrap(0, true), 0.0);  // a string result: the original, second fault
  EXPECT_EQ(StateOf("calc"), "failed");
  EXPECT_EQ(scale(1999, 7), 1999 * 7);
}

// An outer replace that catches its `original`'s failure with pcall and
// calls it again: the inner replace's second fault is recorded too (each
// inner frame starts with no fault of its own), on the general and the
// short path alike.
TEST_F(HotpatchTest, AnInnerFaultAfterACaughtOneIsRecordedToo) {
  PatchPoint<&FeeImpl> fee(runtime_.get(), "pay.fee");
  PatchPoint<&Scale> scale(runtime_.get(), "calc.scale");
  const char* inner = "function f(original, a, b) error('inner broke') end";
  const char* outer =
      "function g(original, a, b)\n"
      "  local first = pcall(original, a, b)\n"
      "  local second = pcall(original, a, b)\n"
      "  if first or second then return 1 end\n"
      "  return 7\n"
      "end";
  ASSERT_TRUE(runtime_
                  ->Install(MakePatch(
                      "inner", Point("pay.fee", "replace", "f", "int(int,string)", 0), inner))
                  .ok());
  ASSERT_TRUE(runtime_
                  ->Install(MakePatch(
                      "outer", Point("pay.fee", "replace", "g", "int(int,string)", 5), outer))
                  .ok());
  EXPECT_EQ(fee(2000, "EUR"), 7);
  EXPECT_EQ(StateOf("inner"), "failed");  // two faults: max_faults
  EXPECT_EQ(StateOf("outer"), "enabled");
  ASSERT_TRUE(runtime_
                  ->Install(MakePatch(
                      "inner2", Point("calc.scale", "replace", "f", "int(int,int)", 0), inner))
                  .ok());
  ASSERT_TRUE(runtime_
                  ->Install(MakePatch(
                      "outer2", Point("calc.scale", "replace", "g", "int(int,int)", 5), outer))
                  .ok());
  EXPECT_EQ(scale(3, 4), 7);
  EXPECT_EQ(StateOf("inner2"), "failed");
  EXPECT_EQ(StateOf("outer2"), "enabled");
}

TEST_F(HotpatchTest, BeforeAndAfterModes) {
  PatchPoint<&FeeImpl> fee(runtime_.get(), "pay.fee");
  ASSERT_TRUE(
      runtime_
          ->Install(MakePatch("waive-small", Point("pay.fee", "before", "check", "int(int,string)"),
                              "function check(cents, cur)\n"
                              "  if cents < 100 then return 'result', 0 end\n"
                              "  if cur == 'usd' then return 'args', cents, 'USD' end\n"
                              "end"))
          .ok());
  ASSERT_TRUE(runtime_
                  ->Install(MakePatch("cap", Point("pay.fee", "after", "cap", "int(int,string)"),
                                      "function cap(result, cents, cur)\n"
                                      "  if result > 500 then return 500 end\n"
                                      "end"))
                  .ok());
  original_calls = 0;
  EXPECT_EQ(fee(50, "EUR"), 0);  // short-circuited: no original
  EXPECT_EQ(original_calls.load(), 0);
  EXPECT_EQ(fee(2000, "EUR"), 103);      // unchanged
  EXPECT_EQ(fee(100000, "EUR"), 500);    // capped by the after patch
  EXPECT_EQ(fee(2000, "usd"), 100 + 3);  // arguments rewritten ("USD" has 3 chars)
}

TEST_F(HotpatchTest, CompositionOrderIsBeforesThenNestedReplacesThenAfters) {
  PatchPoint<&Describe> describe(runtime_.get(), "text.describe");
  const std::string sig = "string(string,int,bool,double)";
  ASSERT_TRUE(
      runtime_
          ->Install(MakePatch(
              "r1", Point("text.describe", "replace", "f", sig, 1),
              "function f(original, n, c, l, r) return '[r1 ' .. original(n, c, l, r) .. ']' end"))
          .ok());
  ASSERT_TRUE(runtime_
                  ->Install(MakePatch("r2", Point("text.describe", "replace", "f", sig, 2),
                                      "function f(original, n, c, l, r) return '[r2 ' .. "
                                      "original(n .. '+', c, l, r) .. ']' end"))
                  .ok());
  ASSERT_TRUE(runtime_
                  ->Install(MakePatch("b1", Point("text.describe", "before", "f", sig, 5),
                                      "function f(n, c, l, r) return 'args', n, c + 1, l, r end"))
                  .ok());
  ASSERT_TRUE(runtime_
                  ->Install(MakePatch("a1", Point("text.describe", "after", "f", sig, 0),
                                      "function f(res, n, c, l, r) return res .. '<a1>' end"))
                  .ok());
  ASSERT_TRUE(runtime_
                  ->Install(MakePatch("a2", Point("text.describe", "after", "f", sig, 9),
                                      "function f(res, n, c, l, r) return res .. '<a2>' end"))
                  .ok());
  // b1 bumps the count; r2 (order 2) is outermost and calls r1, which calls
  // the native one; afters in order.
  EXPECT_EQ(describe("x", 1, true, 0.5), "[r2 [r1 x+#2/0.500000!]]<a1><a2>");
  auto points = runtime_->Points();
  ASSERT_EQ(points.size(), 1u);
  EXPECT_EQ(points[0].patches,
            (std::vector<std::string>{"b1 (before)", "r1 (replace)", "r2 (replace)", "a1 (after)",
                                      "a2 (after)"}));
}

TEST_F(HotpatchTest, RecordsAndEveryScalarTypeConvert) {
  PatchPoint<&MakeFee> make(runtime_.get(), "fee.make");
  PatchPoint<&Total> total(runtime_.get(), "fee.total");
  ASSERT_TRUE(
      runtime_
          ->Install(MakePatch(
              "records",
              Point("fee.make", "replace", "make", "record:Fee(int,string)") + "," +
                  Point("fee.total", "replace", "total", "int(record:Fee,int)"),
              "function make(original, cents, cur)\n"
              "  local f = original(cents, cur)\n"
              "  f.waived = cents > 1000\n  f.rate = f.rate * 2\n  f.currency = f.currency .. '!'\n"
              "  return f\nend\n"
              "function total(original, fee, extra)\n"
              "  assert(fee.currency == 'EUR' and fee.rate == 0.25 and fee.waived == false)\n"
              "  return original(fee, extra) + 1\nend"))
          .ok());
  Fee f = make(5000, "EUR");
  EXPECT_EQ(f.cents, 5000);
  EXPECT_EQ(f.currency, "EUR!");
  EXPECT_TRUE(f.waived);
  EXPECT_DOUBLE_EQ(f.rate, 0.1);
  EXPECT_EQ(total(Fee{7, "EUR", false, 0.25}, 3), 11);
}

TEST_F(HotpatchTest, WrongTypesFallBackAndCountFaultsUntilDisabled) {
  PatchPoint<&FeeImpl> fee(runtime_.get(), "pay.fee");
  ASSERT_TRUE(
      runtime_
          ->Install(MakePatch("bad-types", Point("pay.fee", "replace", "f", "int(int,string)"),
                              "function f(original, cents, cur)\n"
                              "  if cents == 1 then return 'not a number' end\n"
                              "  if cents == 2 then return original(cents) end\n"
                              "  if cents == 3 then return original('x', cur) end\n"
                              "  return 1.5\nend"))
          .ok());
  EXPECT_EQ(fee(1, "EUR"), 3);  // string result -> original (1/20 + 3)
  EXPECT_EQ(StateOf("bad-types"), "enabled");
  EXPECT_EQ(fee(2, "EUR"), 3);  // wrong arity to original -> original, second fault
  EXPECT_EQ(StateOf("bad-types"), "failed");
  auto list = runtime_->List();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].faults, 2u);
  EXPECT_NE(list[0].reason.find("disabled after 2 faults"), std::string::npos) << list[0].reason;
  EXPECT_EQ(fee(4, "EUR"), 3);  // disabled: plain original
  // Durable: still failed after reopening.
  Reopen();
  EXPECT_EQ(StateOf("bad-types"), "failed");
}

TEST_F(HotpatchTest, RefusesWrongTargetsKeysAndSignatures) {
  PatchPoint<&FeeImpl> fee(runtime_.get(), "pay.fee");
  const std::string p = Point("pay.fee", "replace", "f", "int(int,string)");
  const std::string lua = "function f(o, c, cur) return 0 end";
  struct Case {
    std::string name, extra, needle;
    bool other_key = false;
    std::string points;
  };
  std::vector<Case> cases = {
      {"old-app", ", \"app_versions\": \"^2.0.0\"", "targets app versions ^2.0.0", false, ""},
      {"no-bundle", ", \"bundles\": [{\"name\": \"com.test.gone\", \"version\": \"*\"}]",
       "com.test.gone, which is not installed", false, ""},
      {"old-bundle", ", \"bundles\": [{\"name\": \"com.test.pay\", \"version\": \"^3.0.0\"}]",
       "installed is 2.1.0", false, ""},
      {"foreign-key", "", "which is not among the 1 trusted key(s)", true, ""},
      {"bad-sig", "", "pay.fee is int(int,string), the patch declares int(int)", false,
       Point("pay.fee", "replace", "f", "int(int)")},
  };
  for (const auto& c : cases) {
    auto r = runtime_->Install(
        MakePatch(c.name, c.points.empty() ? p : c.points, lua, c.extra, "1.0.0", c.other_key));
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_NE(r.error().ToString().find(c.needle), std::string::npos)
        << c.name << ": " << r.error().ToString();
  }
  // A package changed after signing (one byte of its compressed source).
  std::string package = MakePatch("tampered", p, lua);
  {
    auto reader = PackageReader::Open(package);
    ASSERT_TRUE(reader.ok());
    uint64_t at = 0;
    for (const auto& e : (*reader)->info().entries) {
      if (e.path == "patch.lua") at = e.offset + e.compressed_size / 2;
    }
    reader->reset();
    std::fstream f(package, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(at));
    char c = 0;
    f.get(c);
    f.seekp(static_cast<std::streamoff>(at));
    f.put(static_cast<char>(c ^ 0x20));
  }
  auto r = runtime_->Install(package);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kCorrupt) << r.error().ToString();
  EXPECT_TRUE(runtime_->List().empty());
  EXPECT_EQ(fee(2000, "EUR"), 103);
  // The wrong app id.
  std::string other = root_ + "/src/otherapp";
  std::filesystem::create_directories(other);
  std::ofstream(other + "/patch.json")
      << "{\"id\": \"otherapp\", \"version\": \"1.0.0\", \"targets\": {\"app\": \"com.other\"}, "
         "\"points\": ["
      << p << "]}";
  std::ofstream(other + "/patch.lua") << lua;
  r = runtime_->Install(Pack(other));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("it targets app com.other"), std::string::npos);
  // patch.json names this app, but the signed package is for another one.
  std::string moved = root_ + "/src/moved";
  std::filesystem::create_directories(moved);
  std::ofstream(moved + "/patch.json")
      << R"({"id": "moved", "version": "1.0.0", "targets": {"app": "com.test.app"}, )"
         R"("points": [)"
      << p << "]}";
  std::ofstream(moved + "/patch.lua") << lua;
  r = runtime_->Install(testing::PackDir(moved, keys_, ArtifactKind::kLuaPatch, {"com.shop.app"}));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("refused: the package is for com.shop.app, not com.test.app"),
            std::string::npos)
      << r.error().ToString();
  EXPECT_TRUE(runtime_->List().empty());
}

// The installed copy is re-hashed against its signed package each time the
// patches load: a copy changed on the device never runs, and says why.
TEST_F(HotpatchTest, AChangedInstalledCopyNeverRuns) {
  PatchPoint<&FeeImpl> fee(runtime_.get(), "pay.fee");
  const std::string p = Point("pay.fee", "replace", "f", "int(int,string)");
  auto info = runtime_->Install(MakePatch("fee", p, "function f() return 1 end"));
  ASSERT_TRUE(info.ok()) << info.error().ToString();
  EXPECT_EQ(fee(2000, "EUR"), 1);
  std::string dir;
  {
    auto store = ArtifactStore::Open({root_ + "/data", {}, "com.test.app"});
    ASSERT_TRUE(store.ok());
    auto current = (*store)->Current(ArtifactKind::kLuaPatch, "fee");
    ASSERT_TRUE(current.ok() && current->has_value());
    dir = (*current)->dir;
  }
  std::ofstream(dir + "/patch.lua", std::ios::trunc) << "function f() return 666 end";
  Reopen();
  PatchPoint<&FeeImpl> again(runtime_.get(), "pay.fee");
  EXPECT_EQ(again(2000, "EUR"), 103);
  auto list = runtime_->List();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].state, "failed");
  EXPECT_NE(list[0].reason.find("installed copy no longer verifies"), std::string::npos)
      << list[0].reason;
  EXPECT_NE(list[0].reason.find("patch.lua"), std::string::npos) << list[0].reason;
}

TEST_F(HotpatchTest, RollbackAndDisableAllAreDurable) {
  PatchPoint<&FeeImpl> fee(runtime_.get(), "pay.fee");
  const std::string p = Point("pay.fee", "replace", "f", "int(int,string)");
  ASSERT_TRUE(
      runtime_->Install(MakePatch("fee", p, "function f() return 1 end", "", "1.0.0")).ok());
  ASSERT_TRUE(
      runtime_->Install(MakePatch("fee", p, "function f() return 2 end", "", "1.1.0")).ok());
  EXPECT_EQ(fee(2000, "EUR"), 2);
  ASSERT_TRUE(runtime_->Rollback("fee").ok());
  EXPECT_EQ(fee(2000, "EUR"), 1);
  ASSERT_TRUE(runtime_->DisableAll("launch guard").ok());
  EXPECT_EQ(fee(2000, "EUR"), 103);
  Reopen();
  PatchPoint<&FeeImpl> again(runtime_.get(), "pay.fee");
  EXPECT_EQ(again(2000, "EUR"), 103);
  EXPECT_EQ(StateOf("fee"), "disabled");
}

TEST_F(HotpatchTest, ActivationIsAtomicWhileOtherThreadsCall) {
  PatchPoint<&FeeImpl> fee(runtime_.get(), "pay.fee");
  const std::string p = Point("pay.fee", "replace", "f", "int(int,string)");
  ASSERT_TRUE(runtime_->Install(MakePatch("v", p, "function f() return -1 end")).ok());
  ASSERT_TRUE(runtime_->Disable("v", "start off").ok());
  std::atomic<bool> stop{false};
  std::atomic<long> bad{0}, patched{0}, plain{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 3; ++t) {
    callers.emplace_back([&] {
      while (!stop.load()) {
        int64_t v = fee(2000, "EUR");
        if (v == -1)
          patched.fetch_add(1);
        else if (v == 103)
          plain.fetch_add(1);
        else
          bad.fetch_add(1);
      }
    });
  }
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(runtime_->Enable("v").ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    ASSERT_TRUE(runtime_->Disable("v", "flip").ok());
  }
  stop = true;
  for (auto& t : callers) t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(plain.load(), 0);
  EXPECT_GT(patched.load(), 0);
}

TEST_F(HotpatchTest, SampleMaliciousPatchIsContained) {
  // The sample's hostile patch, signed here with the test key.
  std::string dir = root_ + "/malicious";
  std::filesystem::copy(std::string(ATRIUM_SOURCE_DIR) + "/samples/wallet/patches/malicious", dir);
  // Point it at this test's app.
  std::string json;
  {
    std::ifstream in(dir + "/patch.json");
    json.assign(std::istreambuf_iterator<char>(in), {});
  }
  json.replace(json.find("com.example.wallet"), std::string("com.example.wallet").size(),
               "com.test.app");
  std::ofstream(dir + "/patch.json") << json;
  const std::string package = Pack(dir);
  std::vector<std::string> logged;
  std::mutex log_mu;
  ASSERT_TRUE(runtime_
                  ->ExposeFunction("log",
                                   [&](const std::vector<HostValue>& args) -> Result<HostValue> {
                                     std::lock_guard lock(log_mu);
                                     logged.push_back(args.empty() ? "" : args[0].s);
                                     return HostValue{};
                                   })
                  .ok());
  PatchPoint<&FeeImpl> fee(runtime_.get(), "transfer.fee.compute");
  PatchPoint<&Describe> unrelated(runtime_.get(), "text.describe");
  auto info = runtime_->Install(package);
  ASSERT_TRUE(info.ok()) << info.error().ToString();
  // The spinning `before` hits the instruction budget: the original answers.
  EXPECT_EQ(fee(2000, "EUR"), 103);
  EXPECT_EQ(StateOf("totally-harmless"), "failed");  // max_faults 1
  EXPECT_EQ(fee(2000, "EUR"), 103);
  std::lock_guard lock(log_mu);
  ASSERT_GE(logged.size(), 7u);
  for (const auto& line : logged) {
    EXPECT_NE(line.find("blocked"), std::string::npos) << line;
    EXPECT_EQ(line.find("REACHED"), std::string::npos) << line;
  }
  auto list = runtime_->List();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_NE(list[0].reason.find("instruction"), std::string::npos) << list[0].reason;
  EXPECT_EQ(unrelated("a", 1, false, 1.0), Describe("a", 1, false, 1.0));
}

std::string GreetingImpl(std::string holder) { return "Welcome back, " + holder; }

TEST_F(HotpatchTest, UnboundedAllocationHitsTheMemoryCap) {
  PatchPoint<&GreetingImpl> greet(runtime_.get(), "wallet.home.greeting");
  ASSERT_TRUE(runtime_
                  ->Install(MakePatch(
                      "hog", Point("wallet.home.greeting", "replace", "f", "string(string)"),
                      "function f(original, h) local t = {} while true do t[#t+1] = "
                      "string.rep('x', 4096) .. #t end end"))
                  .ok());
  EXPECT_EQ(greet("Ada"), "Welcome back, Ada");
  auto list = runtime_->List();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].faults, 1u);
  EXPECT_EQ(greet("Ada"), "Welcome back, Ada");
  EXPECT_EQ(StateOf("hog"), "failed");
}

// Work inside the library's C functions counts against the patch's budget:
// 150 backtracking finds on 10,000 bytes are only about 900 VM instructions,
// but tens of billions of matching steps (before: about 55 s on the
// caller's thread, no fault, the result used).
TEST_F(HotpatchTest, WorkInLibraryFunctionsIsAFault) {
  PatchPoint<&FeeImpl> fee(runtime_.get(), "transfer.fee.compute");
  ASSERT_TRUE(runtime_
                  ->Install(MakePatch(
                      "matcher", Point("transfer.fee.compute", "replace", "f", "int(int,string)"),
                      "function f(original, cents, currency)\n"
                      "  local s = ('a'):rep(10000)\n"
                      "  for i = 1, 150 do s:find('.-b') end\n"
                      "  return 1\n"
                      "end"))
                  .ok());
  EXPECT_EQ(fee(2000, "EUR"), 103);  // the original answered
  auto list = runtime_->List();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].faults, 1u);
  EXPECT_EQ(fee(2000, "EUR"), 103);
  EXPECT_EQ(StateOf("matcher"), "failed");  // max_faults 2
  list = runtime_->List();
  EXPECT_NE(list[0].reason.find("instruction"), std::string::npos) << list[0].reason;
}

// A patch that could never run is refused at install, with the reason and
// where, and nothing is installed (before: accepted, listed enabled with 0
// faults, and the native code kept running).
TEST_F(HotpatchTest, PatchesThatCannotLoadAreRefusedAtInstall) {
  PatchPoint<&FeeImpl> fee(runtime_.get(), "transfer.fee.compute");
  const std::string point = Point("transfer.fee.compute", "replace", "f", "int(int,string)");
  struct Bad {
    const char* name;
    const char* lua;
    const char* says;
  } cases[] = {
      {"syntax", "function f(original, c, cur) return c +* 2 end", "does not compile"},
      {"missing", "function g(original, c, cur) return c end", "defines no function 'f'"},
      {"spins", "while true do end\nfunction f(original, c, cur) return c end",
       "fails as it loads: instructions"},
      {"throws", "error('boom')\nfunction f(original, c, cur) return c end",
       "fails as it loads: error"},
  };
  for (const Bad& c : cases) {
    auto info = runtime_->Install(MakePatch(c.name, point, c.lua));
    ASSERT_FALSE(info.ok()) << c.name;
    EXPECT_NE(info.error().ToString().find(c.says), std::string::npos)
        << c.name << ": " << info.error().ToString();
    EXPECT_NE(info.error().file.find(c.name), std::string::npos) << info.error().file;
  }
  EXPECT_TRUE(runtime_->List().empty());
  EXPECT_EQ(fee(2000, "EUR"), 103);
}

// A replace whose patch fails to load when a thread first calls it is a
// fault, like a before or an after that fails to load.
TEST_F(HotpatchTest, AReplaceThatFailsToLoadRecordsAFault) {
  bool gate_open = true;
  auto expose_gate = [&] {
    ASSERT_TRUE(runtime_
                    ->ExposeFunction(
                        "gate",
                        [open = gate_open](const std::vector<HostValue>&) -> Result<HostValue> {
                          if (!open) return MakeError(ErrorCode::kNotFound, "closed");
                          return HostValue{};
                        })
                    .ok());
  };
  expose_gate();
  PatchPoint<&FeeImpl> fee(runtime_.get(), "transfer.fee.compute");
  ASSERT_TRUE(runtime_
                  ->Install(MakePatch(
                      "gated", Point("transfer.fee.compute", "replace", "f", "int(int,string)"),
                      "host.gate()\nfunction f(original, c, cur) return 7 end"))
                  .ok());
  EXPECT_EQ(fee(2000, "EUR"), 7);
  gate_open = false;
  expose_gate();  // the patch's states reload at the next call, and fail
  EXPECT_EQ(fee(2000, "EUR"), 103);
  auto list = runtime_->List();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].faults, 1u);
}

}  // namespace
}  // namespace atrium::hotpatch
