// Tests for atrium/semver.h: strict SemVer 2.0.0 parsing and precedence, the
// npm range dialect (desugaring and matching, including the pre-release
// rule), and rejection of malformed or hostile input with kParse errors that
// name the byte offset.
//
// Concurrency: single-threaded; the code under test is pure.
#include "atrium/semver.h"

#include <gtest/gtest.h>

#include <cctype>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace atrium {
namespace {

constexpr uint64_t kMax = UINT64_MAX;

Version V(std::string_view text) {
  Result<Version> v = Version::Parse(text);
  EXPECT_TRUE(v.ok()) << text << ": " << (v.ok() ? "" : v.error().message);
  return v.ok() ? std::move(v).value() : Version();
}

VersionRange R(std::string_view text) {
  Result<VersionRange> r = VersionRange::Parse(text);
  EXPECT_TRUE(r.ok()) << text << ": " << (r.ok() ? "" : r.error().message);
  return r.ok() ? std::move(r).value() : VersionRange();
}

// A kParse error whose message names `offset` and contains `detail`.
template <typename T>
::testing::AssertionResult IsParseError(const Result<T>& r, uint64_t offset,
                                        std::string_view detail = {}) {
  if (r.ok()) return ::testing::AssertionFailure() << "parsed successfully";
  const Error& e = r.error();
  if (e.code != ErrorCode::kParse) {
    return ::testing::AssertionFailure() << "code " << ErrorCodeName(e.code) << ": " << e.message;
  }
  std::string at = "at offset " + std::to_string(offset);
  // The offset is a whole number in the message, not a prefix of another.
  size_t found = e.message.find(at);
  if (found == std::string::npos ||
      (found + at.size() < e.message.size() &&
       std::isdigit(static_cast<unsigned char>(e.message[found + at.size()])))) {
    return ::testing::AssertionFailure() << "message lacks '" << at << "': " << e.message;
  }
  if (e.message.find(detail) == std::string::npos) {
    return ::testing::AssertionFailure() << "message lacks '" << detail << "': " << e.message;
  }
  return ::testing::AssertionSuccess();
}

// ---- Version::Parse ---------------------------------------------------------

TEST(VersionParseTest, ParsesComponents) {
  Version v = V("1.22.333-alpha.1.x-y+build.007.Z");
  EXPECT_EQ(v.major, 1u);
  EXPECT_EQ(v.minor, 22u);
  EXPECT_EQ(v.patch, 333u);
  EXPECT_EQ(v.prerelease, (std::vector<std::string>{"alpha", "1", "x-y"}));
  EXPECT_EQ(v.build, "build.007.Z");
}

TEST(VersionParseTest, ParsesZeroAndMaxComponents) {
  Version zero = V("0.0.0");
  EXPECT_EQ(zero.major, 0u);
  EXPECT_EQ(zero.minor, 0u);
  EXPECT_EQ(zero.patch, 0u);
  EXPECT_TRUE(zero.prerelease.empty());
  EXPECT_TRUE(zero.build.empty());

  Version max = V("18446744073709551615.18446744073709551615.18446744073709551615");
  EXPECT_EQ(max.major, kMax);
  EXPECT_EQ(max.minor, kMax);
  EXPECT_EQ(max.patch, kMax);
}

TEST(VersionParseTest, AcceptsSpecExamples) {
  for (const char* text :
       {"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-0.3.7", "1.0.0-x.7.z.92", "1.0.0-x-y-z.--",
        "1.0.0-alpha+001", "1.0.0+20130313144700", "1.0.0-beta+exp.sha.5114f85",
        "1.0.0+21AF26D3----117B344092BD", "1.2.3-0", "1.2.3-0a", "1.2.3--", "1.2.3-a-", "1.2.3+0",
        "1.2.3+00", "1.2.3-99999999999999999999999999"}) {
    EXPECT_TRUE(Version::Parse(text).ok()) << text;
  }
}

TEST(VersionParseTest, ToStringRoundTrips) {
  for (const char* text :
       {"0.0.0", "1.2.3", "10.20.30", "1.0.0-alpha.1", "1.0.0+build.1", "1.0.0-rc.1+build.1",
        "1.0.0-x-y-z.--+a-b.00", "18446744073709551615.0.18446744073709551615"}) {
    Version v = V(text);
    EXPECT_EQ(v.ToString(), text);
    Version again = V(v.ToString());
    EXPECT_EQ(again, v);
    EXPECT_EQ(again.build, v.build);
    EXPECT_EQ(again.prerelease, v.prerelease);
  }
}

TEST(VersionParseTest, DefaultVersionIsZero) { EXPECT_EQ(Version().ToString(), "0.0.0"); }

TEST(VersionParseTest, ExactMessageForLeadingZero) {
  Result<Version> r = Version::Parse("1.02.3");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kParse);
  EXPECT_EQ(r.error().message, "invalid version '1.02.3': leading zero in minor at offset 2");
}

