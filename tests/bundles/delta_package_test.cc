// Delta packages (bundles/include/atrium/delta_package.h): real packages made
// by PackDirectory from temp dirs with real Ed25519 keys, including the real
// greeter fixture library (changed slightly for v2), unchanged, renamed, added,
// removed and edited files. Round trips give the target byte for byte; every
// damaged or hostile .atd is refused with an error naming the .atd offset,
// and no failure leaves `<out>` or `<out>.tmp` behind or touches the base.
#include "atrium/delta_package.h"

#include <gtest/gtest.h>
#include <sodium.h>
#include <stdlib.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "atrium/package.h"
#include "delta_package.h"
#include "package_format.h"

namespace fs = std::filesystem;

namespace atrium {
namespace {

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

std::string Text(size_t n, uint32_t seed) {
  static const char* kWords[] = {"atrium ", "bundle ", "package ", "signed ", "entry ",
                                 "zstd ",   "frame ",  "index ",   "\n"};
  std::mt19937 rng(seed);
  std::string s;
  while (s.size() < n) s += kWords[rng() % 9];
  s.resize(n);
  return s;
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

// An op of a .atd being rebuilt by a test (owns its bytes).
struct OpSpec {
  DeltaOp op = DeltaOp::kFull;
  int level = 0;
  std::string base_path;
  std::string payload;
};

// Re-encodes a parsed .atd after `edit` changed its ops.
std::string Reencode(const internal::AtdImage& image,
                     const std::function<void(std::vector<OpSpec>*)>& edit) {
  std::vector<OpSpec> ops;
  for (const internal::AtdOp& op : image.ops) {
    ops.push_back({op.op, op.level, std::string(op.base_path), std::string(op.payload)});
  }
  edit(&ops);
  std::string body;
  for (const OpSpec& op : ops) {
    body += internal::EncodeAtdOp(op.op, op.level, op.base_path, op.payload);
  }
  internal::AtdHeaderFields h;
  h.op_count = static_cast<uint32_t>(ops.size());
  h.base_size = image.base_size;
  h.target_size = image.target_size;
  h.base_sha256 = image.base_sha256;
  h.target_sha256 = image.target_sha256;
  h.prefix_size = image.prefix.size();
  h.ops_size = body.size();
  return internal::EncodeAtdHeader(h) + std::string(image.prefix) + std::string(image.signature) +
         body;
}

class DeltaPackageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/atrium-atd-XXXXXX";
    root_ = mkdtemp(tmpl);
    key_ = NewKeyPair();
    other_ = NewKeyPair();
    MakeVersions();
    base_ = Pack(root_ + "/v1", "v1.atb", 3);
    target_ = Pack(root_ + "/v2", "v2.atb", 3);
    base_bytes_ = ReadFile(base_);
    target_bytes_ = ReadFile(target_);
    atd_ = root_ + "/v1-v2.atd";
    out_ = root_ + "/rebuilt.atb";
  }
  void TearDown() override { fs::remove_all(root_); }

  // v1: the greeter fixture and resources. v2: the library changed slightly,
  // a text file edited, one file renamed, one added, one removed, the
  // manifest's version bumped.
  void MakeVersions() {
    const std::string fixture = std::string(ATRIUM_TEST_BUNDLES_DIR) + "/greeter";
    ASSERT_TRUE(fs::exists(fixture + "/libfixture_greeter.so"))
        << "build the fixture bundles first (target fixture_bundles)";
    std::string manifest = ReadFile(fixture + "/bundle.json");
    std::string library = ReadFile(fixture + "/libfixture_greeter.so");
    const size_t version_at = manifest.find("\"1.2.0\"");
    ASSERT_NE(version_at, std::string::npos);
    const std::string v1 = root_ + "/v1";
    const std::string v2 = root_ + "/v2";
    WriteFile(v1 + "/bundle.json", std::string(manifest).replace(version_at, 7, "\"1.0.0\""));
    WriteFile(v2 + "/bundle.json", std::string(manifest).replace(version_at, 7, "\"1.1.0\""));
    WriteFile(v1 + "/libfixture_greeter.so", library);
    // A small code-and-data change: a few bytes at a third of the file and a
    // string (or bytes) in the middle.
    std::string changed = library;
    for (size_t i = 0; i < 16; ++i) changed[changed.size() / 3 + i] ^= 0x5A;
    changed.replace(changed.size() / 2, 10, "v2-changed");
    WriteFile(v2 + "/libfixture_greeter.so", changed);
    for (const std::string& v : {v1, v2}) WriteFile(v + "/res/strings.txt", Text(20000, 1));
    std::string edited = Text(30000, 3);
    WriteFile(v1 + "/res/edited.txt", edited);
    edited.insert(15000, "a new paragraph in version two\n");
    edited.replace(25000, 6, "ATRIUM");
    WriteFile(v2 + "/res/edited.txt", edited);
    WriteFile(v1 + "/res/old_name.bin", RandomBytes(3000, 4));
    WriteFile(v2 + "/res/new_name.bin", RandomBytes(3000, 4));
    WriteFile(v1 + "/res/removed.txt", Text(4000, 6));
    WriteFile(v2 + "/res/added.bin", RandomBytes(1500, 5));
  }

