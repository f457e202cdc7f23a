// The apps a package is for (format 2, docs/package.md "Apps"): the app
// pattern grammar, the apps section's encoding and parsing, the writer's
// normalisation of PackOptions::apps, and PackageReader::CheckApp, the
// check every install runs.
//
// Concurrency: pure functions; CheckApp reads only the reader's immutable
// info.
#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "atrium/base/file_util.h"
#include "atrium/manifest.h"
#include "atrium/package.h"
#include "package_format.h"
#include "package_reader_impl.h"

namespace atrium {

std::string AppPatternProblem(std::string_view pattern) {
  if (pattern.empty()) return "an app pattern is empty";
  if (pattern.size() > internal::kMaxAppPatternBytes) {
    return "an app pattern is at most " + std::to_string(internal::kMaxAppPatternBytes) + " bytes";
  }
  if (pattern == "*") return "";
  if (pattern.size() > 2 && pattern.substr(pattern.size() - 2) == ".*") {
    // "com.wallet.*": the prefix is one or more labels of an app id.
    const std::string sample = std::string(pattern.substr(0, pattern.size() - 1)) + "x";
    if (IsValidBundleName(sample)) return "";
    return "the prefix of a family pattern ('com.example.*') must be labels of an app id";
  }
  if (pattern.find('*') != std::string_view::npos) {
    return "'*' stands alone ('*') or ends a family ('com.example.*')";
  }
  if (!IsValidBundleName(pattern)) {
    return "not an app id (reverse-DNS, lower case, like 'com.example.app')";
  }
  return "";
}

bool AppPatternMatches(std::string_view pattern, std::string_view app_id) {
  if (pattern == "*") return true;
  if (pattern.size() > 2 && pattern.substr(pattern.size() - 2) == ".*") {
    const std::string_view prefix = pattern.substr(0, pattern.size() - 1);  // keeps the '.'
    return app_id.size() > prefix.size() && app_id.substr(0, prefix.size()) == prefix;
  }
  return pattern == app_id;
}

std::string AppListText(const std::vector<std::string>& apps) {
  if (apps.empty()) return "no app";
  std::string out;
  for (const std::string& a : apps) {
    if (!out.empty()) out += ", ";
    out += a;
  }
  return out;
}

Status PackageReader::CheckApp(std::string_view app_id) const {
  const PackageInfo& info = impl_->info;
  auto refuse = [&](std::string message) {
    Error e = MakeError(ErrorCode::kValidation, std::move(message));
    e.file = impl_->path;
    return e;
  };
  if (app_id.empty()) {
    return refuse("refused: the installing side names no app to check the package against");
  }
  if (info.apps.empty()) {
    return refuse("refused: the package names no app (format " +
                  std::to_string(info.format_version) +
                  "); pack it again with `atrium pack --app " + std::string(app_id) + "`");
  }
  for (const std::string& pattern : info.apps) {
    if (AppPatternMatches(pattern, app_id)) return Status::Ok();
  }
  return refuse("refused: the package is for " + AppListText(info.apps) + ", not " +
                std::string(app_id) + " (the signed app list; `atrium pack --app`)");
}

namespace internal {

std::string EncodeAppsSection(const std::vector<std::string>& apps) {
  std::string out(kAppsFixedSize, '\0');
  auto* p = reinterpret_cast<uint8_t*>(out.data());
  StoreU16(p + kAppsCount, static_cast<uint16_t>(apps.size()));
  for (const std::string& a : apps) {
    out += static_cast<char>(static_cast<uint8_t>(std::min<size_t>(a.size(), 255)));
    out += a;
  }
  return out;
}

AppsSection ParseAppsSection(std::string_view section) {
  AppsSection r;
  auto fail = [&r](uint64_t at, std::string problem) {
    r.apps.clear();
    r.problem = std::move(problem);
    r.problem_at = at;
    return r;
  };
  const auto* p = reinterpret_cast<const uint8_t*>(section.data());
  if (section.size() < kAppsFixedSize) {
    return fail(0, "the apps section is " + std::to_string(section.size()) +
                       " bytes, shorter than its " + std::to_string(kAppsFixedSize) +
                       "-byte count");
  }
  if (section.size() > kMaxAppsSectionBytes) {
    return fail(0, "the apps section is " + std::to_string(section.size()) +
                       " bytes; the format allows at most " + std::to_string(kMaxAppsSectionBytes));
  }
  const uint16_t count = LoadU16(p + kAppsCount);
  if (count == 0 || count > kMaxApps) {
    return fail(kAppsCount,
                "app count " + std::to_string(count) + " is not 1.." + std::to_string(kMaxApps));
  }
  if (LoadU16(p + kAppsReserved) != 0) return fail(kAppsReserved, "reserved field is not zero");
  uint64_t pos = kAppsFixedSize;
  for (uint16_t i = 0; i < count; ++i) {
    const std::string what = "app #" + std::to_string(i);
    if (pos >= section.size()) return fail(pos, what + ": truncated");
    const size_t length = p[pos];
    if (length == 0 || length > kMaxAppPatternBytes) {
      return fail(pos, what + ": length " + std::to_string(length) + " is not 1.." +
                           std::to_string(kMaxAppPatternBytes));
    }
    if (section.size() - pos - 1 < length) {
      return fail(pos, what + ": " + std::to_string(length) + " bytes run past the section");
    }
    std::string pattern(section.substr(pos + 1, length));
    if (std::string problem = AppPatternProblem(pattern); !problem.empty()) {
      return fail(pos + 1, what + " " + Quote(pattern) + ": " + problem);
    }
    if (!r.apps.empty() && !(r.apps.back() < pattern)) {
      return fail(pos + 1,
                  what + " " + Quote(pattern) +
                      (r.apps.back() == pattern ? " repeats the one before it"
                                                : " is not sorted after the one before it"));
    }
    if (pattern == "*" && count != 1) {
      return fail(pos + 1, what + ": '*' (any app) stands alone");
    }
    r.apps.push_back(std::move(pattern));
    pos += 1 + length;
  }
  if (pos != section.size()) {
    return fail(pos, std::to_string(section.size() - pos) +
                         " bytes after the last app (index_offset does not follow the apps)");
  }
  return r;
}

Result<std::vector<std::string>> NormaliseApps(const std::vector<std::string>& apps) {
  if (apps.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "name the apps the package is for (atrium pack --app <app id>, repeated "
                     "for several, 'com.example.*' for a family of apps, '*' for any app)");
  }
  std::vector<std::string> sorted = apps;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  if (sorted.size() > kMaxApps) {
    return MakeError(ErrorCode::kInvalidArgument,
                     std::to_string(sorted.size()) + " apps; a package names at most " +
                         std::to_string(kMaxApps) + " (use a family pattern 'com.example.*')");
  }
  for (const std::string& a : sorted) {
    if (std::string problem = AppPatternProblem(a); !problem.empty()) {
      return MakeError(ErrorCode::kInvalidArgument, "app " + Quote(a) + ": " + problem);
    }
  }
  if (sorted.size() > 1 && std::find(sorted.begin(), sorted.end(), "*") != sorted.end()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "'*' already means any app; name it alone or list the apps instead");
  }
  return sorted;
}

}  // namespace internal
}  // namespace atrium
