// Internal logging: every line goes to stderr when its level is at or above
// the threshold from $ATRIUM_LOG (debug|info|warning|error; default
// warning), and to each LogFile added (an app's <data-dir>/logs/atrium.log,
// which keeps info and above whatever $ATRIUM_LOG says).
//
// Thread-safe: one write(2) per line and destination; files are written
// under their own mutex.
#ifndef ATRIUM_BASE_LOG_H_
#define ATRIUM_BASE_LOG_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "atrium/log_level.h"
#include "atrium/result.h"

namespace atrium::internal {

// Whether a line at `level` goes anywhere (stderr, or a LogFile is added).
bool LogEnabled(LogLevel level);
// `source`: the bundle (or runtime part) the line is about; may be empty.
void Log(LogLevel level, std::string_view source, std::string_view message);

// "debug", "info", "warning", "error"; ParseLogLevel returns false for
// anything else.
const char* LogLevelName(LogLevel level);
bool ParseLogLevel(std::string_view name, LogLevel* level);

// A size-capped log file: lines are appended to <dir>/atrium.log as
//   <unix-ms>\t<level>\t<source or "-">\t<message>\n
// (tabs, newlines and backslashes in source and message escaped as \t, \n,
// \\). When a line would take the file past max_bytes, the file becomes
// atrium.log.1 (replacing the previous one) and a new one starts, so the
// two hold at most 2 x max_bytes. Write errors are dropped (logging never
// fails its caller).
class LogFile {
 public:
  static constexpr size_t kDefaultMaxBytes = 1u << 20;
  static constexpr const char* kName = "atrium.log";

  // Creates `dir` when missing.
  static Result<std::shared_ptr<LogFile>> Open(const std::string& dir,
                                               size_t max_bytes = kDefaultMaxBytes,
                                               LogLevel threshold = LogLevel::kInfo);
  ~LogFile();
  LogFile(const LogFile&) = delete;
  LogFile& operator=(const LogFile&) = delete;

  void Write(int64_t unix_ms, LogLevel level, std::string_view source, std::string_view message);
  const std::string& path() const { return path_; }

 private:
  LogFile(std::string path, size_t max_bytes, LogLevel threshold)
      : path_(std::move(path)), max_bytes_(max_bytes), threshold_(threshold) {}
  void RotateLocked();

  const std::string path_;
  const size_t max_bytes_;
  const LogLevel threshold_;
  std::mutex mu_;
  int fd_ = -1;      // guarded by mu_
  size_t size_ = 0;  // guarded by mu_
};

// Adds `file` to the destinations of every Log() line, until removed.
void AddLogFile(std::shared_ptr<LogFile> file);
void RemoveLogFile(const LogFile* file);

}  // namespace atrium::internal

#endif  // ATRIUM_BASE_LOG_H_
