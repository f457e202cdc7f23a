// The .atb package format (bundles/include/atrium/package.h): real files in a
// temp dir, real Ed25519 keys, the real greeter fixture bundle. Round trips,
// random access, extraction, and refusal of every damaged or hostile
// package with an error that names the file and the byte offset.
#include "atrium/package.h"

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

#include "package_format.h"

namespace fs = std::filesystem;

namespace atrium {
namespace {

using internal::BuildPackageForTesting;
using internal::OpenPackageBytesForTesting;
using internal::RawEntryForTesting;
using internal::RawPackageForTesting;
using internal::ResignForTesting;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, std::string_view data) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// Compressible but not trivial text.
std::string Text(size_t n, uint32_t seed) {
  static const char* kWords[] = {"atrium ", "bundle ", "package ", "signed ", "entry ",
                                 "zstd ",   "frame ",  "index ",   "\n"};
  std::mt19937 rng(seed);
  std::string s;
  while (s.size() < n) s += kWords[rng() % 9];
  s.resize(n);
  return s;
}

RawEntryForTesting Entry(std::string path, std::string data) {
  RawEntryForTesting e;
  e.path = std::move(path);
  e.data = std::move(data);
  return e;
}

// Flips bits of one byte of a file in place (twice restores it).
void XorByteInFile(const std::string& path, uint64_t offset, uint8_t mask) {
  std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ mask);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
}

void StoreU64At(std::string* image, uint64_t at, uint64_t v) {
  internal::StoreU64(reinterpret_cast<uint8_t*>(image->data() + at), v);
}

struct KeyPair {
  PublicKey pk;
  SecretKey sk;
};

KeyPair NewKeyPair() {
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

// --- Round trips -----------------------------------------------------------

TEST_F(PackageTest, PackVerifyReadEveryEntryRoundTrip) {
  const std::string dir = MakeBundleDir();
  PackOptions opts;
  opts.apps = {"*"};  // any app: this test is not about app scope
  opts.secret_key = key_.sk;
  std::vector<PackProgress> progress;
  std::vector<std::string> progress_paths;
  opts.progress = [&](const PackProgress& p) {
    progress.push_back(p);
    progress_paths.emplace_back(p.current_path);
  };
  const std::string out = root_ + "/greeter.atb";
  auto stats = PackDirectory(dir, opts, out);
  ASSERT_TRUE(stats.ok()) << stats.error().ToString();
  EXPECT_EQ(stats->id, "com.test.greeter");
  EXPECT_EQ(stats->version, "1.2.0");
  EXPECT_EQ(stats->entries, 6u);
  EXPECT_EQ(stats->file_size, fs::file_size(out));
  EXPECT_EQ(stats->key_id, KeyIdOf(key_.pk));
  ASSERT_FALSE(progress.empty());
  for (size_t i = 1; i < progress.size(); ++i) {
    EXPECT_GE(progress[i].done_bytes, progress[i - 1].done_bytes);
  }
  EXPECT_EQ(progress.back().done_bytes, stats->total_size);
  EXPECT_EQ(progress.back().total_bytes, stats->total_size);

  auto reader = OpenOk(out);
  ASSERT_NE(reader, nullptr);
  EXPECT_FALSE(reader->verified());
  ASSERT_TRUE(reader->Verify(std::span<const PublicKey>(&key_.pk, 1)).ok());
  EXPECT_TRUE(reader->verified());
  const PackageInfo& info = reader->info();
  EXPECT_EQ(info.kind, ArtifactKind::kNativeBundle);
  EXPECT_EQ(info.format_version, 2);
  EXPECT_EQ(info.apps, std::vector<std::string>{"*"});
  EXPECT_EQ(info.id, "com.test.greeter");
  EXPECT_EQ(info.version, "1.2.0");
  EXPECT_EQ(info.manifest, ReadFile(dir + "/bundle.json"));
  EXPECT_EQ(info.manifest_entry, "bundle.json");
  EXPECT_EQ(info.signer_key_id, KeyIdOf(key_.pk));
  EXPECT_EQ(info.file_size, fs::file_size(out));
  std::vector<std::string> paths;
  for (const auto& e : info.entries) paths.push_back(e.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"bin/tool.sh", "bundle.json", "empty.txt",
                                             "libfixture_greeter.so", "res/img/logo.bin",
                                             "res/strings.txt"}));
  for (const auto& e : info.entries) {
    auto data = reader->ReadEntry(e.path);
    ASSERT_TRUE(data.ok()) << data.error().ToString();
    EXPECT_EQ(*data, ReadFile(dir + "/" + e.path)) << e.path;
    EXPECT_EQ(e.size, data->size());
    struct stat st;
    ASSERT_EQ(::stat((dir + "/" + e.path).c_str(), &st), 0);
    EXPECT_EQ(e.executable, (st.st_mode & S_IXUSR) != 0) << e.path;
  }
  EXPECT_TRUE(reader->VerifyAllEntries().ok());
  auto missing = reader->ReadEntry("nope.txt");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

