// `atrium pack | verify | inspect | unpack` as a release engineer runs them:
// keys from `atrium keygen`, the real greeter fixture bundle, exit codes and
// the messages that name what is wrong.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "testing/cli.h"

namespace {

using ::atrium::testing::RunCli;

namespace fs = std::filesystem;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class PackageCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/atrium-pkgcli-XXXXXX";
    dir_ = mkdtemp(tmpl);
    ASSERT_EQ(RunCli("keygen --out " + dir_ + "/rel").status, 0);
    ASSERT_EQ(RunCli("keygen --out " + dir_ + "/rogue").status, 0);
    bundle_ = dir_ + "/greeter";
    fs::copy(std::string(ATRIUM_TEST_BUNDLES_DIR) + "/greeter", bundle_);
    fs::create_directories(bundle_ + "/res");
    std::ofstream(bundle_ + "/res/strings.txt") << "hello from the greeter\n";
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string dir_;
  std::string bundle_;
};

TEST_F(PackageCliTest, PackVerifyInspectUnpack) {
  const std::string atb = dir_ + "/greeter.atb";
  auto out = RunCli("pack " + bundle_ + " --key " + dir_ + "/rel.key --app com.test.app -o " + atb);
  ASSERT_EQ(out.status, 0) << out.text;
  EXPECT_NE(out.text.find("com.test.greeter 1.2.0 (native_bundle), for com.test.app, signed by"),
            std::string::npos)
      << out.text;
  EXPECT_NE(out.text.find("res/strings.txt"), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("3 entries"), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("MB/s"), std::string::npos) << out.text;
  EXPECT_EQ(out.text.find('\r'), std::string::npos) << "no progress line when not a terminal";

  out = RunCli("verify " + atb + " --pubkey " + dir_ + "/rel.pub");
  ASSERT_EQ(out.status, 0) << out.text;
  EXPECT_NE(out.text.find(": OK: com.test.greeter 1.2.0"), std::string::npos) << out.text;
  out = RunCli("verify " + atb + " --pubkey " + dir_ + "/rel.pub --app com.test.app");
  ASSERT_EQ(out.status, 0) << out.text;
  // Another app: the signed app list does not name it.
  out = RunCli("verify " + atb + " --pubkey " + dir_ + "/rel.pub --app com.other.app");
  EXPECT_EQ(out.status, 1) << out.text;
  EXPECT_NE(out.text.find("atrium verify: " + atb +
                          ": refused: the package is for com.test.app, not com.other.app"),
            std::string::npos)
      << out.text;

  out = RunCli("inspect " + atb);
  ASSERT_EQ(out.status, 0) << out.text;
  EXPECT_NE(out.text.find("signature  not checked (no --pubkey)"), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("format     ATB1 version 2"), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("apps       com.test.app\n"), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("apps 288+17, index 305+"), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("\"name\": \"com.test.greeter\""), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("0755"), std::string::npos) << out.text;  // the library
  out = RunCli("inspect " + atb + " --pubkey " + dir_ + "/rel.pub");
  ASSERT_EQ(out.status, 0) << out.text;
  EXPECT_NE(out.text.find("signature  valid (key "), std::string::npos) << out.text;
  out = RunCli("inspect " + atb + " --pubkey " + dir_ + "/rogue.pub");
  EXPECT_EQ(out.status, 1) << out.text;
  EXPECT_NE(out.text.find("signature  INVALID: " + atb), std::string::npos) << out.text;

  const std::string dest = dir_ + "/unpacked";
  out = RunCli("unpack " + atb + " --pubkey " + dir_ + "/rel.pub -o " + dest);
  ASSERT_EQ(out.status, 0) << out.text;
  for (const char* rel : {"bundle.json", "libfixture_greeter.so", "res/strings.txt"}) {
    EXPECT_EQ(ReadFile(dest + "/" + rel), ReadFile(bundle_ + "/" + rel)) << rel;
  }
  struct stat st;
  ASSERT_EQ(::stat((dest + "/libfixture_greeter.so").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0755u);
  // Not over what is already there.
  out = RunCli("unpack " + atb + " --pubkey " + dir_ + "/rel.pub -o " + dest);
  EXPECT_EQ(out.status, 1) << out.text;
  EXPECT_NE(out.text.find("not empty"), std::string::npos) << out.text;
}

TEST_F(PackageCliTest, VerifyAndUnpackRefuseWithPreciseErrors) {
  const std::string atb = dir_ + "/greeter.atb";
  ASSERT_EQ(RunCli("pack " + bundle_ + " --key " + dir_ + "/rel.key --app '*' -o " + atb).status,
            0);

  auto out = RunCli("verify " + atb + " --pubkey " + dir_ + "/rogue.pub");
  EXPECT_EQ(out.status, 1);
  EXPECT_NE(out.text.find("atrium verify: " + atb + ":@"), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("not among the 1 trusted key(s)"), std::string::npos) << out.text;
  out = RunCli("unpack " + atb + " --pubkey " + dir_ + "/rogue.pub -o " + dir_ + "/x");
  EXPECT_EQ(out.status, 1);
  EXPECT_FALSE(fs::exists(dir_ + "/x"));

  // A flipped byte near the end of the data section: the signature still
  // holds, the entry whose frame it is does not.
  std::string image = ReadFile(atb);
  image[image.size() - 80 - 10] ^= 0x20;
  std::ofstream(atb, std::ios::binary | std::ios::trunc) << image;
  out = RunCli("verify " + atb + " --pubkey " + dir_ + "/rel.pub");
  EXPECT_EQ(out.status, 1);
  EXPECT_NE(out.text.find("entry 'res/strings.txt'"), std::string::npos) << out.text;

  // A flipped byte in the header: refused at open, naming the offset.
  image = ReadFile(atb);
  image[20] ^= 0x01;
  std::ofstream(atb, std::ios::binary | std::ios::trunc) << image;
  out = RunCli("inspect " + atb);
  EXPECT_EQ(out.status, 1);
  EXPECT_NE(out.text.find(atb + ":@16:"), std::string::npos) << out.text;
}

TEST_F(PackageCliTest, UsageAndBadInput) {
  EXPECT_EQ(RunCli("pack " + bundle_).status, 2);
  EXPECT_EQ(RunCli("verify").status, 2);
  EXPECT_EQ(RunCli("unpack x.atb -o y").status, 2);
  const std::string pack = "pack " + bundle_ + " --key " + dir_ + "/rel.key -o " + dir_ + "/x.atb";
  // Which apps the package is for is never left out.
  auto out = RunCli(pack);
  EXPECT_EQ(out.status, 2) << out.text;
  EXPECT_NE(out.text.find("APP: the apps the package is for"), std::string::npos) << out.text;
  for (const auto& [apps, says] : std::vector<std::pair<std::string, std::string>>{
           {"--app Com.Test.App", "app 'Com.Test.App': not an app id"},
           {"--app 'com.*.app'", "'*' stands alone"},
           {"--app 'com.test.*' --app '*'", "'*' already means any app"},
           {"--app ''", "an app pattern is empty"},
       }) {
    out = RunCli(pack + " " + apps);
    EXPECT_EQ(out.status, 1) << apps << ": " << out.text;
    EXPECT_NE(out.text.find(says), std::string::npos) << apps << ": " << out.text;
    EXPECT_FALSE(fs::exists(dir_ + "/x.atb")) << apps;
  }
  out = RunCli("pack " + bundle_ + " --key " + dir_ + "/rel.pub --app '*' -o " + dir_ + "/x.atb");
  EXPECT_EQ(out.status, 1);
  EXPECT_NE(out.text.find("not an Ed25519 secret key"), std::string::npos) << out.text;
  out = RunCli(pack + " --app '*' --kind zip");
  EXPECT_EQ(out.status, 1);
  out = RunCli("verify " + dir_ + "/missing.atb --pubkey " + dir_ + "/rel.pub");
  EXPECT_EQ(out.status, 1);
  EXPECT_NE(out.text.find(dir_ + "/missing.atb"), std::string::npos) << out.text;
}

}  // namespace
