// Strict parsers for bundle.json (Manifest) and app.json (AppDescriptor).
//
// Parsing runs in two layers:
//   1. The syntax layer feeds the text to a boost::json::basic_parser whose
//      handler (DomBuilder) builds the DOM like boost::json::parse does, but
//      also rejects duplicate object keys (Boost.JSON 1.81 silently keeps one)
//      and tracks the JSON pointer of the value being read, so a syntax error
//      names a pointer, a byte offset and "line L, column C".
//   2. The model layer walks the DOM with a FieldReader that knows the file
//      name and turns every wrong type, unknown field and rule violation into
//      an Error naming the JSON pointer of the offending value. For a missing
//      required field the pointer is where the field would be ("/name").
// Only the first problem found is reported. docs/manifest.md lists the rules.
//
// Concurrency: no shared state; every function may run on any thread at any
// time. Boost.JSON only throws std::bad_alloc here; it is caught and becomes a
// kInternal error, so no exception leaves this file.
#include "atrium/manifest.h"

#include <algorithm>
#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <initializer_list>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "atrium/base/field_reader.h"
#include "atrium/base/result_macros.h"
#include "atrium/base/strict_json.h"
#include "atrium/manifest/app_sections.h"

// The early returns of base (short names for this file only; #undef'd at the end).
#define ASSIGN_OR_RETURN ATRIUM_ASSIGN_OR_RETURN
#define RETURN_IF_ERROR ATRIUM_RETURN_IF_ERROR

