// The TZif reader (tzif.h).
#include "tzif.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "atrium/base/file_util.h"

namespace atrium::config::internal {
namespace {

constexpr int32_t kMinUtcOffset = -89999;  // RFC 8536 3.2: -24:59:59 ...
constexpr int32_t kMaxUtcOffset = 93599;   // ... to 25:59:59

bool IsLeapYear(int64_t y) { return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0); }

// Howard Hinnant's civil_from_days: the year of a day number.
int64_t YearOfDays(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;
  return yoe + era * 400 + (month <= 2 ? 1 : 0);
}

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// 0 = Sunday.
int Weekday(int64_t days) { return static_cast<int>(((days % 7) + 11) % 7); }

class ByteReader {
 public:
  explicit ByteReader(std::string_view bytes) : bytes_(bytes) {}
  size_t remaining() const { return bytes_.size() - pos_; }
  size_t pos() const { return pos_; }
  bool Skip(uint64_t n) {
    if (n > remaining()) return false;
    pos_ += static_cast<size_t>(n);
    return true;
  }
  uint64_t Uint(int width) {  // big-endian; caller checked remaining()
    uint64_t v = 0;
    for (int i = 0; i < width; ++i) v = (v << 8) | static_cast<unsigned char>(bytes_[pos_++]);
    return v;
  }
  std::string_view Rest() const { return bytes_.substr(pos_); }

 private:
  std::string_view bytes_;
  size_t pos_ = 0;
};

struct Header {
  char version = 0;
  uint64_t isutcnt = 0, isstdcnt = 0, leapcnt = 0, timecnt = 0, typecnt = 0, charcnt = 0;
  uint64_t DataBytes(int time_width) const {
    return timecnt * time_width + timecnt + typecnt * 6 + charcnt + leapcnt * (time_width + 4) +
           isstdcnt + isutcnt;
  }
};

std::optional<Header> ReadHeader(ByteReader& r) {
  if (r.remaining() < 44 || r.Rest().substr(0, 4) != "TZif") return std::nullopt;
  Header h;
  r.Skip(4);
  h.version = static_cast<char>(r.Uint(1));
  r.Skip(15);
  h.isutcnt = r.Uint(4);
  h.isstdcnt = r.Uint(4);
  h.leapcnt = r.Uint(4);
  h.timecnt = r.Uint(4);
  h.typecnt = r.Uint(4);
  h.charcnt = r.Uint(4);
  return h;
}

// [+-]hh[:mm[:ss]] with hh <= max_hours, as seconds.
std::optional<int32_t> ParsePosixTime(std::string_view& s, int max_hours) {
  int sign = 1;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    sign = s[0] == '-' ? -1 : 1;
    s.remove_prefix(1);
  }
  int32_t total = 0;
  for (int part = 0; part < 3; ++part) {
    if (part > 0) {
      if (s.empty() || s[0] != ':') break;
      s.remove_prefix(1);
    }
    int value = 0, digits = 0;
    while (!s.empty() && s[0] >= '0' && s[0] <= '9' && digits < 3) {
      value = value * 10 + (s[0] - '0');
      s.remove_prefix(1);
      ++digits;
    }
    if (digits == 0) return std::nullopt;
    if (part == 0 && value > max_hours) return std::nullopt;
    if (part > 0 && (digits != 2 || value > 59)) return std::nullopt;
    total += value * (part == 0 ? 3600 : part == 1 ? 60 : 1);
  }
  return sign * total;
}

bool ParsePosixName(std::string_view& s) {
  size_t n = 0;
  if (!s.empty() && s[0] == '<') {
    n = s.find('>');
    if (n == std::string_view::npos || n < 2) return false;
    s.remove_prefix(n + 1);
    return true;
  }
  while (n < s.size() && ((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= 'a' && s[n] <= 'z'))) ++n;
  if (n < 3) return false;
  s.remove_prefix(n);
  return true;
}

std::optional<int> ParseSmallInt(std::string_view& s, int min, int max) {
  int value = 0, digits = 0;
  while (!s.empty() && s[0] >= '0' && s[0] <= '9' && digits < 4) {
    value = value * 10 + (s[0] - '0');
    s.remove_prefix(1);
    ++digits;
  }
  if (digits == 0 || value < min || value > max) return std::nullopt;
  return value;
}