  std::string Pack(const std::string& dir, const std::string& name, int level,
                   const SecretKey* key = nullptr) {
    PackOptions opts;
    opts.apps = {"*"};  // any app: this test is not about app scope
    opts.secret_key = key != nullptr ? *key : key_.sk;
    opts.zstd_level = level;
    const std::string out = root_ + "/" + name;
    auto stats = PackDirectory(dir, opts, out);
    EXPECT_TRUE(stats.ok()) << stats.error().ToString();
    return out;
  }

  DeltaStats Diff(const std::string& base, const std::string& target, DiffOptions opts = {}) {
    auto stats = DiffPackages(base, target, atd_, opts);
    EXPECT_TRUE(stats.ok()) << stats.error().ToString();
    return stats.ok() ? *stats : DeltaStats{};
  }

  Result<ApplyStats> Apply(std::span<const PublicKey> keys, const std::string& base = "") {
    return ApplyDeltaPackage(base.empty() ? base_ : base, atd_, keys, out_);
  }

  Result<ApplyStats> ApplyBytes(const std::string& atd_bytes) {
    WriteFile(atd_, atd_bytes);
    const PublicKey keys[] = {key_.pk};
    return Apply(keys);
  }

  // After a failed apply: no output, no temporary file, base untouched.
  void ExpectNothingLeft(const std::string& context) {
    EXPECT_FALSE(fs::exists(out_)) << context;
    EXPECT_FALSE(fs::exists(out_ + ".tmp")) << context;
    EXPECT_EQ(ReadFile(base_), base_bytes_) << context;
  }

  // A failing apply of `atd_bytes`: the error, after checking it names the
  // .atd and that nothing was left behind.
  Error ExpectRefused(const std::string& atd_bytes, const std::string& context) {
    auto r = ApplyBytes(atd_bytes);
    if (r.ok()) {
      ADD_FAILURE() << context << ": applied";
      fs::remove(out_);
      return Error{};
    }
    ExpectNothingLeft(context);
    return r.error();
  }

  internal::AtdImage Parse(const std::string& bytes) {
    auto image = internal::ParseAtd(bytes, atd_);
    EXPECT_TRUE(image.ok()) << image.error().ToString();
    return image.ok() ? *image : internal::AtdImage{};
  }

  const DeltaEntryStats* EntryOf(const DeltaStats& stats, const std::string& path) {
    for (const DeltaEntryStats& e : stats.entries) {
      if (e.path == path) return &e;
    }
    ADD_FAILURE() << "no entry " << path;
    return nullptr;
  }

