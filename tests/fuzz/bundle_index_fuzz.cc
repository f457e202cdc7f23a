// Fuzz target for the bundle index reader: any byte string must give a
// BundleIndex whose every accessor stays in bounds, or an error.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "bundle_index.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using atrium::internal::BundleIndex;
  std::string image(reinterpret_cast<const char*>(data), size);
  // Accept any fingerprint the input claims, so the bounds checks get fuzzed
  // rather than stopping at the fingerprint comparison; the checksum is
  // repaired the same way.
  // The format version too: seeds written by an older format still reach
  // the bounds checks.
  if (image.size() >= 12) {
    const uint32_t version = BundleIndex::kFormatVersion;
    image.replace(8, 4, reinterpret_cast<const char*>(&version), 4);
  }
  if (image.size() >= 96) {
    uint64_t h = atrium::internal::IndexChecksum(image);
    image.replace(24, 8, reinterpret_cast<const char*>(&h), 8);
  }
  uint64_t fp = 0;
  if (image.size() >= 24) std::memcpy(&fp, image.data() + 16, 8);
  auto idx = BundleIndex::FromImage(image, fp, "fuzz.bin");
  if (!idx.ok()) {
    if (idx.error().file != "fuzz.bin") __builtin_trap();
    return 0;
  }
  for (uint32_t i = 0; i < idx->size(); ++i) {
    auto b = idx->bundle(i);
    volatile size_t sink = b.name.size() + b.reason.size() + b.dir.size();
    for (uint32_t d : b.deps) sink = sink + idx->bundle(d).name.size();
    (void)idx->FindBundle(b.name);
    (void)idx->FindProvider(b.name);
    (void)idx->FindApp(b.name);
  }
  for (uint32_t v : idx->load_order()) (void)idx->bundle(v);
  (void)idx->app();
  (void)idx->app(/*with_baseline=*/false);
  (void)idx->baseline();
  return 0;
}
