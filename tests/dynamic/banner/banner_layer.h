// "banner": a tiny dynamic layer that exists only to test the DynamicLayer
// seam. A banner artifact is an (id, version) pair recorded in
// <data>/banner/state, one line each: "<id> <version> active|previous|disabled".
// It lives entirely in this folder and registers itself; adding it changed
// no file of any layer.
//
// Concurrency: one thread at a time (the tests').
#ifndef ATRIUM_TESTS_DYNAMIC_BANNER_BANNER_LAYER_H_
#define ATRIUM_TESTS_DYNAMIC_BANNER_BANNER_LAYER_H_

#include <string>
#include <vector>

namespace atrium::banner {

struct BannerRow {
  std::string id, version, state;
  bool operator==(const BannerRow&) const = default;
};

// Installs `version` of banner `id` as active (the active one becomes
// previous; an older previous is dropped).
void Install(const std::string& data_dir, const std::string& id, const std::string& version);
std::vector<BannerRow> Read(const std::string& data_dir);

}  // namespace atrium::banner

#endif  // ATRIUM_TESTS_DYNAMIC_BANNER_BANNER_LAYER_H_
