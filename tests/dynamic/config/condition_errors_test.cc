// Tests for atrium/dynamic/config/condition.h on malformed and hostile
// input: every refusal is a kParse error naming the file, the 0-based byte
// offset and, in the message, the condition and the 1-based column, followed
// by a precise description. Deep nesting, huge inputs and literals, NUL and
// control bytes, and zone names that try to leave the zoneinfo directory.
//
// Concurrency: single-threaded; Parse is pure apart from reading TZif files.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "atrium/dynamic/config/condition.h"

namespace atrium::config {
namespace {

constexpr std::string_view kFile = "config/sets/home.json";

struct Refusal {
  std::string text;
  uint64_t offset;
  std::string what;  // the message after `condition "c": column N: `
};

void ExpectRefused(const Refusal& r) {
  SCOPED_TRACE(r.text.size() > 120 ? r.text.substr(0, 120) + "..." : r.text);
  Result<Condition> c = Condition::Parse(r.text, kFile, "c");
  ASSERT_FALSE(c.ok());
  const Error& e = c.error();
  EXPECT_EQ(e.code, ErrorCode::kParse);
  EXPECT_EQ(e.file, kFile);
  ASSERT_TRUE(e.offset.has_value());
  EXPECT_EQ(*e.offset, r.offset);
  EXPECT_EQ(e.message, "condition \"c\": column " + std::to_string(r.offset + 1) + ": " + r.what);
}

TEST(ConditionErrorsTest, HugeInputIsRefusedBeforeParsing) {
  ExpectRefused(
      {std::string(10'000, '('), 4096, "condition is 10000 bytes, longer than the limit of 4096"});
  ExpectRefused({std::string(100'000, '!'), 4096,
                 "condition is 100000 bytes, longer than the limit of 4096"});
  ExpectRefused({"true" + std::string(4093, ' '), 4096,
                 "condition is 4097 bytes, longer than the limit of 4096"});
}

TEST(ConditionErrorsTest, NestingIsCheckedBeforeRecursing) {
  const std::string deep = "nested deeper than 32 levels of '(' and '!'";
  ExpectRefused({std::string(33, '(') + "true" + std::string(33, ')'), 32, deep});
  ExpectRefused({std::string(4000, '('), 32, deep});
  ExpectRefused({std::string(4000, '!') + "true", 32, deep});
  std::string mixed;
  for (int i = 0; i < 17; ++i) mixed += "!(";
  ExpectRefused({mixed + "true" + std::string(17, ')'), 32, deep});
}

TEST(ConditionErrorsTest, TooManyNodes) {
  std::string chain = "true";
  for (int i = 1; i < 129; ++i) chain += "&&true";  // the 129th atom is node 257
  ExpectRefused({chain, 128 * 6, "more than 256 conditions and operators"});
}

TEST(ConditionErrorsTest, Literals) {
  ExpectRefused({"device.model == \"" + std::string(257, 'm') + "\"", 16,
                 "string longer than the limit of 256 bytes"});
  ExpectRefused({R"(device.os == "android)", 13, "unterminated string"});
  ExpectRefused({R"(device.os == "android\)", 13, "unterminated string"});
  ExpectRefused(
      {R"(device.os == "a\qb")", 15, R"(unknown escape \q in a string (allowed: \" \\ \n \t))"});
  ExpectRefused(
      {"device.os == \"a\nb\"", 15, R"(control character byte 0x0a in a string (write \n or \t))"});
  ExpectRefused({std::string("device.os == \"a\0b\"", 18), 15,
                 R"(control character byte 0x00 in a string (write \n or \t))"});
  ExpectRefused({"device.os == \"a\x7f\"", 15,
                 R"(control character byte 0x7f in a string (write \n or \t))"});
  ExpectRefused({"device.memory_mb > 99999999999999999999", 19,
                 "integer 99999999999999999999 for device.memory_mb is out of the 64-bit range"});
  ExpectRefused({"device.cores < -9223372036854775809", 15,
                 "integer -9223372036854775809 for device.cores is out of the 64-bit range"});
  ExpectRefused({"signal.x < 1" + std::string(400, '0'), 11,
                 "number 1000000000000000000000000000000000000000... for signal.x is out of "
                 "range"});
  ExpectRefused({"device.cores > 1.", 16, "expected a digit after '.' in a number"});
  ExpectRefused({"device.cores > -x", 15, "expected a digit after '-'"});
}

TEST(ConditionErrorsTest, StrayBytes) {
  ExpectRefused({std::string("true\0&& true", 12), 4, "unexpected byte 0x00"});
  ExpectRefused({"true\x01", 4, "unexpected byte 0x01"});
  ExpectRefused({"true\r\n", 4, "unexpected byte 0x0d"});
  ExpectRefused({"true && \xc3\xa9", 8, "unexpected byte 0xc3"});
  ExpectRefused({"true & false", 5, "unexpected '&' (did you mean '&&'?)"});
  ExpectRefused({"true | false", 5, "unexpected '|' (did you mean '||'?)"});
  ExpectRefused({R"(device.os = "x")", 10, "unexpected '=' (did you mean '=='?)"});
  ExpectRefused({"true ; false", 5, "unexpected ';'"});
}

TEST(ConditionErrorsTest, Structure) {
  ExpectRefused({"", 0, "empty condition"});
  ExpectRefused({" \n\t ", 0, "empty condition"});
  ExpectRefused({"true &&", 7, "expected a condition, found end of input"});
  ExpectRefused({"&& true", 0, "expected a condition, found '&&'"});
  ExpectRefused({"(true", 5, "expected ')' to close the '(' at column 1, found end of input"});
  ExpectRefused({"true false", 5,
                 "unexpected 'false' after the end of the condition (join conditions with && "
                 "or ||)"});
  ExpectRefused({"true)", 4,
                 "unexpected ')' after the end of the condition (join conditions with && or "
                 "||)"});
  ExpectRefused({"true and false", 5,
                 "unexpected 'and' after the end of the condition (join conditions with && or "
                 "||)"});
  ExpectRefused({"\"CN\" == device.country", 0, "expected a condition, found string \"CN\""});
}

TEST(ConditionErrorsTest, FieldsAndOperators) {
  ExpectRefused({R"(device.colour == "red")", 0, "unknown field 'device.colour'"});
  ExpectRefused({R"(true && Device.os == "x")", 8, "unknown field 'Device.os'"});
  ExpectRefused({"device.country < \"CN\"", 15,
                 "expected ==, !=, in, not in, contains or starts_with after device.country, "
                 "found '<'"});
  ExpectRefused({"device.country", 14,
                 "expected ==, !=, in, not in, contains or starts_with after device.country, "
                 "found end of input"});
  ExpectRefused(
      {R"(device.os not "x")", 14, "expected 'in' after 'not' for device.os, found string \"x\""});
  ExpectRefused({"device.cores contains 1", 13,
                 "expected ==, !=, <, <=, > or >= after device.cores, found 'contains'"});
  ExpectRefused({R"(app.version starts_with "1")", 12,
                 "expected ==, !=, <, <=, >, >= or satisfies after app.version, found "
                 "'starts_with'"});
  ExpectRefused({R"(signal.tier starts_with "g")", 12,
                 "expected ==, !=, in, not in, contains, <, <=, > or >= after signal.tier, "
                 "found 'starts_with'"});
  ExpectRefused({R"(signal.Tier == "x")", 7,
                 "invalid signal name 'Tier' (expected [a-z_][a-z0-9_]*, at most 64 bytes)"});
  ExpectRefused({R"(signal. == "x")", 7,
                 "invalid signal name '' (expected [a-z_][a-z0-9_]*, at most 64 bytes)"});
  ExpectRefused({"signal.a.b == \"x\"", 7,
                 "invalid signal name 'a.b' (expected [a-z_][a-z0-9_]*, at most 64 bytes)"});
  ExpectRefused({"signal." + std::string(65, 'a') + " == \"x\"", 7,
                 "invalid signal name '" + std::string(40, 'a') +
                     "...' (expected [a-z_][a-z0-9_]*, at most 64 bytes)"});
}

TEST(ConditionErrorsTest, WrongLiteralTypes) {
  ExpectRefused({"device.country == 5", 18,
                 "expected a string after '==' for device.country, found number 5"});
  ExpectRefused({"device.country contains CN", 24,
                 "expected a string after 'contains' for device.country, found 'CN'"});
  ExpectRefused({R"(device.memory_mb > "4")", 19,
                 "expected an integer after '>' for device.memory_mb, found string \"4\""});
  ExpectRefused({"device.cores >= 2.5", 16,
                 "expected an integer after '>=' for device.cores, found number 2.5"});
  ExpectRefused(
      {"app.version > 1", 14, "expected a string after '>' for app.version, found number 1"});
  ExpectRefused({R"(app.version > "1.2")", 14,
                 "expected a semantic version for app.version: invalid version '1.2': "
                 "unexpected end of input at offset 3, expected '.' after minor"});
  ExpectRefused({R"(app.version satisfies "^1.x.2 ||")", 22,
                 "expected a version range for app.version: invalid range '^1.x.2 ||': number "
                 "after wildcard in patch at offset 5, expected 'x', 'X' or '*'"});
  ExpectRefused({R"(signal.score > "4")", 15,
                 "expected a number after '>' for signal.score, found string \"4\""});
  ExpectRefused(
      {"signal.tier == gold", 15, "expected a string after '==' for signal.tier, found 'gold'"});
}

TEST(ConditionErrorsTest, Lists) {
  ExpectRefused({"device.country in []", 19, "empty list after 'in' for device.country"});
  ExpectRefused({R"(signal.t not in [])", 17, "empty list after 'in' for signal.t"});
  ExpectRefused({R"(device.country in "CN")", 18,
                 "expected '[' after 'in' for device.country, found string \"CN\""});
  ExpectRefused({R"(device.country in ["CN",])", 24,
                 "expected a string after 'in [' for device.country, found ']'"});
  ExpectRefused({R"(device.country in ["CN" "SG"])", 24,
                 "expected ',' or ']' in the list for device.country, found string \"SG\""});
  ExpectRefused({R"(device.country in ["CN", 1])", 25,
                 "expected a string after 'in [' for device.country, found number 1"});
  std::string list = "device.country in [";
  for (int i = 0; i < 100; ++i) list += "\"X\",";
  ExpectRefused(
      {list + "\"CN\"]", 19 + 100 * 4, "list for device.country has more than 100 items"});
}

TEST(ConditionErrorsTest, Dates) {
  const std::string at = "date.now > date(\"2026-01-01T00:00:00\", ";  // zone at 39
  ExpectRefused({at + "\"../../etc/passwd\")", 39,
                 "invalid time zone name '../../etc/passwd' (expected an IANA name such as "
                 "Asia/Shanghai, +HH:MM or UTC)"});
  ExpectRefused({at + "\"/etc/passwd\")", 39,
                 "invalid time zone name '/etc/passwd' (expected an IANA name such as "
                 "Asia/Shanghai, +HH:MM or UTC)"});
  ExpectRefused({at + "\"Asia/../../../etc/passwd\")", 39,
                 "invalid time zone name 'Asia/../../../etc/passwd' (expected an IANA name such "
                 "as Asia/Shanghai, +HH:MM or UTC)"});
  ExpectRefused({at + "\"Asia/Shang hai\")", 39,
                 "invalid time zone name 'Asia/Shang hai' (expected an IANA name such as "
                 "Asia/Shanghai, +HH:MM or UTC)"});
  ExpectRefused({at + "\"\")", 39,
                 "invalid time zone name '' (expected an IANA name such as Asia/Shanghai, "
                 "+HH:MM or UTC)"});
  ExpectRefused({at + "\"" + std::string(65, 'A') + "\")", 39,
                 "invalid time zone name '" + std::string(40, 'A') +
                     "...' (expected an IANA name such as Asia/Shanghai, +HH:MM or UTC)"});
  ExpectRefused({at + "\"Mars/Olympus_Mons\")", 39, "unknown time zone 'Mars/Olympus_Mons'"});
  ExpectRefused({at + "\"Asia\")", 39, "unknown time zone 'Asia'"});  // a directory
  ExpectRefused({at + "\"+8\")", 39, "invalid UTC offset '+8' (expected +HH:MM or -HH:MM)"});
  ExpectRefused(
      {at + "\"+24:00\")", 39, "invalid UTC offset '+24:00' (expected +HH:MM or -HH:MM)"});
  ExpectRefused({at + "5)", 39, "expected a string after ',' for date(), found number 5"});
  ExpectRefused({R"(date.now > date("2026-02-29T00:00:00"))", 16,
                 "invalid date-time \"2026-02-29T00:00:00\": day out of range"});
  ExpectRefused({R"(date.now > date("2026-13-01T00:00:00"))", 16,
                 "invalid date-time \"2026-13-01T00:00:00\": month out of range"});
  ExpectRefused({R"(date.now > date("2026-01-01T24:00:00"))", 16,
                 "invalid date-time \"2026-01-01T24:00:00\": time of day out of range"});
  ExpectRefused({R"(date.now > date("2026-01-01 00:00:00"))", 16,
                 "invalid date-time \"2026-01-01 00:00:00\": expected YYYY-MM-DDTHH:MM:SS"});
  ExpectRefused({R"(date.now == date("2026-01-01T00:00:00"))", 9,
                 "expected <, <=, > or >= after date.now, found '=='"});
  ExpectRefused({R"(date.now > "2026-01-01T00:00:00")", 11,
                 "expected date(\"YYYY-MM-DDTHH:MM:SS\") after '>' for date.now, found string "
                 "\"2026-01-01T00:00:00\""});
  ExpectRefused({R"(date.now > date("2026-01-01T00:00:00", "UTC", "x"))", 44,
                 "expected ')' to close 'date(', found ','"});
}

TEST(ConditionErrorsTest, Percents) {
  ExpectRefused({"percent <= 100.000001", 11, "percentage 100.000001 is not between 0 and 100"});
  ExpectRefused({"percent <= 1000", 11, "percentage 1000 is not between 0 and 100"});
  ExpectRefused({"percent > -1", 10, "percentage -1 is not between 0 and 100"});
  ExpectRefused({"percent <= 12.1234567", 11, "percentage 12.1234567 has more than 6 decimals"});
  ExpectRefused({"percent <= \"12\"", 11,
                 "expected a percentage after '<=' for percent, found string \"12\""});
  ExpectRefused({"percent < 12", 8, "expected <=, > or between after percent, found '<'"});
  ExpectRefused({"percent between 50 and 20", 16,
                 "percent between: the lower bound is above the upper bound"});
  ExpectRefused({"percent between 20 50", 19,
                 "expected 'and' after the lower bound of percent between, found number 50"});
  ExpectRefused({R"(percent("bad seed") <= 5)", 8,
                 "invalid percent seed \"bad seed\" (0 to 32 bytes of [-_.0-9a-zA-Z])"});
  ExpectRefused(
      {"percent(\"" + std::string(33, 's') + "\") <= 5", 8,
       "invalid percent seed \"" + std::string(33, 's') + "\" (0 to 32 bytes of [-_.0-9a-zA-Z])"});
  ExpectRefused(
      {"percent(promo) <= 5", 8, "expected a string after 'percent(' for percent, found 'promo'"});
  ExpectRefused({R"(percent("promo" <= 5)", 16, "expected ')' after the percent seed, found '<='"});
}

}  // namespace
}  // namespace atrium::config