  std::string root_;
  KeyPair key_, other_;
  std::string base_, target_, atd_, out_;
  std::string base_bytes_, target_bytes_;
};

TEST_F(DeltaPackageTest, RoundTripRebuildsTheTargetByteForByte) {
  DeltaStats stats = Diff(base_, target_);
  ASSERT_EQ(stats.entries.size(), 6u);
  EXPECT_EQ(EntryOf(stats, "libfixture_greeter.so")->op, DeltaOp::kDelta);
  EXPECT_EQ(EntryOf(stats, "res/edited.txt")->op, DeltaOp::kDelta);
  EXPECT_EQ(EntryOf(stats, "res/strings.txt")->op, DeltaOp::kSame);
  EXPECT_EQ(EntryOf(stats, "res/new_name.bin")->op, DeltaOp::kSame);
  EXPECT_EQ(EntryOf(stats, "res/new_name.bin")->base_path, "res/old_name.bin");
  EXPECT_EQ(EntryOf(stats, "res/added.bin")->op, DeltaOp::kFull);
  EXPECT_GE(stats.dropped, 1u);  // res/removed.txt
  EXPECT_EQ(stats.same + stats.delta + stats.full, 6u);
  EXPECT_EQ(stats.target_size, target_bytes_.size());
  EXPECT_EQ(stats.delta_size, fs::file_size(atd_));
  EXPECT_FALSE(fs::exists(atd_ + ".tmp"));
  // A small change makes a small delta.
  EXPECT_LT(stats.delta_size * 10, stats.target_size)
      << stats.delta_size << " vs " << stats.target_size;
  const DeltaEntryStats* lib = EntryOf(stats, "libfixture_greeter.so");
  EXPECT_LT(lib->stored_size * 20, lib->frame_size);

  const PublicKey keys[] = {key_.pk};
  auto applied = Apply(keys);
  ASSERT_TRUE(applied.ok()) << applied.error().ToString();
  EXPECT_EQ(ReadFile(out_), target_bytes_);
  EXPECT_FALSE(fs::exists(out_ + ".tmp"));
  EXPECT_EQ(ReadFile(base_), base_bytes_);
  EXPECT_EQ(applied->version, "1.1.0");
  EXPECT_EQ(applied->key_id, KeyIdOf(key_.pk));
  EXPECT_EQ(applied->same, stats.same);
  EXPECT_EQ(applied->delta, stats.delta);
  EXPECT_EQ(applied->full, stats.full);
  EXPECT_EQ(applied->target_size, target_bytes_.size());

  // Applying again over the existing output replaces it atomically.
  applied = Apply(keys);
  ASSERT_TRUE(applied.ok()) << applied.error().ToString();
  EXPECT_EQ(ReadFile(out_), target_bytes_);
}

TEST_F(DeltaPackageTest, FindsTheTargetsLevelOrStoresTheFrameInFull) {
  const std::string target12 = Pack(root_ + "/v2", "v2-level12.atb", 12);
  DeltaStats stats = Diff(base_, target12);
  const DeltaEntryStats* lib = EntryOf(stats, "libfixture_greeter.so");
  ASSERT_EQ(lib->op, DeltaOp::kDelta);
  // Any level that reproduces the frame will do; the rebuild proves it.
  const PublicKey keys[] = {key_.pk};
  auto applied = Apply(keys);
  ASSERT_TRUE(applied.ok()) << applied.error().ToString();
  EXPECT_EQ(ReadFile(out_), ReadFile(target12));

  DiffOptions known;
  known.target_level = 12;
  stats = Diff(base_, target12, known);
  EXPECT_EQ(EntryOf(stats, "libfixture_greeter.so")->level, 12);

  // Identical content at another level is a delta (tiny), not a copy.
  const std::string base9 = Pack(root_ + "/v1", "v1-level9.atb", 9);
  stats = Diff(base9, base_);
  EXPECT_EQ(EntryOf(stats, "libfixture_greeter.so")->op, DeltaOp::kDelta);
  EXPECT_LT(EntryOf(stats, "libfixture_greeter.so")->stored_size, 200u);
}

TEST_F(DeltaPackageTest, EntryFramesAreRebuiltExactlyAsTheWriterMakesThem) {
  // Several input steps, an exact multiple of a step, and an empty file.
  const std::string dir = root_ + "/frames";
  WriteFile(dir + "/artifact.json", R"({"id": "frames", "version": "1.0.0"})");
  WriteFile(dir + "/big.txt", Text(2 * internal::kFrameInputStep + 4321, 9));
  WriteFile(dir + "/step.bin", Text(internal::kFrameInputStep, 10));
  WriteFile(dir + "/empty", "");
  for (int level : {1, 3, 7, 19}) {
    PackOptions opts;
    opts.apps = {"*"};  // any app: this test is not about app scope
    opts.kind = ArtifactKind::kConfigSet;
    opts.secret_key = key_.sk;
    opts.zstd_level = level;
    const std::string atb = root_ + "/frames.atb";
    ASSERT_TRUE(PackDirectory(dir, opts, atb).ok());
    const std::string image = ReadFile(atb);
    auto reader = PackageReader::Open(atb);
    ASSERT_TRUE(reader.ok());
    for (const PackEntryInfo& e : (*reader)->info().entries) {
      auto content = (*reader)->ReadEntry(e.path);
      ASSERT_TRUE(content.ok());
      auto frame = internal::CompressEntryFrame(*content, level);
      ASSERT_TRUE(frame.ok());
      EXPECT_EQ(*frame, image.substr(e.offset, e.compressed_size))
          << e.path << " at level " << level;
    }
  }
}

TEST_F(DeltaPackageTest, WrongBaseIsRefusedNamingTheExpectedHash) {
  Diff(base_, target_);
  const PublicKey keys[] = {key_.pk};
  // The target itself as base: not the file the delta was made from.
  auto r = Apply(keys, target_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.error().file, atd_);
  EXPECT_EQ(r.error().offset, internal::kAtdBaseSha256At);
  const internal::Digest expected = internal::Sha256(base_bytes_);
  EXPECT_NE(r.error().message.find(internal::HexOf(expected.data(), expected.size())),
            std::string::npos)
      << r.error().ToString();
  EXPECT_FALSE(fs::exists(out_));
  EXPECT_FALSE(fs::exists(out_ + ".tmp"));
  EXPECT_EQ(ReadFile(target_), target_bytes_);

  // A base changed by one byte is just as wrong.
  std::string damaged = base_bytes_;
  damaged[damaged.size() / 2] ^= 1;
  WriteFile(root_ + "/v1-damaged.atb", damaged);
  r = Apply(keys, root_ + "/v1-damaged.atb");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().offset, internal::kAtdBaseSha256At);
  ExpectNothingLeft("damaged base");
}

