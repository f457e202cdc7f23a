#include "atrium/container_extension.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace atrium {
namespace {

std::mutex& RegistryMutex() {
  static std::mutex* mu = new std::mutex;
  return *mu;
}
std::vector<ContainerExtensionSpec>& Registry() {
  static auto* specs = new std::vector<ContainerExtensionSpec>;
  return *specs;
}

}  // namespace

ContainerExtension::~ContainerExtension() = default;

Status RegisterContainerExtension(ContainerExtensionSpec spec) {
  if (spec.name.empty() || !spec.create) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "container extension '" + spec.name + "': needs a name and a factory");
  }
  std::lock_guard<std::mutex> lock(RegistryMutex());
  for (const auto& s : Registry()) {
    if (s.name == spec.name) {
      return MakeError(ErrorCode::kAlreadyExists,
                       "container extension '" + spec.name + "' is registered twice");
    }
  }
  Registry().push_back(std::move(spec));
  return Status::Ok();
}

std::vector<ContainerExtensionSpec> RegisteredContainerExtensions() {
  std::lock_guard<std::mutex> lock(RegistryMutex());
  std::vector<ContainerExtensionSpec> out = Registry();
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

namespace internal {
void DieOnExtensionRegistrationError(const Status& status) {
  std::fprintf(stderr, "atrium: %s\n", status.error().ToString().c_str());
  std::abort();
}
}  // namespace internal

}  // namespace atrium