TEST_F(PackageTest, PackingTwiceGivesTheSameBytes) {
  const std::string dir = MakeBundleDir();
  const std::string a = ReadFile(Pack(dir, "a.atb"));
  const std::string b = ReadFile(Pack(dir, "b.atb"));
  EXPECT_EQ(a, b);  // Ed25519 is deterministic; the layout has no timestamps
}

TEST_F(PackageTest, RepackingIntoThePackedDirectorySkipsThePreviousOutput) {
  const std::string dir = MakeBundleDir();
  PackOptions opts;
  opts.apps = {"*"};  // any app: this test is not about app scope
  opts.secret_key = key_.sk;
  ASSERT_TRUE(PackDirectory(dir, opts, dir + "/self.atb").ok());
  auto again = PackDirectory(dir, opts, dir + "/self.atb");
  ASSERT_TRUE(again.ok()) << again.error().ToString();
  EXPECT_EQ(again->entries, 6u);
  auto reader = OpenOk(dir + "/self.atb");
  EXPECT_FALSE(reader->ReadEntry("self.atb").ok());
}

TEST_F(PackageTest, ReadingOneEntryDoesNotTouchTheOthers) {
  const std::string dir = MakeBundleDir();
  const std::string out = Pack(dir);
  uint64_t victim_offset = 0;
  {
    auto reader = OpenOk(out);
    ASSERT_NE(reader, nullptr);
    for (const auto& e : reader->info().entries) {
      if (e.path == "res/strings.txt") victim_offset = e.offset + e.compressed_size / 2;
    }
  }
  std::string image = ReadFile(out);
  image[victim_offset] ^= 0x5A;
  WriteFile(out, image);

  auto reader = OpenOk(out);
  ASSERT_NE(reader, nullptr);
  ASSERT_TRUE(reader->Verify(std::span<const PublicKey>(&key_.pk, 1)).ok());
  for (const auto& e : reader->info().entries) {
    auto data = reader->ReadEntry(e.path);
    if (e.path == "res/strings.txt") {
      ASSERT_FALSE(data.ok());
      EXPECT_EQ(data.error().code, ErrorCode::kCorrupt);
      EXPECT_EQ(data.error().file, out);
      EXPECT_EQ(data.error().offset, e.offset);
      EXPECT_NE(data.error().message.find("'res/strings.txt'"), std::string::npos)
          << data.error().ToString();
    } else {
      ASSERT_TRUE(data.ok()) << e.path << ": " << data.error().ToString();
      EXPECT_EQ(*data, ReadFile(dir + "/" + e.path));
    }
  }
  Status all = reader->VerifyAllEntries();
  ASSERT_FALSE(all.ok());
  EXPECT_NE(all.error().message.find("'res/strings.txt'"), std::string::npos);
}

