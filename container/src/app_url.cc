// Parser and formatter for micro-app URLs (atrium://app/<appId>?query); the
// grammar is in app_url.h. The parser walks the URL once, left to right, and
// reports the first problem with the byte offset where it is.
//
// Concurrency: pure functions over their arguments; thread-safe.
#include "atrium/app_url.h"

#include <cstddef>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>

#include "atrium/result.h"

namespace atrium {
namespace {

constexpr std::string_view kScheme = "atrium";
constexpr std::string_view kHost = "app";
constexpr size_t kMaxAppIdBytes = 64;
// How much of a wrong scheme or host an error message quotes.
constexpr size_t kMaxQuotedBytes = 32;

Error ParseError(size_t offset, std::string message) {
  Error error = MakeError(ErrorCode::kParse, std::move(message));
  error.offset = offset;
  return error;
}

// `text` in single quotes for a message: printable ASCII as is, other bytes
// as \xNN, cut after kMaxQuotedBytes.
std::string Quote(std::string_view text) {
  std::string out = "'";
  for (size_t i = 0; i < text.size() && i < kMaxQuotedBytes; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
    } else {
      char hex[5];
      std::snprintf(hex, sizeof(hex), "\\x%02X", c);
      out += hex;
    }
  }
  out += text.size() > kMaxQuotedBytes ? "...'" : "'";
  return out;
}

bool EqualsIgnoringAsciiCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

int HexDigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsAppIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

// RFC 3986 unreserved characters: the only bytes FormatAppUrl writes as is.
bool IsUnreserved(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

// End of the component starting at `pos`: the first of `stops`, or the end.
size_t ComponentEnd(std::string_view url, size_t pos, std::string_view stops) {
  const size_t end = url.find_first_of(stops, pos);
  return end == std::string_view::npos ? url.size() : end;
}

// Percent-decodes url[begin, end), one parameter name or value (`what`).
Result<std::string> Decode(std::string_view url, size_t begin, size_t end, const char* what) {
  std::string out;
  out.reserve(end - begin);
  for (size_t i = begin; i < end; ++i) {
    if (url[i] != '%') {
      out += url[i];
      continue;
    }
    if (end - i < 3) {
      return ParseError(i, std::string("truncated percent-escape ") +
                               Quote(url.substr(i, end - i)) + " in parameter " + what +
                               "; '%' must be followed by two hex digits");
    }
    const int high = HexDigitValue(url[i + 1]);
    const int low = HexDigitValue(url[i + 2]);
    if (high < 0 || low < 0) {
      return ParseError(i, "invalid percent-escape " + Quote(url.substr(i, 3)) + " in parameter " +
                               what + "; '%' must be followed by two hex digits");
    }
    if (high == 0 && low == 0) {
      return ParseError(i, std::string("percent-escape '%00' in parameter ") + what +
                               " decodes to NUL, which is not allowed");
    }
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return out;
}

}  // namespace

Result<AppUrl> ParseAppUrl(std::string_view url) {
  if (url.size() > kMaxAppUrlBytes) {
    return ParseError(kMaxAppUrlBytes, "URL is " + std::to_string(url.size()) +
                                           " bytes; the limit is " +
                                           std::to_string(kMaxAppUrlBytes));
  }
  for (size_t i = 0; i < url.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(url[i]);
    if (c < 0x20 || c == 0x7F) {
      return ParseError(i, "control character " + Quote(url.substr(i, 1)) + " is not allowed");
    }
    if (c == ' ') return ParseError(i, "space is not allowed; percent-encode it as %20");
  }

  // Scheme.
  const size_t colon = url.find(':');
  if (colon == std::string_view::npos || !EqualsIgnoringAsciiCase(url.substr(0, colon), kScheme)) {
    return ParseError(0, colon == std::string_view::npos
                             ? "URL must start with 'atrium://'"
                             : "scheme is " + Quote(url.substr(0, colon)) + "; expected 'atrium'");
  }
  size_t pos = colon + 1;
  if (url.substr(pos, 2) != "//") return ParseError(pos, "expected '//' after 'atrium:'");
  pos += 2;

  // Host.
  const size_t host_end = ComponentEnd(url, pos, "/?#");
  const std::string_view host = url.substr(pos, host_end - pos);
  if (const size_t at = host.find('@'); at != std::string_view::npos) {
    return ParseError(pos + at, "user info ('...@') is not allowed before the host");
  }
  if (const size_t port = host.find(':');
      port != std::string_view::npos && EqualsIgnoringAsciiCase(host.substr(0, port), kHost)) {
    return ParseError(pos + port, "a port is not allowed after the host");
  }
  if (!EqualsIgnoringAsciiCase(host, kHost)) {
    return ParseError(pos, host.empty() ? std::string("missing host; expected 'app'")
                                        : "host is " + Quote(host) + "; expected 'app'");
  }
  pos = host_end;

  // Path: the appId, then an optional page path.
  if (pos == url.size() || url[pos] != '/') {
    return ParseError(pos, "missing appId; expected 'atrium://app/<appId>'");
  }
  ++pos;
  const size_t id_end = ComponentEnd(url, pos, "/?#");
  if (id_end == pos) return ParseError(pos, "missing appId; expected 'atrium://app/<appId>'");
  if (url[pos] < 'a' || url[pos] > 'z') {
    return ParseError(
        pos, "appId must start with a lower-case letter a-z, not " + Quote(url.substr(pos, 1)));
  }
  for (size_t i = pos; i < id_end; ++i) {
    if (i - pos == kMaxAppIdBytes) {
      return ParseError(i, "appId is " + std::to_string(id_end - pos) + " bytes; the limit is " +
                               std::to_string(kMaxAppIdBytes));
    }
    if (!IsAppIdChar(url[i])) {
      return ParseError(
          i, "appId may contain only a-z, 0-9, '_' and '-', not " + Quote(url.substr(i, 1)));
    }
  }
  AppUrl result;
  result.app_id = std::string(url.substr(pos, id_end - pos));
  pos = id_end;
  if (pos < url.size() && url[pos] == '/') {
    const size_t path_begin = pos + 1;
    const size_t path_end = ComponentEnd(url, path_begin, "?#");
    if (path_end - path_begin > kMaxAppUrlPathBytes) {
      return ParseError(path_begin + kMaxAppUrlPathBytes,
                        "path is " + std::to_string(path_end - path_begin) +
                            " bytes; the limit is " + std::to_string(kMaxAppUrlPathBytes));
    }
    for (size_t begin = path_begin; begin <= path_end;) {
      const size_t end = ComponentEnd(url.substr(0, path_end), begin, "/");
      const std::string_view segment = url.substr(begin, end - begin);
      if (segment.empty()) return ParseError(begin, "empty path segment");
      if (segment == "." || segment == "..") {
        return ParseError(begin, "path segment " + Quote(segment) + " is not allowed");
      }
      for (size_t i = begin; i < end; ++i) {
        if (!IsUnreserved(url[i])) {
          return ParseError(i,
                            "path may contain only A-Z, a-z, 0-9, '.', '_', '~', '-' and '/', "
                            "not " +
                                Quote(url.substr(i, 1)));
        }
      }
      begin = end + 1;
    }
    result.path = std::string(url.substr(path_begin, path_end - path_begin));
    pos = path_end;
  }

  // Query, up to the fragment, which is ignored.
  if (pos < url.size() && url[pos] == '?') {
    const size_t query_end = ComponentEnd(url, pos + 1, "#");
    for (size_t begin = pos + 1; begin <= query_end;) {
      const size_t end = ComponentEnd(url.substr(0, query_end), begin, "&");
      if (end > begin) {
        const size_t eq = ComponentEnd(url.substr(0, end), begin, "=");
        if (eq == begin) return ParseError(begin, "parameter has an empty name");
        Result<std::string> key = Decode(url, begin, eq, "name");
        if (!key.ok()) return std::move(key).take_error();
        Result<std::string> value = Decode(url, eq < end ? eq + 1 : end, end, "value");
        if (!value.ok()) return std::move(value).take_error();
        result.params.emplace_back(std::move(key).value(), std::move(value).value());
      }
      begin = end + 1;
    }
  }
  return result;
}

std::string FormatAppUrl(const AppUrl& url) {
  static constexpr char kHexDigits[] = "0123456789ABCDEF";
  auto append_encoded = [](std::string& out, std::string_view text) {
    for (const char c : text) {
      if (IsUnreserved(c)) {
        out += c;
      } else {
        const unsigned char byte = static_cast<unsigned char>(c);
        out += '%';
        out += kHexDigits[byte >> 4];
        out += kHexDigits[byte & 0xF];
      }
    }
  };
  std::string out = "atrium://app/";
  append_encoded(out, url.app_id);
  if (!url.path.empty()) {
    // '/' as is; any byte outside the path grammar escaped, which
    // ParseAppUrl then reports (a path takes no escapes).
    out += '/';
    for (const char c : url.path) {
      if (c == '/') {
        out += c;
      } else {
        append_encoded(out, std::string_view(&c, 1));
      }
    }
  }
  char separator = '?';
  for (const auto& [key, value] : url.params) {
    out += separator;
    append_encoded(out, key);
    out += '=';
    append_encoded(out, value);
    separator = '&';
  }
  return out;
}

}  // namespace atrium
