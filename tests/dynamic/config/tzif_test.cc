// Tests for the TZif reader behind date("...", "Zone") (dynamic/config/src/
// tzif.h): hand-made v1 and v2 files, the POSIX TZ footer rules of both
// hemispheres, leap-second and malformed files, and every truncation of a
// real zone file.
//
// Concurrency: single-threaded.
#include "tzif.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "atrium/base/file_util.h"

namespace atrium::config::internal {
namespace {

void Put(std::string& out, uint64_t value, int width) {
  for (int i = width - 1; i >= 0; --i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

struct Type {
  int32_t offset;
  bool dst;
};

// One TZif block (header + data) with 4- or 8-byte times.
std::string Block(char version, int width, const std::vector<int64_t>& times,
                  const std::vector<uint8_t>& indices, const std::vector<Type>& types,
                  uint32_t leapcnt = 0) {
  std::string out = "TZif";
  out.push_back(version);
  out.append(15, '\0');
  for (uint64_t count : {uint64_t{0}, uint64_t{0}, uint64_t{leapcnt}, uint64_t{times.size()},
                         uint64_t{types.size()}, uint64_t{4}}) {
    Put(out, count, 4);
  }
  for (int64_t t : times) Put(out, static_cast<uint64_t>(t), width);
  for (uint8_t i : indices) out.push_back(static_cast<char>(i));
  for (const Type& t : types) {
    Put(out, static_cast<uint32_t>(t.offset), 4);
    out.push_back(t.dst ? 1 : 0);
    out.push_back(0);
  }
  out.append("XXX\0", 4);
  for (uint32_t i = 0; i < leapcnt; ++i) Put(out, 0, width + 4);
  return out;
}

TEST(TzifTest, VersionOneFile) {
  // UTC+1 until t = 1000, then UTC+2.
  const std::string file = Block('\0', 4, {1000}, {1}, {{3600, false}, {7200, true}});
  Result<TimeZone> tz = TimeZone::FromTzif(file);
  ASSERT_TRUE(tz.ok()) << tz.error().message;
  EXPECT_EQ(tz->OffsetAt(999), 3600);
  EXPECT_EQ(tz->OffsetAt(1000), 7200);
  EXPECT_EQ(tz->OffsetAt(int64_t{1} << 40), 7200);
  EXPECT_EQ(tz->LocalToUnix(100 + 3600), 100);
}

TEST(TzifTest, VersionTwoFileWithFooter) {
  const std::string v1 = Block('2', 4, {}, {}, {{0, false}});
  const std::string v2 = Block('2', 8, {-5'000'000'000}, {0}, {{3600, false}});
  Result<TimeZone> tz = TimeZone::FromTzif(v1 + v2 + "\n<+0330>-3:30\n");
  ASSERT_TRUE(tz.ok()) << tz.error().message;
  EXPECT_EQ(tz->OffsetAt(-6'000'000'000), 3600);
  EXPECT_EQ(tz->OffsetAt(0), 3 * 3600 + 1800);     // after the last transition: the footer
  EXPECT_FALSE(TimeZone::FromTzif(v1 + v2).ok());  // no footer line
  EXPECT_FALSE(TimeZone::FromTzif(v1 + v2 + "\nEST5EDT\n").ok());  // rules left implicit
}

TEST(TzifTest, PosixRulesOfBothHemispheres) {
  auto ny = TimeZone::PosixRule::Parse("EST5EDT,M3.2.0,M11.1.0");
  ASSERT_TRUE(ny.has_value());
  // 2040-03-11 is the second Sunday of March: 02:00 EST = 07:00 UTC.
  const int64_t start = DaysFromCivil(2040, 3, 11) * 86400 + 7 * 3600;
  EXPECT_EQ(ny->OffsetAt(start - 1), -5 * 3600);
  EXPECT_EQ(ny->OffsetAt(start), -4 * 3600);
  // 2040-11-04, first Sunday of November: 02:00 EDT = 06:00 UTC.
  const int64_t end = DaysFromCivil(2040, 11, 4) * 86400 + 6 * 3600;
  EXPECT_EQ(ny->OffsetAt(end - 1), -4 * 3600);
  EXPECT_EQ(ny->OffsetAt(end), -5 * 3600);

  auto sydney = TimeZone::PosixRule::Parse("AEST-10AEDT,M10.1.0,M4.1.0/3");
  ASSERT_TRUE(sydney.has_value());
  EXPECT_EQ(sydney->OffsetAt(DaysFromCivil(2040, 1, 15) * 86400), 11 * 3600);
  EXPECT_EQ(sydney->OffsetAt(DaysFromCivil(2040, 7, 15) * 86400), 10 * 3600);

  auto julian = TimeZone::PosixRule::Parse("XXX0YYY,J60/0,J300/0");  // Mar 1 .. Oct 27
  ASSERT_TRUE(julian.has_value());
  EXPECT_EQ(julian->OffsetAt(DaysFromCivil(2040, 3, 1) * 86400), 3600);
  EXPECT_EQ(julian->OffsetAt(DaysFromCivil(2040, 2, 29) * 86400), 0);

  for (std::string_view bad : {"", "E5", "EST", "EST5EDT,M13.1.0,M11.1.0", "EST5EDT,M3.2.0",
                               "EST5EDT,M3.2.0,M11.1.0x", "<+03", "EST99"}) {
    EXPECT_FALSE(TimeZone::PosixRule::Parse(bad).has_value()) << bad;
  }
}

TEST(TzifTest, RefusesMalformedFiles) {
  EXPECT_EQ(TimeZone::FromTzif("").error().message, "not a TZif file");
  EXPECT_EQ(TimeZone::FromTzif("# leap seconds\n").error().message, "not a TZif file");
  EXPECT_EQ(TimeZone::FromTzif(Block('\0', 4, {0}, {0}, {{0, false}}, 1)).error().message,
            "leap-second zone files are not supported");
  EXPECT_EQ(TimeZone::FromTzif(Block('\0', 4, {0}, {5}, {{0, false}})).error().message,
            "bad TZif type index");
  EXPECT_EQ(TimeZone::FromTzif(Block('\0', 4, {5, 5}, {0, 0}, {{0, false}})).error().message,
            "TZif transitions out of order");
  EXPECT_EQ(TimeZone::FromTzif(Block('\0', 4, {}, {}, {})).error().message, "bad TZif type count");
  EXPECT_EQ(TimeZone::FromTzif(Block('\0', 4, {}, {}, {{100'000, false}})).error().message,
            "TZif UTC offset out of range");
  // A count far beyond the file's size is refused before anything is read.
  std::string huge = Block('\0', 4, {}, {}, {{0, false}});
  huge[32] = '\x7f';  // timecnt's high byte
  EXPECT_EQ(TimeZone::FromTzif(huge).error().message, "truncated TZif file");
}

TEST(TzifTest, EveryTruncationOfARealZoneIsAnErrorOrAZone) {
  Result<std::string> bytes =
      atrium::internal::ReadSmallFile(std::string(kZoneInfoDir) + "/America/New_York", 1 << 20);
  ASSERT_TRUE(bytes.ok()) << bytes.error().ToString();
  ASSERT_TRUE(TimeZone::FromTzif(*bytes).ok());
  for (size_t n = 0; n < bytes->size(); ++n) {
    // Must not crash or read past the end (the sanitizer builds check).
    Result<TimeZone> tz = TimeZone::FromTzif(std::string_view(*bytes).substr(0, n));
    if (tz.ok()) (void)tz->LocalToUnix(0);
  }
}

TEST(TzifTest, LoadChecksNamesAndFiles) {
  EXPECT_EQ(TimeZone::Load(kZoneInfoDir, "../../etc/passwd").error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(TimeZone::Load(kZoneInfoDir, "Nowhere/City").error().message,
            "unknown time zone 'Nowhere/City'");
  EXPECT_TRUE(TimeZone::Load(kZoneInfoDir, "Asia/Shanghai").ok());
  EXPECT_TRUE(TimeZone::Load(kZoneInfoDir, "US/Eastern").ok());  // a symlink in tzdata
  EXPECT_TRUE(IsValidZoneName("Etc/GMT+8"));
  EXPECT_TRUE(IsValidZoneName("America/Argentina/Buenos_Aires"));
  EXPECT_FALSE(IsValidZoneName("a..b"));
  EXPECT_FALSE(IsValidZoneName("/UTC"));
  EXPECT_FALSE(IsValidZoneName("Europe/Paris\n"));
  EXPECT_FALSE(IsValidZoneName(std::string(65, 'a')));
  EXPECT_TRUE(IsValidZoneName(std::string(64, 'a')));
}

}  // namespace
}  // namespace atrium::config::internal
