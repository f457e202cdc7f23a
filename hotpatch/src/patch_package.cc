// Hotpatch packages: the strict patch.json parser and reading a patch (its
// manifest and Lua source) from a signed .atb or from an installed copy
// (formats in patch_package.h). Signatures are the package format's: a
// patch is a package of kind lua_patch, verified by PackageReader and the
// artifact store like every artifact.
//
// ParsePatchManifest runs in two layers, like the bundle.json parser
// (manifest/src/manifest.cc): a basic_parser handler that builds the DOM,
// refuses duplicate keys and tracks the JSON pointer for syntax errors; then a
// walk of the DOM that turns every wrong type, unknown field and broken rule
// into a kValidation Error naming the file and JSON pointer.
//
// Concurrency: no shared state; every function may run on any thread at any
// time. Boost.JSON can only throw std::bad_alloc
// here; it is caught and becomes kInternal, so no exception leaves this file.
#include "patch_package.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <initializer_list>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include "atrium/artifact_kind.h"
#include "atrium/base/hex.h"
#include "atrium/base/result_macros.h"
#include "atrium/base/strict_json.h"
#include "atrium/manifest.h"
#include "atrium/package.h"
#include "patch_json.h"

// The early returns of base (short names for this file only; #undef'd at the end).
#define ASSIGN_OR_RETURN ATRIUM_ASSIGN_OR_RETURN
#define RETURN_IF_ERROR ATRIUM_RETURN_IF_ERROR