// The byte sweeps below try every byte of the header and op records (and
// base paths). Elsewhere the default build tries every truncation and every
// 7th byte's flips; the sanitizer builds (-O0 and instrumented, 20-40 times
// slower here) every 13th truncation and every 61st byte's flips, and the
// last byte.
#if defined(ATRIUM_TEST_SANITIZED)
constexpr size_t kTruncationStride = 13;
constexpr size_t kFlipStride = 61;
#else
constexpr size_t kTruncationStride = 1;
constexpr size_t kFlipStride = 7;
#endif

// Which bytes of `atd` are structure: the header, each op record and its
// base path, up to its payload.
std::vector<bool> StructureBytes(const std::string& atd, const internal::AtdImage& image) {
  std::vector<bool> every(atd.size(), false);
  for (size_t i = 0; i < internal::kAtdHeaderSize && i < atd.size(); ++i) every[i] = true;
  for (const internal::AtdOp& op : image.ops) {
    for (uint64_t i = op.at; i < op.payload_at && i < atd.size(); ++i) every[i] = true;
  }
  return every;
}

TEST_F(DeltaPackageTest, EveryTruncationIsRefused) {
  Diff(base_, target_);
  const std::string atd = ReadFile(atd_);
  const std::vector<bool> structure = StructureBytes(atd, Parse(atd));
  for (size_t n = 0; n < atd.size(); ++n) {
    if (!structure[n] && n % kTruncationStride != 0 && n + 1 != atd.size()) continue;
    Error e = ExpectRefused(atd.substr(0, n), "truncated to " + std::to_string(n));
    EXPECT_EQ(e.file, atd_);
    ASSERT_TRUE(e.offset.has_value()) << e.ToString();
    EXPECT_LE(*e.offset, n) << e.ToString();
  }
  Error e = ExpectRefused(atd + "x", "one byte appended");
  EXPECT_EQ(e.offset, internal::kAtdOpsSizeAt) << e.ToString();
}