struct BadInput {
  const char* text;
  uint64_t offset;
  const char* detail;
};

TEST(VersionParseTest, RejectsMalformedInput) {
  const BadInput kCases[] = {
      {"", 0, "expected major"},
      {"v1.2.3", 0, "no leading 'v'"},
      {"V1.2.3", 0, "no leading 'v'"},
      {"=1.2.3", 0, "unexpected '='"},
      {" 1.2.3", 0, "unexpected ' '"},
      {"1.2.3 ", 5, "unexpected ' '"},
      {"1.2.3\n", 5, "unexpected byte \\x0a"},
      {"01.2.3", 0, "leading zero in major"},
      {"1.02.3", 2, "leading zero in minor"},
      {"1.2.03", 4, "leading zero in patch"},
      {"00.0.0", 0, "leading zero in major"},
      {"1", 1, "'.' after major"},
      {"1.", 2, "expected minor"},
      {"1.2", 3, "'.' after minor"},
      {"1.2.", 4, "expected patch"},
      {"1..3", 2, "expected minor"},
      {"1.2.3.4", 5, "unexpected '.'"},
      {"1.2.x", 4, "expected patch"},
      {"*", 0, "expected major"},
      {"-1.2.3", 0, "unexpected '-'"},
      {"+1.2.3", 0, "unexpected '+'"},
      {"1.-2.3", 2, "unexpected '-'"},
      {"1.2.3abc", 5, "unexpected 'a'"},
      {"1.2.3-", 6, "empty pre-release identifier"},
      {"1.2.3-.a", 6, "empty pre-release identifier"},
      {"1.2.3-a.", 8, "empty pre-release identifier"},
      {"1.2.3-a..b", 8, "empty pre-release identifier"},
      {"1.2.3-+b", 6, "empty pre-release identifier"},
      {"1.2.3-01", 6, "leading zero in numeric pre-release identifier"},
      {"1.2.3-a.00", 8, "leading zero in numeric pre-release identifier"},
      {"1.2.3-a_b", 7, "unexpected '_'"},
      {"1.2.3-a b", 7, "unexpected ' '"},
      {"1.2.3-\xc3\xbc", 6, "unexpected byte \\xc3"},
      {"1.2.3+", 6, "empty build identifier"},
      {"1.2.3+a..b", 8, "empty build identifier"},
      {"1.2.3+a.", 8, "empty build identifier"},
      {"1.2.3+a+b", 7, "unexpected '+'"},
      {"1.2.3+a-b_c", 9, "unexpected '_'"},
  };
  for (const BadInput& c : kCases) {
    EXPECT_TRUE(IsParseError(Version::Parse(c.text), c.offset, c.detail)) << c.text;
  }
}

TEST(VersionParseTest, RejectsEmbeddedNul) {
  std::string text("1.2.3\0", 6);
  EXPECT_TRUE(IsParseError(Version::Parse(text), 5, "unexpected byte \\x00"));
  std::string mid("1.\0.3", 5);
  EXPECT_TRUE(IsParseError(Version::Parse(mid), 2, "unexpected byte \\x00"));
}

