// Damaged and hostile .atb packages: every byte flip, every truncation,
// hostile paths, sizes, bombs, frames, manifests and header fields, each
// refused with an error that names the file and the byte offset.
#include <gtest/gtest.h>

#include "package_test_util.h"

namespace atrium::package_test {
namespace {

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

}  // namespace
}  // namespace atrium::package_test