TEST_F(PackageTest, ConcurrentReadsOfOneReader) {
  const std::string dir = MakeBundleDir();
  auto reader = OpenOk(Pack(dir));
  ASSERT_NE(reader, nullptr);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int round = 0; round < 20; ++round) {
        for (const auto& e : reader->info().entries) {
          auto data = reader->ReadEntry(e.path);
          if (!data.ok() || data->size() != e.size) ++failures;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST_F(PackageTest, ExtractToRoundTripKeepsContentAndExecBit) {
  const std::string dir = MakeBundleDir();
  auto reader = OpenOk(Pack(dir));
  ASSERT_NE(reader, nullptr);
  const std::string dest = root_ + "/extracted";
  Status before = reader->ExtractTo(dest);
  ASSERT_FALSE(before.ok());
  EXPECT_EQ(before.error().code, ErrorCode::kState);
  EXPECT_FALSE(fs::exists(dest));

  ASSERT_TRUE(reader->Verify(std::span<const PublicKey>(&key_.pk, 1)).ok());
  Status s = reader->ExtractTo(dest);
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  size_t files = 0;
  for (auto it = fs::recursive_directory_iterator(dest); it != fs::recursive_directory_iterator();
       ++it) {
    if (!it->is_regular_file()) continue;
    ++files;
    const std::string rel = fs::relative(it->path(), dest).generic_string();
    EXPECT_EQ(ReadFile(it->path()), ReadFile(dir + "/" + rel)) << rel;
    struct stat st;
    ASSERT_EQ(::stat(it->path().c_str(), &st), 0);
    struct stat source;
    ASSERT_EQ(::stat((dir + "/" + rel).c_str(), &source), 0);
    EXPECT_EQ(st.st_mode & 0777, (source.st_mode & S_IXUSR) != 0 ? 0755u : 0644u) << rel;
    if (rel == "bin/tool.sh" || rel == "res/strings.txt") {
      EXPECT_EQ(st.st_mode & 0777, rel == "bin/tool.sh" ? 0755u : 0644u) << rel;
    }
  }
  EXPECT_EQ(files, reader->info().entries.size());

  // Not into a directory that already holds something.
  Status again = reader->ExtractTo(dest);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(again.error().file, dest);
  // An existing empty directory is fine.
  fs::create_directories(root_ + "/empty-dest");
  EXPECT_TRUE(reader->ExtractTo(root_ + "/empty-dest").ok());
}

TEST_F(PackageTest, ExtractRemovesAnEntryThatFailsItsHash) {
  const std::string dir = MakeBundleDir();
  const std::string out = Pack(dir);
  uint64_t at = 0;
  {
    auto reader = OpenOk(out);
    for (const auto& e : reader->info().entries) {
      if (e.path == "res/strings.txt") at = e.offset + 20;
    }
  }
  std::string image = ReadFile(out);
  image[at] ^= 1;
  WriteFile(out, image);
  auto reader = OpenOk(out);
  ASSERT_TRUE(reader->Verify(std::span<const PublicKey>(&key_.pk, 1)).ok());
  Status s = reader->ExtractTo(root_ + "/dest");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().file, out);
  EXPECT_TRUE(s.error().offset.has_value());
  EXPECT_FALSE(fs::exists(root_ + "/dest/res/strings.txt"));
}

TEST_F(PackageTest, OtherArtifactKindsUseTheirManifestFile) {
  const std::string dir = root_ + "/h5";
  WriteFile(dir + "/artifact.json", R"({"id": "bill-h5", "version": "2.1.0-beta.1", "x": [1]})");
  WriteFile(dir + "/index.html", "<html>bill</html>");
  WriteFile(dir + "/js/app.js", Text(3000, 7));
  PackOptions opts;
  opts.apps = {"*"};  // any app: this test is not about app scope
  opts.kind = ArtifactKind::kH5Package;
  const std::string out = Pack(dir, "h5.atb", opts);
  auto reader = OpenOk(out);
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(reader->info().kind, ArtifactKind::kH5Package);
  EXPECT_EQ(reader->info().id, "bill-h5");
  EXPECT_EQ(reader->info().version, "2.1.0-beta.1");
  EXPECT_EQ(reader->info().manifest_entry, "artifact.json");
  EXPECT_EQ(*reader->ReadEntry("js/app.js"), ReadFile(dir + "/js/app.js"));

  // A patch names its own manifest file.
  const std::string patch = root_ + "/patch";
  WriteFile(patch + "/patch.json", R"({"id": "fix-fee", "version": "1.0.1", "points": []})");
  WriteFile(patch + "/patch.lua", "function f() end");
  PackOptions popts;
  popts.apps = {"*"};  // any app: this test is not about app scope
  popts.kind = ArtifactKind::kLuaPatch;
  popts.manifest_name = "patch.json";
  auto preader = OpenOk(Pack(patch, "patch.atb", popts));
  ASSERT_NE(preader, nullptr);
  EXPECT_EQ(preader->info().manifest_entry, "patch.json");
  EXPECT_EQ(preader->info().id, "fix-fee");

  // Strict: id and version are required and checked.
  WriteFile(dir + "/artifact.json", R"({"version": "1.0.0"})");
  popts = PackOptions{};
  popts.apps = {"*"};  // any app: this test is not about app scope
  popts.kind = ArtifactKind::kConfigSet;
  popts.secret_key = key_.sk;
  auto bad = PackDirectory(dir, popts, root_ + "/bad.atb");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().file, dir + "/artifact.json");
  EXPECT_NE(bad.error().message.find("'id'"), std::string::npos) << bad.error().ToString();
  WriteFile(dir + "/artifact.json", R"({"id": "x", "version": "1.0", "id": "y"})");
  bad = PackDirectory(dir, popts, root_ + "/bad.atb");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kParse);  // duplicate key
  WriteFile(dir + "/artifact.json", R"({"id": "x", "version": "1.0"})");
  bad = PackDirectory(dir, popts, root_ + "/bad.atb");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().pointer, "/version");
  EXPECT_FALSE(fs::exists(root_ + "/bad.atb"));
}

// --- Packing refusals ----------------------------------------------------------

