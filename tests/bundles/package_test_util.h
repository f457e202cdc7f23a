// What the .atb package tests share (package_test.cc: round trips, packing,
// keys; package_hostile_test.cc: damaged and hostile packages): file
// helpers, the raw-package builders of package_format.h, and the PackageTest
// fixture (a temp dir, two real Ed25519 key pairs, the real greeter fixture
// bundle).
#ifndef ATRIUM_TESTS_BUNDLES_PKG_PACKAGE_TEST_UTIL_H_
#define ATRIUM_TESTS_BUNDLES_PKG_PACKAGE_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <sodium.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "atrium/package.h"
#include "package_format.h"

namespace fs = std::filesystem;

namespace atrium::package_test {

using internal::BuildPackageForTesting;
using internal::OpenPackageBytesForTesting;
using internal::RawEntryForTesting;
using internal::RawPackageForTesting;
using internal::ResignForTesting;

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void WriteFile(const std::string& path, std::string_view data) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

inline std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// Compressible but not trivial text.
inline std::string Text(size_t n, uint32_t seed) {
  static const char* kWords[] = {"atrium ", "bundle ", "package ", "signed ", "entry ",
                                 "zstd ",   "frame ",  "index ",   "\n"};
  std::mt19937 rng(seed);
  std::string s;
  while (s.size() < n) s += kWords[rng() % 9];
  s.resize(n);
  return s;
}

inline RawEntryForTesting Entry(std::string path, std::string data) {
  RawEntryForTesting e;
  e.path = std::move(path);
  e.data = std::move(data);
  return e;
}

// Flips bits of one byte of a file in place (twice restores it).
inline void XorByteInFile(const std::string& path, uint64_t offset, uint8_t mask) {
  std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ mask);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
}

inline void StoreU64At(std::string* image, uint64_t at, uint64_t v) {
  internal::StoreU64(reinterpret_cast<uint8_t*>(image->data() + at), v);
}

struct KeyPair {
  PublicKey pk;
  SecretKey sk;
};

inline KeyPair NewKeyPair() {
  EXPECT_GE(sodium_init(), 0);
  KeyPair k;
  crypto_sign_keypair(k.pk.data(), k.sk.data());
  return k;
}

class PackageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/atrium-pkg-XXXXXX";
    root_ = mkdtemp(tmpl);
    key_ = NewKeyPair();
    other_ = NewKeyPair();
  }
  void TearDown() override { fs::remove_all(root_); }

  // A native bundle: the real greeter fixture plus resources, one executable.
  std::string MakeBundleDir(const std::string& name = "greeter") {
    const std::string dir = root_ + "/" + name;
    const std::string fixture = std::string(ATRIUM_TEST_BUNDLES_DIR) + "/greeter";
    EXPECT_TRUE(fs::exists(fixture + "/libfixture_greeter.so"))
        << "build the fixture bundles first (target fixture_bundles)";
    fs::create_directories(dir);
    fs::copy_file(fixture + "/bundle.json", dir + "/bundle.json");
    fs::copy_file(fixture + "/libfixture_greeter.so", dir + "/libfixture_greeter.so");
    WriteFile(dir + "/res/strings.txt", Text(20000, 1));
    WriteFile(dir + "/res/img/logo.bin", RandomBytes(5000, 2));
    WriteFile(dir + "/bin/tool.sh", "#!/bin/sh\necho hello\n");
    ::chmod((dir + "/bin/tool.sh").c_str(), 0755);
    WriteFile(dir + "/empty.txt", "");
    return dir;
  }

  std::string Pack(const std::string& dir, const std::string& name = "out.atb",
                   PackOptions opts = {}) {
    opts.secret_key = key_.sk;
    if (opts.apps.empty()) opts.apps = {"*"};
    const std::string out = root_ + "/" + name;
    auto stats = PackDirectory(dir, opts, out);
    EXPECT_TRUE(stats.ok()) << stats.error().ToString();
    return out;
  }

  std::unique_ptr<PackageReader> OpenOk(const std::string& path) {
    auto r = PackageReader::Open(path);
    EXPECT_TRUE(r.ok()) << r.error().ToString();
    return r.ok() ? std::move(r).value() : nullptr;
  }

  // The first refusal of a package: at Open, at Verify, or when its entries
  // are decoded; nullopt when it is accepted throughout.
  std::optional<Error> FirstRefusal(const std::string& path) {
    auto r = PackageReader::Open(path);
    if (!r.ok()) return r.error();
    if (Status s = (*r)->Verify(std::span<const PublicKey>(&key_.pk, 1)); !s.ok()) {
      return s.error();
    }
    if (Status s = (*r)->VerifyAllEntries(); !s.ok()) return s.error();
    return std::nullopt;
  }

  // Asserts `path` is refused with an error naming it and a byte offset.
  void ExpectRefusedWithOffset(const std::string& path, const std::string& what) {
    std::optional<Error> e = FirstRefusal(path);
    ASSERT_TRUE(e.has_value()) << what << " was accepted";
    EXPECT_EQ(e->file, path) << what << ": " << e->ToString();
    EXPECT_TRUE(e->offset.has_value()) << what << ": " << e->ToString();
    EXPECT_FALSE(e->message.empty());
  }

  // A small valid native bundle built by the test hook (signed with key_).
  RawPackageForTesting SmallSpec() {
    RawPackageForTesting spec;
    spec.kind = ArtifactKind::kNativeBundle;
    spec.id = "com.test.small";
    spec.version = "1.0.0";
    spec.manifest = R"({"name": "com.test.small", "version": "1.0.0"})";
    spec.manifest_entry = 1;
    spec.entries = {Entry("a.txt", "alpha"), Entry("bundle.json", spec.manifest),
                    Entry("z.txt", "zulu")};
    spec.key = key_.sk;
    return spec;
  }

  std::string WriteImage(const std::string& image, const std::string& name = "raw.atb") {
    const std::string path = root_ + "/" + name;
    WriteFile(path, image);
    return path;
  }

  std::string root_;
  KeyPair key_;
  KeyPair other_;
};

}  // namespace atrium::package_test

#endif  // ATRIUM_TESTS_BUNDLES_PKG_PACKAGE_TEST_UTIL_H_
