// An update that would break other bundles is refused where that can be
// known: installing a native bundle resolves the app with it first, and a
// version that leaves bundles unresolved that resolve now is refused with
// each one named (--force stages it anyway, for testing).
#include <gtest/gtest.h>

#include <string>

#include "atrium/container.h"
#include "test_app.h"
#include "testing/package_fixture.h"

namespace atrium {
namespace {

using testing::Keys;
using testing::PackFixture;
using testing::TestApp;

// Before: greeter 2.0.0 was staged, and from the next launch on the consumer
// (which requires greeter ^1.0.0) never resolved again.
TEST(InstallCheckTest, AMajorUpdateThatBreaksItsRequirersIsRefusedNamingThem) {
  TestApp app({"greeter", "consumer"}, "consumer");
  Keys keys;
  app.SetReleaseKey(keys.pub_hex);
  app.WriteAppJson();
  const std::string major = PackFixture(app.root(), keys, "greeter", "2.0.0");
  const std::string minor = PackFixture(app.root(), keys, "greeter", "1.3.0");
  auto c = Container::Open({app.app_dir(), app.data_dir()});
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  auto refused = (*c)->InstallPackage(major);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kValidation);
  EXPECT_EQ(refused.error().message,
            "installing com.test.greeter 2.0.0 would leave 1 bundle that resolve now unresolved "
            "(--force stages it anyway):\n  com.test.consumer 0.3.0: requires com.test.greeter "
            "^1.0.0, but installed com.test.greeter is 2.0.0");
  // Nothing was staged.
  auto list = (*c)->artifacts().List();
  ASSERT_TRUE(list.ok());
  for (const ArtifactRecord& r : *list) EXPECT_NE(r.version, "2.0.0");
  // A compatible update is not refused; --force stages the breaking one.
  EXPECT_TRUE((*c)->InstallPackage(minor).ok());
  auto forced = (*c)->InstallPackage(major, InstallAs::kStaged, /*force=*/true);
  ASSERT_TRUE(forced.ok()) << forced.error().ToString();
  EXPECT_EQ(forced->state, ArtifactState::kStaged);
}

}  // namespace
}  // namespace atrium
