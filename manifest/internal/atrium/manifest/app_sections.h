// The registries of app.json and bundle.json sections owned by layers above the manifest model
// ("launch_guard" by the guard, a dynamic layer's own section). The app
// descriptor parser stays strict: a top-level key that is neither a core
// field nor a registered section is refused with its pointer, and a
// registered section is validated by its owner with pointers under
// "/<name>". ParseAppDescriptor keeps each present section's JSON text in
// AppDescriptor::sections for its owner to read.
//
// Registration normally happens from a static initializer of the owning
// layer (ATRIUM_REGISTER_APP_SECTION); a duplicate name is refused.
//
// Concurrency: thread-safe (one mutex); validators must be pure.
#ifndef ATRIUM_MANIFEST_APP_SECTIONS_H_
#define ATRIUM_MANIFEST_APP_SECTIONS_H_

#include <boost/json/value.hpp>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "atrium/result.h"

namespace atrium::internal {

// Validates `value`, the section found at `pointer` in `file`.
using AppSectionValidator = std::function<Status(const boost::json::value& value,
                                                 std::string_view file, std::string_view pointer)>;

// kAlreadyExists when `name` is a core app.json field or already registered;
// kInvalidArgument for an empty name or validator.
Status RegisterAppSection(std::string_view name, std::string_view owner,
                          AppSectionValidator validate);

struct AppSectionInfo {
  std::string name;
  std::string owner;
  AppSectionValidator validate;
};
// Every registered section, sorted by name.
std::vector<AppSectionInfo> RegisteredAppSections();

// The core fields of app.json, which no section may take.
const std::vector<std::string_view>& CoreAppFields();

// The same for bundle.json ("config_defaults" by the config layer):
// ParseManifest refuses a key that is neither a core field nor registered,
// validates a registered one with its owner's validator and keeps its JSON
// text in Manifest::sections.
Status RegisterBundleSection(std::string_view name, std::string_view owner,
                             AppSectionValidator validate);
std::vector<AppSectionInfo> RegisteredBundleSections();
const std::vector<std::string_view>& CoreBundleFields();

}  // namespace atrium::internal

// Registers a section from a static initializer; a failure (a duplicate
// name) aborts at start with the message, since it is a build mistake.
#define ATRIUM_REGISTER_APP_SECTION(name, owner, validate)                              \
  static const bool atrium_app_section_registered_##validate = [] {                     \
    ::atrium::Status s = ::atrium::internal::RegisterAppSection(name, owner, validate); \
    if (!s.ok()) ::atrium::internal::DieOnRegistrationError(s);                         \
    return true;                                                                        \
  }()

#define ATRIUM_REGISTER_BUNDLE_SECTION(name, owner, validate)                              \
  static const bool atrium_bundle_section_registered_##validate = [] {                     \
    ::atrium::Status s = ::atrium::internal::RegisterBundleSection(name, owner, validate); \
    if (!s.ok()) ::atrium::internal::DieOnRegistrationError(s);                            \
    return true;                                                                           \
  }()

namespace atrium::internal {
[[noreturn]] void DieOnRegistrationError(const Status& status);
}  // namespace atrium::internal

#endif  // ATRIUM_MANIFEST_APP_SECTIONS_H_
