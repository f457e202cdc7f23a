// Signed packages of fixture bundles for tests: a throw-away release key
// pair and PackFixture (a fixture bundle at another version, packed and
// signed).
#ifndef ATRIUM_TESTS_TESTING_PACKAGE_FIXTURE_H_
#define ATRIUM_TESTS_TESTING_PACKAGE_FIXTURE_H_

#include <gtest/gtest.h>
#include <sodium.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "atrium/package.h"

namespace atrium::testing {

struct Keys {
  PublicKey pub{};
  SecretKey sec{};
  std::string pub_hex;
  Keys() {
    if (sodium_init() < 0) std::abort();
    crypto_sign_keypair(pub.data(), sec.data());
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, pub.data(), pub.size());
    pub_hex = hex;
  }
};

// Packs `dir` into a signed package of `kind` beside it (<dir>.atb), for
// `apps` (default: any app; tests of app scope name them), and returns its
// path.
inline std::string PackDir(const std::string& dir, const Keys& keys, ArtifactKind kind,
                           std::vector<std::string> apps = {"*"}) {
  PackOptions o;
  o.apps = std::move(apps);
  o.kind = kind;
  o.secret_key = keys.sec;
  auto packed = PackDirectory(dir, o, dir + ".atb");
  EXPECT_TRUE(packed.ok()) << packed.error().ToString();
  return dir + ".atb";
}

// Packs fixture `fixture` at `version` (bundle.json rewritten).
inline std::string PackFixture(const std::string& work, const Keys& keys,
                               const std::string& fixture, const std::string& version,
                               std::vector<std::string> apps = {"*"}) {
  std::string dir = work + "/pkg-src-" + fixture + "-" + version;
  std::filesystem::remove_all(dir);
  std::filesystem::copy(std::string(ATRIUM_TEST_BUNDLES_DIR) + "/" + fixture, dir,
                        std::filesystem::copy_options::recursive);
  std::ifstream in(dir + "/bundle.json");
  std::string manifest((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  in.close();
  manifest = std::regex_replace(manifest, std::regex(R"("version": "[0-9.]+")"),
                                "\"version\": \"" + version + "\"",
                                std::regex_constants::format_first_only);
  std::ofstream(dir + "/bundle.json") << manifest;
  PackOptions o;
  o.apps = std::move(apps);
  o.secret_key = keys.sec;
  std::string out = work + "/" + fixture + "-" + version + ".atb";
  auto r = PackDirectory(dir, o, out);
  EXPECT_TRUE(r.ok()) << r.error().ToString();
  return out;
}

// "Version `version` of the greeter" whose activator fails (the `fails`
// fixture's library under the greeter's name and service), packed.
inline std::string PackFailingGreeter(const std::string& work, const Keys& keys,
                                      const std::string& version) {
  const std::string dir = work + "/bad-greeter-" + version;
  std::filesystem::remove_all(dir);
  std::filesystem::copy(std::string(ATRIUM_TEST_BUNDLES_DIR) + "/fails", dir,
                        std::filesystem::copy_options::recursive);
  std::ofstream(dir + "/bundle.json")
      << R"({"name": "com.test.greeter", "version": ")" << version << R"(",
      "library": "libfixture_fails.so",
      "provides": [{"interface": "com.test.greeter.Greeter", "version": "1.0.0"}]})";
  PackOptions o;
  o.apps = {"*"};  // any app: this test is not about app scope
  o.secret_key = keys.sec;
  const std::string out = dir + ".atb";
  auto r = PackDirectory(dir, o, out);
  EXPECT_TRUE(r.ok()) << r.error().ToString();
  return out;
}
}  // namespace atrium::testing

#endif  // ATRIUM_TESTS_TESTING_PACKAGE_FIXTURE_H_
