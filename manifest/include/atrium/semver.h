// Semantic versions (SemVer 2.0.0) and version ranges used by bundle
// manifests: `version` is a Version, `requires[].version` is a VersionRange.
//
// Range syntax (the npm/Cargo dialect app teams already know):
//   exact      1.2.3          (same as =1.2.3)
//   compare    >=1.2.0  >1.2.0  <2.0.0  <=2.0.0  =1.2.3
//   caret      ^1.2.3 (>=1.2.3 <2.0.0), ^0.2.3 (>=0.2.3 <0.3.0), ^0.0.3 (=0.0.3)
//   tilde      ~1.2.3 (>=1.2.3 <1.3.0), ~1.2 (>=1.2.0 <1.3.0), ~1 (>=1.0.0 <2.0.0)
//   wildcard   *  1.x  1.2.x  1  1.2
//   hyphen     1.2.3 - 2.0.0  (inclusive)
//   AND        space-separated comparators: ">=1.2.0 <2.0.0"
//   OR         "^1.0.0 || ^2.0.0"
// Pre-release versions satisfy a range only if some comparator in the same
// AND-set names the same major.minor.patch with a pre-release (npm rule).
//
// Concurrency: value types; all functions are pure and thread-safe.
#ifndef ATRIUM_SEMVER_H_
#define ATRIUM_SEMVER_H_

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "atrium/export.h"
#include "atrium/result.h"

namespace atrium {

struct ATRIUM_EXPORT Version {
  uint64_t major = 0;
  uint64_t minor = 0;
  uint64_t patch = 0;
  std::vector<std::string> prerelease;  // dot-separated identifiers
  std::string build;                    // ignored for precedence

  // Strict SemVer 2.0.0: no leading 'v', no leading zeros in numeric parts,
  // non-empty identifiers of [0-9A-Za-z-]. Error message names the byte offset.
  static Result<Version> Parse(std::string_view text);

  std::string ToString() const;

  // SemVer precedence (build metadata ignored).
  friend std::strong_ordering operator<=>(const Version& a, const Version& b);
  friend bool operator==(const Version& a, const Version& b) { return (a <=> b) == 0; }
};

class ATRIUM_EXPORT VersionRange {
 public:
  enum class Op { kEq, kLt, kLe, kGt, kGe };
  struct Comparator {
    Op op;
    Version version;
  };

  // Error message names the byte offset of the problem inside `text`.
  static Result<VersionRange> Parse(std::string_view text);
  // A range that matches every release version ("*").
  static VersionRange Any();

  bool Matches(const Version& v) const;
  // The text it was parsed from, trimmed.
  const std::string& text() const { return text_; }
  // OR of AND-sets of comparators (after desugaring ^, ~, x, hyphen).
  const std::vector<std::vector<Comparator>>& sets() const { return sets_; }

 private:
  std::string text_;
  std::vector<std::vector<Comparator>> sets_;
};

}  // namespace atrium

#endif  // ATRIUM_SEMVER_H_
