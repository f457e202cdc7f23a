// Patch points declared in bundle.json ("patch_points", a section the
// hotpatch layer registers): the section is validated with located errors,
// and a container's hotpatch runtime refuses a patch whose points no
// installed bundle declares, or declares with another signature, and
// disables one installed earlier when its bundle stops declaring the point.
// Before, such a patch was accepted and listed enabled with no fault while
// the native code kept running.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "atrium/container.h"
#include "atrium/hotpatch.h"
#include "atrium/manifest.h"
#include "container/test_app.h"
#include "testing/package_fixture.h"

namespace atrium::hotpatch {
namespace {

using ::atrium::testing::Keys;
using ::atrium::testing::TestApp;

constexpr const char* kFees = R"json({"name": "com.test.fees", "version": "1.0.0",
  "patch_points": [{"point": "pay.fee", "signature": "int( int, string )",
                    "description": "the fee"}]})json";

struct Bad {
  const char* section;
  const char* pointer;
  const char* says;
};

TEST(DeclaredPointsTest, TheSectionIsValidatedWithLocatedErrors) {
  auto good = ParseManifest(kFees, "bundle.json");
  ASSERT_TRUE(good.ok()) << good.error().ToString();
  EXPECT_EQ(good->sections.count("patch_points"), 1u);

  const Bad cases[] = {
      {R"j("patch_points": {})j", "/patch_points", "array"},
      {R"j("patch_points": [1])j", "/patch_points/0", "object"},
      {R"j("patch_points": [{"signature": "int()"}])j", "/patch_points/0", "point"},
      {R"j("patch_points": [{"point": "Pay.Fee", "signature": "int()"}])j", "/patch_points/0/point",
       "invalid point id"},
      {R"j("patch_points": [{"point": "fee", "signature": "int()"}])j", "/patch_points/0/point",
       "invalid point id"},
      {R"j("patch_points": [{"point": "pay.fee", "signature": "int(money)"}])j",
       "/patch_points/0/signature", "invalid signature"},
      {R"j("patch_points": [{"point": "pay.fee"}])j", "/patch_points/0", "signature"},
      {R"j("patch_points": [{"point": "pay.fee", "signature": "int()", "mode": "x"}])j",
       "/patch_points/0", "mode"},
      {R"j("patch_points": [{"point": "pay.fee", "signature": "int()"},
                           {"point": "pay.fee", "signature": "int()"}])j",
       "/patch_points/1/point", "declared twice"},
  };
  for (const Bad& c : cases) {
    const std::string json =
        std::string(R"({"name": "com.test.fees", "version": "1.0.0", )") + c.section + "}";
    auto m = ParseManifest(json, "bundle.json");
    ASSERT_FALSE(m.ok()) << c.section;
    EXPECT_EQ(m.error().file, "bundle.json") << c.section;
    EXPECT_EQ(m.error().pointer.rfind(c.pointer, 0), 0u)
        << c.section << ": " << m.error().ToString();
    EXPECT_NE(m.error().ToString().find(c.says), std::string::npos)
        << c.section << ": " << m.error().ToString();
  }
}

class DeclaredPointsInstallTest : public ::testing::Test {
 protected:
  void SetUp() override {
    app_.AddManifest("fees", kFees);
    app_.SetReleaseKey(keys_.pub_hex);
    app_.WriteAppJson();
  }

  std::string MakePatch(const std::string& id, const std::string& point,
                        const std::string& signature) {
    const std::string dir = app_.root() + "/patch-src/" + id;
    std::filesystem::create_directories(dir);
    std::ofstream(dir + "/patch.json")
        << "{\"id\": \"" << id
        << "\", \"version\": \"1.0.0\", \"targets\": {\"app\": \"com.test.app\"}, "
        << "\"points\": [{\"point\": \"" << point
        << "\", \"mode\": \"replace\", \"function\": \"f\", \"signature\": \"" << signature
        << "\"}]}";
    std::ofstream(dir + "/patch.lua") << "function f(original, a, b) return 1 end";
    return ::atrium::testing::PackDir(dir, keys_, ArtifactKind::kLuaPatch);
  }

  std::unique_ptr<Container> Open() {
    auto c = Container::Open({app_.app_dir(), app_.data_dir()});
    EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().ToString());
    return c.ok() ? std::move(c).value() : nullptr;
  }

  TestApp app_{{"greeter"}, "greeter"};
  Keys keys_;
};

TEST_F(DeclaredPointsInstallTest, OnlyDeclaredPointsWithTheirSignaturesInstall) {
  auto container = Open();
  ASSERT_NE(container, nullptr);
  auto runtime = Runtime::Of(*container);
  ASSERT_NE(runtime, nullptr);

  auto unknown = runtime->Install(MakePatch("unknown", "pay.tax", "int(int,string)"));
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(
      unknown.error().message.find("it patches point pay.tax, which no installed bundle declares"),
      std::string::npos)
      << unknown.error().ToString();

  auto mismatch = runtime->Install(MakePatch("mismatch", "pay.fee", "int(int)"));
  ASSERT_FALSE(mismatch.ok());
  EXPECT_NE(mismatch.error().message.find("point pay.fee is int(int,string) in com.test.fees's "
                                          "bundle.json, the patch declares int(int)"),
            std::string::npos)
      << mismatch.error().ToString();
  EXPECT_TRUE(runtime->List().empty());

  auto good = runtime->Install(MakePatch("good", "pay.fee", "int(int,string)"));
  ASSERT_TRUE(good.ok()) << good.error().ToString();
  EXPECT_EQ(good->state, "enabled");
}

TEST_F(DeclaredPointsInstallTest, APatchWhosePointIsNoLongerDeclaredIsDisabledAtOpen) {
  {
    auto container = Open();
    ASSERT_NE(container, nullptr);
    auto runtime = Runtime::Of(*container);
    ASSERT_NE(runtime, nullptr);
    ASSERT_TRUE(runtime->Install(MakePatch("good", "pay.fee", "int(int,string)")).ok());
  }
  // The bundle's next build declares the point with another signature.
  std::ofstream(app_.bundle_dir("fees") + "/bundle.json") << R"json({"name": "com.test.fees",
      "version": "1.0.0", "patch_points": [{"point": "pay.fee", "signature": "int(int)"}]})json";
  auto container = Open();
  ASSERT_NE(container, nullptr);
  auto runtime = Runtime::Of(*container);
  ASSERT_NE(runtime, nullptr);
  auto list = runtime->List();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_NE(list[0].state, "enabled");
  EXPECT_NE(list[0].reason.find("point pay.fee is int(int) in com.test.fees's bundle.json"),
            std::string::npos)
      << list[0].reason;
}

}  // namespace
}  // namespace atrium::hotpatch
