// Time zones for date("...", "Asia/Shanghai") in conditions: a reader of the
// IANA database's compiled TZif files (RFC 8536, versions 1 to 4, as under
// /usr/share/zoneinfo) that turns a local wall time into a unix time.
//
// Rules:
// 1. A TZif v2+ file is read through its 64-bit block and its footer (the
//    POSIX TZ rule that extends the table past its last transition, e.g.
//    "EST5EDT,M3.2.0,M11.1.0"); a v1 file through its 32-bit block.
// 2. Files with leap-second records ("right/" zones) are refused, as is any
//    malformed or oversized file: the reader checks every count against the
//    file's size before reading.
// 3. A local time that occurs twice (clocks set back) is its earlier
//    instant; one that does not occur (clocks set forward) is read with the
//    offset in force before the change, so 02:30 on a spring-forward night in
//    New York is 07:30 UTC (03:30 EDT) — the choice of JavaScript's Temporal
//    ("compatible").
//
// Private to dynamic/config. Concurrency: TimeZone is an immutable value;
// the functions are thread-safe.
#ifndef ATRIUM_DYNAMIC_CONFIG_SRC_TZIF_H_
#define ATRIUM_DYNAMIC_CONFIG_SRC_TZIF_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "atrium/result.h"

namespace atrium::config::internal {

inline constexpr std::string_view kZoneInfoDir = "/usr/share/zoneinfo";
inline constexpr size_t kMaxZoneNameBytes = 64;
inline constexpr size_t kMaxTzifBytes = 256 * 1024;

// Days from 1970-01-01 to a proleptic Gregorian date (month 1-12, day 1-31).
int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day);
unsigned DaysInMonth(int64_t year, unsigned month);

// [A-Za-z0-9_+-/], 1 to 64 bytes, no "..", no leading '/'.
bool IsValidZoneName(std::string_view name);

class TimeZone {
 public:
  // Parses TZif bytes; errors (kParse) say what is wrong with the file.
  static Result<TimeZone> FromTzif(std::string_view bytes);
  // Reads <dir>/<name>. kInvalidArgument for a name IsValidZoneName refuses,
  // kNotFound "unknown time zone 'X'" when no such file exists, kParse
  // "time zone 'X': ..." when it is not a usable TZif file.
  static Result<TimeZone> Load(std::string_view dir, std::string_view name);

  // Seconds east of UTC in force at `unix_seconds`.
  int32_t OffsetAt(int64_t unix_seconds) const;
  // The unix time of a local wall time given as seconds since 1970-01-01
  // 00:00:00 of the local calendar (rule 3 above for gaps and overlaps).
  int64_t LocalToUnix(int64_t local_seconds) const;

  // The POSIX TZ rule of a footer ("CST-8", "EST5EDT,M3.2.0,M11.1.0").
  struct PosixRule {
    struct Change {
      enum class Kind { kJulian1, kJulian0, kMonthWeekDay } kind = Kind::kMonthWeekDay;
      int day = 0;  // Jn: 1-365; n: 0-365
      int month = 0, week = 0, weekday = 0;
      int32_t time = 7200;  // seconds after local midnight, may be negative
    };
    int32_t std_offset = 0;  // seconds east of UTC
    bool has_dst = false;
    int32_t dst_offset = 0;
    Change start, end;

    static std::optional<PosixRule> Parse(std::string_view text);
    int32_t OffsetAt(int64_t unix_seconds) const;
  };

 private:
  std::vector<int64_t> transitions_;   // unix seconds, strictly ascending
  std::vector<int32_t> offset_after_;  // offset from transitions_[i] on
  int32_t initial_offset_ = 0;         // before the first transition
  std::optional<PosixRule> footer_;    // past the last transition
};

}  // namespace atrium::config::internal

#endif  // ATRIUM_DYNAMIC_CONFIG_SRC_TZIF_H_