TEST(VersionParseTest, RejectsOverflow) {
  EXPECT_TRUE(IsParseError(Version::Parse("18446744073709551616.0.0"), 0, "major exceeds"));
  EXPECT_TRUE(IsParseError(Version::Parse("1.18446744073709551616.0"), 2, "minor exceeds"));
  EXPECT_TRUE(IsParseError(Version::Parse("1.2.99999999999999999999"), 4, "patch exceeds"));
  EXPECT_TRUE(IsParseError(Version::Parse("1.2.3" + std::string(200, '9')), 4, "patch exceeds"));
}

TEST(VersionParseTest, EnforcesLengthLimit) {
  std::string ok = "1.2.3-" + std::string(250, 'a');
  ASSERT_EQ(ok.size(), 256u);
  EXPECT_TRUE(Version::Parse(ok).ok());
  std::string too_long = ok + "a";
  EXPECT_TRUE(IsParseError(Version::Parse(too_long), 256, "longer than 256 bytes"));
  std::string huge(1 << 20, '1');
  EXPECT_TRUE(IsParseError(Version::Parse(huge), 256));
}

TEST(VersionParseTest, MessageQuotesInputSafely) {
  Result<Version> r = Version::Parse(std::string("1.2.3-\x01\x7f'", 9));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("'1.2.3-\\x01\\x7f\\x27'"), std::string::npos)
      << r.error().message;

  std::string long_input(300, 'z');
  Result<Version> lr = Version::Parse(long_input);
  ASSERT_FALSE(lr.ok());
  EXPECT_NE(lr.error().message.find(std::string(64, 'z') + "...'"), std::string::npos);
  EXPECT_LT(lr.error().message.size(), 200u);
}

// ---- Precedence -------------------------------------------------------------

void ExpectStrictlyIncreasing(const std::vector<const char*>& chain) {
  for (size_t i = 0; i < chain.size(); ++i) {
    for (size_t j = 0; j < chain.size(); ++j) {
      Version a = V(chain[i]);
      Version b = V(chain[j]);
      EXPECT_EQ(a <=> b, i <=> j) << chain[i] << " vs " << chain[j];
      EXPECT_EQ(a == b, i == j) << chain[i] << " vs " << chain[j];
    }
  }
}

TEST(VersionOrderTest, SpecPrereleaseExample) {
  ExpectStrictlyIncreasing({"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
                            "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0"});
}

TEST(VersionOrderTest, NumericComponents) {
  ExpectStrictlyIncreasing({"0.0.0", "0.0.1", "0.0.9", "0.0.10", "0.1.0", "0.9.99", "0.10.0",
                            "1.0.0", "1.9.0", "1.10.0", "1.11.0", "2.0.0", "2.1.0", "2.1.1",
                            "10.0.0", "18446744073709551615.0.0",
                            "18446744073709551615.18446744073709551615.18446744073709551615"});
}

TEST(VersionOrderTest, PrereleaseIdentifiers) {
  ExpectStrictlyIncreasing({"1.0.0-0", "1.0.0-1", "1.0.0-2", "1.0.0-10",
                            "1.0.0-18446744073709551615",
                            "1.0.0-18446744073709551616",  // beyond uint64: still numeric
                            "1.0.0-99999999999999999999999",
                            "1.0.0--",   // numeric < alphanumeric; '-' sorts first in ASCII
                            "1.0.0-0a",  // alphanumeric, compared as ASCII
                            "1.0.0-A", "1.0.0-Z", "1.0.0-a", "1.0.0-a.0", "1.0.0-a.1", "1.0.0-a.a",
                            "1.0.0-a-", "1.0.0-aa", "1.0.0-b", "1.0.0"});
}

TEST(VersionOrderTest, PrereleaseBelowItsRelease) {
  EXPECT_LT(V("1.0.0-rc.99"), V("1.0.0"));
  EXPECT_GT(V("1.0.1-alpha"), V("1.0.0"));
  EXPECT_LT(V("0.0.0-0"), V("0.0.0"));
  EXPECT_LT(V("1.9.9"), V("2.0.0-0"));
}