TEST_F(PackageTest, PackRefusesWhatCannotBeAnEntryOrIsInconsistent) {
  const std::string dir = MakeBundleDir();
  PackOptions opts;
  opts.apps = {"*"};  // any app: this test is not about app scope
  opts.secret_key = key_.sk;
  const std::string out = root_ + "/x.atb";

  fs::create_symlink("/etc/passwd", dir + "/link");
  auto r = PackDirectory(dir, opts, out);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().file, dir + "/link");
  fs::remove(dir + "/link");

  WriteFile(dir + "/back\\slash", "x");
  r = PackDirectory(dir, opts, out);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("backslash"), std::string::npos) << r.error().ToString();
  fs::remove(dir + "/back\\slash");

  opts.id = "com.test.other";
  r = PackDirectory(dir, opts, out);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().file, dir + "/bundle.json");
  opts.id.clear();

  opts.zstd_level = 22;
  EXPECT_FALSE(PackDirectory(dir, opts, out).ok());
  opts.zstd_level = 3;

  SecretKey broken = key_.sk;
  broken[40] ^= 1;  // public half no longer matches the seed
  opts.secret_key = broken;
  r = PackDirectory(dir, opts, out);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  opts.secret_key = key_.sk;

  fs::rename(dir + "/libfixture_greeter.so", root_ + "/lib.so");
  r = PackDirectory(dir, opts, out);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("libfixture_greeter.so"), std::string::npos);
  fs::rename(root_ + "/lib.so", dir + "/libfixture_greeter.so");

  fs::remove(dir + "/bundle.json");
  r = PackDirectory(dir, opts, out);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
  EXPECT_FALSE(fs::exists(out));
}

TEST_F(PackageTest, FailedPackLeavesTheOldPackageAndNoTemporaryFile) {
  const std::string dir = MakeBundleDir();
  const std::string out = Pack(dir, "keep.atb");
  const std::string before = ReadFile(out);
  WriteFile(dir + "/bundle.json", "{ not json");
  PackOptions opts;
  opts.apps = {"*"};  // any app: this test is not about app scope
  opts.secret_key = key_.sk;
  EXPECT_FALSE(PackDirectory(dir, opts, out).ok());
  EXPECT_EQ(ReadFile(out), before);
  for (const auto& e : fs::directory_iterator(root_)) {
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();
  }
}

// --- Keys --------------------------------------------------------------------------

TEST_F(PackageTest, KeyFilesInKeygenFormat) {
  const std::string pub = root_ + "/k.pub";
  const std::string sec = root_ + "/k.key";
  WriteFile(pub, internal::HexOf(key_.pk.data(), key_.pk.size()) + "\n");
  WriteFile(sec, internal::HexOf(key_.sk.data(), key_.sk.size()) + "\n");
  auto pk = ReadPublicKeyFile(pub);
  ASSERT_TRUE(pk.ok()) << pk.error().ToString();
  EXPECT_EQ(*pk, key_.pk);
  auto sk = ReadSecretKeyFile(sec);
  ASSERT_TRUE(sk.ok()) << sk.error().ToString();
  EXPECT_EQ(*sk, key_.sk);
  EXPECT_EQ(PublicKeyOf(*sk), key_.pk);
  EXPECT_EQ(KeyIdHex(KeyIdOf(key_.pk)).size(), 16u);

  EXPECT_FALSE(ReadPublicKeyFile(sec).ok());  // wrong length
  auto bad = ParsePublicKeyHex(std::string(64, 'g'), "--pubkey");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().file, "--pubkey");
  std::string damaged = internal::HexOf(key_.sk.data(), key_.sk.size());
  damaged[100] = damaged[100] == '0' ? '1' : '0';
  EXPECT_FALSE(ParseSecretKeyHex(damaged, "k.key").ok());
  auto none = ReadPublicKeyFile(root_ + "/none.pub");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, ErrorCode::kIo);
}

TEST_F(PackageTest, WrongKeyIsRefusedNamingTheSigner) {
  const std::string out = Pack(MakeBundleDir());
  auto reader = OpenOk(out);
  ASSERT_NE(reader, nullptr);
  Status s = reader->Verify(std::span<const PublicKey>(&other_.pk, 1));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kCorrupt);
  EXPECT_EQ(s.error().file, out);
  EXPECT_EQ(s.error().offset, reader->info().signature_offset + internal::kSignatureKeyId);
  EXPECT_NE(s.error().message.find(KeyIdHex(KeyIdOf(key_.pk))), std::string::npos);
  EXPECT_FALSE(reader->verified());
  Status none = reader->Verify({});
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, ErrorCode::kInvalidArgument);
  const PublicKey both[] = {other_.pk, key_.pk};
  EXPECT_TRUE(reader->Verify(both).ok());
}

TEST_F(PackageTest, ForgedKeyIdWithAnotherKeysSignatureIsRefused) {
  // Signed by other_, but the block claims key_'s id.
  RawPackageForTesting spec = SmallSpec();
  spec.key = other_.sk;
  std::string image = BuildPackageForTesting(spec);
  const KeyId id = KeyIdOf(key_.pk);
  std::memcpy(
      image.data() + image.size() - internal::kSignatureBlockSize + internal::kSignatureKeyId,
      id.data(), id.size());
  const std::string path = WriteImage(image);
  auto reader = OpenOk(path);
  Status s = reader->Verify(std::span<const PublicKey>(&key_.pk, 1));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().offset, reader->info().signature_offset + internal::kSignatureBytes);
  EXPECT_NE(s.error().message.find("does not verify"), std::string::npos);
}