namespace atrium::hotpatch::internal {
namespace {

using namespace patch_json;  // NOLINT: this file is patch_json's main user
namespace json = boost::json;

Result<std::string> ReadBundleName(const Walker& w, const json::object& o, const std::string& at,
                                   std::string_view key, const char* what) {
  ASSIGN_OR_RETURN(const json::value* v, w.Need(o, at, key));
  ASSIGN_OR_RETURN(std::string name, w.String(*v, Member(at, key)));
  if (!IsValidBundleName(name)) {
    return w.Invalid(Member(at, key),
                     std::string("invalid ") + what + " " + Quote(name) +
                         ": expected reverse-DNS form like 'com.example.wallet' (at least two "
                         "'.'-separated labels of [a-z0-9_-] each starting with a lowercase "
                         "letter, at most 128 characters)");
  }
  return name;
}

Result<VersionRange> ReadRange(const Walker& w, const json::value& v, const std::string& at) {
  ASSIGN_OR_RETURN(std::string text, w.String(v, at));
  Result<VersionRange> range = VersionRange::Parse(text);
  if (!range.ok()) {
    return w.Invalid(
        at, "invalid version range " + Quote(text) + ": " + SemverDetail(range.error().message));
  }
  return range;
}

Status ReadTargets(const Walker& w, const json::object& root, PatchManifest* m) {
  const std::string at = "/targets";
  ASSIGN_OR_RETURN(const json::value* v, w.Need(root, "", "targets"));
  ASSIGN_OR_RETURN(const json::object* targets, w.Object(*v, at));
  RETURN_IF_ERROR(w.OnlyFields(*targets, at, {"app", "app_versions", "bundles"}));
  ASSIGN_OR_RETURN(m->app_id, ReadBundleName(w, *targets, at, "app", "app id"));
  if (const json::value* range = w.Find(*targets, "app_versions")) {
    ASSIGN_OR_RETURN(m->app_versions, ReadRange(w, *range, Member(at, "app_versions")));
  }
  const json::value* bundles_value = w.Find(*targets, "bundles");
  if (bundles_value == nullptr) return Status::Ok();
  const std::string list_at = Member(at, "bundles");
  ASSIGN_OR_RETURN(const json::array* bundles, w.Array(*bundles_value, list_at));
  if (bundles->size() > kMaxBundleTargets) {
    return w.Invalid(list_at, "too many bundle targets (" + std::to_string(bundles->size()) +
                                  "); the limit is " + std::to_string(kMaxBundleTargets));
  }
  std::unordered_map<std::string, size_t> first_at;
  for (size_t i = 0; i < bundles->size(); ++i) {
    const std::string item_at = Element(list_at, i);
    ASSIGN_OR_RETURN(const json::object* b, w.Object((*bundles)[i], item_at));
    RETURN_IF_ERROR(w.OnlyFields(*b, item_at, {"name", "version"}));
    PatchManifest::BundleTarget target;
    ASSIGN_OR_RETURN(target.name, ReadBundleName(w, *b, item_at, "name", "bundle name"));
    auto [it, fresh] = first_at.emplace(target.name, i);
    if (!fresh) {
      return w.Invalid(Member(item_at, "name"), "duplicate bundle target " + Quote(target.name) +
                                                    " (first at " + Element(list_at, it->second) +
                                                    ")");
    }
    ASSIGN_OR_RETURN(const json::value* range, w.Need(*b, item_at, "version"));
    ASSIGN_OR_RETURN(target.range, ReadRange(w, *range, Member(item_at, "version")));
    m->bundles.push_back(std::move(target));
  }
  return Status::Ok();
}

Status ReadPoints(const Walker& w, const json::object& root, PatchManifest* m) {
  const std::string at = "/points";
  ASSIGN_OR_RETURN(const json::value* v, w.Need(root, "", "points"));
  ASSIGN_OR_RETURN(const json::array* points, w.Array(*v, at));
  if (points->empty()) return w.Invalid(at, "a patch must declare at least one point");
  if (points->size() > kMaxPoints) {
    return w.Invalid(at, "too many points (" + std::to_string(points->size()) + "); the limit is " +
                             std::to_string(kMaxPoints));
  }
  // "<point>\n<function>" -> index of its first declaration.
  std::unordered_map<std::string, size_t> first_at;
  for (size_t i = 0; i < points->size(); ++i) {
    const std::string item_at = Element(at, i);
    ASSIGN_OR_RETURN(const json::object* p, w.Object((*points)[i], item_at));
    RETURN_IF_ERROR(w.OnlyFields(*p, item_at, {"point", "mode", "function", "signature", "order"}));
    PatchPointDecl decl;

    ASSIGN_OR_RETURN(decl.point, ReadPointId(w, *p, item_at));

    if (const json::value* mode = w.Find(*p, "mode")) {
      ASSIGN_OR_RETURN(std::string text, w.String(*mode, Member(item_at, "mode")));
      if (text == "replace") {
        decl.mode = PatchMode::kReplace;
      } else if (text == "before") {
        decl.mode = PatchMode::kBefore;
      } else if (text == "after") {
        decl.mode = PatchMode::kAfter;
      } else {
        return w.Invalid(Member(item_at, "mode"), "invalid mode " + Quote(text) +
                                                      ": expected 'replace', 'before' or 'after'");
      }
    }

    ASSIGN_OR_RETURN(const json::value* function, w.Need(*p, item_at, "function"));
    ASSIGN_OR_RETURN(decl.function, w.String(*function, Member(item_at, "function")));
    if (!IsIdentifier(decl.function, kMaxFunctionLength)) {
      return w.Invalid(Member(item_at, "function"),
                       "invalid function name " + Quote(decl.function) +
                           ": expected a Lua name [A-Za-z_][A-Za-z0-9_]* of at most " +
                           std::to_string(kMaxFunctionLength) + " characters");
    }

    ASSIGN_OR_RETURN(const json::value* signature, w.Need(*p, item_at, "signature"));
    ASSIGN_OR_RETURN(std::string text, w.String(*signature, Member(item_at, "signature")));
    std::string problem = SignatureGrammar(text).Parse(&decl.signature);
    if (!problem.empty()) {
      return w.Invalid(Member(item_at, "signature"),
                       "invalid signature " + Quote(text) + ": " + problem +
                           " (form: 'result(param,...)', e.g. 'int(int,string)')");
    }

    if (const json::value* order = w.Find(*p, "order")) {
      ASSIGN_OR_RETURN(int64_t n, w.Integer(*order, Member(item_at, "order"), -1000000, 1000000));
      decl.order = static_cast<int>(n);
    }

    auto [it, fresh] = first_at.emplace(decl.point + '\n' + decl.function, i);
    if (!fresh) {
      return w.Invalid(item_at, "point " + Quote(decl.point) + " is already patched by function " +
                                    Quote(decl.function) + " (first at " + Element(at, it->second) +
                                    ")");
    }
    m->points.push_back(std::move(decl));
  }
  return Status::Ok();
}

Status ReadLimits(const Walker& w, const json::object& root, PatchManifest* m) {
  const json::value* v = w.Find(root, "limits");
  if (v == nullptr) return Status::Ok();
  const std::string at = "/limits";
  ASSIGN_OR_RETURN(const json::object* limits, w.Object(*v, at));
  RETURN_IF_ERROR(
      w.OnlyFields(*limits, at, {"memory_kb", "instructions", "time_ms", "max_faults"}));
  if (const json::value* n = w.Find(*limits, "memory_kb")) {
    ASSIGN_OR_RETURN(int64_t kb, w.Integer(*n, Member(at, "memory_kb"), 16, 65536));
    m->memory_kb = static_cast<uint32_t>(kb);
  }
  if (const json::value* n = w.Find(*limits, "instructions")) {
    ASSIGN_OR_RETURN(int64_t count, w.Integer(*n, Member(at, "instructions"), 1000, 1000000000));
    m->instructions = static_cast<uint64_t>(count);
  }
  if (const json::value* n = w.Find(*limits, "time_ms")) {
    ASSIGN_OR_RETURN(int64_t ms, w.Integer(*n, Member(at, "time_ms"), 1, 10000));
    m->time_ms = static_cast<uint32_t>(ms);
  }
  if (const json::value* n = w.Find(*limits, "max_faults")) {
    ASSIGN_OR_RETURN(int64_t faults, w.Integer(*n, Member(at, "max_faults"), 1, 1000));
    m->max_faults = static_cast<uint32_t>(faults);
  }
  return Status::Ok();
}

Result<PatchManifest> BuildManifest(const json::value& doc, std::string_view file) {
  Walker w(file);
  ASSIGN_OR_RETURN(const json::object* root, w.Object(doc, ""));
  RETURN_IF_ERROR(w.OnlyFields(
      *root, "", {"id", "version", "description", "targets", "points", "limits", "source"}));
  PatchManifest m;

  ASSIGN_OR_RETURN(const json::value* id, w.Need(*root, "", "id"));
  ASSIGN_OR_RETURN(m.id, w.String(*id, "/id"));
  if (!IsPatchId(m.id)) {
    return w.Invalid("/id", "invalid patch id " + Quote(m.id) +
                                ": expected [a-z][a-z0-9_.-]*, at most 64 characters");
  }

  ASSIGN_OR_RETURN(const json::value* version, w.Need(*root, "", "version"));
  ASSIGN_OR_RETURN(std::string version_text, w.String(*version, "/version"));
  Result<Version> parsed = Version::Parse(version_text);
  if (!parsed.ok()) {
    return w.Invalid("/version", "invalid version " + Quote(version_text) + ": " +
                                     SemverDetail(parsed.error().message));
  }
  m.version = std::move(parsed).value();

  if (const json::value* description = w.Find(*root, "description")) {
    ASSIGN_OR_RETURN(m.description, w.String(*description, "/description"));
    if (m.description.size() > kMaxDescriptionBytes) {
      return w.Invalid("/description", "description is " + std::to_string(m.description.size()) +
                                           " bytes; the limit is " +
                                           std::to_string(kMaxDescriptionBytes));
    }
  }

  RETURN_IF_ERROR(ReadTargets(w, *root, &m));
  RETURN_IF_ERROR(ReadPoints(w, *root, &m));
  RETURN_IF_ERROR(ReadLimits(w, *root, &m));

  if (const json::value* source = w.Find(*root, "source")) {
    ASSIGN_OR_RETURN(m.source, w.String(*source, "/source"));
    if (std::string problem = SourceNameProblem(m.source); !problem.empty()) {
      return w.Invalid("/source", "invalid source file name " + Quote(m.source) + ": " + problem);
    }
  }
  return m;
}

Result<PatchManifest> BuildManifestNoThrow(const json::value& doc, std::string_view file) {
  try {
    return BuildManifest(doc, file);
  } catch (const std::exception& ex) {
    return Located(ErrorCode::kInternal, file, "",
                   std::string("out of resources while reading the manifest: ") + ex.what());
  }
}

// The source file name the manifest DOM names ("patch.lua" when it names
// none, or names it with a non-string: the model layer reports that later).
std::string SourceNameOf(const json::value& doc) {
  if (const json::object* root = doc.if_object()) {
    if (const json::value* source = root->if_contains("source")) {
      if (source->is_string()) return std::string(source->get_string());
    }
  }
  return "patch.lua";
}

// ---------------------------------------------------------------------------
// Files.

struct FileRead {
  int error = 0;  // errno of a failed open/read, 0 on success
  bool not_regular = false;
  bool too_large = false;  // more than the limit; `data` is then partial
  std::string data;
};

// Reads `path` up to `limit` bytes (one more to tell that it is larger). A
// FIFO or device is refused without blocking on it.
FileRead ReadUpTo(const std::string& path, size_t limit) {
  FileRead r;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    r.error = errno;
    return r;
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    r.error = errno;
  } else if (!S_ISREG(st.st_mode)) {
    r.not_regular = true;
  } else {
    char buffer[16384];
    while (r.data.size() <= limit) {
      ssize_t n = ::read(fd, buffer, sizeof(buffer));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        r.error = errno;
        break;
      }
      if (n == 0) break;
      r.data.append(buffer, static_cast<size_t>(n));
    }
    r.too_large = r.error == 0 && r.data.size() > limit;
  }
  ::close(fd);
  return r;
}

