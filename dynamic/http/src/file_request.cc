#include "atrium/dynamic/http/file_request.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <limits>

namespace atrium::http {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Decimal digits, saturating at the largest uint64_t. False when `s` is
// empty or has another character.
bool ParseDecimal(std::string_view s, uint64_t* out) {
  if (s.empty()) return false;
  uint64_t v = 0;
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    v = v > (kMax - d) / 10 ? kMax : v * 10 + d;
  }
  *out = v;
  return true;
}

// The opaque tag of our own ETag ("\"abc\"" -> "abc").
std::string_view Opaque(std::string_view etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    return etag.substr(1, etag.size() - 2);
  }
  return etag;
}

}  // namespace

TargetPath ParseTarget(std::string_view target) {
  TargetPath out;
  const size_t query = target.find('?');
  std::string_view path = target.substr(0, query);
  if (path.empty() || path.front() != '/') {
    out.status = 400;
    return out;
  }
  std::string decoded;
  decoded.reserve(path.size());
  for (size_t i = 0; i < path.size(); ++i) {
    char c = path[i];
    if (c == '%') {
      const int hi = i + 2 < path.size() ? HexValue(path[i + 1]) : -1;
      const int lo = hi >= 0 ? HexValue(path[i + 2]) : -1;
      if (lo < 0) {
        out.status = 400;
        return out;
      }
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    }
    if (c == '\0') {
      out.status = 400;
      return out;
    }
    decoded.push_back(c);
  }
  if (decoded.find('\\') != std::string::npos || decoded.back() == '/') {
    out.status = 404;
    return out;
  }
  size_t start = 0;
  while (start <= decoded.size()) {
    size_t end = decoded.find('/', start);
    if (end == std::string::npos) end = decoded.size();
    const std::string_view segment(decoded.data() + start, end - start);
    if (segment == "..") {
      out.status = 404;
      out.relative.clear();
      return out;
    }
    if (!segment.empty() && segment != ".") {
      if (!out.relative.empty()) out.relative.push_back('/');
      out.relative.append(segment);
    }
    start = end + 1;
  }
  if (out.relative.empty()) out.status = 404;
  return out;
}

OpenedFile OpenInRoot(const std::string& root_real, const std::string& relative) {
  OpenedFile out;
  const std::string path = root_real + "/" + relative;
  char* resolved = ::realpath(path.c_str(), nullptr);
  if (resolved == nullptr) {
    out.status = errno == EACCES ? 403 : errno == ENOMEM ? 500 : 404;
    return out;
  }
  const std::string real(resolved);
  std::free(resolved);
  if (real.size() <= root_real.size() || real.compare(0, root_real.size(), root_real) != 0 ||
      (root_real != "/" && real[root_real.size()] != '/')) {
    out.status = 404;
    return out;
  }
  // O_NOFOLLOW: `real` has no symlink left, so one appearing now is refused;
  // O_NONBLOCK: a FIFO in the tree does not hang the server thread.
  const int fd = ::open(real.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    out.status = errno == EACCES ? 403 : (errno == ENOENT || errno == ELOOP) ? 404 : 500;
    return out;
  }
  if (::fstat(fd, &out.st) != 0 || !S_ISREG(out.st.st_mode)) {
    out.status = S_ISREG(out.st.st_mode) ? 500 : 404;
    ::close(fd);
    return out;
  }
  out.fd = fd;
  return out;
}

std::string StrongETag(const struct stat& st) {
  const uint64_t mtime_ns = static_cast<uint64_t>(st.st_mtim.tv_sec) * 1000000000ull +
                            static_cast<uint64_t>(st.st_mtim.tv_nsec);
  char buf[80];
  std::snprintf(buf, sizeof buf, "\"%llx-%llx-%llx\"", static_cast<unsigned long long>(st.st_ino),
                static_cast<unsigned long long>(st.st_size),
                static_cast<unsigned long long>(mtime_ns));
  return buf;
}

bool IfNoneMatchMatches(std::string_view header, std::string_view etag) {
  header = Trim(header);
  if (header == "*") return true;
  const std::string_view ours = Opaque(etag);
  while (true) {
    while (!header.empty() &&
           (header.front() == ',' || header.front() == ' ' || header.front() == '\t')) {
      header.remove_prefix(1);
    }
    if (header.empty()) return false;
    if (header.substr(0, 2) == "W/") header.remove_prefix(2);
    if (header.empty() || header.front() != '"') return false;
    const size_t close = header.find('"', 1);
    if (close == std::string_view::npos) return false;
    if (header.substr(1, close - 1) == ours) return true;
    header.remove_prefix(close + 1);
  }
}

bool IfRangeAllows(std::string_view header, std::string_view etag) { return Trim(header) == etag; }

RangeRequest ParseRange(std::string_view header, uint64_t size) {
  RangeRequest out;
  header = Trim(header);
  const size_t eq = header.find('=');
  if (eq == std::string_view::npos) return out;
  const std::string_view unit = Trim(header.substr(0, eq));
  if (unit.size() != 5) return out;
  for (size_t i = 0; i < 5; ++i) {
    if ((unit[i] | 0x20) != "bytes"[i]) return out;
  }
  const std::string_view spec = Trim(header.substr(eq + 1));
  if (spec.find(',') != std::string_view::npos) return out;  // several ranges: the whole file
  const size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return out;
  const std::string_view first_text = Trim(spec.substr(0, dash));
  const std::string_view last_text = Trim(spec.substr(dash + 1));
  uint64_t first = 0, last = 0;
  if (first_text.empty()) {  // "-n": the last n bytes
    if (!ParseDecimal(last_text, &last)) return out;
    if (last == 0 || size == 0) {
      out.kind = RangeRequest::kUnsatisfiable;
      return out;
    }
    out.kind = RangeRequest::kPart;
    out.length = last < size ? last : size;
    out.first = size - out.length;
    return out;
  }
  if (!ParseDecimal(first_text, &first)) return out;
  if (last_text.empty()) {
    last = std::numeric_limits<uint64_t>::max();
  } else if (!ParseDecimal(last_text, &last) || last < first) {
    return out;  // invalid: ignored
  }
  if (first >= size) {
    out.kind = RangeRequest::kUnsatisfiable;
    return out;
  }
  if (last >= size) last = size - 1;
  out.kind = RangeRequest::kPart;
  out.first = first;
  out.length = last - first + 1;
  return out;
}

std::string_view ContentTypeFor(std::string_view path) {
  const size_t slash = path.rfind('/');
  const size_t dot = path.rfind('.');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) {
    return "application/octet-stream";
  }
  std::string ext(path.substr(dot + 1));
  for (char& c : ext) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  if (ext == "json") return "application/json";
  if (ext == "html" || ext == "htm") return "text/html; charset=utf-8";
  if (ext == "js" || ext == "mjs") return "text/javascript; charset=utf-8";
  if (ext == "css") return "text/css; charset=utf-8";
  if (ext == "png") return "image/png";
  if (ext == "txt") return "text/plain; charset=utf-8";
  return "application/octet-stream";  // .atb, .atd and everything else
}

std::string HttpDate(int64_t unix_seconds) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday % 7],
                tm.tm_mday, kMonths[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

}  // namespace atrium::http