TEST_F(DeltaPackageTest, FlippedBytesFailCleanlyOrRebuildTheExactTarget) {
  Diff(base_, target_);
  const std::string atd = ReadFile(atd_);
  // Every byte of the header, the op records and base paths; every
  // kFlipStride-th byte of the embedded target and of the payloads (each
  // flip there runs a rebuild up to the damaged op), and the last byte.
  const std::vector<bool> every = StructureBytes(atd, Parse(atd));
  size_t refused = 0, rebuilt = 0;
  for (size_t i = 0; i < atd.size(); ++i) {
    if (!every[i] && i % kFlipStride != 0 && i + 1 != atd.size()) continue;
    for (uint8_t mask : {0x01, 0x80}) {
      std::string damaged = atd;
      damaged[i] = static_cast<char>(damaged[i] ^ mask);
      auto r = ApplyBytes(damaged);
      const std::string context = "byte " + std::to_string(i) + " ^ " + std::to_string(mask);
      if (r.ok()) {
        // Only possible where the flip changes nothing that matters (another
        // zstd level that makes the same frame): the output is the target.
        EXPECT_EQ(ReadFile(out_), target_bytes_) << context;
        fs::remove(out_);
        ++rebuilt;
        continue;
      }
      ++refused;
      ExpectNothingLeft(context);
      const std::string& file = r.error().file;
      EXPECT_TRUE(file == atd_ || file == base_ || file == out_ + ".tmp")
          << context << ": " << r.error().ToString();
      EXPECT_FALSE(r.error().message.empty()) << context;
    }
  }
  EXPECT_GT(refused, 100 * (rebuilt + 1)) << refused << " refused, " << rebuilt << " rebuilt";
}

TEST_F(DeltaPackageTest, TargetSignedByAnUntrustedKeyIsRefused) {
  Diff(base_, target_);
  // The right .atd, but only another key is trusted.
  const PublicKey other[] = {other_.pk};
  auto r = Apply(other);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kCorrupt);
  EXPECT_NE(r.error().message.find("not among the 1 trusted key"), std::string::npos)
      << r.error().ToString();
  ExpectNothingLeft("other key trusted");
  EXPECT_FALSE(ApplyDeltaPackage(base_, atd_, {}, out_).ok());
  ExpectNothingLeft("no keys");

  // A target forged with an attacker's key (a real package, consistent in
  // every other way).
  std::string forged = target_bytes_;
  internal::ResignForTesting(&forged, other_.sk);
  WriteFile(root_ + "/forged.atb", forged);
  Diff(base_, root_ + "/forged.atb");
  const std::string atd = ReadFile(atd_);  // the image points into it
  const internal::AtdImage image = Parse(atd);
  const PublicKey keys[] = {key_.pk};
  r = Apply(keys);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().offset, image.signature_at + internal::kSignatureKeyId)
      << r.error().ToString();
  ExpectNothingLeft("forged target");

  // The trusted key's id with the attacker's signature bytes.
  std::string spoofed = ReadFile(atd_);
  const KeyId id = KeyIdOf(key_.pk);
  std::memcpy(spoofed.data() + image.signature_at + internal::kSignatureKeyId, id.data(),
              id.size());
  Error e = ExpectRefused(spoofed, "spoofed key id");
  EXPECT_EQ(e.offset, image.signature_at + internal::kSignatureBytes) << e.ToString();
}