std::optional<TimeZone::PosixRule::Change> ParseChange(std::string_view& s) {
  using Change = TimeZone::PosixRule::Change;
  Change c;
  if (!s.empty() && s[0] == 'M') {
    s.remove_prefix(1);
    std::optional<int> m = ParseSmallInt(s, 1, 12);
    if (!m || s.empty() || s[0] != '.') return std::nullopt;
    s.remove_prefix(1);
    std::optional<int> w = ParseSmallInt(s, 1, 5);
    if (!w || s.empty() || s[0] != '.') return std::nullopt;
    s.remove_prefix(1);
    std::optional<int> d = ParseSmallInt(s, 0, 6);
    if (!d) return std::nullopt;
    c.kind = Change::Kind::kMonthWeekDay;
    c.month = *m;
    c.week = *w;
    c.weekday = *d;
  } else if (!s.empty() && s[0] == 'J') {
    s.remove_prefix(1);
    std::optional<int> n = ParseSmallInt(s, 1, 365);
    if (!n) return std::nullopt;
    c.kind = Change::Kind::kJulian1;
    c.day = *n;
  } else {
    std::optional<int> n = ParseSmallInt(s, 0, 365);
    if (!n) return std::nullopt;
    c.kind = Change::Kind::kJulian0;
    c.day = *n;
  }
  if (!s.empty() && s[0] == '/') {
    s.remove_prefix(1);
    std::optional<int32_t> t = ParsePosixTime(s, 167);  // RFC 8536 3.3.1 extension
    if (!t) return std::nullopt;
    c.time = *t;
  }
  return c;
}

// The day number (days since the epoch) a change falls on in `year`.
int64_t ChangeDay(const TimeZone::PosixRule::Change& c, int64_t year) {
  using Kind = TimeZone::PosixRule::Change::Kind;
  const int64_t jan1 = DaysFromCivil(year, 1, 1);
  switch (c.kind) {
    case Kind::kJulian1:  // Feb 29 is never counted
      return jan1 + c.day - 1 + (IsLeapYear(year) && c.day >= 60 ? 1 : 0);
    case Kind::kJulian0:
      return jan1 + c.day;
    case Kind::kMonthWeekDay: {
      const int64_t first = DaysFromCivil(year, c.month, 1);
      int day = 1 + (c.weekday - Weekday(first) + 7) % 7 + (c.week - 1) * 7;
      while (day > static_cast<int>(DaysInMonth(year, c.month))) day -= 7;
      return first + day - 1;
    }
  }
  return jan1;
}

}  // namespace

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

unsigned DaysInMonth(int64_t year, unsigned month) {
  static constexpr unsigned kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12) return 0;
  return month == 2 && IsLeapYear(year) ? 29 : kDays[month - 1];
}

bool IsValidZoneName(std::string_view name) {
  if (name.empty() || name.size() > kMaxZoneNameBytes || name[0] == '/') return false;
  if (name.find("..") != std::string_view::npos) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '+' || c == '-' || c == '/';
  });
}

std::optional<TimeZone::PosixRule> TimeZone::PosixRule::Parse(std::string_view s) {
  PosixRule rule;
  if (!ParsePosixName(s)) return std::nullopt;
  std::optional<int32_t> std_west = ParsePosixTime(s, 24);
  if (!std_west) return std::nullopt;
  rule.std_offset = -*std_west;
  if (s.empty()) return rule;
  if (!ParsePosixName(s)) return std::nullopt;
  rule.has_dst = true;
  rule.dst_offset = rule.std_offset + 3600;
  if (!s.empty() && s[0] != ',') {
    std::optional<int32_t> dst_west = ParsePosixTime(s, 24);
    if (!dst_west) return std::nullopt;
    rule.dst_offset = -*dst_west;
  }
  // A DST name without rules would mean the implementation's default rules;
  // TZif footers always spell them out.
  if (s.empty() || s[0] != ',') return std::nullopt;
  s.remove_prefix(1);
  std::optional<Change> start = ParseChange(s);
  if (!start || s.empty() || s[0] != ',') return std::nullopt;
  s.remove_prefix(1);
  std::optional<Change> end = ParseChange(s);
  if (!end || !s.empty()) return std::nullopt;
  rule.start = *start;
  rule.end = *end;
  return rule;
}

int32_t TimeZone::PosixRule::OffsetAt(int64_t t) const {
  if (!has_dst) return std_offset;
  const int64_t year = YearOfDays(FloorDiv(t + std_offset, 86400));
  // The start is given in standard time, the end in daylight time.
  const int64_t start = ChangeDay(this->start, year) * 86400 + this->start.time - std_offset;
  const int64_t end = ChangeDay(this->end, year) * 86400 + this->end.time - dst_offset;
  const bool dst = start < end ? (t >= start && t < end) : (t < end || t >= start);
  return dst ? dst_offset : std_offset;
}

