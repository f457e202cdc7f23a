// PackageReader::Impl, shared by the reader's rooms: package_reader.cc
// (opening, entries, the public surface, extraction) and package_parse.cc
// (the structure checks Open runs before handing out anything). The order
// of trust is described at the top of package_reader.cc.
//
// Concurrency: immutable after Open except `verified` (atomic).
#ifndef ATRIUM_BUNDLES_PACKAGE_READER_IMPL_H_
#define ATRIUM_BUNDLES_PACKAGE_READER_IMPL_H_

#include <sys/mman.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "atrium/base/strict_json.h"
#include "atrium/package.h"
#include "package_format.h"

namespace atrium {

struct PackageReader::Impl {
  std::string path;
  const uint8_t* base = nullptr;
  uint64_t size = 0;
  void* map = nullptr;  // munmap'd on destruction; null for in-memory images
  std::string owned;    // the image, for in-memory packages
  PackageInfo info;
  std::vector<uint64_t> record_offsets;        // parallel to info.entries
  std::vector<internal::Digest> frame_hashes;  // parallel to info.entries
  std::atomic<bool> verified{false};

  ~Impl() {
    if (map != nullptr) ::munmap(map, size);
  }

  std::string_view Slice(uint64_t offset, uint64_t length) const {
    return {reinterpret_cast<const char*>(base) + offset, length};
  }
  Error Fail(ErrorCode code, uint64_t offset, std::string message) const {
    Error e = MakeError(code, std::move(message));
    e.file = path;
    e.offset = offset;
    return e;
  }
  Error Corrupt(uint64_t offset, std::string message) const {
    return Fail(ErrorCode::kCorrupt, offset, std::move(message));
  }

  Status Parse();
  Status ParseHeader();
  Status ParseSections();
  Status ParseIndex();
  Status ParseManifest();
  Status Decode(size_t i, const std::function<Status(std::string_view)>& sink) const;
  std::string EntryName(size_t i) const {
    return "entry " + internal::Quote(info.entries[i].path) + " (#" + std::to_string(i) + ")";
  }
};

namespace internal {

inline std::string Num(uint64_t n) { return std::to_string(n); }

inline bool AllZero(const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (p[i] != 0) return false;
  }
  return true;
}

}  // namespace internal
}  // namespace atrium

#endif  // ATRIUM_BUNDLES_PACKAGE_READER_IMPL_H_
