// The crash file on disk: opening it for the handler's records and setting
// aside what must not be read or written (see CrashCapture::Install and
// ReadCrashFile in atrium/crash_capture.h).
#ifndef ATRIUM_GUARD_SRC_CRASH_FILE_H_
#define ATRIUM_GUARD_SRC_CRASH_FILE_H_

#include <string>

#include "atrium/result.h"

namespace atrium::internal {

// A descriptor open for writing on `path`, a regular file with one link,
// emptied. Whatever else is at `path` (symlink, FIFO, directory, device,
// hard link) is first moved aside to "<path>.rejected"; never follows a
// symlink and never blocks on a FIFO.
Result<int> OpenCrashFileForRecords(const std::string& path);

// Renames `path` (whatever it is; a symlink itself, not its target) to
// `path + suffix`, replacing what was there. Returns "" or why it could not.
std::string MoveCrashFileAside(const std::string& path, const std::string& suffix);

}  // namespace atrium::internal

#endif  // ATRIUM_GUARD_SRC_CRASH_FILE_H_
