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

SectionRegistry& Registry() {
  static SectionRegistry* registry = new SectionRegistry();  // leaked: used by static initializers
  return *registry;
}

}  // namespace

const std::vector<std::string_view>& CoreAppFields() {
  static const auto* fields = new std::vector<std::string_view>{
      "$schema", "id", "version", "name", "home", "baseline", "release_keys", "startup"};
  return *fields;
}

Status RegisterAppSection(std::string_view name, std::string_view owner,
                          AppSectionValidator validate) {
  if (name.empty() || !validate) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "an app.json section needs a name and a validator");
  }
  const auto& core = CoreAppFields();
  if (std::find(core.begin(), core.end(), name) != core.end()) {
    return MakeError(ErrorCode::kAlreadyExists,
                     "app.json section \"" + std::string(name) + "\" is a core field");
  }
  SectionRegistry& r = Registry();
  std::lock_guard lock(r.mu);
  auto it =
      std::lower_bound(r.sections.begin(), r.sections.end(), name,
                       [](const AppSectionInfo& s, std::string_view n) { return s.name < n; });
  if (it != r.sections.end() && it->name == name) {
    return MakeError(ErrorCode::kAlreadyExists, "app.json section \"" + std::string(name) +
                                                    "\" is already registered by " + it->owner);
  }
  r.sections.insert(it, AppSectionInfo{std::string(name), std::string(owner), std::move(validate)});
  return Status::Ok();
}

std::vector<AppSectionInfo> RegisteredAppSections() {
  SectionRegistry& r = Registry();
  std::lock_guard lock(r.mu);
  return r.sections;
}

void DieOnRegistrationError(const Status& status) {
  std::fprintf(stderr, "atrium: registration failed: %s\n", status.error().ToString().c_str());
  std::abort();
}

}  // namespace atrium::internal