TEST_F(DeltaPackageTest, OpNamingAMissingBaseEntryIsRefused) {
  Diff(base_, target_);
  const std::string atd = ReadFile(atd_);  // the image points into it
  const internal::AtdImage image = Parse(atd);
  size_t lib = 0;
  while (image.entries[lib].path != "libfixture_greeter.so") ++lib;
  const std::string hostile = Reencode(
      image, [lib](std::vector<OpSpec>* ops) { (*ops)[lib].base_path = "lib/missing.so"; });
  const internal::AtdImage parsed = Parse(hostile);
  Error e = ExpectRefused(hostile, "missing base entry");
  EXPECT_EQ(e.code, ErrorCode::kCorrupt);
  EXPECT_EQ(e.offset, parsed.ops[lib].at + internal::kOpFixedSize) << e.ToString();
  EXPECT_NE(e.message.find("'lib/missing.so'"), std::string::npos) << e.ToString();

  // A base entry that exists but is not the one the delta was made from.
  const std::string swapped = Reencode(
      image, [lib](std::vector<OpSpec>* ops) { (*ops)[lib].base_path = "res/strings.txt"; });
  e = ExpectRefused(swapped, "other base entry");
  EXPECT_NE(e.message.find("libfixture_greeter.so"), std::string::npos) << e.ToString();

  // A copy of a base frame that is not the target's.
  const std::string wrong_copy = Reencode(image, [lib](std::vector<OpSpec>* ops) {
    (*ops)[lib] = {DeltaOp::kSame, 0, "libfixture_greeter.so", ""};
  });
  e = ExpectRefused(wrong_copy, "wrong copy");
  EXPECT_NE(e.message.find("is not the target's frame"), std::string::npos) << e.ToString();
}

TEST_F(DeltaPackageTest, AFrameThisZstdCannotReproduceSaysToFallBack) {
  Diff(base_, target_);
  const std::string atd = ReadFile(atd_);  // the image points into it
  const internal::AtdImage image = Parse(atd);
  size_t lib = 0;
  while (image.entries[lib].path != "libfixture_greeter.so") ++lib;
  ASSERT_EQ(image.ops[lib].op, DeltaOp::kDelta);
  const std::string hostile =
      Reencode(image, [lib](std::vector<OpSpec>* ops) { (*ops)[lib].level = 19; });
  const internal::AtdImage parsed = Parse(hostile);
  Error e = ExpectRefused(hostile, "other level");
  EXPECT_EQ(e.code, ErrorCode::kCorrupt);
  EXPECT_EQ(e.offset, parsed.ops[lib].at + internal::kOpLevelAt);
  EXPECT_NE(e.message.find("fall back to the full package"), std::string::npos) << e.ToString();
  EXPECT_NE(e.message.find("libfixture_greeter.so"), std::string::npos) << e.ToString();
}

