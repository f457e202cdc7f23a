// The seam between the container and the native bundle layer
// (dynamic/native/). The layer owns the decisions of native bundle updates:
// installing a package, whether a bundle that failed to load or start was an
// update to fall back from, whether a package may be swapped live, rolling
// back. The container keeps what only it can do: its bundle index and the
// running bundles. It implements NativeBundleHost; the layer finds it by
// dynamic_cast of the Container it is attached to (ContainerLayer) and hands
// back its NativeUpdates.
//
// Concurrency: NativeBundleHost methods are thread-safe (they take the
// container's lifecycle lock). NativeUpdates::FallBack is called with that
// lock held: it may use the artifact store, never the container.
#ifndef ATRIUM_CONTAINER_NATIVE_HOST_H_
#define ATRIUM_CONTAINER_NATIVE_HOST_H_

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "atrium/artifact_store.h"
#include "atrium/result.h"

namespace atrium::internal {

class NativeUpdates {
 public:
  // Bundle `name` `version` in `dir` failed to load or start (`why`): true
  // when that was an update, now recorded failed with the version in use
  // restored (the container rebuilds its index and loads that one).
  virtual bool FallBack(const std::string& name, const std::string& version, const std::string& dir,
                        const std::string& why) = 0;
  virtual Result<ArtifactRecord> SwapLive(const std::string& package_path) = 0;
  virtual Result<std::optional<ArtifactRecord>> Rollback(std::string_view bundle,
                                                         std::string_view reason) = 0;

 protected:
  ~NativeUpdates() = default;
};

class NativeBundleHost {
 public:
  // Rebuilds the bundle index (the store's versions in use over the
  // baseline): bundles not loaded yet load the version in use now.
  virtual Status ReindexBundles(const std::string& why) = 0;
  // The mechanics of a live swap of bundle `bundle` to `version`: exports the
  // running version's state, calls `install` (which makes the new version
  // the store's active one), rebuilds the index, loads and starts the new
  // version (it takes the state), switches the bundle's services to it and
  // stops the old one. When the new version does not start, `failed` is
  // called with the reason (the layer records it), the index is rebuilt and
  // the old version keeps running. A bundle that is not running simply gets
  // the new version at its next load.
  virtual Result<ArtifactRecord> SwapRunning(
      const std::string& bundle, const std::string& version,
      const std::function<Result<ArtifactRecord>()>& install,
      const std::function<void(const std::string& reason)>& failed) = 0;
  // The native layer's half (nullptr: no native updates; the layer detached).
  virtual void SetNativeUpdates(NativeUpdates* updates) = 0;

 protected:
  ~NativeBundleHost() = default;
};

}  // namespace atrium::internal

#endif  // ATRIUM_CONTAINER_NATIVE_HOST_H_