// --- Every mutation is refused ------------------------------------------------------

TEST_F(PackageTest, EveryByteFlipInHeaderIndexManifestAndSignatureIsRefused) {
  const std::string out = Pack(MakeBundleDir());
  uint64_t data_offset = 0, sig_offset = 0, size = 0;
  {
    auto reader = OpenOk(out);
    data_offset = reader->info().data_offset;
    sig_offset = reader->info().signature_offset;
    size = reader->info().file_size;
  }
  std::vector<uint64_t> offsets;
  for (uint64_t i = 0; i < data_offset; ++i) offsets.push_back(i);
  for (uint64_t i = sig_offset; i < size; ++i) offsets.push_back(i);
  for (uint64_t at : offsets) {
    for (uint8_t mask : {0x01, 0x80, 0xFF}) {
      XorByteInFile(out, at, mask);
      ExpectRefusedWithOffset(out, "flip 0x" + std::to_string(mask) + " at " + std::to_string(at));
      XorByteInFile(out, at, mask);
      if (HasFailure()) return;
    }
  }
  EXPECT_FALSE(FirstRefusal(out).has_value());  // restored: accepted again
}

TEST_F(PackageTest, EveryByteFlipInEveryEntryFrameIsRefusedNamingTheEntry) {
  // Every byte of the small frames; ~300 evenly spread bytes of the big ones.
  const std::string dir = MakeBundleDir();
  const std::string out = Pack(dir);
  auto reader = OpenOk(out);
  ASSERT_NE(reader, nullptr);
  const std::vector<PackEntryInfo> entries = reader->info().entries;
  reader.reset();
  for (const PackEntryInfo& e : entries) {
    const uint64_t step = std::max<uint64_t>(1, e.compressed_size / 300);
    for (uint64_t k = 0; k < e.compressed_size; k += step) {
      XorByteInFile(out, e.offset + k, 0x01);
      auto r = PackageReader::Open(out);
      ASSERT_TRUE(r.ok()) << r.error().ToString();  // frames are checked when read
      ASSERT_TRUE((*r)->Verify(std::span<const PublicKey>(&key_.pk, 1)).ok());
      auto data = (*r)->ReadEntry(e.path);
      ASSERT_FALSE(data.ok()) << e.path << " byte " << k;
      EXPECT_EQ(data.error().code, ErrorCode::kCorrupt);
      EXPECT_EQ(data.error().file, out);
      EXPECT_TRUE(data.error().offset.has_value());
      EXPECT_NE(data.error().message.find("'" + e.path + "'"), std::string::npos)
          << data.error().ToString();
      if (k == 0) {
        EXPECT_FALSE((*r)->VerifyAllEntries().ok());
      }
      XorByteInFile(out, e.offset + k, 0x01);
      if (HasFailure()) return;
    }
  }
}

TEST_F(PackageTest, EveryByteFlipOfAFrameIsCaughtEvenWithARepairedFrameHash) {
  // Defence in depth: with the BLAKE2b in the index repaired (and re-signed),
  // zstd and the SHA-256 still catch every change that alters the content.
  RawPackageForTesting spec = SmallSpec();
  spec.entries[0].data = Text(3000, 3);
  const std::string image = BuildPackageForTesting(spec);
  auto base = OpenPackageBytesForTesting(image, "mem.atb");
  ASSERT_TRUE(base.ok()) << base.error().ToString();
  const PackEntryInfo e = (*base)->info().entries[0];
  int refused = 0, identical = 0;
  for (uint64_t k = 0; k < e.compressed_size; ++k) {
    std::string mutated = image;
    mutated[e.offset + k] ^= 0x01;
    internal::RehashFramesForTesting(&mutated);
    ResignForTesting(&mutated, key_.sk);
    auto r = OpenPackageBytesForTesting(mutated, "mem.atb");
    ASSERT_TRUE(r.ok()) << r.error().ToString();
    auto data = (*r)->ReadEntry(e.path);
    if (data.ok()) {
      // zstd ignores a few header bits; then the content must be unchanged.
      ASSERT_EQ(*data, spec.entries[0].data) << "byte " << k;
      ++identical;
    } else {
      EXPECT_TRUE(data.error().offset.has_value());
      ++refused;
    }
  }
  EXPECT_GT(refused, 0);
  EXPECT_LE(identical, 8);
}

TEST_F(PackageTest, TruncationAtEveryByteIsRefused) {
  const std::string image = BuildPackageForTesting(SmallSpec());
  const std::string path = root_ + "/cut.atb";
  for (size_t len = 0; len < image.size(); ++len) {
    WriteFile(path, std::string_view(image).substr(0, len));
    auto r = PackageReader::Open(path);
    ASSERT_FALSE(r.ok()) << "truncated to " << len;
    EXPECT_EQ(r.error().file, path);
    EXPECT_TRUE(r.error().offset.has_value()) << r.error().ToString();
  }
  // One extra byte at the end, too.
  WriteFile(path, image + "x");
  ExpectRefusedWithOffset(path, "appended byte");
}

