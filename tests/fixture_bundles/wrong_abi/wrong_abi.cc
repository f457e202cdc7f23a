// Exports the entry symbol with an ABI version from the future.
#include "atrium/bundle_abi.h"
static int StartNever(AtriumBundleContext*, char*, size_t) { __builtin_trap(); }
extern "C" __attribute__((visibility("default"))) const AtriumBundleEntry* atrium_bundle_entry(
    void) {
  static const AtriumBundleEntry e = {
      99u, sizeof(AtriumBundleEntry), ATRIUM_CXX_ABI_TAG, "future", &StartNever, &StartNever};
  return &e;
}
