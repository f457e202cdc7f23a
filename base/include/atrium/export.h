// Export macro for the Atrium runtime library. The library is compiled with
// -fvisibility=hidden; only declarations marked ATRIUM_EXPORT are visible to
// hosts that link libatrium.so.
#ifndef ATRIUM_EXPORT_H_
#define ATRIUM_EXPORT_H_

#if defined(ATRIUM_STATIC_DEFINE)
#define ATRIUM_EXPORT
#else
#define ATRIUM_EXPORT __attribute__((visibility("default")))
#endif

#endif  // ATRIUM_EXPORT_H_