TEST_F(PackageTest, TruncationAtEverySectionBoundaryOfARealPackageIsRefused) {
  const std::string out = Pack(MakeBundleDir());
  const std::string image = ReadFile(out);
  auto reader = OpenOk(out);
  const PackageInfo info = reader->info();
  std::vector<uint64_t> cuts = {0,
                                4,
                                internal::kHeaderSize - 1,
                                internal::kHeaderSize,
                                internal::kHeaderSize + 3,  // inside the apps section
                                info.index_offset,
                                info.index_offset + info.index_size / 2,
                                info.manifest_offset,
                                info.data_offset,
                                info.signature_offset,
                                info.signature_offset + 8,
                                info.file_size - 1};
  for (const auto& e : info.entries) cuts.push_back(e.offset + e.compressed_size);
  const std::string path = root_ + "/cut.atb";
  for (uint64_t cut : cuts) {
    if (cut >= image.size()) continue;
    WriteFile(path, std::string_view(image).substr(0, cut));
    ExpectRefusedWithOffset(path, "cut at " + std::to_string(cut));
  }
}

// --- Hostile packages, validly signed ----------------------------------------------

TEST_F(PackageTest, HostileEntryPathsAreRefusedEvenWhenSigned) {
  const std::string bad_paths[] = {"../evil",
                                   "a/../../evil",
                                   "/etc/passwd",
                                   "a\\b",
                                   "a//b",
                                   "a/",
                                   "./a",
                                   "a/./b",
                                   "..",
                                   ".",
                                   "x/..",
                                   std::string("a\0b", 3),
                                   "a\nb",
                                   std::string(1025, 'p'),
                                   std::string(256, 's') + "/x"};
  for (const std::string& bad : bad_paths) {
    RawPackageForTesting spec = SmallSpec();
    spec.entries.push_back(Entry(bad, "payload"));
    const std::string path = WriteImage(BuildPackageForTesting(spec));
    auto r = PackageReader::Open(path);
    ASSERT_FALSE(r.ok()) << "path of " << bad.size() << " bytes: " << bad.substr(0, 40);
    EXPECT_EQ(r.error().file, path);
    EXPECT_TRUE(r.error().offset.has_value());
    EXPECT_NE(r.error().message.find("entry"), std::string::npos) << r.error().ToString();
  }
}

TEST_F(PackageTest, DuplicateUnsortedAndFileDirectoryClashesAreRefused) {
  {
    RawPackageForTesting spec = SmallSpec();
    spec.entries.push_back(Entry("z.txt", "again"));
    auto r = OpenPackageBytesForTesting(BuildPackageForTesting(spec), "dup.atb");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("duplicate"), std::string::npos) << r.error().ToString();
    EXPECT_NE(r.error().message.find("'z.txt'"), std::string::npos);
  }
  {
    RawPackageForTesting spec = SmallSpec();
    std::swap(spec.entries[0], spec.entries[2]);
    spec.manifest_entry = 1;
    auto r = OpenPackageBytesForTesting(BuildPackageForTesting(spec), "order.atb");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("sorted"), std::string::npos) << r.error().ToString();
  }
  {
    RawPackageForTesting spec = SmallSpec();
    spec.entries.insert(spec.entries.begin() + 2, Entry("d", "file"));
    spec.entries.insert(spec.entries.begin() + 3, Entry("d/inner", "clash"));
    auto r = OpenPackageBytesForTesting(BuildPackageForTesting(spec), "clash.atb");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("'d'"), std::string::npos) << r.error().ToString();
  }
}