TEST(VersionOrderTest, BuildMetadataIgnored) {
  EXPECT_EQ(V("1.0.0+a"), V("1.0.0+b"));
  EXPECT_EQ(V("1.0.0+a"), V("1.0.0"));
  EXPECT_EQ(V("1.0.0-alpha+001"), V("1.0.0-alpha"));
  EXPECT_EQ(V("1.0.0-alpha+001") <=> V("1.0.0-alpha+999"), std::strong_ordering::equal);
  EXPECT_LT(V("1.0.0-alpha+zzz"), V("1.0.0-beta+aaa"));
  EXPECT_LT(V("1.0.0+zzz"), V("1.0.1+aaa"));
}

// ---- VersionRange ------------------------------------------------------------

struct MatchCase {
  const char* range;
  const char* version;
  bool matches;
};

void ExpectMatches(const std::vector<MatchCase>& cases) {
  for (const MatchCase& c : cases) {
    VersionRange r = R(c.range);
    EXPECT_EQ(r.Matches(V(c.version)), c.matches) << "'" << c.range << "' vs " << c.version;
  }
}

TEST(VersionRangeTest, Exact) {
  ExpectMatches({
      {"1.2.3", "1.2.3", true},
      {"1.2.3", "1.2.3+build", true},
      {"1.2.3", "1.2.4", false},
      {"1.2.3", "1.2.2", false},
      {"1.2.3", "1.2.3-rc.1", false},
      {"=1.2.3", "1.2.3", true},
      {"=1.2.3", "1.2.4", false},
      {"= 1.2.3", "1.2.3", true},
      {"1.2.3-rc.1", "1.2.3-rc.1", true},
      {"1.2.3-rc.1", "1.2.3-rc.2", false},
      {"1.2.3-rc.1", "1.2.3", false},
      {"1.2.3+a", "1.2.3+b", true},
  });
}

TEST(VersionRangeTest, Comparisons) {
  ExpectMatches({
      {">1.2.3", "1.2.4", true},   {">1.2.3", "1.2.3", false},  {">1.2.3", "1.2.2", false},
      {">1.2.3", "2.0.0", true},   {">=1.2.3", "1.2.3", true},  {">=1.2.3", "1.2.2", false},
      {">=1.2.3", "99.0.0", true}, {"<1.2.3", "1.2.2", true},   {"<1.2.3", "1.2.3", false},
      {"<1.2.3", "0.0.0", true},   {"<=1.2.3", "1.2.3", true},  {"<=1.2.3", "1.2.4", false},
      {">= 1.2.3", "1.2.3", true}, {"<  2.0.0", "1.9.9", true}, {">1.2", "1.2.9", false},
      {">1.2", "1.3.0", true},     {">1", "1.99.99", false},    {">1", "2.0.0", true},
      {">=1.2", "1.2.0", true},    {">=1.2", "1.1.9", false},   {">=1", "1.0.0", true},
      {"<1.2", "1.1.99", true},    {"<1.2", "1.2.0", false},    {"<1", "0.99.0", true},
      {"<1", "1.0.0", false},      {"<=1.2", "1.2.99", true},   {"<=1.2", "1.3.0", false},
      {"<=1", "1.99.0", true},     {"<=1", "2.0.0", false},     {"<=1.x", "1.5.0", true},
      {">1.x.x", "2.0.0", true},   {">1.x.x", "1.9.0", false},  {"=1.2", "1.2.7", true},
      {"=1.2", "1.3.0", false},
  });
}

TEST(VersionRangeTest, Caret) {
  ExpectMatches({
      {"^1.2.3", "1.2.3", true},
      {"^1.2.3", "1.9.9", true},
      {"^1.2.3", "1.2.2", false},
      {"^1.2.3", "2.0.0", false},
      {"^1.2.3", "2.0.0-alpha", false},
      {"^0.2.3", "0.2.3", true},
      {"^0.2.3", "0.2.9", true},
      {"^0.2.3", "0.3.0", false},
      {"^0.2.3", "0.2.2", false},
      {"^0.0.3", "0.0.3", true},
      {"^0.0.3", "0.0.4", false},
      {"^0.0.3", "0.0.2", false},
      {"^0.0.3", "0.0.3+b", true},
      {"^1.2", "1.2.0", true},
      {"^1.2", "1.9.0", true},
      {"^1.2", "1.1.9", false},
      {"^1", "1.0.0", true},
      {"^1", "1.99.0", true},
      {"^1", "2.0.0", false},
      {"^0.2", "0.2.5", true},
      {"^0.2", "0.3.0", false},
      {"^0.0", "0.0.9", true},
      {"^0.0", "0.1.0", false},
      {"^0", "0.9.9", true},
      {"^0", "1.0.0", false},
      {"^1.x", "1.5.0", true},
      {"^*", "3.0.0", true},
      {"^ 1.2.3", "1.3.0", true},
      {"^1.2.3-beta.2", "1.2.3-beta.4", true},
      {"^1.2.3-beta.2", "1.2.3-beta.1", false},
      {"^1.2.3-beta.2", "1.2.4-beta.1", false},
      {"^1.2.3-beta.2", "1.3.0", true},
      {"^0.0.3-beta", "0.0.3-pr.2", true},
      {"^0.0.3-beta", "0.0.4", false},
  });
}

