// libFuzzer target for the .atb package reader (bundles/src/package_reader.cc).
// Any byte string must open as a package whose every accessor stays in
// bounds, or give an Error; reading entries must return the declared bytes
// or an Error; nothing may crash, hang, leak or throw.
//
// So that mutations get past the first integrity check instead of stopping
// there, every input has its frame hashes recomputed and is re-signed with a
// fixed fuzzing key before it is opened (as bundle_index_fuzz repairs its
// checksum); the structure checks, the manifest parsers and the zstd decode
// path are what gets fuzzed. Invariants checked:
// 1. An error names the file and, from Open, a byte offset inside the input.
// 2. An opened package has sorted, unique, valid entry paths whose frames lie
//    back to back inside the data section, which lies inside the input.
// 3. Verify with the fuzzing key succeeds on every opened input (it was
//    signed over exactly what the header says is signed).
// 4. An entry that reads back has its declared size and SHA-256.
// 5. A format-2 package names valid app patterns, sorted and unique, and its
//    index follows them; a format-1 package names none.
// Seeds: tests/fuzz/corpus/package/ (small packages made by `atrium pack` and
// the test writer).
//
// Concurrency: libFuzzer calls LLVMFuzzerTestOneInput from one thread.
#include <sodium.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <span>
#include <string>

#include "atrium/package.h"
#include "package_format.h"

namespace {

namespace in = atrium::internal;

constexpr const char* kFile = "fuzz.atb";
constexpr uint64_t kMaxDecodeBytes = 4 << 20;  // per input, to keep runs fast

void Require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "package_fuzz: invariant violated: %s\n", what);
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
    unsigned char seed[crypto_sign_SEEDBYTES] = {'a', 't', 'r', 'i', 'u', 'm'};
    crypto_sign_seed_keypair(k->pk.data(), k->sk.data(), seed);
    return k;
  }();
  return *key;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string image(reinterpret_cast<const char*>(data), size);
  in::RehashFramesForTesting(&image);
  if (image.size() >= in::kHeaderSize + in::kSignatureBlockSize) {
    in::ResignForTesting(&image, Key().sk);
  }
  auto opened = in::OpenPackageBytesForTesting(image, kFile);
  if (!opened.ok()) {
    const atrium::Error& e = opened.error();
    Require(e.file == kFile, "error names the file");
    Require(!e.message.empty(), "error has a message");
    Require(e.offset.has_value() && *e.offset <= size, "error offset lies inside the input");
    return 0;
  }
  atrium::PackageReader& reader = **opened;
  const atrium::PackageInfo& info = reader.info();
  Require(info.file_size == size, "file size");
  Require(info.data_offset + info.data_size <= size, "data section inside the input");
  Require(!info.entries.empty(), "at least one entry");
  uint64_t next_frame = info.data_offset;
  for (size_t i = 0; i < info.entries.size(); ++i) {
    const atrium::PackEntryInfo& e = info.entries[i];
    Require(in::EntryPathProblem(e.path).empty(), "entry path is valid");
    Require(i == 0 || info.entries[i - 1].path < e.path, "entries sorted and unique");
    Require(e.offset == next_frame, "frames back to back");
    next_frame += e.compressed_size;
  }
  Require(next_frame == info.data_offset + info.data_size, "frames fill the data section");
  Require((info.format_version >= 2) == !info.apps.empty(), "format 2 names apps, format 1 none");
  for (size_t i = 0; i < info.apps.size(); ++i) {
    Require(atrium::AppPatternProblem(info.apps[i]).empty(), "app patterns are valid");
    Require(i == 0 || info.apps[i - 1] < info.apps[i], "apps sorted and unique");
  }
  Require(info.index_offset == info.apps_offset + info.apps_size, "index follows the apps");
  (void)reader.CheckApp("com.fuzz.app");

  const atrium::PublicKey keys[] = {Key().pk};
  Require(reader.Verify(keys).ok(), "a re-signed package verifies");

  uint64_t budget = kMaxDecodeBytes;
  for (const atrium::PackEntryInfo& e : info.entries) {
    if (e.size > budget) continue;
    budget -= e.size;
    auto bytes = reader.ReadEntry(e.path);
    if (bytes.ok()) {
      Require(bytes->size() == e.size, "entry has its declared size");
      Require(in::Sha256(*bytes) == e.sha256, "entry has its SHA-256");
    } else {
      Require(bytes.error().file == kFile && bytes.error().offset.has_value(),
              "entry error names file and offset");
    }
  }
  if (info.total_size <= kMaxDecodeBytes) (void)reader.VerifyAllEntries();
  return 0;
}
