// "banner": a tiny dynamic layer that exists only to test the DynamicLayer
// seam. A banner is a signed .atb of its own kind ("banner", header byte
// 200, manifest banner.json: {"id", "version", "text"}) kept in the artifact
// store; the layer answers the launch guard from the store (StoreLayer).
// It lives entirely in this folder and registers itself; adding it changed
// no file of any layer.
#ifndef ATRIUM_TESTS_DYNAMIC_BANNER_BANNER_LAYER_H_
#define ATRIUM_TESTS_DYNAMIC_BANNER_BANNER_LAYER_H_

#include <string>

#include "atrium/package.h"

namespace atrium::banner {

inline constexpr ArtifactKind kBannerKind = static_cast<ArtifactKind>(200);

// Writes a banner directory under `work` and packs it into a signed .atb;
// returns its path. `manifest` replaces the generated banner.json when set.
std::string PackBanner(const std::string& work, const SecretKey& key, const std::string& id,
                       const std::string& version, const std::string& manifest = "");

}  // namespace atrium::banner

#endif  // ATRIUM_TESTS_DYNAMIC_BANNER_BANNER_LAYER_H_
