// The `atrium` CLI as a user runs it: the sample wallet end to end, the
// bundle listing, and `validate` printing file:json-pointer: message.
#include "testing/cli.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace {

using ::atrium::testing::RunCli;

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/atrium-cli-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(CliTest, RunsTheSampleWalletLazily) {
  std::string app = std::string(ATRIUM_BINARY_DIR) + "/samples/wallet";
  auto out = RunCli("run " + app + " --data-dir " + dir_ + "/data");
  ASSERT_EQ(out.status, 0) << out.text;
  EXPECT_NE(out.text.find("Welcome back, Ada Lovelace"), std::string::npos) << out.text;
  // The launch loads the bundles with startup tasks (31 tasks in 5 bundles, plus the eager home
  // bundle's @load); scan has none and stays unloaded until opened.
  EXPECT_NE(out.text.find("loaded bundles (5 of 8 installed)"), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("startup tasks: 32 of 32 ok"), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("com.wallet.scan          0.9.0    resolved (lazy)"), std::string::npos)
      << out.text;
  EXPECT_NE(out.text.find("requires com.partner.rewards ^2.0.0, which is not installed"),
            std::string::npos);
  // Opening more micro-apps loads exactly their bundles; the balance persists.
  out = RunCli("run " + app + " --data-dir " + dir_ + "/data --open transfer --open scan");
  ASSERT_EQ(out.status, 0) << out.text;
  EXPECT_NE(out.text.find("loaded bundles (6 of 8 installed)"), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("by micro-app scan"), std::string::npos) << out.text;
  out = RunCli("run " + app + " --data-dir " + dir_ + "/data");
  EXPECT_NE(out.text.find("12395.00"), std::string::npos)
      << out.text;  // 100.00 + 5.00 fee (the shipped bug)
}

TEST_F(CliTest, BundlesListsStatesAndReasons) {
  std::string app = std::string(ATRIUM_BINARY_DIR) + "/samples/wallet";
  auto out = RunCli("bundles " + app + " --data-dir " + dir_ + "/data");
  ASSERT_EQ(out.status, 0) << out.text;
  EXPECT_NE(out.text.find("8 bundles in com.example.wallet"), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("com.wallet.coupons"), std::string::npos);
  EXPECT_NE(out.text.find("requires com.wallet.loyalty, which is unresolved"), std::string::npos);
}

