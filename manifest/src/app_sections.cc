#include "atrium/manifest/app_sections.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace atrium::internal {
namespace {

struct SectionRegistry {
  std::mutex mu;
  std::vector<AppSectionInfo> sections;  // guarded by mu, sorted by name
};

// One registry per file: app.json's and bundle.json's.
SectionRegistry& Registry(bool bundle = false) {
  static SectionRegistry* app = new SectionRegistry();      // leaked: used by static initializers
  static SectionRegistry* bundles = new SectionRegistry();  // leaked: idem
  return bundle ? *bundles : *app;
}

Status Register(SectionRegistry& r, std::string_view file,
                const std::vector<std::string_view>& core, std::string_view name,
                std::string_view owner, AppSectionValidator validate) {
  if (name.empty() || !validate) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "a " + std::string(file) + " section needs a name and a validator");
  }
  if (std::find(core.begin(), core.end(), name) != core.end()) {
    return MakeError(ErrorCode::kAlreadyExists,
                     std::string(file) + " section \"" + std::string(name) + "\" is a core field");
  }
  std::lock_guard lock(r.mu);
  auto it =
      std::lower_bound(r.sections.begin(), r.sections.end(), name,
                       [](const AppSectionInfo& s, std::string_view n) { return s.name < n; });
  if (it != r.sections.end() && it->name == name) {
    return MakeError(ErrorCode::kAlreadyExists, std::string(file) + " section \"" +
                                                    std::string(name) +
                                                    "\" is already registered by " + it->owner);
  }
  r.sections.insert(it, AppSectionInfo{std::string(name), std::string(owner), std::move(validate)});
  return Status::Ok();
}

std::vector<AppSectionInfo> Snapshot(SectionRegistry& r) {
  std::lock_guard lock(r.mu);
  return r.sections;
}

}  // namespace

const std::vector<std::string_view>& CoreAppFields() {
  static const auto* fields = new std::vector<std::string_view>{
      "$schema", "id", "version", "name", "home", "baseline", "release_keys", "startup"};
  return *fields;
}

const std::vector<std::string_view>& CoreBundleFields() {
  static const auto* fields = new std::vector<std::string_view>{
      "$schema",  "name",     "version",    "description", "library",   "activation",
      "requires", "provides", "micro_apps", "startup",     "resources", "live_swap"};
  return *fields;
}

Status RegisterAppSection(std::string_view name, std::string_view owner,
                          AppSectionValidator validate) {
  return Register(Registry(), "app.json", CoreAppFields(), name, owner, std::move(validate));
}

std::vector<AppSectionInfo> RegisteredAppSections() { return Snapshot(Registry()); }

Status RegisterBundleSection(std::string_view name, std::string_view owner,
                             AppSectionValidator validate) {
  return Register(Registry(true), "bundle.json", CoreBundleFields(), name, owner,
                  std::move(validate));
}

std::vector<AppSectionInfo> RegisteredBundleSections() { return Snapshot(Registry(true)); }

void DieOnRegistrationError(const Status& status) {
  std::fprintf(stderr, "atrium: registration failed: %s\n", status.error().ToString().c_str());
  std::abort();
}

}  // namespace atrium::internal
