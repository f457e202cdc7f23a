// Test hooks of the bundles layer (never installed).
#ifndef ATRIUM_BUNDLES_TEST_HOOKS_H_
#define ATRIUM_BUNDLES_TEST_HOOKS_H_

#include <cstdint>
#include <functional>

namespace atrium {
class ArtifactStore;
}

namespace atrium::internal {

// Makes `store` stamp changed_ms and history rows with `now_ms()` (Unix ms)
// instead of the system clock.
void SetArtifactStoreClockForTesting(ArtifactStore& store, std::function<int64_t()> now_ms);

// When set, ArtifactStore::Install calls it at each named point
// ("extracted", "renamed", "rows_written", "committed", "cleaned") so a test
// can kill the process there. Set only while no store is in use on another
// thread.
extern void (*ArtifactStoreFailPointForTesting)(const char* point);

}  // namespace atrium::internal

#endif  // ATRIUM_BUNDLES_TEST_HOOKS_H_
