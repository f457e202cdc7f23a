// h5.json: the manifest of an H5 offline web package (artifact kind
// h5_package), its model and its strict parser (docs/h5.md, schema in
// docs/h5.schema.json). A package is an "app" (pages a micro app opens at
// http://<id>.localhost:<port>/<entry>, with the host APIs it may call) or a
// "library" (shared files that apps use under /__shared/<id>/). The layer
// registers ValidateH5Manifest for h5_package packages; the loopback server,
// the router and the JS bridge read the H5Manifest.
//
// A package's id is one DNS host label (IsH5AppId) and, for an app, its
// micro-app id: the app's origin is http://<id>.localhost:<port>/ and the
// router's deep links are atrium://app/<id>/<path>. Like every non-native
// artifact manifest, h5.json has a top-level string "id" and a SemVer
// "version" (bundles/src/package_format.cc reads both before this parser
// runs).
//
// Strict like bundle.json and patch.json: unknown fields and duplicate keys
// are errors, and every error names the file and the JSON pointer
// ("pkg.atb:h5.json: /jsapis/2/name: ...").
//
// Concurrency: value types and pure functions.
#ifndef ATRIUM_DYNAMIC_H5_H5_MANIFEST_H_
#define ATRIUM_DYNAMIC_H5_H5_MANIFEST_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "atrium/result.h"
#include "atrium/semver.h"

namespace atrium::h5 {

inline constexpr std::string_view kManifestName = "h5.json";
inline constexpr int kManifestFormat = 1;

// Limits (docs/h5.md).
inline constexpr size_t kMaxManifestBytes = 64 * 1024;
inline constexpr size_t kMaxAppIdBytes = 63;  // one DNS label
inline constexpr size_t kMaxNameChars = 80;   // characters (code points)
inline constexpr size_t kMaxPathBytes = 1024;
inline constexpr size_t kMaxPathSegmentBytes = 255;
inline constexpr size_t kMaxUrlBytes = 2048;
inline constexpr size_t kMaxJsApis = 256;
inline constexpr size_t kMaxJsApiNameBytes = 128;
inline constexpr size_t kMaxReasonChars = 200;  // characters (code points)
inline constexpr size_t kMaxUses = 32;
inline constexpr size_t kMaxImmutablePrefixes = 64;
inline constexpr int64_t kMaxCacheMaxAgeSeconds = 31536000;  // one year
inline constexpr size_t kMaxCspBytes = 4096;

// The Content-Security-Policy of an app whose manifest names none.
inline constexpr std::string_view kDefaultCsp =
    "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'self'; "
    "frame-ancestors 'self'";

enum class H5Kind { kApp, kLibrary };
// "app" / "library".
const char* H5KindName(H5Kind kind);

// A host API the app calls through the JS bridge, and why (shown to users).
struct JsApiDecl {
  std::string name;    // "wallet.getBalance" (atrium::IsHostApiName)
  std::string reason;  // "shows your balance"
};

// A library package the app uses, served to it under /__shared/<id>/.
struct LibraryUse {
  std::string id;  // the library's id
  VersionRange range;
};

struct H5CachePolicy {
  // max-age of every file but the immutable ones; 0: revalidate each time
  // (with the ETag).
  int64_t max_age_s = 0;
  // Path prefixes inside www/ ("assets/", "vendor/lib.js") served with a
  // long max-age and `immutable`.
  std::vector<std::string> immutable;
};

// h5.json with its defaults applied. Fields a library may not have are
// empty for a library.
struct H5Manifest {
  int format = kManifestFormat;
  std::string id;  // an app's origin is http://<id>.localhost:<port>/
  Version version;
  H5Kind kind = H5Kind::kApp;
  std::string name;               // "" for a library that names none
  std::string entry;              // app: a file inside www/ ("index.html")
  std::string fallback_url;       // app: the web page opened when the package cannot be used
  std::vector<JsApiDecl> jsapis;  // app only
  std::vector<LibraryUse> uses;   // app only
  H5CachePolicy cache;
  std::string csp = std::string(kDefaultCsp);  // app only; a library's files get the app's

  bool IsLibrary() const { return kind == H5Kind::kLibrary; }
};

// Parses and validates h5.json. `file` is the name errors use
// ("pkg.atb:h5.json"). kParse for text that is no JSON (too large,
// truncated, duplicate key: with a byte offset where known), kValidation for
// a broken rule (with the JSON pointer), kInternal when memory runs out.
Result<H5Manifest> ParseH5Manifest(std::string_view text, std::string_view file);

// ParseH5Manifest as an atrium::ManifestValidator (atrium/artifact_kind.h),
// for the h5_package kind.
Status ValidateH5Manifest(std::string_view text, std::string_view file);

// The rules the router, the server and the bridge share with the parser.
// (A JS API name is a host API name: atrium::IsHostApiName in
// atrium/host_api.h.)
//
// An H5 app id (of an app or a library): one lowercase DNS host label,
// [a-z]([a-z0-9-]{0,61}[a-z0-9])? — 1 to kMaxAppIdBytes characters of
// a-z, 0-9 and '-', starting with a letter, not ending with '-'.
bool IsH5AppId(std::string_view id);

// "" when `url` is acceptable as a fallback URL (an absolute http or https
// URL with a host, an optional port 1-65535, no user info, printable ASCII
// without spaces or '\', at most kMaxUrlBytes), else the problem, worded as
// ParseH5Manifest words it after "invalid fallback URL '<url>': ".
std::string WebUrlProblem(std::string_view url);

}  // namespace atrium::h5

#endif  // ATRIUM_DYNAMIC_H5_H5_MANIFEST_H_