namespace atrium {
namespace {

namespace json = boost::json;
using internal::Child;
using internal::DescribeByteAt;
using internal::FieldReader;
using internal::LineColumn;
using internal::MakeLocated;
using internal::Quote;

Result<json::value> ParseDocument(std::string_view text, std::string_view file,
                                  json::storage_ptr sp);

constexpr size_t kMaxDocumentBytes = size_t{1} << 20;
constexpr size_t kMaxNestingDepth = 32;  // bundle.json itself needs 4 levels
constexpr size_t kMaxBundleNameLength = 128;
constexpr size_t kMaxInterfaceIdLength = 256;
constexpr size_t kMaxMicroAppIdLength = 64;

// ---------------------------------------------------------------------------
// Small grammars.

bool IsLower(char c) { return c >= 'a' && c <= 'z'; }
bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// [a-z][a-z0-9_-]* plus any character of `extra` after the first.
bool IsLowerToken(std::string_view s, std::string_view extra = {}) {
  if (s.empty() || !IsLower(s[0])) return false;
  for (char c : s.substr(1)) {
    if (!IsLower(c) && !IsDigit(c) && c != '_' && c != '-' &&
        extra.find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

// Calls `label_ok` for each '.'-separated label; true if all pass and there
// are at least two.
template <typename LabelPredicate>
bool IsDottedName(std::string_view s, LabelPredicate label_ok) {
  size_t labels = 0;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    std::string_view label = s.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (!label_ok(label)) return false;
    ++labels;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return labels >= 2;
}

bool IsMicroAppId(std::string_view s) {
  return s.size() <= kMaxMicroAppIdLength && IsLowerToken(s);
}
bool IsTaskId(std::string_view s) { return IsLowerToken(s, "."); }

// Like a bundle name, but labels may contain uppercase letters
// ("com.wallet.account.AccountService").
bool IsInterfaceId(std::string_view s) {
  if (s.size() > kMaxInterfaceIdLength) return false;
  return IsDottedName(s, [](std::string_view label) {
    if (label.empty() || !(IsLower(label[0]) || IsUpper(label[0]))) return false;
    for (char c : label) {
      if (!IsLower(c) && !IsUpper(c) && !IsDigit(c) && c != '_' && c != '-') return false;
    }
    return true;
  });
}

// Why `path` is not a safe path below the bundle (or app) directory, or ""
// when it is one. Canonical form only: no ".", "..", empty segments or "\".
std::string RelativePathProblem(std::string_view path) {
  if (path.empty()) return "must not be empty";
  if (path.front() == '/') return "must be relative, not absolute";
  for (char c : path) {
    if (c == '\\') return "must use '/' as separator, not '\\'";
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
      return "must not contain control characters";
    }
  }
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    std::string_view segment =
        path.substr(start, slash == std::string_view::npos ? slash : slash - start);
    if (segment == "..") return "must not contain '..' segments";
    if (segment == ".") return "must not contain '.' segments";
    if (segment.empty()) return "must not contain empty segments ('//' or a trailing '/')";
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return "";
}

Result<json::value> ParseDocument(std::string_view text, std::string_view file,
                                  json::storage_ptr sp) {
  return internal::ParseStrictJson(text, file, {kMaxDocumentBytes, kMaxNestingDepth, "document"},
                                   std::move(sp));
}

// ---------------------------------------------------------------------------
// Model layer.

using internal::SemverDetail;

Result<Version> ParseVersionField(const FieldReader& r, const std::string& text,
                                  const std::string& pointer) {
  Result<Version> v = Version::Parse(text);
  if (!v.ok()) {
    return r.Invalid(pointer, "invalid version " + Quote(text) + ": " +
                                  std::string(SemverDetail(v.error().message)));
  }
  return v;
}

Result<std::string> ReadBundleName(const FieldReader& r, const json::object& object,
                                   const std::string& pointer, std::string_view key,
                                   const char* what) {
  ASSIGN_OR_RETURN(std::string name, r.RequiredString(object, pointer, key));
  if (!IsValidBundleName(name)) {
    return r.Invalid(Child(pointer, key),
                     std::string("invalid ") + what + " " + Quote(name) +
                         ": expected reverse-DNS form like 'com.example.wallet' (at least two "
                         "'.'-separated labels of [a-z0-9_-] each starting with a lowercase "
                         "letter, at most 128 characters)");
  }
  return name;
}

Result<std::string> ReadRelativePath(const FieldReader& r, const json::value& v,
                                     const std::string& pointer, const char* what) {
  Result<std::string> path = r.AsString(v, pointer);
  if (!path.ok()) return path;
  std::string problem = RelativePathProblem(*path);
  if (!problem.empty()) {
    return r.Invalid(pointer, std::string("invalid ") + what + " " + Quote(*path) + ": " + problem);
  }
  return path;
}

// An array of unique relative paths.
Result<std::vector<std::string>> ReadPathList(const FieldReader& r, const json::array& array,
                                              const std::string& pointer, const char* what) {
  std::vector<std::string> paths;
  std::unordered_map<std::string, size_t> seen;
  for (size_t i = 0; i < array.size(); ++i) {
    std::string at = Child(pointer, i);
    ASSIGN_OR_RETURN(std::string path, ReadRelativePath(r, array[i], at, what));
    auto [it, inserted] = seen.emplace(path, i);
    if (!inserted) {
      return r.Invalid(at, std::string("duplicate ") + what + " " + Quote(path) + " (first at " +
                               Child(pointer, it->second) + ")");
    }
    paths.push_back(std::move(path));
  }
  return paths;
}

Status ReadRequires(const FieldReader& r, const json::object& root, Manifest* m) {
  ASSIGN_OR_RETURN(const json::array* array, r.OptionalArray(root, "", "requires"));
  if (array == nullptr) return Status::Ok();
  const std::string base = "/requires";
  std::unordered_map<std::string, size_t> seen;
  for (size_t i = 0; i < array->size(); ++i) {
    std::string at = Child(base, i);
    ASSIGN_OR_RETURN(const json::object* o, r.AsObject((*array)[i], at));
    RETURN_IF_ERROR(r.CheckKnownFields(*o, at, {"name", "version", "optional"}));
    Requirement req;
    ASSIGN_OR_RETURN(req.name, ReadBundleName(r, *o, at, "name", "bundle name"));
    if (req.name == m->name) {
      return r.Invalid(Child(at, "name"), "bundle " + Quote(m->name) + " cannot require itself");
    }
    auto [it, inserted] = seen.emplace(req.name, i);
    if (!inserted) {
      return r.Invalid(Child(at, "name"), "duplicate requirement " + Quote(req.name) +
                                              " (first at " + Child(base, it->second) + ")");
    }
    ASSIGN_OR_RETURN(std::string range_text, r.OptionalString(*o, at, "version", "*"));
    Result<VersionRange> range = VersionRange::Parse(range_text);
    if (!range.ok()) {
      return r.Invalid(Child(at, "version"), "invalid version range " + Quote(range_text) + ": " +
                                                 std::string(SemverDetail(range.error().message)));
    }
    req.range = std::move(range).value();
    ASSIGN_OR_RETURN(req.optional, r.OptionalBool(*o, at, "optional", false));
    m->requires_.push_back(std::move(req));
  }
  return Status::Ok();
}

Status ReadProvides(const FieldReader& r, const json::object& root, Manifest* m) {
  ASSIGN_OR_RETURN(const json::array* array, r.OptionalArray(root, "", "provides"));
  if (array == nullptr) return Status::Ok();
  const std::string base = "/provides";
  std::unordered_map<std::string, size_t> seen;
  for (size_t i = 0; i < array->size(); ++i) {
    std::string at = Child(base, i);
    ASSIGN_OR_RETURN(const json::object* o, r.AsObject((*array)[i], at));
    RETURN_IF_ERROR(r.CheckKnownFields(*o, at, {"interface", "version"}));
    ProvidedService service;
    ASSIGN_OR_RETURN(service.interface_id, r.RequiredString(*o, at, "interface"));
    if (!IsInterfaceId(service.interface_id)) {
      return r.Invalid(Child(at, "interface"),
                       "invalid interface id " + Quote(service.interface_id) +
                           ": expected a dotted name like 'com.example.wallet.AccountService' "
                           "(at least two labels of [A-Za-z0-9_-] each starting with a letter)");
    }
    auto [it, inserted] = seen.emplace(service.interface_id, i);
    if (!inserted) {
      return r.Invalid(Child(at, "interface"), "duplicate interface " +
                                                   Quote(service.interface_id) + " (first at " +
                                                   Child(base, it->second) + ")");
    }
    ASSIGN_OR_RETURN(std::string version, r.OptionalString(*o, at, "version", "1.0.0"));
    ASSIGN_OR_RETURN(service.version, ParseVersionField(r, version, Child(at, "version")));
    m->provides.push_back(std::move(service));
  }
  return Status::Ok();
}

Status ReadMicroApps(const FieldReader& r, const json::object& root, Manifest* m) {
  ASSIGN_OR_RETURN(const json::array* array, r.OptionalArray(root, "", "micro_apps"));
  if (array == nullptr) return Status::Ok();
  const std::string base = "/micro_apps";
  std::unordered_map<std::string, size_t> seen;
  for (size_t i = 0; i < array->size(); ++i) {
    std::string at = Child(base, i);
    ASSIGN_OR_RETURN(const json::object* o, r.AsObject((*array)[i], at));
    RETURN_IF_ERROR(r.CheckKnownFields(*o, at, {"id", "type", "entry", "title"}));
    MicroAppDecl app;
    ASSIGN_OR_RETURN(app.id, r.RequiredString(*o, at, "id"));
    if (!IsMicroAppId(app.id)) {
      return r.Invalid(Child(at, "id"), "invalid micro app id " + Quote(app.id) +
                                            ": expected [a-z][a-z0-9_-]*, at most 64 characters");
    }
    auto [it, inserted] = seen.emplace(app.id, i);
    if (!inserted) {
      return r.Invalid(Child(at, "id"), "duplicate micro app id " + Quote(app.id) + " (first at " +
                                            Child(base, it->second) + ")");
    }
    ASSIGN_OR_RETURN(app.type, r.RequiredString(*o, at, "type"));
    if (!IsLowerToken(app.type)) {
      return r.Invalid(Child(at, "type"), "invalid micro app type " + Quote(app.type) +
                                              ": expected [a-z][a-z0-9_-]* such as 'native'");
    }
    if (app.type == "native" && m->library.empty()) {
      return r.Invalid(Child(at, "type"), "micro app " + Quote(app.id) +
                                              " is of type 'native' but the bundle declares "
                                              "no \"library\"");
    }
    ASSIGN_OR_RETURN(app.entry, r.RequiredString(*o, at, "entry"));
    if (app.entry.empty()) return r.Invalid(Child(at, "entry"), "entry must not be empty");
    ASSIGN_OR_RETURN(app.title, r.OptionalString(*o, at, "title", ""));
    m->micro_apps.push_back(std::move(app));
  }
  return Status::Ok();
}

// Checks one "after" entry of task `task_id`: "task" or "bundle.name:task".
Status CheckAfterEntry(const FieldReader& r, const std::string& entry, const std::string& pointer,
                       const Manifest& m, const std::string& task_id) {
  size_t colon = entry.find(':');
  std::string_view bundle;
  std::string_view task = entry;
  if (colon != std::string::npos) {
    bundle = std::string_view(entry).substr(0, colon);
    task = std::string_view(entry).substr(colon + 1);
  }
  if ((colon != std::string::npos && !IsValidBundleName(bundle)) || !IsTaskId(task)) {
    return r.Invalid(pointer, "invalid dependency " + Quote(entry) +
                                  ": expected 'task' or 'bundle.name:task' (task ids are "
                                  "[a-z][a-z0-9_.-]*)");
  }
  if (task == task_id && (colon == std::string::npos || bundle == m.name)) {
    return r.Invalid(pointer, "startup task " + Quote(task_id) + " cannot run after itself");
  }
  return Status::Ok();
}

Status ReadStartup(const FieldReader& r, const json::object& root, Manifest* m) {
  ASSIGN_OR_RETURN(const json::array* array, r.OptionalArray(root, "", "startup"));
  if (array == nullptr) return Status::Ok();
  const std::string base = "/startup";
  std::unordered_map<std::string, size_t> seen;
  for (size_t i = 0; i < array->size(); ++i) {
    std::string at = Child(base, i);
    ASSIGN_OR_RETURN(const json::object* o, r.AsObject((*array)[i], at));
    RETURN_IF_ERROR(r.CheckKnownFields(*o, at,
                                       {"id", "stage", "after", "thread", "priority", "weight",
                                        "optional", "budget_ms", "run_after_failure"}));
    StartupTaskDecl task;
    ASSIGN_OR_RETURN(task.id, r.RequiredString(*o, at, "id"));
    if (!IsTaskId(task.id)) {
      return r.Invalid(Child(at, "id"), "invalid startup task id " + Quote(task.id) +
                                            ": expected [a-z][a-z0-9_.-]*");
    }
    auto [it, inserted] = seen.emplace(task.id, i);
    if (!inserted) {
      return r.Invalid(Child(at, "id"), "duplicate startup task id " + Quote(task.id) +
                                            " (first at " + Child(base, it->second) + ")");
    }
    ASSIGN_OR_RETURN(task.stage, r.RequiredString(*o, at, "stage"));
    if (!IsLowerToken(task.stage)) {
      return r.Invalid(Child(at, "stage"), "invalid stage " + Quote(task.stage) +
                                               ": expected a stage name [a-z][a-z0-9_-]* "
                                               "(default stages: boot, framework, first_frame, "
                                               "post_frame, idle)");
    }
    ASSIGN_OR_RETURN(const json::array* after, r.OptionalArray(*o, at, "after"));
    if (after != nullptr) {
      std::string after_base = Child(at, "after");
      std::unordered_set<std::string> entries;
      for (size_t j = 0; j < after->size(); ++j) {
        std::string entry_at = Child(after_base, j);
        ASSIGN_OR_RETURN(std::string entry, r.AsString((*after)[j], entry_at));
        RETURN_IF_ERROR(CheckAfterEntry(r, entry, entry_at, *m, task.id));
        if (!entries.insert(entry).second) {
          return r.Invalid(entry_at, "duplicate dependency " + Quote(entry));
        }
        task.after.push_back(std::move(entry));
      }
    }
    ASSIGN_OR_RETURN(task.thread, r.OptionalString(*o, at, "thread", "main"));
    if (!IsLowerToken(task.thread)) {
      return r.Invalid(Child(at, "thread"), "invalid thread " + Quote(task.thread) +
                                                ": expected 'main' or a pool name "
                                                "[a-z][a-z0-9_-]*");
    }
    ASSIGN_OR_RETURN(task.priority, r.OptionalString(*o, at, "priority", "user_visible"));
    if (task.priority != "user_blocking" && task.priority != "user_visible" &&
        task.priority != "best_effort") {
      return r.Invalid(Child(at, "priority"),
                       "invalid priority " + Quote(task.priority) +
                           ": expected user_blocking, user_visible or best_effort");
    }
    ASSIGN_OR_RETURN(int64_t weight, r.OptionalInt(*o, at, "weight", 1, 1, 1000000));
    task.weight = static_cast<uint32_t>(weight);
    ASSIGN_OR_RETURN(task.optional, r.OptionalBool(*o, at, "optional", false));
    ASSIGN_OR_RETURN(task.budget_ms, r.OptionalPositive(*o, at, "budget_ms", 0, 3600000));
    ASSIGN_OR_RETURN(task.run_after_failure, r.OptionalBool(*o, at, "run_after_failure", false));
    m->startup.push_back(std::move(task));
  }
  return Status::Ok();
}

Result<Manifest> BuildManifest(const json::value& doc, std::string_view file) {
  FieldReader r(file);
  ASSIGN_OR_RETURN(const json::object* root, r.AsObject(doc, ""));
  // The core fields, then the sections layers registered (config_defaults, ...).
  const std::vector<internal::AppSectionInfo> sections = internal::RegisteredBundleSections();
  std::vector<std::string_view> known = internal::CoreBundleFields();
  for (const internal::AppSectionInfo& section : sections) known.push_back(section.name);
  RETURN_IF_ERROR(r.CheckKnownFields(*root, "", known));
  if (auto schema = r.OptionalString(*root, "", "$schema", ""); !schema.ok()) {
    return std::move(schema).take_error();
  }
  Manifest m;
  ASSIGN_OR_RETURN(m.name, ReadBundleName(r, *root, "", "name", "bundle name"));
  r.set_bundle(m.name);
  ASSIGN_OR_RETURN(std::string version, r.RequiredString(*root, "", "version"));
  ASSIGN_OR_RETURN(m.version, ParseVersionField(r, version, "/version"));
  ASSIGN_OR_RETURN(m.description, r.OptionalString(*root, "", "description", ""));
  if (const json::value* library = root->if_contains("library")) {
    ASSIGN_OR_RETURN(m.library, ReadRelativePath(r, *library, "/library", "library path"));
  }
  ASSIGN_OR_RETURN(std::string activation, r.OptionalString(*root, "", "activation", "lazy"));
  if (activation == "lazy") {
    m.activation = Activation::kLazy;
  } else if (activation == "eager") {
    m.activation = Activation::kEager;
  } else {
    return r.Invalid("/activation",
                     "invalid activation " + Quote(activation) + ": expected 'lazy' or 'eager'");
  }
  RETURN_IF_ERROR(ReadRequires(r, *root, &m));
  RETURN_IF_ERROR(ReadProvides(r, *root, &m));
  RETURN_IF_ERROR(ReadMicroApps(r, *root, &m));
  RETURN_IF_ERROR(ReadStartup(r, *root, &m));
  ASSIGN_OR_RETURN(m.live_swap, r.OptionalBool(*root, "", "live_swap", false));
  ASSIGN_OR_RETURN(const json::array* resources, r.OptionalArray(*root, "", "resources"));
  if (resources != nullptr) {
    ASSIGN_OR_RETURN(m.resources, ReadPathList(r, *resources, "/resources", "resource path"));
  }
  for (const internal::AppSectionInfo& section : sections) {
    const json::value* v = root->if_contains(section.name);
    if (v == nullptr) continue;
    if (Status s = section.validate(*v, file, "/" + section.name); !s.ok()) {
      Error e = s.error();
      e.bundle = m.name;
      return e;
    }
    m.sections.emplace(section.name, json::serialize(*v));
  }
  return m;
}

// app.json "/startup".
Result<StartupConfig> ReadStartupConfig(const FieldReader& r, const json::value& v) {
  const std::string base = "/startup";
  ASSIGN_OR_RETURN(const json::object* o, r.AsObject(v, base));
  RETURN_IF_ERROR(r.CheckKnownFields(
      *o, base, {"stages", "pools", "max_threads", "bundle_task_quota", "critical"}));
  StartupConfig config;
  ASSIGN_OR_RETURN(const json::array* stages, r.OptionalArray(*o, base, "stages"));
  if (stages != nullptr) {
    if (stages->empty()) return r.Invalid(base + "/stages", "stages must not be empty");
    for (size_t i = 0; i < stages->size(); ++i) {
      const std::string at = Child(base + "/stages", i);
      ASSIGN_OR_RETURN(std::string stage, r.AsString((*stages)[i], at));
      if (!IsLowerToken(stage)) {
        return r.Invalid(at, "invalid stage name " + Quote(stage) + ": expected [a-z][a-z0-9_-]*");
      }
      if (std::find(config.stages.begin(), config.stages.end(), stage) != config.stages.end()) {
        return r.Invalid(at, "duplicate stage " + Quote(stage));
      }
      config.stages.push_back(std::move(stage));
    }
  }
  ASSIGN_OR_RETURN(const json::object* pools, r.OptionalObject(*o, base, "pools"));
  if (pools != nullptr) {
    for (const json::key_value_pair& member : *pools) {
      PoolDecl pool;
      pool.name = std::string(member.key());
      const std::string at = Child(base + "/pools", pool.name);
      if (!IsLowerToken(pool.name) || pool.name == "main") {
        return r.Invalid(at, "invalid pool name " + Quote(pool.name) +
                                 ": expected [a-z][a-z0-9_-]*, not 'main'");
      }
      ASSIGN_OR_RETURN(const json::object* p, r.AsObject(member.value(), at));
      RETURN_IF_ERROR(
          r.CheckKnownFields(*p, at, {"threads", "priority", "queue_limit", "held_until_idle"}));
      ASSIGN_OR_RETURN(int64_t threads, r.OptionalInt(*p, at, "threads", 0, 1, 256));
      pool.threads = static_cast<int>(threads);
      ASSIGN_OR_RETURN(pool.priority, r.OptionalString(*p, at, "priority", ""));
      if (!pool.priority.empty() && pool.priority != "high" && pool.priority != "normal" &&
          pool.priority != "low" && pool.priority != "idle") {
        return r.Invalid(Child(at, "priority"), "invalid priority " + Quote(pool.priority) +
                                                    ": expected high, normal, low or idle");
      }
      ASSIGN_OR_RETURN(int64_t limit, r.OptionalInt(*p, at, "queue_limit", 0, 1, 10000000));
      pool.queue_limit = static_cast<uint64_t>(limit);
      if (p->if_contains("held_until_idle") != nullptr) {
        ASSIGN_OR_RETURN(bool held, r.OptionalBool(*p, at, "held_until_idle", false));
        pool.held_until_idle = held ? 1 : 0;
      }
      config.pools.push_back(std::move(pool));
    }
  }
  ASSIGN_OR_RETURN(int64_t max_threads, r.OptionalInt(*o, base, "max_threads", 0, 1, 1024));
  config.max_threads = static_cast<int>(max_threads);
  ASSIGN_OR_RETURN(int64_t quota, r.OptionalInt(*o, base, "bundle_task_quota", 0, 1, 1024));
  config.bundle_task_quota = static_cast<int>(quota);
  ASSIGN_OR_RETURN(const json::array* critical, r.OptionalArray(*o, base, "critical"));
  if (critical != nullptr) {
    for (size_t i = 0; i < critical->size(); ++i) {
      const std::string at = Child(base + "/critical", i);
      ASSIGN_OR_RETURN(std::string item, r.AsString((*critical)[i], at));
      const size_t colon = item.find(':');
      const std::string bundle = item.substr(0, colon);
      if (!IsValidBundleName(bundle) ||
          (colon != std::string::npos && !IsTaskId(std::string_view(item).substr(colon + 1)))) {
        return r.Invalid(at, "invalid critical entry " + Quote(item) +
                                 ": expected a bundle name or bundle:task");
      }
      if (std::find(config.critical.begin(), config.critical.end(), item) !=
          config.critical.end()) {
        return r.Invalid(at, "duplicate critical entry " + Quote(item));
      }
      config.critical.push_back(std::move(item));
    }
  }
  return config;
}

Result<AppDescriptor> BuildAppDescriptor(const json::value& doc, std::string_view file) {
  FieldReader r(file);
  ASSIGN_OR_RETURN(const json::object* root, r.AsObject(doc, ""));
  // The core fields, then the sections layers registered (launch_guard, ...).
  const std::vector<internal::AppSectionInfo> sections = internal::RegisteredAppSections();
  std::vector<std::string_view> known = internal::CoreAppFields();
  for (const internal::AppSectionInfo& section : sections) known.push_back(section.name);
  RETURN_IF_ERROR(r.CheckKnownFields(*root, "", known));
  if (auto schema = r.OptionalString(*root, "", "$schema", ""); !schema.ok()) {
    return std::move(schema).take_error();
  }
  AppDescriptor app;
  ASSIGN_OR_RETURN(app.id, ReadBundleName(r, *root, "", "id", "app id"));
  ASSIGN_OR_RETURN(std::string version, r.RequiredString(*root, "", "version"));
  ASSIGN_OR_RETURN(app.version, ParseVersionField(r, version, "/version"));
  ASSIGN_OR_RETURN(app.name, r.OptionalString(*root, "", "name", ""));
  ASSIGN_OR_RETURN(app.home, r.RequiredString(*root, "", "home"));
  if (!IsMicroAppId(app.home)) {
    return r.Invalid("/home", "invalid micro app id " + Quote(app.home) +
                                  ": expected [a-z][a-z0-9_-]*, at most 64 characters");
  }
  ASSIGN_OR_RETURN(const json::array* baseline, r.RequiredArray(*root, "", "baseline"));
  if (baseline->empty()) {
    return r.Invalid("/baseline", "baseline must list at least one bundle directory");
  }
  ASSIGN_OR_RETURN(app.baseline, ReadPathList(r, *baseline, "/baseline", "baseline directory"));
  ASSIGN_OR_RETURN(const json::array* keys, r.OptionalArray(*root, "", "release_keys"));
  if (keys != nullptr) {
    for (size_t i = 0; i < keys->size(); ++i) {
      const std::string at = Child("/release_keys", i);
      ASSIGN_OR_RETURN(std::string key, r.AsString((*keys)[i], at));
      bool hex = key.size() == 64 && std::all_of(key.begin(), key.end(), [](char c) {
                   return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
                 });
      if (!hex) {
        return r.Invalid(at, "invalid release key " + Quote(key) +
                                 ": expected an Ed25519 public key as 64 lowercase hex digits");
      }
      if (std::find(app.release_keys.begin(), app.release_keys.end(), key) !=
          app.release_keys.end()) {
        return r.Invalid(at, "duplicate release key " + Quote(key));
      }
      app.release_keys.push_back(std::move(key));
    }
  }
  if (const json::value* startup = root->if_contains("startup")) {
    ASSIGN_OR_RETURN(app.startup, ReadStartupConfig(r, *startup));
  }
  // Each registered section present is validated by its owner and kept as
  // text for it.
  for (const internal::AppSectionInfo& section : sections) {
    const json::value* v = root->if_contains(section.name);
    if (v == nullptr) continue;
    RETURN_IF_ERROR(section.validate(*v, file, "/" + section.name));
    app.sections.emplace(section.name, json::serialize(*v));
  }
  return app;
}

Result<StartupConfig> BuildStartupConfig(const json::value& doc, std::string_view file) {
  FieldReader r(file);
  return ReadStartupConfig(r, doc);
}

// Reads a whole file, stopping once it is known to exceed the size limit
// (the parser then reports that).
Result<std::string> ReadDocumentFile(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    int err = errno;
    return MakeLocated(ErrorCode::kIo, path, "",
                       "cannot open file: " + std::generic_category().message(err));
  }
  std::string data;
  char buffer[16384];
  while (data.size() <= kMaxDocumentBytes) {
    size_t n = std::fread(buffer, 1, sizeof(buffer), f);
    data.append(buffer, n);
    if (n < sizeof(buffer)) break;
  }
  bool failed = std::ferror(f) != 0;
  int err = errno;
  std::fclose(f);
  if (failed) {
    return MakeLocated(ErrorCode::kIo, path, "",
                       "cannot read file: " + std::generic_category().message(err));
  }
  return data;
}

template <typename T>
Result<T> ParseWith(std::string_view text, std::string_view file,
                    Result<T> (*build)(const json::value&, std::string_view)) {
  // The DOM lives only while it is converted; a monotonic arena frees it in one go.
  json::monotonic_resource arena;
  ASSIGN_OR_RETURN(json::value doc, ParseDocument(text, file, &arena));
  try {
    return build(doc, file);
  } catch (const std::exception& ex) {
    return MakeLocated(ErrorCode::kInternal, file, "",
                       std::string("internal error while reading the document: ") + ex.what());
  }
}

}  // namespace

bool IsValidBundleName(std::string_view name) {
  if (name.size() > kMaxBundleNameLength) return false;
  return IsDottedName(name, [](std::string_view label) { return IsLowerToken(label); });
}

Result<Manifest> ParseManifest(std::string_view json, std::string_view file) {
  return ParseWith<Manifest>(json, file, &BuildManifest);
}

Result<Manifest> LoadManifestFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadDocumentFile(path));
  return ParseManifest(text, path);
}

Result<AppDescriptor> ParseAppDescriptor(std::string_view json, std::string_view file) {
  return ParseWith<AppDescriptor>(json, file, &BuildAppDescriptor);
}

Result<AppDescriptor> LoadAppDescriptorFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadDocumentFile(path));
  return ParseAppDescriptor(text, path);
}

Result<StartupConfig> ParseStartupConfig(std::string_view json, std::string_view file) {
  return ParseWith<StartupConfig>(json, file, &BuildStartupConfig);
}

const std::vector<std::string>& DefaultStartupStages() {
  static const auto* stages =
      new std::vector<std::string>{"boot", "framework", "first_frame", "post_frame", "idle"};
  return *stages;
}

}  // namespace atrium

#undef RETURN_IF_ERROR
#undef ASSIGN_OR_RETURN
