// Native bundle updates as a registered dynamic layer: the launch guard
// lists, disables and rolls back native bundle updates through it, on the
// artifact store's native_bundle rows. Updates activate at the next launch
// (the container promotes staged versions at Open) or by a live swap.
//
// Not here yet: installing, promoting, the fallback after a failed load and
// the live swap still live in the container (container_impl.cc); they move
// here when the container is split into rooms.
#include <memory>

#include "atrium/dynamic/store_layer.h"

namespace atrium::native {
namespace {

DynamicLayerSpec NativeLayerSpec() {
  DynamicLayerSpec spec;
  spec.kind = "native_bundle";
  spec.package_kind = ArtifactKind::kNativeBundle;
  spec.activation = ActivationPoint::kNextLaunch;
  spec.description = "native bundle updates: next launch, or a live swap";
  spec.create = StoreLayerFactory(ArtifactKind::kNativeBundle);
  return spec;
}

}  // namespace
}  // namespace atrium::native

ATRIUM_REGISTER_DYNAMIC_LAYER(atrium::native::NativeLayerSpec());
