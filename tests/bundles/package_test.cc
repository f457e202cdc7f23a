// The .atb package format (bundles/include/atrium/package.h): real files in a
// temp dir, real Ed25519 keys, the real greeter fixture bundle. Round trips,
// random access, extraction, packing refusals and keys. Damaged and hostile
// packages: package_hostile_test.cc.
#include <gtest/gtest.h>

#include "package_test_util.h"

namespace atrium::package_test {
namespace {

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
}  // namespace atrium::package_test