TEST_F(CliTest, ValidatePrintsFilePointerMessage) {
  std::filesystem::create_directories(dir_ + "/b");
  std::ofstream(dir_ + "/b/bundle.json")
      << R"({"name": "com.x.y", "version": "1.0.0", "requires": [{"name": "com.x.z", "version": "^1.x.y"}]})";
  auto out = RunCli("validate " + dir_);
  EXPECT_EQ(out.status, 1);
  EXPECT_NE(out.text.find(dir_ + "/b/bundle.json:/requires/0/version: "), std::string::npos)
      << out.text;
  // An app.json whose launch_guard names the registered layers' kinds, and
  // one naming a kind no layer has.
  auto with_guard = [&](const std::string& name, const std::string& actions) {
    const std::string app = dir_ + "/" + name;
    std::filesystem::copy(std::string(ATRIUM_SOURCE_DIR) + "/samples/wallet", app,
                          std::filesystem::copy_options::recursive);
    std::ifstream in(app + "/app.json");
    std::string json((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    in.close();
    json.insert(1, "\"launch_guard\": {\"actions\": {\"rollback_all\": [" + actions + "]}}, ");
    std::ofstream(app + "/app.json", std::ios::trunc) << json;
    return RunCli("validate " + app + "/app.json");
  };
  auto kinds = with_guard("kinds", "\"rollback:lua_patch\", \"rollback:native_bundle\"");
  EXPECT_EQ(kinds.status, 0) << kinds.text;
  auto unknown = with_guard("unknown", "\"rollback:nope\"");
  EXPECT_EQ(unknown.status, 1) << unknown.text;
  EXPECT_NE(
      unknown.text.find("/launch_guard/actions/rollback_all/0: recovery action "
                        "'rollback:nope' names kind 'nope', which no registered dynamic "
                        "layer has (registered: config_set, h5_package, lua_patch, native_bundle)"),
      std::string::npos)
      << unknown.text;
  auto good = RunCli("validate " + std::string(ATRIUM_SOURCE_DIR) + "/samples/wallet");
  EXPECT_EQ(good.status, 0) << good.text;
  EXPECT_NE(good.text.find("9 file(s) checked, 0 error(s)"), std::string::npos) << good.text;
}

TEST_F(CliTest, HotpatchFixesTheSampleFeeAndContainsTheHostilePatch) {
  std::string app = std::string(ATRIUM_BINARY_DIR) + "/samples/wallet";
  std::string patches = std::string(ATRIUM_BINARY_DIR) + "/samples/wallet-patches";
  std::string data = " --data-dir " + dir_ + "/data";
  auto out = RunCli("run " + app + data + " --open transfer");
  ASSERT_EQ(out.status, 0) << out.text;
  EXPECT_NE(out.text.find("[transfer] fee 5.00"), std::string::npos) << out.text;  // the bug
  out = RunCli("patch apply " + app + " " + patches + "/fix-fee.atb" + data);
  ASSERT_EQ(out.status, 0) << out.text;
  out = RunCli("run " + app + data + " --open transfer");
  EXPECT_NE(out.text.find("[transfer] fee 0.50"), std::string::npos) << out.text;  // fixed
  // The hostile patch installs (it is signed) but cannot get out: the home
  // screen still renders with the original greeting and the patch is failed.
  out = RunCli("patch apply " + app + " " + patches + "/malicious.atb" + data);
  ASSERT_EQ(out.status, 0) << out.text;
  out = RunCli("run " + app + data + " --open transfer");
  ASSERT_EQ(out.status, 0) << out.text;
  EXPECT_NE(out.text.find("Welcome back, Ada Lovelace"), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("[transfer] fee 0.50"), std::string::npos) << out.text;
  out = RunCli("patch list " + app + data);
  EXPECT_NE(out.text.find("totally-harmless         6.6.6    failed"), std::string::npos)
      << out.text;
  EXPECT_NE(out.text.find("fix-transfer-fee         1.0.0    enabled"), std::string::npos);
  // Disable and roll the fix back out from the command line.
  EXPECT_EQ(RunCli("patch disable " + app + " fix-transfer-fee" + data).status, 0);
  out = RunCli("run " + app + data + " --open transfer");
  EXPECT_NE(out.text.find("[transfer] fee 5.00"), std::string::npos) << out.text;
}

TEST_F(CliTest, PatchSignedWithAnotherKeyIsRefused) {
  std::string app = std::string(ATRIUM_BINARY_DIR) + "/samples/wallet";
  std::string patch = dir_ + "/fix";
  std::filesystem::copy(std::string(ATRIUM_SOURCE_DIR) + "/samples/wallet/patches/fix-fee", patch);
  ASSERT_EQ(RunCli("keygen --out " + dir_ + "/rogue").status, 0);
  ASSERT_EQ(RunCli("patch sign " + patch + " --key " + dir_ + "/rogue.key").status, 0);
  auto out = RunCli("patch apply " + app + " " + patch + ".atb --data-dir " + dir_ + "/data");
  EXPECT_EQ(out.status, 1);
  EXPECT_NE(out.text.find("fix.atb"), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("not among the"), std::string::npos) << out.text;
  // A patch directory applies only signed with --key, and then by a trusted key alone.
  out = RunCli("patch apply " + app + " " + patch + " --data-dir " + dir_ + "/data");
  EXPECT_EQ(out.status, 2) << out.text;
  out = RunCli("patch apply " + app + " " + patch + " --key " + dir_ + "/rogue.key --data-dir " +
               dir_ + "/data");
  EXPECT_EQ(out.status, 1) << out.text;
  // A native bundle package is not a patch.
  out = RunCli("patch list " + app + " --data-dir " + dir_ + "/data");
  EXPECT_NE(out.text.find("0 patch(es)"), std::string::npos) << out.text;
}

TEST_F(CliTest, LayersListsTheKindsAndTheirLayers) {
  auto out = RunCli("layers");
  ASSERT_EQ(out.status, 0) << out.text;
  EXPECT_NE(out.text.find("native_bundle      1  bundle.json   next launch"), std::string::npos)
      << out.text;
  EXPECT_NE(out.text.find("lua_patch          4  patch.json    next call"), std::string::npos)
      << out.text;
  EXPECT_NE(out.text.find("config_set         5  config.json   immediately  remote config sets"),
            std::string::npos)
      << out.text;
  EXPECT_NE(
      out.text.find("h5_package         2  h5.json       next open    H5 offline web packages"),
      std::string::npos)
      << out.text;
  EXPECT_NE(out.text.find(
                "hcf_templates      3  artifact.json -            reserved, no layer registered"),
            std::string::npos)
      << out.text;
}

// `atrium bundles` lists the versions held but not in use, with the reason,
// and looking at an app does not promote what is staged.
TEST_F(CliTest, BundlesListsVersionsNotInUseAndInspectionChangesNothing) {
  const std::string samples = std::string(ATRIUM_BINARY_DIR) + "/samples";
  const std::string app = samples + "/wallet";
  const std::string data = " --data-dir " + dir_ + "/data";
  std::filesystem::copy(app + "/bundles/scan", dir_ + "/scan",
                        std::filesystem::copy_options::recursive);
  {
    std::ifstream in(dir_ + "/scan/bundle.json");
    std::string json((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    in.close();
    json.replace(json.find("\"0.9.0\""), 7, "\"0.9.1\"");
    std::ofstream(dir_ + "/scan/bundle.json", std::ios::trunc) << json;
  }
  auto out = RunCli("pack " + dir_ + "/scan --key " + samples +
                    "/wallet-release.key --app com.example.wallet -o " + dir_ + "/scan.atb");
  ASSERT_EQ(out.status, 0) << out.text;
  // The same bundle, signed by the same trusted key, but for other apps: the
  // wallet refuses it and says which apps it is for.
  ASSERT_EQ(RunCli("pack " + dir_ + "/scan --key " + samples +
                   "/wallet-release.key --app com.other.app --app 'com.example.wallet.*' -o " +
                   dir_ + "/scan-other.atb")
                .status,
            0);
  out = RunCli("install " + app + " " + dir_ + "/scan-other.atb" + data);
  EXPECT_EQ(out.status, 1) << out.text;
  EXPECT_NE(out.text.find("scan-other.atb: refused: the package is for com.example.wallet.*, "
                          "com.other.app, not com.example.wallet"),
            std::string::npos)
      << out.text;
  out = RunCli("install " + app + " " + dir_ + "/scan.atb" + data);
  ASSERT_EQ(out.status, 0) << out.text;
  out = RunCli("bundles " + app + data);
  ASSERT_EQ(out.status, 0) << out.text;
  EXPECT_NE(out.text.find("com.wallet.scan          0.9.0"), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("com.wallet.scan          0.9.1    staged"), std::string::npos)
      << out.text;
  out = RunCli("artifacts " + app + data);
  EXPECT_NE(out.text.find("com.wallet.scan            0.9.1        staged"), std::string::npos)
      << out.text;
  out = RunCli("install " + app + " " + dir_ + "/scan.atb" + data);  // installing is no launch
  EXPECT_NE(out.text.find("0.9.1 is already installed (staged)"), std::string::npos) << out.text;
  out = RunCli("run " + app + " --quiet" + data);  // the launch promotes 0.9.1
  ASSERT_EQ(out.status, 0) << out.text;
  out = RunCli("rollback " + app + " com.wallet.scan" + data);
  ASSERT_EQ(out.status, 0) << out.text;
  EXPECT_NE(out.text.find("rolled back com.wallet.scan: the baseline 0.9.0 from the next launch"),
            std::string::npos)
      << out.text;
  out = RunCli("bundles " + app + data);
  EXPECT_NE(out.text.find("com.wallet.scan          0.9.1    disabled          rolled back from "
                          "the command line"),
            std::string::npos)
      << out.text;
  // The disabled version cannot be installed again, and the refusal says
  // how to use it again; enable does, from the next launch.
  out = RunCli("install " + app + " " + dir_ + "/scan.atb" + data);
  EXPECT_EQ(out.status, 1);
  EXPECT_NE(out.text.find("is already installed (disabled); `atrium artifacts enable <app> "
                          "native_bundle:com.wallet.scan@0.9.1` uses it again"),
            std::string::npos)
      << out.text;
  out = RunCli("artifacts enable " + app + " com.wallet.scan@0.9.1" + data);
  ASSERT_EQ(out.status, 0) << out.text;
  EXPECT_NE(out.text.find("enabled native_bundle:com.wallet.scan@0.9.1: in use from the next "
                          "launch"),
            std::string::npos)
      << out.text;
  out = RunCli("artifacts enable " + app + " com.wallet.scan@0.9.1" + data);
  EXPECT_EQ(out.status, 1);
  EXPECT_NE(out.text.find("cannot enable native_bundle:com.wallet.scan@0.9.1: it is active, not "
                          "disabled"),
            std::string::npos)
      << out.text;
  out = RunCli("artifacts enable " + app + " com.wallet.scan" + data);
  EXPECT_EQ(out.status, 2);
  out = RunCli("bundles " + app + data);
  EXPECT_NE(out.text.find("com.wallet.scan          0.9.1    resolved"), std::string::npos)
      << out.text;
}

// Bundle and runtime logs of a launch go to <data-dir>/logs/atrium.log
// (before: ctx.Log at info appeared nowhere); atrium logs reads them back,
// filtered by bundle, time and level; an inspection writes none.
TEST_F(CliTest, LaunchLogsGoToTheDataDirAndLogsReadsThem) {
  const std::string app = std::string(ATRIUM_BINARY_DIR) + "/samples/wallet";
  const std::string data = " --data-dir " + dir_ + "/data";
  auto out = RunCli("bundles " + app + data);
  ASSERT_EQ(out.status, 0) << out.text;
  out = RunCli("logs " + app + data);
  EXPECT_EQ(out.status, 0);
  EXPECT_NE(out.text.find("no logs yet"), std::string::npos) << out.text;
  out = RunCli("run " + app + " --quiet" + data);
  ASSERT_EQ(out.status, 0) << out.text;
  EXPECT_EQ(out.text.find("open to hotpatches"), std::string::npos);  // info: not on stderr
  out = RunCli("logs " + app + " --bundle com.wallet.transfer" + data);
  ASSERT_EQ(out.status, 0) << out.text;
  EXPECT_NE(out.text.find("info    [com.wallet.transfer] fee point transfer.fee.compute open to "
                          "hotpatches"),
            std::string::npos)
      << out.text;
  EXPECT_EQ(out.text.find("[com.wallet.home]"), std::string::npos) << out.text;
  out = RunCli("logs " + app + " --since 1h --level warning" + data);
  ASSERT_EQ(out.status, 0) << out.text;
  EXPECT_EQ(out.text.find("open to hotpatches"), std::string::npos) << out.text;
  out = RunCli("logs " + app + " --since 1000000d" + data);  // from the epoch on
  EXPECT_NE(out.text.find("open to hotpatches"), std::string::npos) << out.text;
  EXPECT_EQ(RunCli("logs " + app + " --since yesterday" + data).status, 2);
  EXPECT_EQ(RunCli("logs " + app + " --level loud" + data).status, 2);
}

TEST_F(CliTest, AMicroAppThatDoesNotOpenFailsTheRun) {
  const std::string app = std::string(ATRIUM_BINARY_DIR) + "/samples/wallet";
  auto out = RunCli("run " + app + " --quiet --open nowhere --data-dir " + dir_ + "/data");
  EXPECT_EQ(out.status, 1) << out.text;
  EXPECT_NE(out.text.find("atrium: open 'nowhere' failed: no installed bundle declares "
                          "micro-app 'nowhere'"),
            std::string::npos)
      << out.text;
  out = RunCli("run " + app + " --quiet --url 'atrium://app/bill?cents=x%' --data-dir " + dir_ +
               "/data");
  EXPECT_EQ(out.status, 1) << out.text;
  EXPECT_NE(out.text.find("atrium: open atrium://app/bill?cents=x% failed:"), std::string::npos)
      << out.text;
}

TEST_F(CliTest, ConfigEvalShowsWhatADeviceGets) {
  const std::string set = std::string(ATRIUM_SOURCE_DIR) + "/samples/wallet/config/config.json";
  auto out = RunCli("config validate " + set);
  ASSERT_EQ(out.status, 0) << out.text;
  EXPECT_NE(out.text.find("config set com.example.wallet.config 1.0.0: 5 condition(s), 5 "
                          "parameter(s): ok"),
            std::string::npos)
      << out.text;
  out = RunCli("config eval " + set +
               " --app-id com.example.wallet --app-version 1.0.0 --device-id d-1 --country CN "
               "--model 'Pixel 3' --memory-mb 4096 --signal tier=gold");
  ASSERT_EQ(out.status, 0) << out.text;
  EXPECT_NE(out.text.find("true  china"), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("false singapore_malaysia"), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("com.wallet.transfer/limit_cents"), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("5000000"), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("remote 1.0.0 condition \"china\""), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("remote 1.0.0 condition \"gold_users\""), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("remote 1.0.0 condition \"scan_broken_models\""), std::string::npos)
      << out.text;
  // A broken set: the error names the file, the pointer and the column.
  std::ofstream(dir_ + "/bad.json")
      << R"({"id": "com.x.config", "version": "1.0.0", "conditions": [)"
      << R"({"name": "c", "expression": "device.colour == \"red\""}], "parameters": {}})";
  out = RunCli("config validate " + dir_ + "/bad.json");
  EXPECT_EQ(out.status, 1) << out.text;
  EXPECT_NE(out.text.find(dir_ + "/bad.json:/conditions/0/expression:"), std::string::npos)
      << out.text;
  EXPECT_NE(out.text.find("condition \"c\": column 1: "), std::string::npos) << out.text;
  EXPECT_EQ(RunCli("config eval").status, 2);
}

TEST_F(CliTest, UnknownCommandAndMissingAppFail) {
  EXPECT_EQ(RunCli("frobnicate").status, 2);
  auto out = RunCli("run " + dir_ + "/nope");
  EXPECT_EQ(out.status, 1);
  EXPECT_NE(out.text.find(dir_ + "/nope/app.json"), std::string::npos) << out.text;
}

}  // namespace
