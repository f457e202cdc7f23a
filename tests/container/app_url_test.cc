// Tests for ParseAppUrl/FormatAppUrl: the accepted grammar, the offset and
// wording of each kind of error, canonical formatting, and round trips over
// hand-picked and deterministically mutated hostile inputs.
#include "atrium/app_url.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "atrium/result.h"

namespace atrium {
namespace {

using Params = std::vector<std::pair<std::string, std::string>>;

AppUrl ParseOrDie(std::string_view url) {
  Result<AppUrl> parsed = ParseAppUrl(url);
  if (!parsed.ok()) {
    ADD_FAILURE() << "ParseAppUrl(\"" << url << "\"): " << parsed.error().ToString();
    return {};
  }
  return std::move(parsed).value();
}

TEST(AppUrlTest, ParsesAppIdAndParamsInOrder) {
  AppUrl url = ParseOrDie("atrium://app/wallet?k=v&k2=v2#ignored");
  EXPECT_EQ(url.app_id, "wallet");
  EXPECT_EQ(url.params, (Params{{"k", "v"}, {"k2", "v2"}}));
}

TEST(AppUrlTest, APathNamesAPageInsideTheMicroApp) {
  AppUrl url = ParseOrDie("atrium://app/help/bills/2026-11.html?month=11#top");
  EXPECT_EQ(url.app_id, "help");
  EXPECT_EQ(url.path, "bills/2026-11.html");
  ASSERT_EQ(url.params.size(), 1u);
  EXPECT_EQ(ParseOrDie("atrium://app/help/a.b_c~d-e").path, "a.b_c~d-e");
  EXPECT_EQ(ParseOrDie("atrium://app/help").path, "");
  EXPECT_EQ(FormatAppUrl(url), "atrium://app/help/bills/2026-11.html?month=11");
  EXPECT_EQ(ParseOrDie(FormatAppUrl(url)), url);
  // A path outside the grammar is escaped, and the parser says so.
  AppUrl bad{"help", {}, "a?b"};
  EXPECT_EQ(FormatAppUrl(bad), "atrium://app/help/a%3Fb");
  EXPECT_FALSE(ParseAppUrl(FormatAppUrl(bad)).ok());
}

TEST(AppUrlTest, NoQueryAndEmptyQuery) {
  for (const char* text : {"atrium://app/wallet", "atrium://app/wallet?", "atrium://app/wallet#",
                           "atrium://app/wallet?#x", "atrium://app/wallet?&&&"}) {
    AppUrl url = ParseOrDie(text);
    EXPECT_EQ(url.app_id, "wallet") << text;
    EXPECT_TRUE(url.params.empty()) << text;
  }
}

TEST(AppUrlTest, SchemeAndHostAreCaseInsensitive) {
  for (const char* text : {"ATRIUM://APP/wallet", "Atrium://aPp/wallet", "aTrIuM://app/wallet"}) {
    EXPECT_EQ(ParseOrDie(text).app_id, "wallet") << text;
  }
}

TEST(AppUrlTest, RepeatedKeysEmptyValuesAndBareKeys) {
  AppUrl url = ParseOrDie("atrium://app/a?tag=x&flag&tag=y&empty=&tag=x&eq=a=b==");
  EXPECT_EQ(
      url.params,
      (Params{
          {"tag", "x"}, {"flag", ""}, {"tag", "y"}, {"empty", ""}, {"tag", "x"}, {"eq", "a=b=="}}));
}

TEST(AppUrlTest, EmptyPiecesAreSkipped) {
  AppUrl url = ParseOrDie("atrium://app/a?&a=1&&b=2&");
  EXPECT_EQ(url.params, (Params{{"a", "1"}, {"b", "2"}}));
}

TEST(AppUrlTest, PercentDecodingAndLiteralPlus) {
  AppUrl url = ParseOrDie(
      "atrium://app/a?q=a+b%20c%2Bd&%26%3D=%3d%26&euro=%E2%82%AC&lo=%c3%a9&nl=%0A&hash=%23");
  EXPECT_EQ(url.params, (Params{{"q", "a+b c+d"},
                                {"&=", "=&"},
                                {"euro", "\xE2\x82\xAC"},
                                {"lo", "\xC3\xA9"},
                                {"nl", "\n"},
                                {"hash", "#"}}));
}

TEST(AppUrlTest, QueryMayContainSlashQuestionMarkAndRawNonAscii) {
  AppUrl url = ParseOrDie("atrium://app/a?next=/b/c?d=e&name=\xE2\x82\xAC!*'();:@$,");
  EXPECT_EQ(url.params, (Params{{"next", "/b/c?d=e"}, {"name", "\xE2\x82\xAC!*'();:@$,"}}));
}

TEST(AppUrlTest, FragmentIsIgnoredEvenWhenMalformed) {
  AppUrl url = ParseOrDie("atrium://app/a?k=v#x&y=%zz/../?#");
  EXPECT_EQ(url.params, (Params{{"k", "v"}}));
  EXPECT_TRUE(ParseOrDie("atrium://app/a#/more/segments").params.empty());
}

TEST(AppUrlTest, AppIdBoundaries) {
  EXPECT_EQ(ParseOrDie("atrium://app/a").app_id, "a");
  EXPECT_EQ(ParseOrDie("atrium://app/z0_-9").app_id, "z0_-9");
  const std::string longest = "a" + std::string(63, '9');
  EXPECT_EQ(ParseOrDie("atrium://app/" + longest).app_id, longest);

  Result<AppUrl> too_long = ParseAppUrl("atrium://app/" + longest + "x?k=v");
  ASSERT_FALSE(too_long.ok());
  EXPECT_EQ(too_long.error().code, ErrorCode::kParse);
  EXPECT_EQ(too_long.error().offset, 13u + 64u);
  EXPECT_NE(too_long.error().message.find("limit is 64"), std::string::npos)
      << too_long.error().message;
}

TEST(AppUrlTest, LengthLimit) {
  const std::string head = "atrium://app/a?k=";
  std::string at_limit = head + std::string(kMaxAppUrlBytes - head.size(), 'v');
  ASSERT_EQ(at_limit.size(), kMaxAppUrlBytes);
  EXPECT_EQ(ParseOrDie(at_limit).params.at(0).second.size(), kMaxAppUrlBytes - head.size());

  Result<AppUrl> over = ParseAppUrl(at_limit + "v");
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().code, ErrorCode::kParse);
  EXPECT_EQ(over.error().offset, kMaxAppUrlBytes);
  EXPECT_NE(over.error().message.find("8193 bytes"), std::string::npos) << over.error().message;