// The error for a failed ReadUpTo of a package file, or nothing.
std::optional<Error> ReadProblem(const FileRead& r, const std::string& path, const char* what,
                                 size_t limit) {
  if (r.error != 0) {
    return Located(
        ErrorCode::kIo, path, "",
        std::string("cannot read ") + what + ": " + std::generic_category().message(r.error));
  }
  if (r.not_regular) {
    return Located(ErrorCode::kIo, path, "", std::string(what) + " is not a regular file");
  }
  if (r.too_large) {
    return Located(
        ErrorCode::kValidation, path, "",
        std::string(what) + " is larger than the " + std::to_string(limit / 1024) + " KiB limit");
  }
  return std::nullopt;
}

// Reads the manifest and source of the patch in `dir`: size-capped, the
// source named by the manifest's DOM. `syntax_is_corruption` turns a JSON
// syntax error into kCorrupt (an installed copy that no longer parses was
// damaged) instead of kParse (the author's mistake).
struct RawPackage {
  std::string manifest_path;
  std::string source_name;
  std::string manifest_json;
  std::string source_path;
  std::string source;
};

Result<RawPackage> ReadRawPackage(const std::string& dir, json::monotonic_resource* arena,
                                  json::value* doc, bool syntax_is_corruption) {
  RawPackage raw;
  raw.manifest_path = JoinPath(dir, kManifestName);
  FileRead manifest = ReadUpTo(raw.manifest_path, kMaxManifestBytes);
  if (auto e = ReadProblem(manifest, raw.manifest_path, "manifest", kMaxManifestBytes)) return *e;
  raw.manifest_json = std::move(manifest.data);

  Result<json::value> parsed = ParseDom(raw.manifest_json, raw.manifest_path, arena);
  if (!parsed.ok()) {
    Error e = std::move(parsed).take_error();
    if (syntax_is_corruption && e.code == ErrorCode::kParse) {
      e.code = ErrorCode::kCorrupt;
      e.message += "; the package cannot be verified (damaged, or modified after signing)";
    }
    return e;
  }
  *doc = std::move(parsed).value();

  std::string name = SourceNameOf(*doc);
  if (std::string problem = SourceNameProblem(name); !problem.empty()) {
    return Located(ErrorCode::kValidation, raw.manifest_path, "/source",
                   "invalid source file name " + Quote(name) + ": " + problem);
  }
  raw.source_path = JoinPath(dir, name);
  raw.source_name = name;
  FileRead source = ReadUpTo(raw.source_path, kMaxSourceBytes);
  if (auto e = ReadProblem(source, raw.source_path, "patch source", kMaxSourceBytes)) return *e;
  raw.source = std::move(source.data);
  return raw;
}

}  // namespace