Result<TimeZone> TimeZone::FromTzif(std::string_view bytes) {
  auto fail = [](std::string what) { return MakeError(ErrorCode::kParse, std::move(what)); };
  ByteReader r(bytes);
  std::optional<Header> h = ReadHeader(r);
  if (!h) return fail("not a TZif file");
  int time_width = 4;
  if (h->version >= '2') {
    // Skip the 32-bit block; the 64-bit header and block follow it.
    if (!r.Skip(h->DataBytes(4))) return fail("truncated TZif file");
    h = ReadHeader(r);
    if (!h) return fail("missing the TZif v2 header");
    time_width = 8;
  }
  if (h->leapcnt != 0) return fail("leap-second zone files are not supported");
  if (h->typecnt == 0 || h->typecnt > 256) return fail("bad TZif type count");
  if ((h->isutcnt != 0 && h->isutcnt != h->typecnt) ||
      (h->isstdcnt != 0 && h->isstdcnt != h->typecnt)) {
    return fail("bad TZif indicator counts");
  }
  if (h->DataBytes(time_width) > r.remaining()) return fail("truncated TZif file");

  TimeZone zone;
  zone.transitions_.reserve(h->timecnt);
  for (uint64_t i = 0; i < h->timecnt; ++i) {
    uint64_t raw = r.Uint(time_width);
    int64_t t = time_width == 4 ? static_cast<int32_t>(static_cast<uint32_t>(raw))
                                : static_cast<int64_t>(raw);
    if (!zone.transitions_.empty() && t <= zone.transitions_.back()) {
      return fail("TZif transitions out of order");
    }
    zone.transitions_.push_back(t);
  }
  std::vector<uint8_t> type_of(h->timecnt);
  for (uint64_t i = 0; i < h->timecnt; ++i) {
    type_of[i] = static_cast<uint8_t>(r.Uint(1));
    if (type_of[i] >= h->typecnt) return fail("bad TZif type index");
  }
  std::vector<int32_t> offsets(h->typecnt);
  for (uint64_t i = 0; i < h->typecnt; ++i) {
    offsets[i] = static_cast<int32_t>(static_cast<uint32_t>(r.Uint(4)));
    r.Skip(2);  // isdst, desigidx
    if (offsets[i] < kMinUtcOffset || offsets[i] > kMaxUtcOffset) {
      return fail("TZif UTC offset out of range");
    }
  }
  r.Skip(h->charcnt + h->isstdcnt + h->isutcnt);
  zone.initial_offset_ = offsets[0];
  for (uint8_t type : type_of) zone.offset_after_.push_back(offsets[type]);

  if (time_width == 8) {
    std::string_view rest = r.Rest();
    if (rest.empty() || rest[0] != '\n') return fail("missing the TZif footer");
    const size_t end = rest.find('\n', 1);
    if (end == std::string_view::npos) return fail("unterminated TZif footer");
    std::string_view footer = rest.substr(1, end - 1);
    if (!footer.empty()) {
      zone.footer_ = PosixRule::Parse(footer);
      if (!zone.footer_) return fail("unsupported TZ rule in the TZif footer");
    }
  }
  return zone;
}

Result<TimeZone> TimeZone::Load(std::string_view dir, std::string_view name) {
  const std::string quoted = "'" + std::string(name) + "'";
  if (!IsValidZoneName(name)) {
    return MakeError(ErrorCode::kInvalidArgument, "invalid time zone name " + quoted);
  }
  Result<std::string> bytes =
      atrium::internal::ReadSmallFile(std::string(dir) + "/" + std::string(name), kMaxTzifBytes);
  if (!bytes.ok()) {
    // Missing, a directory ("Asia"), unreadable or oversized: no such zone.
    return MakeError(ErrorCode::kNotFound, "unknown time zone " + quoted);
  }
  Result<TimeZone> zone = FromTzif(*bytes);
  if (!zone.ok()) {
    return MakeError(ErrorCode::kParse, "time zone " + quoted + ": " + zone.error().message);
  }
  return zone;
}

int32_t TimeZone::OffsetAt(int64_t t) const {
  if (transitions_.empty()) return footer_ ? footer_->OffsetAt(t) : initial_offset_;
  if (t < transitions_.front()) return initial_offset_;
  const size_t i = static_cast<size_t>(
      std::upper_bound(transitions_.begin(), transitions_.end(), t) - transitions_.begin() - 1);
  if (i + 1 == transitions_.size() && footer_) return footer_->OffsetAt(t);
  return offset_after_[i];
}

int64_t TimeZone::LocalToUnix(int64_t local) const {
  // Offsets lie within +-26 h, so the offsets two days either side of the
  // instant bracket it; every offset that reproduces `local` is a reading.
  constexpr int64_t kTwoDays = 2 * 86400;
  const int32_t before = OffsetAt(local - kTwoDays);
  const int32_t after = OffsetAt(local + kTwoDays);
  const int32_t candidates[] = {before, after, OffsetAt(local - before), OffsetAt(local - after)};
  std::optional<int64_t> best;
  for (int32_t offset : candidates) {
    const int64_t t = local - offset;
    if (OffsetAt(t) == offset && (!best || t < *best)) best = t;
  }
  // No reading: a skipped wall time, read with the offset before the gap.
  return best ? *best : local - before;
}

}  // namespace atrium::config::internal
