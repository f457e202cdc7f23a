// Micro-app URLs: the deep-link form that names a micro-app and hands it
// parameters, e.g. from a notification, a QR code or another micro-app.
//
//   atrium://app/<appId>[/<path>]?k=v&k2=v2#ignored
//
// 1. The scheme is "atrium" and the host "app", both ASCII case-insensitive;
//    no userinfo or port.
// 2. appId matches [a-z][a-z0-9_-]{0,63} and is taken literally (never
//    percent-decoded), so every spelling of an app names it the same way.
// 3. An optional path after the appId names a page inside the micro-app
//    (an H5 app's "bills/2026.html"): '/'-separated segments of
//    [A-Za-z0-9._~-], none empty, "." or "..", at most kMaxAppUrlPathBytes
//    in all; taken literally (no percent-escapes).
// 4. The query is split on '&' into params, kept in order with repeats; each
//    splits at its first '=' into key and value ("k" alone means value "").
//    %XX escapes are decoded; '+' is a literal '+', not a space. Empty
//    pieces ("a=1&&b=2", a trailing '&') are skipped; an empty key ("=v")
//    and an escape that decodes to NUL are errors.
// 5. The fragment is ignored. The whole URL is at most kMaxAppUrlBytes and
//    contains no ASCII control byte or space anywhere; other bytes, including
//    raw non-ASCII, are taken literally in the query.
// Every parse error is ErrorCode::kParse with Error::offset set to the byte
// in the URL where the problem is.
//
// Concurrency: value types and pure functions; thread-safe.
#ifndef ATRIUM_APP_URL_H_
#define ATRIUM_APP_URL_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "atrium/export.h"
#include "atrium/result.h"

namespace atrium {

inline constexpr size_t kMaxAppUrlBytes = 8 * 1024;
inline constexpr size_t kMaxAppUrlPathBytes = 1024;

// atrium://app/<appId>/<path>?k=v&k2=v2#ignored  -> {app_id, params, path}
struct AppUrl {
  std::string app_id;
  std::vector<std::pair<std::string, std::string>> params;
  std::string path = {};  // "" when the URL names the micro-app alone

  bool operator==(const AppUrl&) const = default;
};

ATRIUM_EXPORT Result<AppUrl> ParseAppUrl(std::string_view url);

// Canonical form: lower-case "atrium://app/", every byte of keys and values
// outside [A-Za-z0-9._~-] written as %XX, every param as "key=value", no
// fragment. ParseAppUrl(FormatAppUrl(u)) == u whenever u is valid (a
// matching app_id, non-empty keys, no NUL) and the result fits in
// kMaxAppUrlBytes; otherwise ParseAppUrl reports what is wrong with it.
ATRIUM_EXPORT std::string FormatAppUrl(const AppUrl& url);  // percent-encodes

}  // namespace atrium

#endif  // ATRIUM_APP_URL_H_
