// Helpers of the banner layer's tests: the app's store, a banner's state,
// installing a banner package.
#ifndef ATRIUM_TESTS_DYNAMIC_BANNER_TEST_UTIL_H_
#define ATRIUM_TESTS_DYNAMIC_BANNER_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "../container/test_app.h"
#include "../guard/guard_test_util.h"
#include "atrium/artifact_store.h"
#include "banner/banner_layer.h"
#include "testing/package_fixture.h"

namespace atrium::testing {

// The app's store, trusting `keys`.
inline std::unique_ptr<ArtifactStore> Store(const TestApp& app, const Keys& keys) {
  auto store = ArtifactStore::Open({app.data_dir(), {keys.pub}, "com.test.app"});
  EXPECT_TRUE(store.ok()) << (store.ok() ? "" : store.error().ToString());
  return store.ok() ? std::move(store).value() : nullptr;
}

// "active", "previous", "disabled", ... of banner `id` at `version`; "absent".
inline std::string BannerState(const TestApp& app, const Keys& keys, const std::string& version) {
  auto store = Store(app, keys);
  auto list = store->List();
  if (!list.ok()) return "<" + list.error().ToString() + ">";
  for (const ArtifactRecord& r : *list) {
    if (r.kind == banner::kBannerKind && r.id == "welcome" && r.version == version) {
      return ArtifactStateName(r.state);
    }
  }
  return "absent";
}

inline void InstallActive(const TestApp& app, const Keys& keys, const std::string& package) {
  auto r = Store(app, keys)->Install(package, InstallAs::kActive, "test");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(ArtifactKindName(r->kind), std::string("banner"));
}

// Pins `keys` in the app, runs a good launch, installs banner welcome@1.0.0
// and runs a good launch with it active.
inline void LaunchWithBanner(TestApp& app, const Keys& keys) {
  app.SetReleaseKey(keys.pub_hex);
  app.WriteAppJson();
  EXPECT_EQ(Launch(app, true), 0);
  ASSERT_NO_FATAL_FAILURE(
      InstallActive(app, keys, banner::PackBanner(app.root(), keys.sec, "welcome", "1.0.0")));
  EXPECT_EQ(Launch(app, true), 0);
}

}  // namespace atrium::testing

#endif  // ATRIUM_TESTS_DYNAMIC_BANNER_TEST_UTIL_H_