TEST(VersionRangeTest, Tilde) {
  ExpectMatches({
      {"~1.2.3", "1.2.3", true},
      {"~1.2.3", "1.2.9", true},
      {"~1.2.3", "1.3.0", false},
      {"~1.2.3", "1.2.2", false},
      {"~1.2", "1.2.0", true},
      {"~1.2", "1.2.99", true},
      {"~1.2", "1.3.0", false},
      {"~1", "1.0.0", true},
      {"~1", "1.99.0", true},
      {"~1", "2.0.0", false},
      {"~0.2.3", "0.2.5", true},
      {"~0.2.3", "0.3.0", false},
      {"~0.0.3", "0.0.9", true},
      {"~*", "5.5.5", true},
      {"~1.x", "1.9.0", true},
      {"~1.2.3-beta.2", "1.2.3-beta.3", true},
      {"~1.2.3-beta.2", "1.2.4-beta.2", false},
      {"~1.2.3-beta.2", "1.2.4", true},
  });
}

TEST(VersionRangeTest, Wildcards) {
  ExpectMatches({
      {"*", "0.0.0", true},         {"*", "1.2.3", true},     {"*", "1.2.3-alpha", false},
      {"x", "9.9.9", true},         {"X", "9.9.9", true},     {"x.x.x", "9.9.9", true},
      {"1.x", "1.0.0", true},       {"1.x", "1.9.9", true},   {"1.x", "2.0.0", false},
      {"1.x", "0.9.9", false},      {"1.X", "1.5.0", true},   {"1.*", "1.5.0", true},
      {"1.x.x", "1.5.0", true},     {"1.2.x", "1.2.0", true}, {"1.2.x", "1.2.99", true},
      {"1.2.x", "1.3.0", false},    {"1.2.*", "1.2.3", true}, {"1", "1.2.3", true},
      {"1", "2.0.0", false},        {"1.2", "1.2.3", true},   {"1.2", "1.3.0", false},
      {"1.x", "1.5.0-beta", false},
  });
}

TEST(VersionRangeTest, Hyphen) {
  ExpectMatches({
      {"1.2.3 - 2.3.4", "1.2.3", true},
      {"1.2.3 - 2.3.4", "2.3.4", true},
      {"1.2.3 - 2.3.4", "2.3.5", false},
      {"1.2.3 - 2.3.4", "1.2.2", false},
      {"1.2.3 - 2.3.4", "2.0.0", true},
      {"1.2 - 2.3.4", "1.2.0", true},
      {"1.2 - 2.3.4", "1.1.9", false},
      {"1.2.3 - 2.3", "2.3.99", true},
      {"1.2.3 - 2.3", "2.4.0", false},
      {"1.2.3 - 2", "2.99.0", true},
      {"1.2.3 - 2", "3.0.0", false},
      {"* - 2", "0.0.0", true},
      {"1.2.3 - *", "99.0.0", true},
      {"1.2.3 - *", "1.2.2", false},
      {"* - *", "5.0.0", true},
      {"1.2.3\t-\t2.3.4", "2.0.0", true},
      {"1.2.3-rc.1 - 2.0.0", "1.2.3-rc.2", true},
      {"1.2.3 - 2.0.0-rc.1", "2.0.0-beta", true},
      {"1.2.3 - 2.0.0-rc.1", "2.0.0-rc.2", false},
      {"1.2.3 - 2.0.0-rc.1", "2.0.0", false},
  });
}

