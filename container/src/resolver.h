// Resolver: decides, for the set of installed bundles, which can run.
//
// Rules, applied in this order:
//  1. One version per bundle name is chosen: the highest. Others are
//     superseded ("superseded by 1.4.0").
//  2. A required dependency must be installed and its chosen version must
//     match the range; otherwise the requirer is unresolved with the reason
//     ("requires com.x ^2.0.0, but installed com.x is 1.3.0"), naming every
//     other requirer when ranges conflict. Optional dependencies that are
//     missing or do not match are dropped.
//  3. Bundles on a dependency cycle are unresolved, naming the cycle
//     ("dependency cycle: a -> b -> c -> a"). A cycle of more than 8 is
//     named once, on its smallest name ("dependency cycle of 5000 bundles:
//     a -> ... (4985 more) -> a", at most 16 names); the others point to it.
//  4. A micro-app id declared by two bundles: the bundle later by name is
//     unresolved.
//  5. Anything that requires an unresolved bundle is unresolved, naming it
//     and its reason when that reason is its own, else the root cause
//     ("requires b, which is unresolved (root cause: z: <z's reason>)"), so
//     every reason stays short however long the chain.
// The result also holds a load order (dependencies first) of the resolved.
//
// Concurrency: a pure function.
#ifndef ATRIUM_CONTAINER_RESOLVER_H_
#define ATRIUM_CONTAINER_RESOLVER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "atrium/manifest.h"

namespace atrium::internal {

enum class Resolution : uint8_t { kResolved = 0, kUnresolved = 1, kSuperseded = 2 };

struct ResolveResult {
  struct PerBundle {
    Resolution resolution = Resolution::kResolved;
    std::string reason;
    std::vector<uint32_t> deps;  // indices of resolved dependencies (required and optional)
  };
  std::vector<PerBundle> bundles;    // parallel to the input
  std::vector<uint32_t> load_order;  // resolved bundles, dependencies first
};

ResolveResult Resolve(const std::vector<const Manifest*>& bundles);

}  // namespace atrium::internal

#endif  // ATRIUM_CONTAINER_RESOLVER_H_
