// Parsing, precedence and range matching for SemVer 2.0.0 versions and the
// npm range dialect described in atrium/semver.h.
//
// Both parsers are hand-written single-pass scanners over a string_view with a
// hard length cap, so hostile manifest text costs O(n) time and memory and
// never crashes. Every error is ErrorCode::kParse and its message quotes the
// (truncated, escaped) input and names the byte offset of the problem inside
// the text given to Parse (not inside any enclosing file, so Error::offset is
// left for the caller that knows the file position).
//
// Ranges are desugared the way npm's node-semver does it, so a manifest means
// the same thing to Atrium as to the tools app teams already use:
//   1. ^, ~, x-ranges, partial versions and hyphen ranges become plain
//      comparators; an exclusive upper bound is written `<X.Y.Z-0` (the lowest
//      version of the next line), so prereleases of the next line never match.
//   2. Bumping a component that is already UINT64_MAX carries into the next
//      one; when even the major cannot be bumped the upper bound is dropped
//      (nothing lies above it) and a lower bound `>` becomes `<0.0.0-0`, which
//      matches nothing.
//   3. Every AND-set is non-empty; "match anything released" is `>=0.0.0`.
//
// Concurrency: no shared state; every function is pure and thread-safe.
#include "atrium/semver.h"

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace atrium {
namespace {

constexpr size_t kMaxVersionLength = 256;
constexpr size_t kMaxRangeLength = 1024;
constexpr size_t kMaxQuotedLength = 64;
constexpr uint64_t kMaxComponent = std::numeric_limits<uint64_t>::max();

bool IsSemverDigit(char c) { return c >= '0' && c <= '9'; }
bool IsIdentifierChar(char c) {
  return IsSemverDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool IsWildcard(char c) { return c == 'x' || c == 'X' || c == '*'; }

bool IsNumericIdentifier(std::string_view id) {
  for (char c : id) {
    if (!IsSemverDigit(c)) return false;
  }
  return !id.empty();
}

std::string HexByte(unsigned char c) {
  static constexpr char kHex[] = "0123456789abcdef";
  return {'\\', 'x', kHex[c >> 4], kHex[c & 0xf]};
}

// The input as it appears in a message: printable ASCII kept, other bytes as
// \xNN, long inputs cut with "...".
std::string QuoteSemver(std::string_view text) {
  std::string out;
  size_t n = text.size() < kMaxQuotedLength ? text.size() : kMaxQuotedLength;
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
      out += static_cast<char>(c);
    } else {
      out += HexByte(c);
    }
  }
  if (n < text.size()) out += "...";
  return out;
}

// Shared scanner state for one Parse call: the whole input (offsets in errors
// are relative to it) and the noun used in messages ("version" / "range").
class Scanner {
 public:
  Scanner(std::string_view input, const char* noun) : input_(input), noun_(noun) {}

  std::string_view input() const { return input_; }
  char at(size_t pos) const { return input_[pos]; }

  // "invalid <noun> '<input>': <what> at offset <pos>[, expected <expected>]".
  Error Fail(size_t pos, std::string_view what, std::string_view expected = {}) const {
    std::string msg = "invalid ";
    msg += noun_;
    msg += " '";
    msg += QuoteSemver(input_);
    msg += "': ";
    msg += what;
    msg += " at offset ";
    msg += std::to_string(pos);
    if (!expected.empty()) {
      msg += ", expected ";
      msg += expected;
    }
    return MakeError(ErrorCode::kParse, std::move(msg));
  }

  // "unexpected 'c'" / "unexpected byte \xNN" / "unexpected end of input".
  std::string Unexpected(size_t pos, size_t end) const {
    if (pos >= end) return "unexpected end of input";
    unsigned char c = static_cast<unsigned char>(input_[pos]);
    if (c >= 0x20 && c < 0x7f) return std::string("unexpected '") + static_cast<char>(c) + "'";
    return "unexpected byte " + HexByte(c);
  }

  // Parses a numeric component starting at a digit at `*pos` (< end).
  Result<uint64_t> Number(size_t* pos, size_t end, const char* component) const {
    size_t start = *pos;
    if (at(start) == '0' && start + 1 < end && IsSemverDigit(at(start + 1))) {
      return Fail(start, std::string("leading zero in ") + component);
    }
    uint64_t value = 0;
    size_t i = start;
    for (; i < end && IsSemverDigit(at(i)); ++i) {
      uint64_t digit = static_cast<uint64_t>(at(i) - '0');
      if (value > (kMaxComponent - digit) / 10) {
        return Fail(start, std::string(component) + " exceeds 18446744073709551615");
      }
      value = value * 10 + digit;
    }
    *pos = i;
    return value;
  }

  // Parses dot-separated identifiers starting at `*pos`, stopping at the
  // first byte that cannot continue them. `prerelease` selects the pre-release
  // rules (numeric identifiers without leading zeros) over build metadata.
  Status Identifiers(size_t* pos, size_t end, bool prerelease,
                     std::vector<std::string>* out) const {
    const char* kind = prerelease ? "pre-release identifier" : "build identifier";
    size_t i = *pos;
    while (true) {
      size_t start = i;
      while (i < end && IsIdentifierChar(at(i))) ++i;
      std::string_view id = input_.substr(start, i - start);
      if (id.empty()) {
        if (i >= end || at(i) == '.' || at(i) == '+') {
          return Fail(start, std::string("empty ") + kind);
        }
        return Fail(start, Unexpected(start, end), std::string(kind) + " [0-9A-Za-z-]");
      }
      if (prerelease && id.size() > 1 && id[0] == '0' && IsNumericIdentifier(id)) {
        return Fail(start, "leading zero in numeric pre-release identifier");
      }
      out->emplace_back(id);
      if (i < end && at(i) == '.') {
        ++i;
        continue;
      }
      break;
    }
    *pos = i;
    return Status::Ok();
  }

  // Optional "-pre" and "+build" after major.minor.patch.
  Status Qualifiers(size_t* pos, size_t end, Version* v) const {
    if (*pos < end && at(*pos) == '-') {
      ++*pos;
      Status s = Identifiers(pos, end, /*prerelease=*/true, &v->prerelease);
      if (!s.ok()) return s;
    }
    if (*pos < end && at(*pos) == '+') {
      ++*pos;
      std::vector<std::string> build;
      Status s = Identifiers(pos, end, /*prerelease=*/false, &build);
      if (!s.ok()) return s;
      for (size_t i = 0; i < build.size(); ++i) {
        if (i > 0) v->build += '.';
        v->build += build[i];
      }
    }
    return Status::Ok();
  }

 private:
  std::string_view input_;
  const char* noun_;
};

constexpr const char* kComponentNames[3] = {"major", "minor", "patch"};

// -1, 0, 1 for two pre-release identifiers (SemVer 2.0.0 §11.4).
int CompareIdentifiers(const std::string& a, const std::string& b) {
  bool a_num = IsNumericIdentifier(a);
  bool b_num = IsNumericIdentifier(b);
  if (a_num && b_num) {
    // No leading zeros, so a longer numeral is larger; this also orders
    // identifiers too long for uint64 correctly.
    if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  } else if (a_num != b_num) {
    return a_num ? -1 : 1;
  }
  int c = a.compare(b);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

// ---- Ranges ---------------------------------------------------------------

// A possibly partial version in a range: `parts` numeric components were
// given (0 for "*", 1 for "1" / "1.x", ...); the rest are zero in `version`.
// Pre-release and build can only follow a full version (parts == 3).
struct Partial {
  int parts = 0;
  Version version;
};

using Op = VersionRange::Op;
using Comparator = VersionRange::Comparator;
using ComparatorSet = std::vector<Comparator>;

Version Release(uint64_t major, uint64_t minor, uint64_t patch) {
  Version v;
  v.major = major;
  v.minor = minor;
  v.patch = patch;
  return v;
}

// The lowest release above every version that shares the first `parts`
// (1..3) components of `v` (e.g. parts=2: 1.2.x -> 1.3.0), carrying on
// overflow; nullopt when no such version exists.
std::optional<Version> Bump(const Version& v, int parts) {
  if (parts >= 3 && v.patch < kMaxComponent) return Release(v.major, v.minor, v.patch + 1);
  if (parts >= 2 && v.minor < kMaxComponent) return Release(v.major, v.minor + 1, 0);
  if (v.major < kMaxComponent) return Release(v.major + 1, 0, 0);
  return std::nullopt;
}

// `<bump-0`: excludes the next line including its pre-releases. Nothing is
// added when the bound does not exist (no version lies above it).
void AddUpperBound(const Version& v, int parts, ComparatorSet* set) {
  std::optional<Version> next = Bump(v, parts);
  if (!next) return;
  next->prerelease = {"0"};
  set->push_back({Op::kLt, std::move(*next)});
}

Comparator MatchNothing() {
  Version zero;
  zero.prerelease = {"0"};
  return {Op::kLt, std::move(zero)};
}

Comparator MatchAnyRelease() { return {Op::kGe, Version()}; }

// Lower and upper bound of an x-range / partial ("1", "1.2.x", "1.2.3").
void AddXRange(const Partial& p, ComparatorSet* set) {
  if (p.parts == 0) {
    set->push_back(MatchAnyRelease());
  } else if (p.parts == 3) {
    set->push_back({Op::kEq, p.version});
  } else {
    set->push_back({Op::kGe, p.version});
    AddUpperBound(p.version, p.parts, set);
  }
}

void AddPrimitive(Op op, const Partial& p, ComparatorSet* set) {
  if (p.parts == 3) {
    set->push_back({op, p.version});
    return;
  }
  switch (op) {
    case Op::kEq:
      AddXRange(p, set);
      return;
    case Op::kGe:  // >=1.2 is >=1.2.0, >=* is anything
      set->push_back({Op::kGe, p.version});
      return;
    case Op::kLt:  // <1.2 is below every 1.2.x, <* matches nothing
      if (p.parts == 0) {
        set->push_back(MatchNothing());
      } else {
        Version bound = p.version;
        bound.prerelease = {"0"};
        set->push_back({Op::kLt, std::move(bound)});
      }
      return;
    case Op::kGt: {  // >1.2 is >=1.3.0, >* matches nothing
      std::optional<Version> next = p.parts == 0 ? std::nullopt : Bump(p.version, p.parts);
      set->push_back(next ? Comparator{Op::kGe, std::move(*next)} : MatchNothing());
      return;
    }
    case Op::kLe:  // <=1.2 is <1.3.0-0, <=* is anything
      if (p.parts == 0) {
        set->push_back(MatchAnyRelease());
      } else {
        AddUpperBound(p.version, p.parts, set);
      }
      return;
  }
}

void AddCaret(const Partial& p, ComparatorSet* set) {
  if (p.parts == 0) {
    set->push_back(MatchAnyRelease());
    return;
  }
  const Version& v = p.version;
  set->push_back({Op::kGe, v});
  // The first non-zero given component is the one that may not change; a
  // partial never fixes more components than it names.
  int fixed = 1;
  if (v.major == 0 && p.parts >= 2) fixed = (v.minor == 0 && p.parts == 3) ? 3 : 2;
  AddUpperBound(v, fixed, set);
}

void AddTilde(const Partial& p, ComparatorSet* set) {
  if (p.parts == 0) {
    set->push_back(MatchAnyRelease());
    return;
  }
  set->push_back({Op::kGe, p.version});
  AddUpperBound(p.version, p.parts == 1 ? 1 : 2, set);
}

void AddHyphen(const Partial& low, const Partial& high, ComparatorSet* set) {
  if (low.parts > 0) set->push_back({Op::kGe, low.version});
  if (high.parts == 3) {
    set->push_back({Op::kLe, high.version});
  } else if (high.parts > 0) {
    AddUpperBound(high.version, high.parts, set);
  }
}

enum class Sugar { kNone, kCaret, kTilde, kPrimitive };

class RangeParser {
 public:
  // `limit` is the end of the trimmed range text.
  RangeParser(std::string_view input, size_t limit) : scan_(input, "range"), limit_(limit) {}

  // Parses [begin, limit) of the input into OR-sets.
  Result<std::vector<ComparatorSet>> Parse(size_t begin) {
    const size_t end = limit_;
    std::vector<ComparatorSet> sets;
    size_t start = begin;
    while (true) {
      size_t bar = scan_.input().substr(0, end).find("||", start);
      size_t stop = bar == std::string_view::npos ? end : bar;
      Result<ComparatorSet> set = ParseSet(start, stop);
      if (!set.ok()) return std::move(set).take_error();
      sets.push_back(std::move(set).value());
      if (bar == std::string_view::npos) break;
      start = bar + 2;
    }
    return sets;
  }

 private:
  size_t SkipSpace(size_t pos, size_t end) const {
    while (pos < end && IsSpace(scan_.at(pos))) ++pos;
    return pos;
  }

  // One AND-set: `simple ( ws simple )*` or `partial ws '-' ws partial`.
  Result<ComparatorSet> ParseSet(size_t begin, size_t end) {
    ComparatorSet set;
    size_t pos = SkipSpace(begin, end);
    if (pos >= end) {
      return scan_.Fail(pos, scan_.Unexpected(pos, limit_), "a version, comparator or '*'");
    }
    bool first = true;
    while (true) {
      Sugar sugar = Sugar::kNone;
      Op op = Op::kEq;
      ParseOperator(&pos, end, &sugar, &op);
      if (sugar != Sugar::kNone) pos = SkipSpace(pos, end);
      Result<Partial> partial = ParsePartial(&pos, end);
      if (!partial.ok()) return std::move(partial).take_error();
      Status sep = ExpectSeparator(pos, end);
      if (!sep.ok()) return sep.error();
      size_t next = SkipSpace(pos, end);
      if (IsHyphen(next, end)) {
        if (!first || sugar != Sugar::kNone) {
          return scan_.Fail(next, "'-' (hyphen range) must join two plain versions");
        }
        return ParseHyphenTail(*partial, next + 1, end);
      }
      switch (sugar) {
        case Sugar::kNone:
          AddXRange(*partial, &set);
          break;
        case Sugar::kCaret:
          AddCaret(*partial, &set);
          break;
        case Sugar::kTilde:
          AddTilde(*partial, &set);
          break;
        case Sugar::kPrimitive:
          AddPrimitive(op, *partial, &set);
          break;
      }
      if (next >= end) break;
      pos = next;
      first = false;
    }
    if (set.empty()) set.push_back(MatchAnyRelease());
    return set;
  }

  // After "low -": the upper bound and then the end of the AND-set.
  Result<ComparatorSet> ParseHyphenTail(const Partial& low, size_t pos, size_t end) {
    pos = SkipSpace(pos, end);
    if (pos >= end) {
      return scan_.Fail(pos, scan_.Unexpected(pos, limit_), "upper bound of hyphen range");
    }
    Result<Partial> high = ParsePartial(&pos, end);
    if (!high.ok()) return std::move(high).take_error();
    Status sep = ExpectSeparator(pos, end);
    if (!sep.ok()) return sep.error();
    pos = SkipSpace(pos, end);
    if (pos < end) {
      return scan_.Fail(pos, scan_.Unexpected(pos, limit_) + " after hyphen range",
                        "'||' or end of range");
    }
    ComparatorSet set;
    AddHyphen(low, *high, &set);
    if (set.empty()) set.push_back(MatchAnyRelease());
    return set;
  }

  bool IsHyphen(size_t pos, size_t end) const {
    return pos < end && scan_.at(pos) == '-' && (pos + 1 == end || IsSpace(scan_.at(pos + 1)));
  }

  // A comparator ends at whitespace or at the end of its AND-set.
  Status ExpectSeparator(size_t pos, size_t end) const {
    if (pos >= end || IsSpace(scan_.at(pos))) return Status::Ok();
    if (scan_.at(pos) == '|') {
      return scan_.Fail(pos, scan_.Unexpected(pos, limit_), "'||' between alternatives");
    }
    return scan_.Fail(pos, scan_.Unexpected(pos, limit_), "whitespace, '||' or end of range");
  }

  void ParseOperator(size_t* pos, size_t end, Sugar* sugar, Op* op) const {
    if (*pos >= end) return;
    char c = scan_.at(*pos);
    bool eq_follows = *pos + 1 < end && scan_.at(*pos + 1) == '=';
    switch (c) {
      case '^':
        *sugar = Sugar::kCaret;
        ++*pos;
        return;
      case '~':
        *sugar = Sugar::kTilde;
        ++*pos;
        return;
      case '=':
        *sugar = Sugar::kPrimitive;
        *op = Op::kEq;
        ++*pos;
        return;
      case '<':
      case '>':
        *sugar = Sugar::kPrimitive;
        if (c == '<') {
          *op = eq_follows ? Op::kLe : Op::kLt;
        } else {
          *op = eq_follows ? Op::kGe : Op::kGt;
        }
        *pos += eq_follows ? 2 : 1;
        return;
      default:
        return;
    }
  }

  // `xr ( '.' xr ( '.' xr qualifiers? )? )?` where xr is a number or x/X/*.
  Result<Partial> ParsePartial(size_t* pos, size_t end) const {
    size_t start = *pos;
    Partial p;
    uint64_t* fields[3] = {&p.version.major, &p.version.minor, &p.version.patch};
    bool wildcard = false;
    for (int i = 0; i < 3; ++i) {
      if (i > 0) {
        if (*pos >= end || scan_.at(*pos) != '.') break;
        ++*pos;
      }
      size_t at = *pos;
      if (at < end && IsWildcard(scan_.at(at))) {
        wildcard = true;
        ++*pos;
        continue;
      }
      if (at >= end || !IsSemverDigit(scan_.at(at))) {
        std::string expected = std::string(kComponentNames[i]) + " version number or wildcard";
        if (i == 0 && at < end && (scan_.at(at) == 'v' || scan_.at(at) == 'V')) {
          expected += " (no leading 'v')";
        }
        return scan_.Fail(at, scan_.Unexpected(at, limit_), expected);
      }
      if (wildcard) {
        return scan_.Fail(at, std::string("number after wildcard in ") + kComponentNames[i],
                          "'x', 'X' or '*'");
      }
      Result<uint64_t> n = scan_.Number(pos, end, kComponentNames[i]);
      if (!n.ok()) return std::move(n).take_error();
      *fields[i] = *n;
      p.parts = i + 1;
    }
    if (*pos < end && (scan_.at(*pos) == '-' || scan_.at(*pos) == '+')) {
      if (p.parts < 3) {
        return scan_.Fail(*pos, scan_.Unexpected(*pos, limit_),
                          "whitespace (pre-release and build need major.minor.patch)");
      }
      Status s = scan_.Qualifiers(pos, end, &p.version);
      if (!s.ok()) return s.error();
    }
    if (*pos - start > kMaxVersionLength) {
      return scan_.Fail(start,
                        "version longer than " + std::to_string(kMaxVersionLength) + " bytes");
    }
    return p;
  }

  Scanner scan_;
  size_t limit_;
};

}  // namespace

// ---- Version --------------------------------------------------------------

Result<Version> Version::Parse(std::string_view text) {
  Scanner scan(text, "version");
  if (text.size() > kMaxVersionLength) {
    return scan.Fail(kMaxVersionLength,
                     "longer than " + std::to_string(kMaxVersionLength) + " bytes");
  }
  const size_t end = text.size();
  Version v;
  uint64_t* fields[3] = {&v.major, &v.minor, &v.patch};
  size_t pos = 0;
  for (int i = 0; i < 3; ++i) {
    if (i > 0) {
      if (pos >= end || text[pos] != '.') {
        return scan.Fail(pos, scan.Unexpected(pos, end),
                         std::string("'.' after ") + kComponentNames[i - 1]);
      }
      ++pos;
    }
    if (pos >= end || !IsSemverDigit(text[pos])) {
      std::string expected = std::string(kComponentNames[i]) + " version number";
      if (i == 0 && pos < end && (text[pos] == 'v' || text[pos] == 'V')) {
        expected += " (no leading 'v')";
      }
      return scan.Fail(pos, scan.Unexpected(pos, end), expected);
    }
    Result<uint64_t> n = scan.Number(&pos, end, kComponentNames[i]);
    if (!n.ok()) return std::move(n).take_error();
    *fields[i] = *n;
  }
  Status s = scan.Qualifiers(&pos, end, &v);
  if (!s.ok()) return s.error();
  if (pos < end) {
    const char* expected = "'-', '+' or end of input";
    if (!v.build.empty()) {
      expected = "[0-9A-Za-z-], '.' or end of input";
    } else if (!v.prerelease.empty()) {
      expected = "[0-9A-Za-z-], '.', '+' or end of input";
    }
    return scan.Fail(pos, scan.Unexpected(pos, end), expected);
  }
  return v;
}

std::string Version::ToString() const {
  std::string out =
      std::to_string(major) + '.' + std::to_string(minor) + '.' + std::to_string(patch);
  for (size_t i = 0; i < prerelease.size(); ++i) {
    out += i == 0 ? '-' : '.';
    out += prerelease[i];
  }
  if (!build.empty()) {
    out += '+';
    out += build;
  }
  return out;
}

// Redeclared with the export attribute: a friend is not covered by the
// visibility of the class that declares it.
ATRIUM_EXPORT std::strong_ordering operator<=>(const Version& a, const Version& b);

std::strong_ordering operator<=>(const Version& a, const Version& b) {
  if (auto c = a.major <=> b.major; c != 0) return c;
  if (auto c = a.minor <=> b.minor; c != 0) return c;
  if (auto c = a.patch <=> b.patch; c != 0) return c;
  // A release ranks above all of its pre-releases.
  if (a.prerelease.empty() || b.prerelease.empty()) {
    return a.prerelease.empty() <=> b.prerelease.empty();
  }
  size_t n = a.prerelease.size() < b.prerelease.size() ? a.prerelease.size() : b.prerelease.size();
  for (size_t i = 0; i < n; ++i) {
    int c = CompareIdentifiers(a.prerelease[i], b.prerelease[i]);
    if (c != 0) return c <=> 0;
  }
  return a.prerelease.size() <=> b.prerelease.size();
}

// ---- VersionRange ---------------------------------------------------------

Result<VersionRange> VersionRange::Parse(std::string_view text) {
  if (text.size() > kMaxRangeLength) {
    return Scanner(text, "range")
        .Fail(kMaxRangeLength, "longer than " + std::to_string(kMaxRangeLength) + " bytes");
  }
  size_t begin = 0;
  size_t end = text.size();
  while (begin < end && IsSpace(text[begin])) ++begin;
  while (end > begin && IsSpace(text[end - 1])) --end;
  if (begin == end) {
    return Scanner(text, "range").Fail(begin, "empty range", "a version, comparator or '*'");
  }
  Result<std::vector<ComparatorSet>> sets = RangeParser(text, end).Parse(begin);
  if (!sets.ok()) return std::move(sets).take_error();
  VersionRange range;
  range.text_ = std::string(text.substr(begin, end - begin));
  range.sets_ = std::move(sets).value();
  return range;
}

VersionRange VersionRange::Any() {
  VersionRange range;
  range.text_ = "*";
  range.sets_ = {{MatchAnyRelease()}};
  return range;
}

namespace {

bool Satisfies(const Comparator& c, const Version& v) {
  std::strong_ordering order = v <=> c.version;
  switch (c.op) {
    case Op::kEq:
      return order == 0;
    case Op::kLt:
      return order < 0;
    case Op::kLe:
      return order <= 0;
    case Op::kGt:
      return order > 0;
    case Op::kGe:
      return order >= 0;
  }
  return false;
}

bool SameRelease(const Version& a, const Version& b) {
  return a.major == b.major && a.minor == b.minor && a.patch == b.patch;
}

}  // namespace

bool VersionRange::Matches(const Version& v) const {
  for (const ComparatorSet& set : sets_) {
    bool all = true;
    for (const Comparator& c : set) {
      if (!Satisfies(c, v)) {
        all = false;
        break;
      }
    }
    if (!all) continue;
    if (v.prerelease.empty()) return true;
    // npm rule: a pre-release only matches when the same AND-set opts into
    // pre-releases of exactly that major.minor.patch.
    for (const Comparator& c : set) {
      if (!c.version.prerelease.empty() && SameRelease(c.version, v)) return true;
    }
  }
  return false;
}

}  // namespace atrium
