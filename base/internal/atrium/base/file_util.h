// Durable-file helpers every layer shares: the one FileError, fsync of a
// path, an atomic whole-file write, and a bounded whole-file read.
//
// Concurrency: free functions with no shared state; thread-safe.
#ifndef ATRIUM_BASE_FILE_UTIL_H_
#define ATRIUM_BASE_FILE_UTIL_H_

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "atrium/result.h"

namespace atrium::internal {

// An error about `path`; with `err` != 0, errno's text is appended
// ("cannot open: No such file or directory").
Error FileError(ErrorCode code, const std::string& path, std::string message, int err = 0);
// kIo naming `path`: "<what>: <errno text>".
Error ErrnoError(const std::string& path, std::string_view what, int err);
// fsync of a file or directory.
Status SyncPath(const std::string& path, bool directory);
// fsync of the directory holding `path` (after a rename into it).
Status SyncParentDir(const std::string& path);

// Replaces `path` with `data` so that a crash at any instant leaves the old
// or the new content: a temporary file beside it, written and fsync'd,
// renamed over `path`, then the directory fsync'd. Creates the parent
// directory when missing. Errors name the file and the step.
Status AtomicWriteFile(const std::string& path, std::string_view data, mode_t mode = 0644);

// The whole content of the regular file `path`. kNotFound when it does not
// exist, kIo when it cannot be read, kValidation when it holds more than
// `max_bytes`.
Result<std::string> ReadSmallFile(const std::string& path, size_t max_bytes);

}  // namespace atrium::internal

#endif  // ATRIUM_BASE_FILE_UTIL_H_
