// libFuzzer target for the store stamp parser (atrium/bundles/store_stamp.h):
// an unguarded launch trusts a valid stamp instead of opening state.db, so
// any bytes in data_dir/store.stamp must parse exactly or be refused.
// Checked invariants:
//   1. ParseStoreStamp never crashes.
//   2. A stamp that parses re-serializes (StoreStampText) to text that
//      parses to the same stamp, and any single byte of that text changed
//      or cut makes it refused (the checksum line covers every byte).
//
// Concurrency: the entry point is called from one thread at a time.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "atrium/bundles/store_stamp.h"

namespace {

void Require(bool cond, const char* what) {
  if (!cond) {
    std::fprintf(stderr, "store_stamp_fuzz: invariant violated: %s\n", what);
    std::abort();
  }
}

bool Same(const atrium::internal::StoreStamp& a, const atrium::internal::StoreStamp& b) {
  return a.generation == b.generation && a.staged == b.staged && a.kinds == b.kinds && a.db == b.db;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using atrium::internal::ParseStoreStamp;
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  auto stamp = ParseStoreStamp(bytes);
  if (!stamp) return 0;
  const std::string text = atrium::internal::StoreStampText(*stamp);
  auto again = ParseStoreStamp(text);
  Require(again.has_value(), "a re-serialized stamp parses");
  Require(Same(*stamp, *again), "a re-serialized stamp parses to the same stamp");
  const size_t at = size % text.size();
  std::string changed = text;
  changed[at] = static_cast<char>(changed[at] ^ 0x20);
  Require(!ParseStoreStamp(changed).has_value(), "a changed byte is refused");
  Require(!ParseStoreStamp(text.substr(0, at)).has_value(), "a cut stamp is refused");
  return 0;
}