  // Checked before anything else, so a huge input is rejected without a scan.
  Result<AppUrl> huge = ParseAppUrl(std::string(1 << 20, '\0'));
  ASSERT_FALSE(huge.ok());
  EXPECT_EQ(huge.error().offset, kMaxAppUrlBytes);
}

TEST(AppUrlTest, CanonicalFormCanOutgrowTheLimit) {
  // Raw bytes that FormatAppUrl escapes triple in size; the parser then
  // rejects the canonical text for its length rather than truncating it.
  const std::string head = "atrium://app/a?k=";
  AppUrl url = ParseOrDie(head + std::string(kMaxAppUrlBytes - head.size(), '!'));
  const std::string text = FormatAppUrl(url);
  EXPECT_GT(text.size(), kMaxAppUrlBytes);
  Result<AppUrl> reparsed = ParseAppUrl(text);
  ASSERT_FALSE(reparsed.ok());
  EXPECT_EQ(reparsed.error().offset, kMaxAppUrlBytes);
}

struct BadUrl {
  std::string url;
  uint64_t offset;
  std::string says;  // A piece of the message.
};

std::ostream& operator<<(std::ostream& os, const BadUrl& bad) {
  return os << '"' << bad.url << '"';
}

class AppUrlErrorTest : public ::testing::TestWithParam<BadUrl> {};

TEST_P(AppUrlErrorTest, IsParseErrorAtOffset) {
  const BadUrl& bad = GetParam();
  Result<AppUrl> parsed = ParseAppUrl(bad.url);
  ASSERT_FALSE(parsed.ok()) << "parsed as app " << parsed->app_id;
  const Error& error = parsed.error();
  EXPECT_EQ(error.code, ErrorCode::kParse);
  ASSERT_TRUE(error.offset.has_value());
  EXPECT_EQ(*error.offset, bad.offset) << error.message;
  EXPECT_NE(error.message.find(bad.says), std::string::npos) << error.message;
  EXPECT_NE(error.ToString().find("@" + std::to_string(bad.offset)), std::string::npos);
}

// Offsets: "atrium" 0-5, ':' 6, "//" 7-8, host 9-11, '/' 12, appId from 13.
INSTANTIATE_TEST_SUITE_P(
    Hostile, AppUrlErrorTest,
    ::testing::Values(
        // Scheme.
        BadUrl{"", 0, "atrium://"}, BadUrl{"wallet", 0, "atrium://"},
        BadUrl{"http://app/x", 0, "scheme is 'http'"},
        BadUrl{"atriumx://app/x", 0, "scheme is 'atriumx'"}, BadUrl{"atrium ://app/x", 6, "space"},
        BadUrl{"://app/x", 0, "scheme is ''"}, BadUrl{"atrium:app/x", 7, "'//'"},
        BadUrl{"atrium:/app/x", 7, "'//'"}, BadUrl{"atrium:", 7, "'//'"},
        // Host.
        BadUrl{"atrium://", 9, "missing host"}, BadUrl{"atrium:///x", 9, "missing host"},
        BadUrl{"atrium://apps/x", 9, "host is 'apps'"}, BadUrl{"atrium://ap/x", 9, "host is 'ap'"},
        BadUrl{"atrium://evil.com/x", 9, "host is 'evil.com'"},
        BadUrl{"atrium://user@app/x", 13, "user info"},
        BadUrl{"atrium://app@evil/x", 12, "user info"}, BadUrl{"atrium://app:80/x", 12, "port"},
        BadUrl{"atrium://app:/x", 12, "port"}, BadUrl{"atrium://%61pp/x", 9, "host is '%61pp'"},
        // Path and appId.
        BadUrl{"atrium://app", 12, "missing appId"},
        BadUrl{"atrium://app?k=v", 12, "missing appId"},
        BadUrl{"atrium://app#x", 12, "missing appId"}, BadUrl{"atrium://app/", 13, "missing appId"},
        BadUrl{"atrium://app/?k=v", 13, "missing appId"},
        BadUrl{"atrium://app/#x", 13, "missing appId"},
        BadUrl{"atrium://app//wallet", 13, "missing appId"},
        BadUrl{"atrium://app/Wallet", 13, "lower-case letter"},
        BadUrl{"atrium://app/1wallet", 13, "lower-case letter"},
        BadUrl{"atrium://app/_wallet", 13, "lower-case letter"},
        BadUrl{"atrium://app/-wallet", 13, "lower-case letter"},
        BadUrl{"atrium://app/\xC3\xA9", 13, "'\\xC3'"},
        BadUrl{"atrium://app/walLet", 16, "only a-z"}, BadUrl{"atrium://app/wal.let", 16, "'.'"},
        BadUrl{"atrium://app/wal%6Cet", 16, "'%'"}, BadUrl{"atrium://app/w;x", 14, "';'"},
        BadUrl{"atrium://app/w\xE2\x82\xAC", 14, "'\\xE2'"},
        // Path.
        BadUrl{"atrium://app/wallet/", 20, "empty path segment"},
        BadUrl{"atrium://app/wallet/a//b", 22, "empty path segment"},
        BadUrl{"atrium://app/wallet/../other", 20, "path segment '..' is not allowed"},
        BadUrl{"atrium://app/wallet/a/./b", 22, "path segment '.' is not allowed"},
        BadUrl{"atrium://app/wallet/a%2e%2e", 21, "not '%'"},
        BadUrl{"atrium://app/wallet/a\\b", 21, "not '\\'"},
        BadUrl{"atrium://app/wallet/a b", 21, "space"},
        BadUrl{"atrium://app/wallet/" + std::string(1025, 'a'), 1044, "the limit is 1024"},
        BadUrl{"atrium://app/.", 13, "lower-case letter"},
        // Query.
        BadUrl{"atrium://app/w?k=%zz", 17, "invalid percent-escape '%zz'"},
        BadUrl{"atrium://app/w?k=%4", 17, "truncated percent-escape '%4'"},
        BadUrl{"atrium://app/w?k=%", 17, "truncated"},
        BadUrl{"atrium://app/w?k=%4&x=1", 17, "truncated"},
        BadUrl{"atrium://app/w?k=%4#1", 17, "truncated"},
        BadUrl{"atrium://app/w?k=%%41", 17, "invalid percent-escape '%%4'"},
        BadUrl{"atrium://app/w?k=%G1", 17, "invalid"},
        BadUrl{"atrium://app/w?k=%1g", 17, "invalid"},
        BadUrl{"atrium://app/w?k=%+1", 17, "invalid"}, BadUrl{"atrium://app/w?k=ok%00", 19, "NUL"},
        BadUrl{"atrium://app/w?%00=v", 15, "NUL"},
        BadUrl{"atrium://app/w?%zz=v", 15, "parameter name"},
        BadUrl{"atrium://app/w?k=%zz", 17, "parameter value"},
        BadUrl{"atrium://app/w?=v", 15, "empty name"}, BadUrl{"atrium://app/w?=", 15, "empty name"},
        BadUrl{"atrium://app/w?a=1&=v", 19, "empty name"},
        // Control characters and spaces anywhere, fragment included.
        BadUrl{std::string("\0atrium://app/w", 15), 0, "control character '\\x00'"},
        BadUrl{std::string("atrium://app/w?k=a\0b", 20), 18, "'\\x00'"},
        BadUrl{"atrium://app/w?k=a\nb", 18, "control character '\\x0A'"},
        BadUrl{"atrium://app/w\r\n", 14, "'\\x0D'"}, BadUrl{"atrium://app/w\t", 14, "control"},
        BadUrl{"atrium://app/w#frag\x7F", 19, "'\\x7F'"},
        BadUrl{"atrium://app/w#\x1B[31m", 15, "control"},
        BadUrl{"atrium://app/w?k=a b", 18, "space"}, BadUrl{" atrium://app/w", 0, "space"},
        BadUrl{"atrium://app/w ", 14, "space"}));

TEST(AppUrlTest, LongWrongSchemeIsQuotedShort) {
  Result<AppUrl> parsed = ParseAppUrl(std::string(1000, 'x') + "://app/w");
  ASSERT_FALSE(parsed.ok());
  EXPECT_LT(parsed.error().message.size(), 100u) << parsed.error().message;
  EXPECT_NE(parsed.error().message.find("...'"), std::string::npos);
}

TEST(AppUrlTest, FormatIsCanonical) {
  EXPECT_EQ(FormatAppUrl({"wallet", {}}), "atrium://app/wallet");
  EXPECT_EQ(FormatAppUrl({"wallet", {{"a", "1"}, {"b", "x y"}, {"c", "+"}, {"flag", ""}}}),
            "atrium://app/wallet?a=1&b=x%20y&c=%2B&flag=");
  EXPECT_EQ(FormatAppUrl({"w", {{"k&=", "%#?/\xE2\x82\xAC"}, {"Az09-._~", "~"}}}),
            "atrium://app/w?k%26%3D=%25%23%3F%2F%E2%82%AC&Az09-._~=~");
  EXPECT_EQ(FormatAppUrl(ParseOrDie("ATRIUM://App/w?flag&k=a+b&e=%e2%82%ac#frag")),
            "atrium://app/w?flag=&k=a%2Bb&e=%E2%82%AC");
}

TEST(AppUrlTest, FormatDoesNotHideInvalidInput) {
  // An invalid AppUrl formats to a URL that the parser rejects.
  for (const AppUrl& bad :
       {AppUrl{"", {}}, AppUrl{"Wallet", {}}, AppUrl{"a/b", {}}, AppUrl{"w", {{"", "v"}}},
        AppUrl{"w", {{"k", std::string(1, '\0')}}}, AppUrl{std::string(65, 'a'), {}}}) {
    Result<AppUrl> parsed = ParseAppUrl(FormatAppUrl(bad));
    EXPECT_FALSE(parsed.ok()) << FormatAppUrl(bad);
  }
}

void ExpectRoundTrip(const AppUrl& url) {
  const std::string text = FormatAppUrl(url);
  for (char c : text) {
    ASSERT_TRUE(c > 0x20 && c < 0x7F) << "formatted URL must be printable ASCII: " << text;
  }
  Result<AppUrl> parsed = ParseAppUrl(text);
  ASSERT_TRUE(parsed.ok()) << text << ": " << parsed.error().ToString();
  EXPECT_EQ(*parsed, url) << text;
  EXPECT_EQ(FormatAppUrl(*parsed), text);
}

TEST(AppUrlTest, FormatThenParseRoundTrips) {
  std::string every_byte;
  for (int i = 1; i < 256; ++i) every_byte.push_back(static_cast<char>(i));
  ExpectRoundTrip({"wallet", {}});
  ExpectRoundTrip({"a", {{"k", ""}}});
  ExpectRoundTrip({"a", {{"k", "v"}, {"k", "v"}, {"k", "w"}}});
  ExpectRoundTrip({"a-b_c-9", {{"every", every_byte}, {every_byte, "key"}}});
  ExpectRoundTrip({"x", {{"+", "+"}, {"%", "%25"}, {"&", "="}, {"#", "?"}, {" ", "\t\n"}}});
  ExpectRoundTrip({"x", {{"path", "/a/b/../c"}, {"url", "atrium://app/y?k=v#f"}}});
  ExpectRoundTrip({"a" + std::string(63, 'z'), {{"\xFF\xFE", "\xC0\x80"}}});
}

TEST(AppUrlTest, ParseThenFormatRoundTripsForRawInputs) {
  for (const char* text : {"atrium://app/w?a=1&a=2&b", "ATRIUM://APP/w?x=%41%2b+&y=\xE2\x82\xAC#f",
                           "atrium://app/w?next=/a?b=c&&", "atrium://app/w?k=!$'()*,;:@[]"}) {
    AppUrl url = ParseOrDie(text);
    ExpectRoundTrip(url);
  }
}

// A deterministic stand-in for the fuzzer: mutate valid URLs byte by byte and
// check that every outcome is either a round-tripping AppUrl or a kParse
// error inside the input.
TEST(AppUrlTest, MutatedInputsParseOrFailCleanly) {
  const std::vector<std::string> seeds = {
      "atrium://app/wallet?k=v&k2=v2#ignored",
      "atrium://app/a?%41=%e2%82%ac&flag&x=", "ATRIUM://App/pay-2_x?to=%2Fhome&amt=1+2",
      "atrium://app/w?&&=#"};
  const std::string alphabet = std::string("%&=?#/:@+ .aAzZ09_-\x7F\x80\xFF\n", 23) + '\0';
  std::mt19937 rng(20240611);  // Fixed seed: the test is deterministic.
  int parsed_ok = 0;
  int failed = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string text = seeds[rng() % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const size_t at = text.empty() ? 0 : rng() % (text.size() + 1);
      const char c = alphabet[rng() % alphabet.size()];
      switch (rng() % 3) {
        case 0:
          text.insert(text.begin() + at, c);
          break;
        case 1:
          if (at < text.size()) text[at] = c;
          break;
        default:
          if (at < text.size()) text.erase(at, 1);
          break;
      }
    }
    Result<AppUrl> parsed = ParseAppUrl(text);
    if (parsed.ok()) {
      ++parsed_ok;
      ExpectRoundTrip(*parsed);
    } else {
      ++failed;
      ASSERT_EQ(parsed.error().code, ErrorCode::kParse) << text;
      ASSERT_TRUE(parsed.error().offset.has_value()) << text;
      ASSERT_LE(*parsed.error().offset, text.size()) << text;
      ASSERT_FALSE(parsed.error().message.empty());
    }
    if (HasFatalFailure()) return;
  }
  // Both paths must have been exercised for the test to mean anything.
  EXPECT_GT(parsed_ok, 1000);
  EXPECT_GT(failed, 1000);
}

}  // namespace
}  // namespace atrium
