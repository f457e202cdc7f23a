#include "atrium/base/log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "atrium/base/clock.h"
#include "atrium/base/file_util.h"

namespace atrium::internal {
namespace {

LogLevel Threshold() {
  static const LogLevel level = [] {
    const char* env = std::getenv("ATRIUM_LOG");
    LogLevel parsed = LogLevel::kWarning;
    if (env != nullptr) (void)ParseLogLevel(env, &parsed);
    return parsed;
  }();
  return level;
}

// The files added; `file_count` lets Log() skip the lock when there is none.
std::mutex& FilesMutex() {
  static auto* mu = new std::mutex();
  return *mu;
}
std::vector<std::shared_ptr<LogFile>>& Files() {
  static auto* files = new std::vector<std::shared_ptr<LogFile>>();
  return *files;
}
std::atomic<int> file_count{0};

void AppendEscaped(std::string* out, std::string_view text) {
  for (char c : text) {
    switch (c) {
      case '\t':
        out->append("\\t");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\\':
        out->append("\\\\");
        break;
      default:
        out->push_back(c);
    }
  }
}

}  // namespace

const char* LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "?";
}

bool ParseLogLevel(std::string_view name, LogLevel* level) {
  for (LogLevel l : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarning, LogLevel::kError}) {
    if (name == LogLevelName(l)) {
      *level = l;
      return true;
    }
  }
  return false;
}

bool LogEnabled(LogLevel level) { return level >= Threshold() || file_count.load() > 0; }

void Log(LogLevel level, std::string_view source, std::string_view message) {
  if (level >= Threshold()) {
    std::string line = "atrium ";
    line += LogLevelName(level);
    if (!source.empty()) {
      line += " [";
      line += source;
      line += ']';
    }
    line += ": ";
    line += message;
    line += '\n';
    (void)!::write(STDERR_FILENO, line.data(), line.size());
  }
  if (file_count.load(std::memory_order_acquire) == 0) return;
  std::vector<std::shared_ptr<LogFile>> files;
  {
    std::lock_guard lock(FilesMutex());
    files = Files();
  }
  const int64_t now = RealClock().NowUnixMs();
  for (const auto& f : files) f->Write(now, level, source, message);
}

Result<std::shared_ptr<LogFile>> LogFile::Open(const std::string& dir, size_t max_bytes,
                                               LogLevel threshold) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return FileError(ErrorCode::kIo, dir, "cannot create the log directory: " + ec.message());
  std::shared_ptr<LogFile> file(
      new LogFile(dir + "/" + kName, std::max<size_t>(max_bytes, 256), threshold));
  file->fd_ = ::open(file->path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (file->fd_ < 0) return ErrnoError(file->path_, "cannot open the log file", errno);
  struct stat st;
  if (::fstat(file->fd_, &st) == 0) file->size_ = static_cast<size_t>(st.st_size);
  return file;
}

LogFile::~LogFile() {
  if (fd_ >= 0) ::close(fd_);
}

void LogFile::RotateLocked() {
  (void)::rename(path_.c_str(), (path_ + ".1").c_str());
  if (fd_ >= 0) ::close(fd_);
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_TRUNC | O_CLOEXEC, 0644);
  size_ = 0;
}

void LogFile::Write(int64_t unix_ms, LogLevel level, std::string_view source,
                    std::string_view message) {
  if (level < threshold_) return;
  std::string line = std::to_string(unix_ms);
  line += '\t';
  line += LogLevelName(level);
  line += '\t';
  if (source.empty()) {
    line += '-';
  } else {
    AppendEscaped(&line, source);
  }
  line += '\t';
  AppendEscaped(&line, message);
  if (line.size() + 1 > max_bytes_) line.resize(max_bytes_ - 1);  // one line never rotates twice
  line += '\n';
  std::lock_guard lock(mu_);
  if (size_ + line.size() > max_bytes_) RotateLocked();
  if (fd_ < 0) return;
  if (::write(fd_, line.data(), line.size()) > 0) size_ += line.size();
}

void AddLogFile(std::shared_ptr<LogFile> file) {
  std::lock_guard lock(FilesMutex());
  Files().push_back(std::move(file));
  file_count.store(static_cast<int>(Files().size()), std::memory_order_release);
}

void RemoveLogFile(const LogFile* file) {
  std::lock_guard lock(FilesMutex());
  auto& files = Files();
  files.erase(
      std::remove_if(files.begin(), files.end(), [file](const auto& f) { return f.get() == file; }),
      files.end());
  file_count.store(static_cast<int>(files.size()), std::memory_order_release);
}

}  // namespace atrium::internal
