// libFuzzer target for delta packages (bundles/src/delta_package.h): the .atd
// parser and the rebuild, against a fixed in-memory base package. Each input
// is tried twice: as is (ParseAtd only), and "repaired" so mutants get past
// the first integrity checks, as package_fuzz does: the base size and SHA-256
// fields are set to the fixed base's and the embedded target prefix is
// re-signed with a fixed fuzzing key. The repaired input is then verified and
// rebuilt into memory. Invariants checked:
// 1. A ParseAtd error names the file and an offset inside the input.
// 2. A repaired input that parses verifies with the fuzzing key and matches
//    the base.
// 3. A rebuild either fails with a message (naming the .atd and an offset
//    inside it, or the base), or produces bytes with the recorded SHA-256
//    that open as a package, verify, and whose every entry checks.
// Seeds: tests/fuzz/corpus/atd/, made by DiffPackages from FuzzBase() to a
// few targets. Regenerate them after a format change with (one command line):
//   ATRIUM_ATD_FUZZ_WRITE_SEEDS=tests/fuzz/corpus/atd
//   build/tests/fuzz/atd_fuzz_replay --mutations 0 tests/fuzz/corpus/atd
//
// Concurrency: libFuzzer calls LLVMFuzzerTestOneInput from one thread.
#include <sodium.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "atrium/artifact_kind.h"
#include "atrium/delta_package.h"
#include "atrium/package.h"
#include "delta_package.h"
#include "package_format.h"

namespace {

namespace in = atrium::internal;

constexpr const char* kFile = "fuzz.atd";
constexpr const char* kBaseFile = "base.atb";
constexpr uint64_t kMaxRebuildBytes = 1 << 20;  // target entries, per input

void Require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "atd_fuzz: invariant violated: %s\n", what);
    std::abort();
  }
}

struct FuzzKey {
  atrium::PublicKey pk;
  atrium::SecretKey sk;
};

const FuzzKey& Key() {
  static const FuzzKey* key = [] {
    in::EnsureSodium();
    auto* k = new FuzzKey;
    unsigned char seed[crypto_sign_SEEDBYTES] = {'a', 't', 'd'};
    crypto_sign_seed_keypair(k->pk.data(), k->sk.data(), seed);
    return k;
  }();
  return *key;
}

std::string Text(size_t n, uint32_t x) {
  static const char* kWords[] = {"delta ", "frame ", "entry ", "zstd ", "\n"};
  std::string s;
  while (s.size() < n) {
    x = x * 1103515245 + 12345;
    s += kWords[(x >> 16) % 5];
  }
  s.resize(n);
  return s;
}