TEST_F(PackageTest, DeclaredSizesLargerThanTheFileAreRefused) {
  const std::string image = BuildPackageForTesting(SmallSpec());
  ASSERT_TRUE(OpenPackageBytesForTesting(image, "ok.atb").ok());
  const uint64_t huge = uint64_t{1} << 40;
  // Header fields, re-signed so only the structure checks can refuse them.
  const std::pair<size_t, const char*> fields[] = {
      {internal::kHeaderIndexSize, "index size"},
      {internal::kHeaderManifestSize, "manifest size"},
      {internal::kHeaderDataSize, "data size"},
      {internal::kHeaderSignatureSize, "signature size"},
      {internal::kHeaderIndexOffset, "index offset"},
      {internal::kHeaderDataOffset, "data offset"},
      {internal::kHeaderTotalSize, "total size"},
  };
  for (const auto& [field, what] : fields) {
    for (uint64_t value : {huge, ~uint64_t{0}, uint64_t{image.size()}}) {
      std::string mutated = image;
      StoreU64At(&mutated, field, value);
      ResignForTesting(&mutated, key_.sk);
      auto r = OpenPackageBytesForTesting(mutated, "big.atb");
      ASSERT_FALSE(r.ok()) << what << " = " << value;
      EXPECT_TRUE(r.error().offset.has_value());
      EXPECT_EQ(r.error().file, "big.atb");
    }
  }
  // An entry's compressed and uncompressed sizes.
  auto reader = OpenPackageBytesForTesting(image, "ok.atb");
  const uint64_t record = (*reader)->info().index_offset;  // entry #0
  for (size_t field : {internal::kRecordCompressedSize, internal::kRecordUncompressed}) {
    for (uint64_t value : {huge, ~uint64_t{0}, internal::kMaxEntryBytes + 1}) {
      std::string mutated = image;
      StoreU64At(&mutated, record + field, value);
      ResignForTesting(&mutated, key_.sk);
      auto r = OpenPackageBytesForTesting(mutated, "big.atb");
      ASSERT_FALSE(r.ok());
      EXPECT_EQ(r.error().offset, record + field) << r.error().ToString();
      EXPECT_NE(r.error().message.find("'a.txt'"), std::string::npos) << r.error().ToString();
    }
  }
  // The entry count.
  std::string mutated = image;
  internal::StoreU32(reinterpret_cast<uint8_t*>(mutated.data() + internal::kHeaderEntryCount),
                     0xFFFFFFFF);
  ResignForTesting(&mutated, key_.sk);
  auto r = OpenPackageBytesForTesting(mutated, "big.atb");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().offset, internal::kHeaderEntryCount);
}

TEST_F(PackageTest, DecompressionBombIsRefusedWithoutInflatingIt) {
  RawPackageForTesting spec = SmallSpec();
  // 64 MiB of zeros (a ~2 KiB frame) declared as 1000 bytes.
  RawEntryForTesting bomb = Entry("bomb.bin", "");
  const std::string zeros(64 << 20, '\0');
  std::string frame(ZSTD_compressBound(zeros.size()), '\0');
  frame.resize(ZSTD_compress(frame.data(), frame.size(), zeros.data(), zeros.size(), 3));
  bomb.frame = frame;
  bomb.data = std::string(1000, '\0');  // what the index's SHA-256 claims
  spec.entries.insert(spec.entries.begin() + 1, bomb);
  spec.manifest_entry = 2;
  const std::string path = WriteImage(BuildPackageForTesting(spec));
  auto reader = OpenOk(path);
  ASSERT_NE(reader, nullptr);
  ASSERT_TRUE(reader->Verify(std::span<const PublicKey>(&key_.pk, 1)).ok());
  auto data = reader->ReadEntry("bomb.bin");
  ASSERT_FALSE(data.ok());
  EXPECT_NE(data.error().message.find("more than its declared 1000 bytes"), std::string::npos)
      << data.error().ToString();
  EXPECT_NE(data.error().message.find("'bomb.bin'"), std::string::npos);
  EXPECT_TRUE(data.error().offset.has_value());
  Status extract = reader->ExtractTo(root_ + "/bomb-dest");
  ASSERT_FALSE(extract.ok());
  EXPECT_FALSE(fs::exists(root_ + "/bomb-dest/bomb.bin"));

  // Declared far beyond what the frame could ever produce: refused at Open.
  RawPackageForTesting liar = SmallSpec();
  liar.entries[0].declared_size = uint64_t{512} << 20;  // 512 MiB from a ~14-byte frame
  auto r = OpenPackageBytesForTesting(BuildPackageForTesting(liar), "liar.atb");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("more than a"), std::string::npos) << r.error().ToString();

  // Declared larger than it really is: refused after decoding.
  RawPackageForTesting short_one = SmallSpec();
  short_one.entries[0].declared_size = 7;  // "alpha" is 5
  auto s = OpenPackageBytesForTesting(BuildPackageForTesting(short_one), "short.atb");
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  auto d = (*s)->ReadEntry("a.txt");
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().message.find("not its declared 7"), std::string::npos)
      << d.error().ToString();
}

