/* The bundle C ABI: the one symbol a bundle's shared library exports.
 *
 *   const AtriumBundleEntry* atrium_bundle_entry(void);
 *
 * The container dlopen()s the library, looks up that symbol, calls it, and
 * checks `abi_version` (and `struct_size`) before it touches anything else in
 * the struct. A mismatch marks the bundle failed ("ABI version 7, container
 * speaks 1") and nothing of the bundle runs.
 *
 * `cxx_abi` names the C++ toolchain ABI the bundle was built with. The
 * C++ authoring layer (atrium/bundle.h) passes C++ objects (BundleContext,
 * std::shared_ptr services) through `start`/`stop`; the container calls them
 * only when `cxx_abi` equals its own tag (ATRIUM_CXX_ABI_TAG), else the bundle
 * fails to load with a clear reason.
 *
 * Contract of start/stop:
 *  - called on the thread that loads/unloads the bundle, never concurrently
 *    for one bundle;
 *  - return 0 on success; non-zero with a NUL-terminated reason written to
 *    `err` (at most `err_len` bytes) on failure;
 *  - no exception may leave them (ATRIUM_BUNDLE catches and converts);
 *  - when `start` fails, the container unregisters whatever the bundle
 *    registered, does not call `stop`, marks it failed and unloads it;
 *  - `stop` must leave no thread, timer or callback of the bundle running:
 *    after it returns the library may be unmapped at any time once the last
 *    service object it created is released.
 */
#ifndef ATRIUM_BUNDLE_ABI_H_
#define ATRIUM_BUNDLE_ABI_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ATRIUM_BUNDLE_ABI_VERSION 1u
#define ATRIUM_BUNDLE_ENTRY_SYMBOL "atrium_bundle_entry"

/* Opaque to C; the C++ layer gives it a type (atrium::BundleContext). */
typedef struct AtriumBundleContext AtriumBundleContext;

typedef struct AtriumBundleEntry {
  uint32_t abi_version; /* ATRIUM_BUNDLE_ABI_VERSION the bundle was built for */
  uint32_t struct_size; /* sizeof(AtriumBundleEntry) of the bundle's build */
  const char* cxx_abi;  /* toolchain tag, see ATRIUM_CXX_ABI_TAG */
  const char* name;     /* bundle name as built, informative */
  int (*start)(AtriumBundleContext* ctx, char* err, size_t err_len);
  int (*stop)(AtriumBundleContext* ctx, char* err, size_t err_len);
} AtriumBundleEntry;

typedef const AtriumBundleEntry* (*AtriumBundleEntryFn)(void);

#ifdef __cplusplus
}
#endif

/* Toolchain tag: compiler family + C++ standard library ABI. */
#define ATRIUM_STR2_(x) #x
#define ATRIUM_STR_(x) ATRIUM_STR2_(x)
#if defined(__GLIBCXX__)
#define ATRIUM_CXX_ABI_TAG \
  "libstdc++/cxx11abi=" ATRIUM_STR_(_GLIBCXX_USE_CXX11_ABI) "/abi=" ATRIUM_STR_(__GXX_ABI_VERSION)
#elif defined(_LIBCPP_VERSION)
#define ATRIUM_CXX_ABI_TAG "libc++/abi=" ATRIUM_STR_(_LIBCPP_ABI_VERSION)
#else
#define ATRIUM_CXX_ABI_TAG "unknown"
#endif

#endif /* ATRIUM_BUNDLE_ABI_H_ */
