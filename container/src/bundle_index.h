// BundleIndex: every installed bundle's manifest and its resolution,
// compiled into one file (<data_dir>/bundle_index.bin) that Container::Open
// reads with a single read and uses in place, with no per-bundle work at
// open. It is rebuilt on install/uninstall and whenever it is missing,
// corrupt or stale.
//
// File layout (little-endian; offsets are from the start of the file):
//   Header     magic "ATRIDX01", u32 format version, u32 bundle count,
//              u64 fingerprint (of the app descriptor), u64 checksum of
//              the whole image but itself, then section offsets/counts.
//   Records    fixed-size, one per bundle (strings as {u32 off, u32 len}
//              into the string pool): name, version, dir, library, manifest
//              (unused), reason; flags; deps {u32 off, u32 count} into Deps.
//   Deps       u32 record indices.
//   Names      u32 record indices sorted by name (binary search).
//   Providers  {Str interface, u32 record} sorted by interface, resolved
//              providers before others, then higher version first.
//   Apps       {Str app id, u32 record, Str type, Str entry} sorted by id.
//   Order      u32 record indices: resolved bundles, dependencies first.
//   Strings    the pool. The app descriptor is one NUL-separated string in
//              it: id, version, name, home, key count, keys, section count,
//              (section name, section JSON text) pairs, startup config,
//              baseline dirs.
// Read() reads the file into memory with one read() and checks the magic,
// version, fingerprint, checksum and that every offset/length lies inside the
// file; a failure names what and where.
//
// Concurrency: immutable after Read; all accessors are thread-safe.
#ifndef ATRIUM_CONTAINER_BUNDLE_INDEX_H_
#define ATRIUM_CONTAINER_BUNDLE_INDEX_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "atrium/base/hash.h"
#include "atrium/manifest.h"
#include "atrium/result.h"
#include "resolver.h"

namespace atrium::internal {

// One bundle as the index builder sees it.
struct IndexInput {
  Manifest manifest;  // valid only when error is empty
  std::string dir;    // absolute bundle directory
  bool baseline = false;
  std::string error;          // manifest could not be read/parsed: the reason
  std::string fallback_name;  // name shown for a bundle whose manifest is broken
};

class BundleIndex {
 public:
  static constexpr uint32_t kFormatVersion = 5;

  BundleIndex() = default;
  // Moves keep the image's heap buffer, so the views stay valid; no copies.
  BundleIndex(BundleIndex&&) = default;
  BundleIndex& operator=(BundleIndex&&) = default;
  BundleIndex(const BundleIndex&) = delete;
  BundleIndex& operator=(const BundleIndex&) = delete;

  struct BundleView {
    std::string_view name, version, dir, library, reason;
    bool eager = false;
    bool baseline = false;
    bool broken = false;
    bool has_startup =
        false;  // the manifest declares startup tasks  // manifest unreadable; never loads
    Resolution resolution = Resolution::kUnresolved;
    std::span<const uint32_t> deps;
  };
  struct AppView {
    std::string_view app_id, type, entry;
    uint32_t bundle;
  };

  // Builds the index image for `inputs` (resolving them) and writes it
  // atomically (temp file, fsync, rename, fsync dir).
  // `app` is stored too, so an open with a matching fingerprint need not
  // parse and validate app.json again.
  static Status Write(const std::string& path, uint64_t fingerprint, const AppDescriptor& app,
                      const std::vector<IndexInput>& inputs);
  // Builds the image in memory (Write uses it; tests corrupt it).
  static std::string Build(uint64_t fingerprint, const AppDescriptor& app,
                           const std::vector<IndexInput>& inputs);

  // kNotFound: no file; kCorrupt: bad magic/checksum/bounds (names offset);
  // kState: valid but for another fingerprint or format version.
  static Result<BundleIndex> Read(const std::string& path, uint64_t fingerprint);
  static Result<BundleIndex> FromImage(std::string_view image, uint64_t fingerprint,
                                       const std::string& path);

  // The app descriptor the index was built for; the baseline list (one
  // string per baseline bundle) only when asked for.
  Result<AppDescriptor> app(bool with_baseline = true) const;
  // The baseline list alone (what app(false) left out).
  Result<std::vector<std::string>> baseline() const;

  uint32_t size() const { return count_; }
  BundleView bundle(uint32_t i) const;
  // Just the activation flag (Start scans every resolved bundle for it).
  bool IsEager(uint32_t i) const;
  std::optional<uint32_t> FindBundle(std::string_view name) const;
  // The preferred provider of an interface: resolved, highest version.
  std::optional<uint32_t> FindProvider(std::string_view interface_id) const;
  std::optional<AppView> FindApp(std::string_view app_id) const;
  std::span<const uint32_t> load_order() const { return order_; }

 private:
  static Result<BundleIndex> Adopt(std::shared_ptr<const char> image, size_t size,
                                   uint64_t fingerprint, const std::string& path);

  std::shared_ptr<const char> image_;  // mapping or heap copy: moves keep the views valid
  size_t image_size_ = 0;
  std::string_view app_blob_;
  uint32_t count_ = 0;
  const unsigned char* records_ = nullptr;
  std::span<const uint32_t> names_;
  const unsigned char* providers_ = nullptr;
  uint32_t provider_count_ = 0;
  const unsigned char* apps_ = nullptr;
  uint32_t app_count_ = 0;
  std::span<const uint32_t> order_;
  const uint32_t* deps_ = nullptr;
  uint32_t deps_count_ = 0;
  std::string_view strings_;
};

// The index checksum: Hash64 over the image except its checksum field.
uint64_t IndexChecksum(std::string_view image);

}  // namespace atrium::internal

#endif  // ATRIUM_CONTAINER_BUNDLE_INDEX_H_
