// The bundle manifest (`bundle.json`) and the app descriptor (`app.json`):
// the model every layer reads, and their strict parsers. The JSON Schema for
// bundle.json is docs/bundle.schema.json; docs/manifest.md explains each field.
//
// Parsers never throw: malformed JSON, wrong types, unknown fields and rule
// violations come back as Errors naming the file, the JSON pointer of the
// offending value and, for syntax errors, the byte offset (plus line:column
// in the message).
//
// Concurrency: value types; parse functions are pure and thread-safe.
#ifndef ATRIUM_MANIFEST_H_
#define ATRIUM_MANIFEST_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "atrium/export.h"
#include "atrium/result.h"
#include "atrium/semver.h"

namespace atrium {

enum class Activation { kLazy, kEager };

struct Requirement {
  std::string name;       // bundle name (reverse DNS)
  VersionRange range;     // semver range the dependency must satisfy
  bool optional = false;  // missing optional dependency does not block resolution
};

struct ProvidedService {
  std::string interface_id;  // e.g. "com.wallet.account.AccountService"
  Version version;           // interface version
};

struct MicroAppDecl {
  std::string id;     // appId, unique in the app ("home", "bill")
  std::string type;   // launcher type: "native", later "h5", "hcf"
  std::string entry;  // type-specific entry (native: handler name; h5: index.html)
  std::string title;  // human-readable, optional
};

// A startup task a bundle contributes to the launch (docs/startup.md). The
// bundle registers the code for it from its activator with
// BundleContext::RegisterStartupTask(id, fn).
struct StartupTaskDecl {
  std::string id;                         // unique within the bundle
  std::string stage;                      // one of the app's stages (default: boot, framework,
                                          // first_frame, post_frame, idle); checked when the
                                          // launch's task graph is built
  std::vector<std::string> after;         // "task" (same bundle) or "bundle.name:task"
  std::string thread = "main";            // "main" or a pool name
  std::string priority = "user_visible";  // user_blocking | user_visible | best_effort
  uint32_t weight = 1;    // estimated cost (ms), used to order ready tasks by critical path
  bool optional = false;  // a failure is logged and does not fail the launch
  double budget_ms = 0;   // run time above this is reported (0 = no budget)
  bool run_after_failure = false;  // run even when an optional task it follows failed

  bool operator==(const StartupTaskDecl&) const = default;
};

struct Manifest {
  std::string name;  // reverse-DNS bundle name, e.g. "com.wallet.account"
  Version version;
  std::string library;  // shared library file, relative to the bundle dir; empty = resource-only
  Activation activation = Activation::kLazy;
  std::vector<Requirement> requires_;
  std::vector<ProvidedService> provides;
  std::vector<MicroAppDecl> micro_apps;
  std::vector<StartupTaskDecl> startup;
  std::vector<std::string> resources;  // relative paths (no "..", not absolute)
  std::string description;
  // The bundle supports live swap: a new version may replace it while the
  // app runs (BundleContext::SetStateExporter / TakeHandedOverState).
  bool live_swap = false;
  // Sections owned by layers above (registered bundle.json sections, e.g.
  // "config_defaults"): name -> the section's JSON text, validated by its
  // owner.
  std::map<std::string, std::string, std::less<>> sections;
};

// Parses and validates bundle.json text. `file` is used in error locations.
ATRIUM_EXPORT Result<Manifest> ParseManifest(std::string_view json, std::string_view file);
// Reads and parses a bundle.json file.
ATRIUM_EXPORT Result<Manifest> LoadManifestFile(const std::string& path);

// Validation helpers shared by other parsers.
// Reverse-DNS name: >= 2 dot-separated labels of [a-z0-9_-], starting with a letter.
ATRIUM_EXPORT bool IsValidBundleName(std::string_view name);

// Overrides or additions to the scheduler's pools (app.json "startup.pools").
struct PoolDecl {
  std::string name;
  int threads = 0;           // 0 = keep the default
  std::string priority;      // "" = keep; else high | normal | low | idle
  uint64_t queue_limit = 0;  // 0 = keep
  int held_until_idle = -1;  // -1 = keep, 0/1

  bool operator==(const PoolDecl&) const = default;
};

// app.json "startup": the launch's stages and the scheduler's governance.
struct StartupConfig {
  // Stages in order; empty = boot, framework, first_frame, post_frame, idle.
  // The last stage is the idle stage: when it begins, the startup fence
  // lifts (best-effort work and held pools run).
  std::vector<std::string> stages;
  std::vector<PoolDecl> pools;
  int max_threads = 0;        // 0 = scheduler default
  int bundle_task_quota = 0;  // 0 = scheduler default
  // What the app cannot run without: bundle names ("com.wallet.account":
  // its required tasks) and qualified task ids ("com.wallet.home:render").
  // One of these failing, or skipped, fails the launch; any other failure
  // isolates its bundle and the launch goes on (docs/startup.md).
  std::vector<std::string> critical;

  bool operator==(const StartupConfig&) const = default;
};
ATRIUM_EXPORT const std::vector<std::string>& DefaultStartupStages();

struct AppDescriptor {
  std::string id;  // reverse-DNS app id
  Version version;
  std::string name;  // display name
  std::string home;  // appId of the home micro-app
  // Baseline bundles shipped with the app: directories relative to the app
  // folder, each holding a bundle.json.
  std::vector<std::string> baseline;
  // Ed25519 public keys (64 hex digits) that sign this app's releases:
  // hotpatches and, later, packages. Pinned here, so a key swap needs an app
  // release.
  std::vector<std::string> release_keys;
  StartupConfig startup;
  // The sections that layers own ("launch_guard", a dynamic layer's), each
  // validated by its owner, as JSON text, by name.
  std::map<std::string, std::string> sections;

  bool operator==(const AppDescriptor&) const = default;
};

ATRIUM_EXPORT Result<AppDescriptor> ParseAppDescriptor(std::string_view json,
                                                       std::string_view file);
ATRIUM_EXPORT Result<AppDescriptor> LoadAppDescriptorFile(const std::string& path);
// The "startup" object of app.json alone (the bundle index stores it as
// text); errors are located under /startup of `file`.
ATRIUM_EXPORT Result<StartupConfig> ParseStartupConfig(std::string_view json,
                                                       std::string_view file);

}  // namespace atrium

#endif  // ATRIUM_MANIFEST_H_