TEST(VersionRangeTest, AndSets) {
  ExpectMatches({
      {">=1.2.0 <2.0.0", "1.2.0", true},
      {">=1.2.0 <2.0.0", "1.9.9", true},
      {">=1.2.0 <2.0.0", "2.0.0", false},
      {">=1.2.0 <2.0.0", "1.1.9", false},
      {">1.0.0 <1.0.1", "1.0.0", false},
      {">=1.0.0 <=1.0.0", "1.0.0", true},
      {">2.0.0 <1.0.0", "1.5.0", false},
      {"^1.2.0 <1.2.5", "1.2.4", true},
      {"^1.2.0 <1.2.5", "1.2.5", false},
      {"1.x 1.2.x", "1.2.9", true},
  });
}

TEST(VersionRangeTest, OrSets) {
  ExpectMatches({
      {"^1.0.0 || ^2.0.0", "1.5.0", true},
      {"^1.0.0 || ^2.0.0", "2.5.0", true},
      {"^1.0.0 || ^2.0.0", "3.0.0", false},
      {"^1.0.0 || ^2.0.0", "0.9.0", false},
      {"1.2.3||2.0.0", "2.0.0", true},
      {"<1.0.0 || >=3.0.0", "0.5.0", true},
      {"<1.0.0 || >=3.0.0", "2.0.0", false},
      {"1.2.3 - 1.4.0 || 2.x", "2.1.0", true},
      {"1.2.3 - 1.4.0 || 2.x", "1.5.0", false},
  });
}

TEST(VersionRangeTest, PrereleaseRule) {
  ExpectMatches({
      // Only a comparator naming the same M.m.p with a pre-release opts in.
      {">1.2.3-alpha.3", "1.2.3-alpha.7", true},
      {">1.2.3-alpha.3", "3.4.5-alpha.9", false},
      {">1.2.3-alpha.3", "3.4.5", true},
      {">=1.2.3-alpha.3", "1.2.3-alpha.3", true},
      {">=1.2.0", "1.2.3-alpha", false},
      {">=1.2.0 <2.0.0", "1.5.0-rc.1", false},
      {"<2.0.0", "2.0.0-rc.1", false},
      {"<2.0.0-rc.2", "2.0.0-rc.1", true},
      {"<2.0.0-rc.2", "2.0.0-rc.2", false},
      {"<2.0.0-rc.2", "1.5.0-rc.1", false},
      // The opt-in is per AND-set, not per range.
      {">=1.2.3-beta <1.3.0 || >=2.0.0", "1.2.3-beta.1", true},
      {"<1.0.0 || >=1.2.3-beta", "1.2.3-rc", true},
      {">=1.2.3-beta || 1.2.x", "1.2.3-rc", true},
      {">=1.0.0 <1.2.3 || >=1.2.3-beta", "1.2.3-rc", true},
      {"1.x || >=2.0.0-beta", "1.5.0-rc", false},
      // Desugared bounds never admit pre-releases of the next line.
      {"^1.2.3 >=2.0.0-alpha", "2.0.0-beta", false},
      {"<=1.2 >=1.3.0-alpha", "1.3.0-beta", false},
      {"*", "0.0.0-0", false},
  });
}

TEST(VersionRangeTest, WhitespaceIsTrimmed) {
  VersionRange r = R("  \t>=1.2.3   <2.0.0 \n");
  EXPECT_EQ(r.text(), ">=1.2.3   <2.0.0");
  EXPECT_TRUE(r.Matches(V("1.5.0")));
  EXPECT_EQ(R(" ^1.0.0  ||  ^2.0.0 ").sets().size(), 2u);
}

std::string Render(const VersionRange& r) {
  static constexpr const char* kOps[] = {"=", "<", "<=", ">", ">="};
  std::string out;
  for (const auto& set : r.sets()) {
    if (!out.empty()) out += " || ";
    for (size_t i = 0; i < set.size(); ++i) {
      if (i > 0) out += ' ';
      out += kOps[static_cast<int>(set[i].op)];
      out += set[i].version.ToString();
    }
  }
  return out;
}