TEST_F(DeltaPackageTest, OutOfRangeLengthsAreRefusedNamingTheirField) {
  Diff(base_, target_);
  const std::string atd = ReadFile(atd_);
  const internal::AtdImage image = Parse(atd);
  auto with_u64 = [&](uint64_t at, uint64_t value) {
    std::string s = atd;
    internal::StoreU64(reinterpret_cast<uint8_t*>(s.data() + at), value);
    return s;
  };
  auto with_u16 = [&](uint64_t at, uint16_t value) {
    std::string s = atd;
    internal::StoreU16(reinterpret_cast<uint8_t*>(s.data() + at), value);
    return s;
  };
  struct Case {
    const char* what;
    std::string bytes;
    uint64_t offset;
  };
  const internal::AtdOp& first = image.ops.front();
  const internal::AtdOp& last = image.ops.back();
  // The embedded target: its apps section at 288, its index after it.
  const uint64_t target_at = internal::kAtdHeaderSize;
  const uint64_t index_at =
      target_at + internal::LoadU64(reinterpret_cast<const uint8_t*>(atd.data()) + target_at +
                                    internal::kHeaderIndexOffset);
  ASSERT_EQ(index_at, target_at + internal::kHeaderSize + 6);  // apps: {"*"}
  const std::vector<Case> cases = {
      {"prefix size max", with_u64(internal::kAtdPrefixSizeAt, UINT64_MAX),
       internal::kAtdPrefixSizeAt},
      {"prefix size 2^63", with_u64(internal::kAtdPrefixSizeAt, uint64_t{1} << 63),
       internal::kAtdPrefixSizeAt},
      {"ops offset max", with_u64(internal::kAtdOpsOffsetAt, UINT64_MAX),
       internal::kAtdOpsOffsetAt},
      {"ops size max", with_u64(internal::kAtdOpsSizeAt, UINT64_MAX), internal::kAtdOpsSizeAt},
      {"ops size short", with_u64(internal::kAtdOpsSizeAt, atd.size() - image.ops.front().at - 1),
       internal::kAtdOpsSizeAt},
      {"first payload max", with_u64(first.at + internal::kOpPayloadSizeAt, UINT64_MAX),
       first.at + internal::kOpPayloadSizeAt},
      {"last payload max", with_u64(last.at + internal::kOpPayloadSizeAt, UINT64_MAX),
       last.at + internal::kOpPayloadSizeAt},
      {"last payload +1", with_u64(last.at + internal::kOpPayloadSizeAt, last.payload.size() + 1),
       last.at + internal::kOpPayloadSizeAt},
      {"base path length max", with_u16(first.at + internal::kOpBasePathLengthAt, 0xFFFF),
       first.at + internal::kOpBasePathLengthAt},
      {"target data size max",
       with_u64(internal::kAtdHeaderSize + internal::kHeaderDataSize, UINT64_MAX),
       internal::kAtdHeaderSize + internal::kHeaderDataSize},
      {"target index size max",
       with_u64(internal::kAtdHeaderSize + internal::kHeaderIndexSize, UINT64_MAX),
       internal::kAtdHeaderSize + internal::kHeaderIndexSize},
      {"target entry frame size max",
       with_u64(index_at + internal::kRecordCompressedSize, UINT64_MAX),
       index_at + internal::kRecordCompressedSize},
      {"target index offset max", with_u64(target_at + internal::kHeaderIndexOffset, UINT64_MAX),
       target_at + internal::kHeaderIndexOffset},
      {"target index offset in the header",
       with_u64(target_at + internal::kHeaderIndexOffset, internal::kHeaderSize - 1),
       target_at + internal::kHeaderIndexOffset},
      {"target app count 0", with_u16(target_at + internal::kHeaderSize, 0),
       target_at + internal::kHeaderSize},
      {"target app pattern length 0", with_u16(target_at + internal::kHeaderSize + 4, 0),
       target_at + internal::kHeaderSize + 4},
  };
  for (const Case& c : cases) {
    Error e = ExpectRefused(c.bytes, c.what);
    EXPECT_EQ(e.file, atd_) << c.what;
    EXPECT_EQ(e.offset, c.offset) << c.what << ": " << e.ToString();
  }
  // One op too many or too few for the target.
  std::string more = Reencode(image, [](std::vector<OpSpec>* ops) { ops->push_back(ops->back()); });
  EXPECT_EQ(ExpectRefused(more, "extra op").offset, internal::kAtdOpCountAt);
  std::string fewer = Reencode(image, [](std::vector<OpSpec>* ops) { ops->pop_back(); });
  EXPECT_EQ(ExpectRefused(fewer, "missing op").offset, internal::kAtdOpCountAt);
}

TEST_F(DeltaPackageTest, OutputNeverReplacesAnInputOrLeavesAPartialFile) {
  Diff(base_, target_);
  const PublicKey keys[] = {key_.pk};
  auto r = ApplyDeltaPackage(base_, atd_, keys, base_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(ReadFile(base_), base_bytes_);
  EXPECT_FALSE(fs::exists(base_ + ".tmp"));
  EXPECT_FALSE(ApplyDeltaPackage(base_, atd_, keys, atd_).ok());
  EXPECT_FALSE(DiffPackages(base_, target_, base_).ok());
  EXPECT_EQ(ReadFile(base_), base_bytes_);

  // A previous output survives a failed apply untouched.
  WriteFile(out_, "the previous package");
  std::string damaged = ReadFile(atd_);
  damaged.back() ^= 1;
  EXPECT_FALSE(ApplyBytes(damaged).ok());
  EXPECT_EQ(ReadFile(out_), "the previous package");
  EXPECT_FALSE(fs::exists(out_ + ".tmp"));

  // A stale temporary file from a crash is replaced, then gone.
  fs::remove(out_);
  Diff(base_, target_);
  WriteFile(out_ + ".tmp", "stale");
  r = Apply(keys);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(ReadFile(out_), target_bytes_);
  EXPECT_FALSE(fs::exists(out_ + ".tmp"));
}

}  // namespace
}  // namespace atrium
