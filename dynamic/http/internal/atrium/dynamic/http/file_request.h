// The rules of answering a static file request, apart from the sockets: which
// file a request target names (and which it may never name), the validator
// of a file (ETag), If-None-Match and If-Range, the byte range a Range header
// asks for, and the media type of a file. HttpServer handlers (ServeFile) apply them.
//
// Concurrency: pure functions and a file opened per call; thread-safe.
#ifndef ATRIUM_DYNAMIC_HTTP_FILE_REQUEST_H_
#define ATRIUM_DYNAMIC_HTTP_FILE_REQUEST_H_

#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace atrium::http {

// A request target reduced to a path below the root.
struct TargetPath {
  int status = 0;        // 0: `relative` is good; else the HTTP status to refuse with
  std::string relative;  // "metadata/1.root.json": segments joined by '/', never empty
};

// Percent-decodes the path of `target` once (the query is ignored) and checks
// it: 400 for a target that is not origin-form ("/..."), a bad %-escape or a
// NUL byte; 404 for a `..` segment, a backslash, or no file name (the root or
// a path ending in '/': folders are not listed). Empty and "." segments are
// dropped.
TargetPath ParseTarget(std::string_view target);

// A regular file opened for reading below the root.
struct OpenedFile {
  int status = 0;  // 0: `fd` is open; else 403, 404 or 500
  int fd = -1;     // owned by the caller
  struct stat st {};
};

// Opens `relative` (from ParseTarget) below `root_real` (a realpath). 404
// when it does not exist, is not a regular file, or resolves (through a
// symlink) outside `root_real`; 403 when it may not be read; 500 for another
// error. The file is checked as opened (fstat), so what is served is what was
// checked.
OpenedFile OpenInRoot(const std::string& root_real, const std::string& relative);

// A strong validator that changes when the file does: "\"<inode>-<size>-
// <mtime in ns>\"" in hex. A file replaced by a rename gets a new inode; a
// file written in place a new size or modification time.
std::string StrongETag(const struct stat& st);

// Whether an If-None-Match value matches `etag` ("*" or a list of entity
// tags, compared weakly: W/"x" matches "x"). A malformed list matches
// nothing from the bad element on.
bool IfNoneMatchMatches(std::string_view header, std::string_view etag);

// Whether a Range may be honoured under an If-Range value: only an entity
// tag strongly equal to `etag` (a date, or a weak tag, means "send it all").
bool IfRangeAllows(std::string_view header, std::string_view etag);

// What a Range header asks of a file of `size` bytes.
struct RangeRequest {
  enum Kind { kWhole, kPart, kUnsatisfiable };
  Kind kind = kWhole;
  uint64_t first = 0;   // kPart: the first byte
  uint64_t length = 0;  // kPart: how many bytes, > 0
};

// One range of "bytes=a-b", "bytes=a-" or "bytes=-n". kWhole for a header
// the server ignores (another unit, bad syntax, several ranges: answered
// with the whole file, which RFC 9110 allows); kUnsatisfiable when the range
// starts at or past the end, or is "-0".
RangeRequest ParseRange(std::string_view header, uint64_t size);

// The media type by extension: .json, .atb/.atd (octet-stream), .html, .js,
// .css, .png, .txt; else application/octet-stream.
std::string_view ContentTypeFor(std::string_view path);

// An IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT").
std::string HttpDate(int64_t unix_seconds);

}  // namespace atrium::http

#endif  // ATRIUM_DYNAMIC_HTTP_FILE_REQUEST_H_