TEST(VersionRangeTest, Desugaring) {
  const std::pair<const char*, const char*> kCases[] = {
      {"1.2.3", "=1.2.3"},
      {"*", ">=0.0.0"},
      {"1.x", ">=1.0.0 <2.0.0-0"},
      {"1.2", ">=1.2.0 <1.3.0-0"},
      {"^1.2.3", ">=1.2.3 <2.0.0-0"},
      {"^0.2.3", ">=0.2.3 <0.3.0-0"},
      {"^0.0.3", ">=0.0.3 <0.0.4-0"},
      {"^0.0", ">=0.0.0 <0.1.0-0"},
      {"~1.2.3", ">=1.2.3 <1.3.0-0"},
      {"~1", ">=1.0.0 <2.0.0-0"},
      {">1.2", ">=1.3.0"},
      {"<1.2", "<1.2.0-0"},
      {"<=1.2", "<1.3.0-0"},
      {">*", "<0.0.0-0"},
      {"<*", "<0.0.0-0"},
      {"<=*", ">=0.0.0"},
      {"1.2 - 2", ">=1.2.0 <3.0.0-0"},
      {"1.2.3 - 2.3.4", ">=1.2.3 <=2.3.4"},
      {"* - *", ">=0.0.0"},
      {">=1.0.0 <2 || 3", ">=1.0.0 <2.0.0-0 || >=3.0.0 <4.0.0-0"},
  };
  for (const auto& [text, rendered] : kCases) {
    EXPECT_EQ(Render(R(text)), rendered) << text;
  }
}

TEST(VersionRangeTest, BoundsNearUint64MaxDoNotWrap) {
  const std::string max = "18446744073709551615";
  Version top = V(max + "." + max + "." + max);
  EXPECT_TRUE(R("^" + max + ".0.0").Matches(top));
  EXPECT_TRUE(R("~" + max + "." + max).Matches(top));
  EXPECT_TRUE(R("~1." + max + ".0").Matches(V("1." + max + ".7")));
  EXPECT_FALSE(R("~1." + max + ".0").Matches(V("2.0.0")));
  EXPECT_TRUE(R("^0.0." + max).Matches(V("0.0." + max)));
  EXPECT_FALSE(R("^0.0." + max).Matches(V("0.1.0")));
  EXPECT_TRUE(R(max + ".x").Matches(top));
  EXPECT_TRUE(R("<=" + max).Matches(top));
  EXPECT_FALSE(R(">" + max).Matches(top));
  EXPECT_FALSE(R(">" + max + ".x.x").Matches(V("0.0.0")));
  EXPECT_TRUE(R("1.0.0 - " + max).Matches(top));
}

TEST(VersionRangeTest, Any) {
  VersionRange any = VersionRange::Any();
  EXPECT_EQ(any.text(), "*");
  EXPECT_EQ(Render(any), Render(R("*")));
  EXPECT_TRUE(any.Matches(V("0.0.0")));
  EXPECT_TRUE(any.Matches(V("1.2.3+b")));
  EXPECT_TRUE(any.Matches(V("18446744073709551615.0.0")));
  EXPECT_FALSE(any.Matches(V("1.0.0-rc.1")));
}