const char* PatchModeName(PatchMode mode) {
  switch (mode) {
    case PatchMode::kReplace:
      return "replace";
    case PatchMode::kBefore:
      return "before";
    case PatchMode::kAfter:
      return "after";
  }
  return "unknown";
}

Result<PatchManifest> ParsePatchManifest(std::string_view json, std::string_view file) {
  json::monotonic_resource arena;
  ASSIGN_OR_RETURN(json::value doc, ParseDom(json, file, &arena));
  return BuildManifestNoThrow(doc, file);
}

Result<PatchPackage> ReadPatchDir(const std::string& dir, bool installed_copy) {
  struct stat dir_stat;
  const int stat_result = ::stat(dir.c_str(), &dir_stat);
  if (stat_result != 0 || !S_ISDIR(dir_stat.st_mode)) {
    const int err = stat_result != 0 ? errno : 0;
    return Located(ErrorCode::kIo, dir, "",
                   "not a patch directory" +
                       (err != 0 ? ": " + std::generic_category().message(err) : std::string()));
  }
  json::monotonic_resource arena;
  json::value doc;
  ASSIGN_OR_RETURN(RawPackage raw, ReadRawPackage(dir, &arena, &doc, installed_copy));
  ASSIGN_OR_RETURN(PatchManifest manifest, BuildManifestNoThrow(doc, raw.manifest_path));
  PatchPackage package;
  package.manifest = std::move(manifest);
  package.manifest_json = std::move(raw.manifest_json);
  package.source = std::move(raw.source);
  package.dir = dir;
  return package;
}