TEST_F(PackageTest, FramesMustBeExactlyOneZstdFrameWithTheRightContent) {
  auto compress = [](std::string_view s) {
    std::string f(ZSTD_compressBound(s.size()), '\0');
    f.resize(ZSTD_compress(f.data(), f.size(), s.data(), s.size(), 3));
    return f;
  };
  {  // two frames back to back
    RawPackageForTesting spec = SmallSpec();
    spec.entries[0].data = "alphabeta";
    spec.entries[0].frame = compress("alpha") + compress("beta");
    auto r = OpenPackageBytesForTesting(BuildPackageForTesting(spec), "two.atb");
    ASSERT_TRUE(r.ok());
    auto d = (*r)->ReadEntry("a.txt");
    ASSERT_FALSE(d.ok());
    EXPECT_NE(d.error().message.find("exactly one zstd frame"), std::string::npos);
  }
  {  // a different content than the SHA-256 says
    RawPackageForTesting spec = SmallSpec();
    spec.entries[0].frame = compress("omega");
    auto r = OpenPackageBytesForTesting(BuildPackageForTesting(spec), "sha.atb");
    ASSERT_TRUE(r.ok());
    auto d = (*r)->ReadEntry("a.txt");
    ASSERT_FALSE(d.ok());
    EXPECT_NE(d.error().message.find("SHA-256"), std::string::npos) << d.error().ToString();
    EXPECT_EQ(d.error().offset,
              (*r)->info().index_offset + internal::kRecordSha256);  // entry #0's hash
  }
  {  // not zstd at all
    RawPackageForTesting spec = SmallSpec();
    spec.entries[0].frame = "alpha";
    auto r = OpenPackageBytesForTesting(BuildPackageForTesting(spec), "raw.atb");
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE((*r)->ReadEntry("a.txt").ok());
  }
}

TEST_F(PackageTest, ManifestMustMatchItsEntryTheHeaderAndTheFiles) {
  {  // header id differs from bundle.json
    RawPackageForTesting spec = SmallSpec();
    spec.id = "com.test.other";
    auto r = OpenPackageBytesForTesting(BuildPackageForTesting(spec), "m.atb");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().offset, internal::kHeaderId);
  }
  {  // manifest section differs from the bundle.json entry
    RawPackageForTesting spec = SmallSpec();
    spec.entries[1].data = R"({"name": "com.test.small", "version": "1.0.1"})";
    auto r = OpenPackageBytesForTesting(BuildPackageForTesting(spec), "m.atb");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("'bundle.json'"), std::string::npos) << r.error().ToString();
  }
  {  // a native bundle's manifest must be bundle.json
    RawPackageForTesting spec = SmallSpec();
    spec.manifest_entry = 0;
    spec.entries[0].data = spec.manifest;
    auto r = OpenPackageBytesForTesting(BuildPackageForTesting(spec), "m.atb");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().offset, internal::kHeaderManifestEntry);
  }
  {  // the library bundle.json names is not packed
    RawPackageForTesting spec = SmallSpec();
    spec.manifest = R"({"name": "com.test.small", "version": "1.0.0", "library": "libx.so"})";
    spec.entries[1].data = spec.manifest;
    auto r = OpenPackageBytesForTesting(BuildPackageForTesting(spec), "m.atb");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("'libx.so'"), std::string::npos) << r.error().ToString();
  }
  {  // a manifest that does not parse: offset inside the file
    RawPackageForTesting spec = SmallSpec();
    spec.manifest = R"({"name": "com.test.small", "version": )";
    spec.entries[1].data = spec.manifest;
    auto r = OpenPackageBytesForTesting(BuildPackageForTesting(spec), "m.atb");
    ASSERT_FALSE(r.ok());
    ASSERT_TRUE(r.error().offset.has_value());
    EXPECT_GE(*r.error().offset, internal::kHeaderSize);
  }
}

TEST_F(PackageTest, HeaderFieldsAreChecked) {
  const std::string image = BuildPackageForTesting(SmallSpec());
  auto open = [&](std::string mutated) {
    ResignForTesting(&mutated, key_.sk);
    return OpenPackageBytesForTesting(std::move(mutated), "h.atb");
  };
  std::string m = image;
  m[internal::kHeaderFormatVersion] = 3;
  auto r = open(m);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().offset, internal::kHeaderFormatVersion);
  EXPECT_NE(r.error().message.find("unsupported format version 3 (this reader reads 1..2)"),
            std::string::npos);

  m = image;
  m[internal::kHeaderKind] = 9;
  r = open(m);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().offset, internal::kHeaderKind);

  m = image;
  m[internal::kHeaderFlags] = 1;
  r = open(m);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().offset, internal::kHeaderFlags);

  r = OpenPackageBytesForTesting("", "empty.atb");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().offset, 0u);
  r = OpenPackageBytesForTesting("PK\3\4 a zip file", "zip.atb");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("ATB1"), std::string::npos);

  auto missing = PackageReader::Open(root_ + "/none.atb");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kIo);
  EXPECT_EQ(missing.error().file, root_ + "/none.atb");
}

TEST_F(PackageTest, KindNamesRoundTrip) {
  for (ArtifactKind k :
       {ArtifactKind::kNativeBundle, ArtifactKind::kH5Package, ArtifactKind::kHcfTemplates,
        ArtifactKind::kLuaPatch, ArtifactKind::kConfigSet}) {
    EXPECT_EQ(ParseArtifactKind(ArtifactKindName(k)), k);
  }
  EXPECT_FALSE(ParseArtifactKind("zip").has_value());
  EXPECT_STREQ(ArtifactKindName(ArtifactKind::kH5Package), "h5_package");
}

}  // namespace
}  // namespace atrium