TEST(VersionRangeTest, ExactMessage) {
  Result<VersionRange> r = VersionRange::Parse(">=1.2.3 <2.0x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kParse);
  EXPECT_EQ(r.error().message,
            "invalid range '>=1.2.3 <2.0x': unexpected 'x' at offset 12, expected whitespace, "
            "'||' or end of range");
}

TEST(VersionRangeTest, RejectsMalformedInput) {
  const BadInput kCases[] = {
      {"", 0, "empty range"},
      {"   ", 3, "empty range"},
      {"||", 0, "unexpected '|'"},
      {"1.x ||", 6, "unexpected end of input"},
      {"1.x ||  ", 6, "unexpected end of input"},
      {"|| 1.x", 0, "unexpected '|'"},
      {"1 || || 2", 5, "unexpected '|'"},
      {"1 | 2", 2, "unexpected '|'"},
      {"1.2.3|2", 5, "'||' between alternatives"},
      {">=", 2, "expected major"},
      {"^", 1, "expected major"},
      {"~>1.2", 1, "unexpected '>'"},
      {"==1", 1, "unexpected '='"},
      {">>1", 1, "unexpected '>'"},
      {"!=1.2.3", 0, "unexpected '!'"},
      {"v1.2.3", 0, "no leading 'v'"},
      {">=v1.2.3", 2, "no leading 'v'"},
      {"1.2.3 -", 7, "upper bound of hyphen range"},
      {"- 1.2.3", 0, "unexpected '-'"},
      {"1.2.3 - 2 - 3", 10, "after hyphen range"},
      {"1.2.3 - 2 3", 10, "after hyphen range"},
      {">=1 - 2", 4, "hyphen range"},
      {"1 2 - 3", 4, "hyphen range"},
      {"1.2.3 - ^2", 8, "unexpected '^'"},
      {"1.2.3 -2.0.0", 6, "unexpected '-'"},
      {"1.x.3", 4, "number after wildcard"},
      {"x.1", 2, "number after wildcard"},
      {"1.x-beta", 3, "pre-release and build need major.minor.patch"},
      {"1.2-beta", 3, "pre-release and build need major.minor.patch"},
      {"1.2+build", 3, "pre-release and build need major.minor.patch"},
      {">=1.2.3<2", 7, "unexpected '<'"},
      {"1.2.3abc", 5, "unexpected 'a'"},
      {"1.2.3.4", 5, "unexpected '.'"},
      {"xyz", 1, "unexpected 'y'"},
      {"1.", 2, "expected minor"},
      {"1..2", 2, "expected minor"},
      {"1.02", 2, "leading zero in minor"},
      {"  1.02", 4, "leading zero in minor"},
      {"^01.2.3", 1, "leading zero in major"},
      {"99999999999999999999", 0, "major exceeds"},
      {">=1.2.3 <1.18446744073709551616", 11, "minor exceeds"},
      {"1.2.3-", 6, "empty pre-release identifier"},
      {"1.2.3-01", 6, "leading zero in numeric pre-release identifier"},
      {"1.2.3+", 6, "empty build identifier"},
      {"1.2.3-a_b", 7, "unexpected '_'"},
      {"1.2.3 foo", 6, "unexpected 'f'"},
      {"^1.2.3 \xff", 7, "unexpected byte \\xff"},
  };
  for (const BadInput& c : kCases) {
    EXPECT_TRUE(IsParseError(VersionRange::Parse(c.text), c.offset, c.detail)) << c.text;
  }
  std::string nul("1.2.3 \0", 7);
  EXPECT_TRUE(IsParseError(VersionRange::Parse(nul), 6, "unexpected byte \\x00"));
}

TEST(VersionRangeTest, EnforcesLengthLimits) {
  // 1024 bytes is accepted: "1.2.3 || " * 113 + "1.2.3" + padding.
  std::string ok;
  while (ok.size() + 9 + 5 <= 1024) ok += "1.2.3 || ";
  ok += "1.2.3";
  ok += std::string(1024 - ok.size(), ' ');
  ASSERT_EQ(ok.size(), 1024u);
  EXPECT_TRUE(VersionRange::Parse(ok).ok());
  EXPECT_TRUE(IsParseError(VersionRange::Parse(ok + " "), 1024, "longer than 1024 bytes"));
  EXPECT_TRUE(IsParseError(VersionRange::Parse(std::string(1 << 20, '*')), 1024));

  // Each version inside a range obeys the version limit.
  std::string v256 = "1.2.3-" + std::string(250, 'a');
  EXPECT_TRUE(VersionRange::Parse(">=" + v256).ok());
  EXPECT_TRUE(IsParseError(VersionRange::Parse(">=" + v256 + "a"), 2, "longer than 256 bytes"));
}

TEST(VersionRangeTest, DefaultConstructedMatchesNothing) {
  VersionRange r;
  EXPECT_TRUE(r.sets().empty());
  EXPECT_FALSE(r.Matches(V("1.0.0")));
}

}  // namespace
}  // namespace atrium
