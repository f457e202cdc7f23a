// Tests for atrium/dynamic/config/condition.h: every field and operator of
// the condition language, precedence and parentheses, semver comparisons and
// ranges, dates in IANA zones (read from the system's TZif files) and fixed
// offsets, percent rollouts at their exact boundaries, missing facts, and the
// accessors. Malformed and hostile input: condition_errors_test.cc.
//
// Concurrency: single-threaded; Parse and Evaluate are pure.
#include "atrium/dynamic/config/condition.h"

#include <gtest/gtest.h>

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "atrium/base/bucket.h"
#include "atrium/semver.h"

namespace atrium::config {
namespace {

constexpr std::string_view kFile = "config/sets/home.json";

Condition P(std::string_view text) {
  Result<Condition> c = Condition::Parse(text, kFile, "test");
  EXPECT_TRUE(c.ok()) << text << ": " << (c.ok() ? "" : c.error().ToString());
  return c.ok() ? std::move(c).value() : Condition();
}

Version V(std::string_view text) { return Version::Parse(text).value(); }

DeviceContext Ctx() {
  DeviceContext c;
  c.app_id = "com.example.wallet";
  c.app_version = V("1.4.2");
  c.device_id = "device-1";
  c.os = "android";
  c.locale = "zh_CN";
  c.country = "CN";
  c.model = "Pixel 8";
  c.memory_mb = 4096;
  c.cores = 8;
  c.signals = {{"tier", "gold"}, {"score", "42.5"}, {"empty", ""}, {"word", "abc"}};
  c.now_unix_ms = 1'772'953'200'000;  // 2026-03-08T07:00:00Z
  return c;
}

bool Holds(std::string_view text, const DeviceContext& context = Ctx()) {
  return P(text).Evaluate(context);
}

TEST(ConditionTest, StringFieldsWithEveryOperator) {
  const std::pair<std::string_view, std::string_view> fields[] = {
      {"app.id", "com.example.wallet"}, {"device.os", "android"},    {"device.locale", "zh_CN"},
      {"device.country", "CN"},         {"device.model", "Pixel 8"},
  };
  for (const auto& [field, value] : fields) {
    const std::string f(field), v(value);
    const std::string prefix = v.substr(0, 2), middle = v.substr(1, 3);
    SCOPED_TRACE(f);
    EXPECT_TRUE(Holds(f + " == \"" + v + "\""));
    EXPECT_FALSE(Holds(f + " == \"" + v + "x\""));
    EXPECT_TRUE(Holds(f + " != \"other\""));
    EXPECT_FALSE(Holds(f + " != \"" + v + "\""));
    EXPECT_TRUE(Holds(f + " in [\"a\", \"" + v + "\"]"));
    EXPECT_FALSE(Holds(f + " in [\"a\", \"b\"]"));
    EXPECT_TRUE(Holds(f + " not in [\"a\", \"b\"]"));
    EXPECT_FALSE(Holds(f + " not in [\"" + v + "\"]"));
    EXPECT_TRUE(Holds(f + " contains \"" + middle + "\""));
    EXPECT_FALSE(Holds(f + " contains \"zzz\""));
    EXPECT_TRUE(Holds(f + " starts_with \"" + prefix + "\""));
    EXPECT_FALSE(Holds(f + " starts_with \"" + middle + "x\""));
  }
  // Byte-exact and case-sensitive.
  EXPECT_FALSE(Holds(R"(device.country == "cn")"));
}

TEST(ConditionTest, EscapesInStrings) {
  DeviceContext c = Ctx();
  c.model = "say \"hi\"\\\n\t";
  EXPECT_TRUE(Holds(R"(device.model == "say \"hi\"\\\n\t")", c));
  EXPECT_TRUE(Holds("device.model contains \"\\t\"", c));
}

TEST(ConditionTest, MissingStringFactIsFalseForEveryOperator) {
  DeviceContext c = Ctx();
  c.country.clear();
  for (std::string_view text :
       {R"(device.country == "")", R"(device.country != "CN")", R"(device.country not in ["CN"])",
        R"(device.country contains "")", R"(device.country starts_with "")"}) {
    EXPECT_FALSE(Holds(text, c)) << text;
  }
}

TEST(ConditionTest, IntFieldsWithEveryOperator) {
  EXPECT_TRUE(Holds("device.memory_mb == 4096"));
  EXPECT_FALSE(Holds("device.memory_mb == 4095"));
  EXPECT_TRUE(Holds("device.memory_mb != 4095"));
  EXPECT_FALSE(Holds("device.memory_mb != 4096"));
  EXPECT_TRUE(Holds("device.memory_mb < 4097"));
  EXPECT_FALSE(Holds("device.memory_mb < 4096"));
  EXPECT_TRUE(Holds("device.memory_mb <= 4096"));
  EXPECT_FALSE(Holds("device.memory_mb <= 4095"));
  EXPECT_TRUE(Holds("device.memory_mb > 4095"));
  EXPECT_FALSE(Holds("device.memory_mb > 4096"));
  EXPECT_TRUE(Holds("device.memory_mb >= 4096"));
  EXPECT_FALSE(Holds("device.memory_mb >= 4097"));
  EXPECT_TRUE(Holds("device.cores >= 8 && device.cores < 9"));
  EXPECT_TRUE(Holds("device.cores > -1"));
  EXPECT_TRUE(Holds("device.cores < 9223372036854775807"));
  EXPECT_TRUE(Holds("device.cores > -9223372036854775808"));
  // 0 is "not reported": false whatever the comparison.
  DeviceContext c = Ctx();
  c.memory_mb = 0;
  EXPECT_FALSE(Holds("device.memory_mb < 2048", c));
  EXPECT_FALSE(Holds("device.memory_mb != 1", c));
  EXPECT_FALSE(Holds("device.memory_mb == 0", c));
}

TEST(ConditionTest, AppVersionComparisonsFollowSemverPrecedence) {
  EXPECT_TRUE(Holds(R"(app.version == "1.4.2")"));
  EXPECT_TRUE(Holds(R"(app.version == "1.4.2+build.7")"));  // build metadata ignored
  EXPECT_FALSE(Holds(R"(app.version != "1.4.2")"));
  EXPECT_TRUE(Holds(R"(app.version != "1.4.3")"));
  EXPECT_TRUE(Holds(R"(app.version < "1.10.0")"));  // numeric, not lexical
  EXPECT_FALSE(Holds(R"(app.version < "1.4.2")"));
  EXPECT_TRUE(Holds(R"(app.version <= "1.4.2")"));
  EXPECT_TRUE(Holds(R"(app.version > "1.4.2-rc.1")"));
  EXPECT_FALSE(Holds(R"(app.version > "1.4.2")"));
  EXPECT_TRUE(Holds(R"(app.version >= "1.4.2")"));
  EXPECT_FALSE(Holds(R"(app.version >= "1.4.3-alpha")"));

  DeviceContext beta = Ctx();
  beta.app_version = V("1.5.0-beta.2");
  EXPECT_TRUE(Holds(R"(app.version < "1.5.0")", beta));
  EXPECT_TRUE(Holds(R"(app.version > "1.5.0-beta.1")", beta));
  EXPECT_TRUE(Holds(R"(app.version > "1.5.0-alpha.9")", beta));
  EXPECT_TRUE(Holds(R"(app.version < "1.5.0-beta.11")", beta));  // numeric identifiers
}

TEST(ConditionTest, AppVersionSatisfiesRanges) {
  const std::string range = R"(app.version satisfies "^1.2.0 || >=2.0.0")";
  DeviceContext c = Ctx();
  EXPECT_TRUE(Holds(range, c));
  c.app_version = V("0.9.0");
  EXPECT_FALSE(Holds(range, c));
  c.app_version = V("2.7.1");
  EXPECT_TRUE(Holds(range, c));
  c.app_version = V("1.1.9");
  EXPECT_FALSE(Holds(range, c));
  // A pre-release satisfies only a range naming the same major.minor.patch
  // with a pre-release (npm rule).
  c.app_version = V("1.5.0-beta.1");
  EXPECT_FALSE(Holds(R"(app.version satisfies "^1.2.0")", c));
  EXPECT_TRUE(Holds(R"(app.version satisfies ">=1.5.0-beta.0 <2.0.0")", c));
  EXPECT_TRUE(Holds(R"(app.version satisfies "~1.4")"));
  EXPECT_FALSE(Holds(R"(app.version satisfies "1.4.3 - 1.6.0")"));
}

TEST(ConditionTest, NoAppVersionIsFalseForEveryOperator) {
  DeviceContext c = Ctx();
  c.app_version.reset();
  for (std::string_view text :
       {R"(app.version == "1.4.2")", R"(app.version != "1.4.2")", R"(app.version < "9.0.0")",
        R"(app.version >= "0.0.0")", R"(app.version satisfies "*")"}) {
    EXPECT_FALSE(Holds(text, c)) << text;
  }
}

TEST(ConditionTest, SignalsAsTextAndAsNumbers) {
  EXPECT_TRUE(Holds(R"(signal.tier == "gold")"));
  EXPECT_FALSE(Holds(R"(signal.tier == "Gold")"));
  EXPECT_TRUE(Holds(R"(signal.tier != "silver")"));
  EXPECT_TRUE(Holds(R"(signal.tier in ["silver", "gold"])"));
  EXPECT_TRUE(Holds(R"(signal.tier not in ["silver"])"));
  EXPECT_FALSE(Holds(R"(signal.tier not in ["gold"])"));
  EXPECT_TRUE(Holds(R"(signal.tier contains "ol")"));
  EXPECT_TRUE(Holds(R"(signal.empty == "")"));  // set, though empty
  EXPECT_TRUE(Holds("signal.score > 42"));
  EXPECT_TRUE(Holds("signal.score >= 42.5"));
  EXPECT_TRUE(Holds("signal.score <= 42.5"));
  EXPECT_FALSE(Holds("signal.score < 42.5"));
  EXPECT_TRUE(Holds("signal.score < 42.50001"));
  EXPECT_TRUE(Holds(R"(signal.score == "42.5")"));  // == compares text
  EXPECT_FALSE(Holds(R"(signal.score == "42.50")"));
  // Not a number: false for every numeric comparison.
  DeviceContext c = Ctx();
  for (std::string_view text : {"abc", "", " 1", "1e3", "+1", "1.", ".5", "0x10", "inf", "nan"}) {
    c.signals["score"] = std::string(text);
    EXPECT_FALSE(Holds("signal.score < 1000", c)) << text;
    EXPECT_FALSE(Holds("signal.score >= -1000", c)) << text;
  }
  c.signals["score"] = "-3";
  EXPECT_TRUE(Holds("signal.score < 0", c));
  EXPECT_TRUE(Holds("signal.score >= -3.0", c));
}

TEST(ConditionTest, UnsetSignalIsFalseForEveryOperator) {
  for (std::string_view text :
       {R"(signal.nope == "x")", R"(signal.nope != "x")", R"(signal.nope in ["x"])",
        R"(signal.nope not in ["x"])", R"(signal.nope contains "")", "signal.nope < 1",
        "signal.nope <= 1", "signal.nope > 1", "signal.nope >= 1"}) {
    EXPECT_FALSE(Holds(text)) << text;
  }
  // The negation of a false comparison is true: missing facts make atoms
  // false, not whole conditions.
  EXPECT_TRUE(Holds(R"(!(signal.nope == "x"))"));
}

TEST(ConditionTest, PrecedenceIsNotThenAndThenOr) {
  EXPECT_TRUE(Holds("true || false && false"));  // true || (false && false)
  EXPECT_FALSE(Holds("(true || false) && false"));
  EXPECT_TRUE(Holds("false && true || true"));  // (false && true) || true
  EXPECT_FALSE(Holds("false && (true || true)"));
  EXPECT_FALSE(Holds("!false && false"));  // (!false) && false
  EXPECT_TRUE(Holds("!(false && false)"));
  EXPECT_TRUE(Holds("!true || true"));  // (!true) || true
  EXPECT_FALSE(Holds("!(true || true)"));
  EXPECT_TRUE(Holds("!!true"));
  EXPECT_FALSE(Holds("!!!true"));
  EXPECT_TRUE(Holds("((((true))))"));
  EXPECT_TRUE(Holds("false || false || false || true"));
  EXPECT_FALSE(Holds("true && true && true && false"));
  EXPECT_TRUE(Holds(" \t\ntrue\n&&\ttrue "));
  EXPECT_TRUE(Holds(R"(device.os=="android"&&!(device.cores<4)||signal.tier=="x")"));
  EXPECT_TRUE(Holds(
      R"(app.version satisfies "^1.2.0" && device.country in ["CN", "SG"] && !(device.memory_mb < 2048))"));
}

// date.now comparisons at `now` (unix ms).
bool HoldsAt(std::string_view text, int64_t now) {
  DeviceContext c = Ctx();
  c.now_unix_ms = now;
  return P(text).Evaluate(c);
}

// Instants below were computed independently with Python's zoneinfo:
//   int(datetime.fromisoformat(S).replace(tzinfo=ZoneInfo(Z)).timestamp() * 1000)
TEST(ConditionTest, DatesInNewYorkAroundTheSpringDstChange) {
  // 2026-03-08: clocks go from 02:00 EST to 03:00 EDT at 07:00 UTC.
  const std::string before = R"(date.now < date("2026-03-08T01:30:00", "America/New_York"))";
  const int64_t k0130 = 1'772'951'400'000;  // 06:30Z, EST (-05:00)
  EXPECT_TRUE(HoldsAt(before, k0130 - 1));
  EXPECT_FALSE(HoldsAt(before, k0130));
  const std::string after = R"(date.now >= date("2026-03-08T03:00:00", "America/New_York"))";
  const int64_t k0300 = 1'772'953'200'000;  // 07:00Z, EDT (-04:00)
  EXPECT_FALSE(HoldsAt(after, k0300 - 1));
  EXPECT_TRUE(HoldsAt(after, k0300));
  // 03:30 EDT is only an hour of wall clock after 01:30 EST... and 02:30,
  // which does not exist, reads as 03:30 (the offset before the gap).
  const int64_t k0330 = 1'772'955'000'000;
  for (std::string_view wall : {"2026-03-08T03:30:00", "2026-03-08T02:30:00"}) {
    const std::string text =
        "date.now >= date(\"" + std::string(wall) + "\", \"America/New_York\")";
    EXPECT_FALSE(HoldsAt(text, k0330 - 1)) << wall;
    EXPECT_TRUE(HoldsAt(text, k0330)) << wall;
  }
}

TEST(ConditionTest, DatesInNewYorkAcrossTheYear) {
  // Fall back 2026-11-01: 01:30 happens twice; the earlier (EDT) is meant.
  EXPECT_TRUE(
      HoldsAt(R"(date.now >= date("2026-11-01T01:30:00", "America/New_York"))", 1'793'511'000'000));
  EXPECT_FALSE(HoldsAt(R"(date.now >= date("2026-11-01T01:30:00", "America/New_York"))",
                       1'793'511'000'000 - 1));
  struct Case {
    const char* wall;
    int64_t ms;
  };
  const Case cases[] = {
      {"2026-01-15T12:00:00", 1'768'496'400'000},  // EST
      {"2026-07-01T12:00:00", 1'782'921'600'000},  // EDT
      {"2040-07-01T12:00:00", 2'224'771'200'000},  // past the table: the footer rule
      {"2040-12-01T12:00:00", 2'237'994'000'000},
  };
  for (const Case& c : cases) {
    const std::string text =
        std::string("date.now > date(\"") + c.wall + "\", \"America/New_York\")";
    EXPECT_FALSE(HoldsAt(text, c.ms)) << c.wall;
    EXPECT_TRUE(HoldsAt(text, c.ms + 1)) << c.wall;
  }
}

TEST(ConditionTest, DatesInShanghaiUtcAndFixedOffsets) {
  const int64_t utc = 1'796'083'200'000;  // 2026-12-01T00:00:00Z
  const int64_t shanghai = 1'796'054'400'000;
  struct Case {
    const char* zone_argument;
    int64_t ms;
  };
  const Case cases[] = {
      {"", utc},
      {", \"UTC\"", utc},
      {", \"Z\"", utc},
      {", \"Etc/UTC\"", utc},
      {", \"Asia/Shanghai\"", shanghai},
      {", \"+08:00\"", shanghai},
      {", \"-05:30\"", 1'796'103'000'000},
      {", \"+00:00\"", utc},
  };
  for (const Case& c : cases) {
    const std::string text =
        std::string("date.now <= date(\"2026-12-01T00:00:00\"") + c.zone_argument + ")";
    EXPECT_TRUE(HoldsAt(text, c.ms)) << text;
    EXPECT_FALSE(HoldsAt(text, c.ms + 1)) << text;
  }
  // China observed DST from 1986 to 1991: UTC+9 in summer 1988.
  EXPECT_TRUE(
      HoldsAt(R"(date.now > date("1988-07-01T12:00:00", "Asia/Shanghai"))", 583'729'200'001));
  EXPECT_FALSE(
      HoldsAt(R"(date.now > date("1988-07-01T12:00:00", "Asia/Shanghai"))", 583'729'200'000));
}

TEST(ConditionTest, TimeWithoutAClockIsFalse) {
  EXPECT_FALSE(HoldsAt(R"(date.now < date("2099-01-01T00:00:00"))", 0));
  EXPECT_FALSE(HoldsAt(R"(date.now > date("1960-01-01T00:00:00"))", 0));
}

// promo/device-1 is at micro-percentile 60,339,430 and ""/device-1 at
// 30,660,541 (bucket_test.cc has their independent derivation).
TEST(ConditionTest, PercentAtItsExactBoundaries) {
  EXPECT_TRUE(Holds(R"(percent("promo") <= 60.33943)"));
  EXPECT_FALSE(Holds(R"(percent("promo") <= 60.339429)"));
  EXPECT_FALSE(Holds(R"(percent("promo") > 60.33943)"));
  EXPECT_TRUE(Holds(R"(percent("promo") > 60.339429)"));
  // between: lower bound exclusive, upper bound inclusive.
  EXPECT_FALSE(Holds(R"(percent("promo") between 60.33943 and 70)"));
  EXPECT_TRUE(Holds(R"(percent("promo") between 50 and 60.33943)"));
  EXPECT_TRUE(Holds(R"(percent("promo") between 60.339429 and 60.33943)"));
  EXPECT_FALSE(Holds(R"(percent("promo") between 60.33943 and 60.33943)"));
  // No seed: the id alone.
  EXPECT_TRUE(Holds("percent <= 30.660541"));
  EXPECT_FALSE(Holds("percent <= 30.66054"));
  EXPECT_TRUE(Holds(R"(percent("") <= 30.660541)"));
  EXPECT_TRUE(Holds("percent <= 100"));
  EXPECT_TRUE(Holds("percent <= 100.000000"));
  EXPECT_FALSE(Holds("percent > 100"));
  EXPECT_FALSE(Holds("percent <= 0"));
  EXPECT_TRUE(Holds("percent between 0 and 100"));
}

TEST(ConditionTest, PercentBoundariesOfComputedIds) {
  for (int i = 0; i < 300; ++i) {
    DeviceContext c = Ctx();
    c.device_id = "user-" + std::to_string(i);
    const uint32_t micro = atrium::internal::MicroPercentile("rollout-7", c.device_id);
    char at[32];
    std::snprintf(at, sizeof at, "%u.%06u", micro / 1'000'000, micro % 1'000'000);
    const std::string p = at;
    SCOPED_TRACE(c.device_id + " at " + p);
    EXPECT_TRUE(Holds(R"(percent("rollout-7") <= )" + p, c));
    EXPECT_FALSE(Holds(R"(percent("rollout-7") > )" + p, c));
    EXPECT_FALSE(Holds(R"(percent("rollout-7") between )" + p + " and 100", c));
    EXPECT_TRUE(Holds(R"(percent("rollout-7") between 0 and )" + p, c) || micro == 0);
  }
}

TEST(ConditionTest, PercentWithoutADeviceIdIsFalse) {
  DeviceContext c = Ctx();
  c.device_id.clear();
  for (std::string_view text : {"percent <= 100", "percent > 0", "percent between 0 and 100",
                                R"(percent("promo") <= 100)"}) {
    EXPECT_FALSE(Holds(text, c)) << text;
  }
}

TEST(ConditionTest, Accessors) {
  const std::string text =
      R"(signal.zeta == "x" || signal.alpha > 1 || (signal.zeta != "y" && signal.m in ["a"]))";
  Condition c = P(text);
  EXPECT_EQ(c.text(), text);
  EXPECT_EQ(c.signals(), (std::vector<std::string>{"alpha", "m", "zeta"}));
  EXPECT_FALSE(c.uses_time());
  Condition t = P(R"(true && !(date.now < date("2026-01-01T00:00:00", "+08:00")))");
  EXPECT_TRUE(t.uses_time());
  EXPECT_TRUE(t.signals().empty());
  Condition none;
  EXPECT_FALSE(none.Evaluate(Ctx()));
  EXPECT_TRUE(none.signals().empty());
  // Copies share the parsed tree and evaluate alike.
  Condition copy = P("device.cores == 8");
  Condition other = copy;
  EXPECT_TRUE(other.Evaluate(Ctx()));
}

TEST(ConditionTest, LimitsAreInclusive) {
  EXPECT_TRUE(Holds(std::string(32, '(') + "true" + std::string(32, ')')));
  EXPECT_TRUE(Holds(std::string(32, '!') + "true"));
  std::string chain = "!false";
  for (int i = 1; i < 128; ++i) chain += "&&true";  // 128 atoms, 127 && and one !
  EXPECT_TRUE(Holds(chain));
  std::string list = "device.country in [";
  for (int i = 0; i < 99; ++i) list += "\"X" + std::to_string(i) + "\",";
  EXPECT_TRUE(Holds(list + "\"CN\"]"));
  EXPECT_TRUE(Holds("device.model != \"" + std::string(256, 'm') + "\""));
  std::string longest = "device.model != \"" + std::string(256, 'm') + "\"";
  longest.resize(kMaxConditionText, ' ');
  EXPECT_TRUE(Holds(longest));
}

}  // namespace
}  // namespace atrium::config