std::string Binary(size_t n, uint32_t x) {
  std::string s(n, '\0');
  for (char& c : s) {
    x = x * 1103515245 + 12345;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

struct File {
  std::string path;
  std::string data;
};

// The fuzz packages' kind: one of this target's own (generic artifact.json
// manifest), so no dynamic layer linked into the fuzz build claims it.
atrium::ArtifactKind FuzzKind() {
  static const atrium::ArtifactKind kind = [] {
    const auto k = static_cast<atrium::ArtifactKind>(251);
    atrium::ArtifactKindSpec spec;
    spec.kind = k;
    spec.name = "fuzz_artifact";
    spec.owner = "atd_fuzz";
    Require(atrium::RegisterArtifactKind(spec).ok(), "the fuzz kind registers");
    return k;
  }();
  return kind;
}

// A package as PackDirectory would write it (frames by the writer's routine).
std::string MakePackage(const std::string& version, std::vector<File> files) {
  const std::string manifest = R"({"id": "fuzz", "version": ")" + version + "\"}";
  files.push_back({"artifact.json", manifest});
  std::sort(files.begin(), files.end(),
            [](const File& a, const File& b) { return a.path < b.path; });
  in::RawPackageForTesting spec;
  spec.kind = FuzzKind();
  spec.id = "fuzz";
  spec.version = version;
  spec.manifest = manifest;
  spec.key = Key().sk;
  for (size_t i = 0; i < files.size(); ++i) {
    if (files[i].path == "artifact.json") spec.manifest_entry = static_cast<uint32_t>(i);
    in::RawEntryForTesting e;
    e.path = files[i].path;
    e.data = files[i].data;
    e.frame = *in::CompressEntryFrame(files[i].data, 3);
    spec.entries.push_back(std::move(e));
  }
  return in::BuildPackageForTesting(spec);
}

const std::string& FuzzBase() {
  static const std::string* base = new std::string(MakePackage(
      "1.0.0", {{"a.txt", Text(3000, 1)}, {"b.bin", Binary(1000, 2)}, {"c.txt", Text(2000, 3)}}));
  return *base;
}

struct OpenedBase {
  std::unique_ptr<atrium::PackageReader> reader;
};

const atrium::PackageReader& BaseReader() {
  static const OpenedBase* opened = [] {
    auto* o = new OpenedBase;
    auto r = in::OpenPackageBytesForTesting(FuzzBase(), kBaseFile);
    Require(r.ok(), "the fuzz base opens");
    o->reader = std::move(r).value();
    return o;
  }();
  return *opened->reader;
}

void CheckError(const atrium::Error& e, size_t size) {
  Require(!e.message.empty(), "error has a message");
  if (e.file == kFile) {
    Require(e.offset.has_value() && *e.offset <= size, "error offset lies inside the input");
  } else {
    Require(e.file == kBaseFile, "error names the .atd or the base");
  }
}

void Rebuild(const in::AtdImage& atd, size_t size) {
  Require(in::VerifyAtdSignature(atd, std::span(&Key().pk, 1)).ok(), "a re-signed .atd verifies");
  Require(in::CheckAtdBase(atd, FuzzBase(), kBaseFile).ok(), "a repaired .atd matches the base");
  uint64_t total = 0;
  for (const in::AtdTargetEntry& e : atd.entries) total += e.size;
  if (total > kMaxRebuildBytes) return;
  std::string out;
  atrium::Status s = in::RebuildTarget(
      atd, FuzzBase(), BaseReader(),
      [&out](std::string_view piece) {
        out.append(piece);
        return atrium::Status::Ok();
      },
      nullptr);
  if (!s.ok()) {
    CheckError(s.error(), size);
    return;
  }
  Require(in::Sha256(out) == atd.target_sha256, "the rebuilt target has the recorded SHA-256");
  auto reader = in::OpenPackageBytesForTesting(out, "rebuilt.atb");
  // The SHA-256 is what the .atd says; a hostile .atd may describe any bytes,
  // so only a package that opens must also verify and check.
  if (!reader.ok()) return;
  Require((*reader)->Verify(std::span(&Key().pk, 1)).ok(), "a rebuilt package verifies");
  (void)(*reader)->VerifyAllEntries();
}

void WriteSeeds(const std::string& dir) {
  char tmpl[] = "/tmp/atd-fuzz-seeds-XXXXXX";
  const std::string tmp = mkdtemp(tmpl);
  auto write = [](const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary) << bytes;
  };
  write(tmp + "/base.atb", FuzzBase());
  std::string edited = Text(3000, 1);
  edited.insert(1200, "an inserted line\n");
  struct Seed {
    const char* name;
    std::string target;
  };
  const Seed seeds[] = {
      {"edited_added_removed",
       MakePackage("1.1.0",
                   {{"a.txt", edited}, {"b.bin", Binary(1000, 2)}, {"d.bin", Binary(300, 4)}})},
      {"renamed", MakePackage("1.0.1", {{"a.txt", Text(3000, 1)},
                                        {"b2.bin", Binary(1000, 2)},
                                        {"c.txt", Text(2000, 3)}})},
      {"all_new", MakePackage("2.0.0", {{"z.txt", Text(500, 9)}})},
  };
  for (const Seed& seed : seeds) {
    write(tmp + "/target.atb", seed.target);
    auto stats = atrium::DiffPackages(tmp + "/base.atb", tmp + "/target.atb", tmp + "/out.atd");
    Require(stats.ok(), "seed diffs");
    std::ifstream f(tmp + "/out.atd", std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    write(dir + "/" + seed.name + ".atd", ss.str());
    std::printf("wrote %s/%s.atd (%zu bytes: %zu same, %zu delta, %zu full)\n", dir.c_str(),
                seed.name, ss.str().size(), stats->same, stats->delta, stats->full);
  }
  std::filesystem::remove_all(tmp);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  if (const char* dir = std::getenv("ATRIUM_ATD_FUZZ_WRITE_SEEDS")) {
    WriteSeeds(dir);
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto parsed = in::ParseAtd(input, kFile);
  if (!parsed.ok()) {
    Require(parsed.error().file == kFile, "error names the file");
    CheckError(parsed.error(), size);
  }

  if (size < in::kAtdHeaderSize + in::kSignatureBlockSize) return 0;
  std::string repaired(input);
  auto* b = reinterpret_cast<uint8_t*>(repaired.data());
  const uint64_t prefix_size = in::LoadU64(b + in::kAtdPrefixSizeAt);
  if (prefix_size < in::kHeaderSize ||
      prefix_size > size - in::kAtdHeaderSize - in::kSignatureBlockSize) {
    return 0;
  }
  in::StoreU64(b + in::kAtdBaseSizeAt, FuzzBase().size());
  const in::Digest base_sha = in::Sha256(FuzzBase());
  std::memcpy(b + in::kAtdBaseSha256At, base_sha.data(), base_sha.size());
  const std::string block = in::SignatureBlock(
      std::string_view(repaired).substr(in::kAtdHeaderSize, prefix_size), Key().sk);
  std::memcpy(b + in::kAtdHeaderSize + prefix_size, block.data(), block.size());
  auto image = in::ParseAtd(repaired, kFile);
  if (!image.ok()) {
    CheckError(image.error(), size);
    return 0;
  }
  Rebuild(*image, size);
  return 0;
}