Result<PatchPackage> ReadPatchPackage(const PackageReader& reader) {
  const PackageInfo& info = reader.info();
  if (info.kind != ArtifactKind::kLuaPatch) {
    return Located(ErrorCode::kValidation, reader.path(), "",
                   std::string("not a hotpatch: a package of kind ") + ArtifactKindName(info.kind) +
                       " (a hotpatch is a lua_patch package of a patch directory)");
  }
  const std::string manifest_file = reader.path() + ":" + std::string(kManifestName);
  ASSIGN_OR_RETURN(PatchManifest manifest, ParsePatchManifest(info.manifest, manifest_file));
  auto entry = std::find_if(info.entries.begin(), info.entries.end(),
                            [&](const PackEntryInfo& e) { return e.path == manifest.source; });
  if (entry == info.entries.end()) {
    return Located(ErrorCode::kValidation, manifest_file, "/source",
                   "the source " + Quote(manifest.source) + " is not in the package");
  }
  if (entry->size > kMaxSourceBytes) {
    return Located(
        ErrorCode::kValidation, reader.path() + ":" + manifest.source, "",
        "patch source is larger than the " + std::to_string(kMaxSourceBytes / 1024) + " KiB limit");
  }
  ASSIGN_OR_RETURN(std::string source, reader.ReadEntry(manifest.source));
  PatchPackage package;
  package.manifest = std::move(manifest);
  package.manifest_json = info.manifest;
  package.source = std::move(source);
  return package;
}

}  // namespace atrium::hotpatch::internal

#undef RETURN_IF_ERROR
#undef ASSIGN_OR_RETURN
