// ContainerExtension: a part of a layer above the container that needs the
// running container but owns no artifact kind — the update client's sync
// after a launch, and later the health reports of staged rollouts. It
// registers a factory from a static initializer of its own folder
// (ATRIUM_REGISTER_CONTAINER_EXTENSION); the container creates every
// registered extension once Open has succeeded and its dynamic layers are
// attached (not for ContainerOptions::inspect: looking at an app starts no
// background work), hands it a best-effort executor of its own, and
// detaches and destroys it first thing when it closes, before the dynamic
// layers and before any bundle stops. An extension whose Attach fails is
// logged and dropped; the app goes on.
//
// Concurrency: Attach and Detach run on the thread that opens / destroys the
// container; Detach must leave no task of the extension running or able to
// touch the container afterwards.
#ifndef ATRIUM_CONTAINER_EXTENSION_H_
#define ATRIUM_CONTAINER_EXTENSION_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "atrium/executor.h"
#include "atrium/export.h"
#include "atrium/result.h"

namespace atrium {

class Container;

class ATRIUM_EXPORT ContainerExtension {
 public:
  virtual ~ContainerExtension();
  // `background`: the "net" pool, accounted to the extension's name; tasks
  // posted with BEST_EFFORT wait for the startup fence (the idle stage).
  virtual Status Attach(Container& container, std::shared_ptr<Executor> background) = 0;
  virtual void Detach() {}
};

struct ContainerExtensionSpec {
  std::string name;  // "atrium.update": logs, task accounting
  std::function<std::unique_ptr<ContainerExtension>()> create;
};

// kAlreadyExists for a name taken; kInvalidArgument without a factory.
ATRIUM_EXPORT Status RegisterContainerExtension(ContainerExtensionSpec spec);
// Sorted by name.
ATRIUM_EXPORT std::vector<ContainerExtensionSpec> RegisteredContainerExtensions();

namespace internal {
[[noreturn]] ATRIUM_EXPORT void DieOnExtensionRegistrationError(const Status& status);
}  // namespace internal

}  // namespace atrium

#define ATRIUM_CONTAINER_EXTENSION_CONCAT_INNER(a, b) a##b
#define ATRIUM_CONTAINER_EXTENSION_CONCAT(a, b) ATRIUM_CONTAINER_EXTENSION_CONCAT_INNER(a, b)
#define ATRIUM_REGISTER_CONTAINER_EXTENSION(spec_expr)                              \
  static const bool ATRIUM_CONTAINER_EXTENSION_CONCAT(atrium_extension_registered_, \
                                                      __LINE__) = [] {              \
    ::atrium::Status s = ::atrium::RegisterContainerExtension(spec_expr);           \
    if (!s.ok()) ::atrium::internal::DieOnExtensionRegistrationError(s);            \
    return true;                                                                    \
  }()

#endif  // ATRIUM_CONTAINER_EXTENSION_H_
