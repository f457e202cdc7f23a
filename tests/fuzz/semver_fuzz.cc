// libFuzzer target for atrium/semver.h. The input is parsed whole as a
// Version and as a VersionRange; if it contains a newline, the text before the
// first newline is also parsed as a range and the text after it as a version
// to match against it. Checked invariants:
//   1. Parsing never crashes; a failure is kParse and its message names an
//      offset ("at offset N").
//   2. A parsed Version's ToString() parses back to an equal Version with the
//      same pre-release identifiers and build metadata.
//   3. A parsed range's text() parses again to the same comparator sets, and
//      every comparator version round-trips through ToString().
//   4. Matches() does not crash, and a release version matches a range iff it
//      matches the reparsed range.
//
// Concurrency: the entry point is called from one thread at a time.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "atrium/semver.h"

namespace {

using atrium::ErrorCode;
using atrium::Result;
using atrium::Version;
using atrium::VersionRange;

void Require(bool cond, const char* what) {
  if (!cond) {
    std::fprintf(stderr, "semver_fuzz: invariant violated: %s\n", what);
    std::abort();
  }
}

template <typename T>
void CheckError(const Result<T>& r) {
  if (r.ok()) return;
  Require(r.error().code == ErrorCode::kParse, "error code is kParse");
  Require(r.error().message.find(" at offset ") != std::string::npos, "message names offset");
}

bool Identical(const Version& a, const Version& b) {
  return a == b && a.major == b.major && a.minor == b.minor && a.patch == b.patch &&
         a.prerelease == b.prerelease && a.build == b.build;
}

void CheckVersion(const Version& v) {
  Result<Version> again = Version::Parse(v.ToString());
  Require(again.ok(), "ToString() output parses");
  Require(Identical(*again, v), "ToString() round-trips");
  Require((v <=> v) == 0, "version equals itself");
}

void CheckRange(const VersionRange& r) {
  for (const auto& set : r.sets()) {
    Require(!set.empty(), "AND-sets are non-empty");
    for (const auto& c : set) CheckVersion(c.version);
  }
  Result<VersionRange> again = VersionRange::Parse(r.text());
  Require(again.ok(), "text() parses");
  Require(again->text() == r.text(), "text() is stable");
  Require(again->sets().size() == r.sets().size(), "reparse gives same number of sets");
  for (size_t i = 0; i < r.sets().size(); ++i) {
    const auto& a = r.sets()[i];
    const auto& b = again->sets()[i];
    Require(a.size() == b.size(), "reparse gives same set sizes");
    for (size_t j = 0; j < a.size(); ++j) {
      Require(a[j].op == b[j].op && Identical(a[j].version, b[j].version),
              "reparse gives same comparators");
    }
  }
  static const char* const kProbes[] = {
      "0.0.0", "0.0.1",       "0.1.0",   "1.0.0",
      "1.2.3", "1.2.3-alpha", "2.0.0-0", "18446744073709551615.0.0"};
  for (const char* probe : kProbes) {
    Version v = Version::Parse(probe).value();
    Require(r.Matches(v) == again->Matches(v), "reparsed range matches the same versions");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);

  Result<Version> version = Version::Parse(text);
  CheckError(version);
  if (version.ok()) CheckVersion(*version);

  Result<VersionRange> range = VersionRange::Parse(text);
  CheckError(range);
  if (range.ok()) {
    CheckRange(*range);
    if (version.ok()) (void)range->Matches(*version);
  }

  size_t newline = text.find('\n');
  if (newline != std::string_view::npos) {
    Result<VersionRange> left = VersionRange::Parse(text.substr(0, newline));
    Result<Version> right = Version::Parse(text.substr(newline + 1));
    CheckError(left);
    CheckError(right);
    if (left.ok() && right.ok()) {
      Result<VersionRange> reparsed = VersionRange::Parse(left->text());
      Require(reparsed.ok(), "text() parses");
      Require(left->Matches(*right) == reparsed->Matches(*right),
              "reparsed range matches the same versions");
    }
  }
  return 0;
}
