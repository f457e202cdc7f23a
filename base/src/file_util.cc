#include "atrium/base/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "atrium/base/fs_faults.h"

namespace atrium::internal {

Error FileError(ErrorCode code, const std::string& path, std::string message, int err) {
  if (err != 0) message += ": " + std::string(std::strerror(err));
  Error e = MakeError(code, std::move(message));
  e.file = path;
  return e;
}

Error ErrnoError(const std::string& path, std::string_view what, int err) {
  return FileError(ErrorCode::kIo, path,
                   std::string(what) + ": " + std::generic_category().message(err));
}

Status SyncPath(const std::string& path, bool directory) {
  int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) return ErrnoError(path, "cannot open to sync", errno);
  int rc = FsSync(fd, path);
  int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoError(path, "cannot sync", err);
  return Status::Ok();
}

Status SyncParentDir(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  return SyncPath(dir.empty() ? "." : dir, /*directory=*/true);
}

Status AtomicWriteFile(const std::string& path, std::string_view data, mode_t mode) {
  const std::string tmp = path + ".tmp";
  auto fail = [&](const char* what, int err) {
    ::unlink(tmp.c_str());
    return FileError(ErrorCode::kIo, tmp, what, err);
  };
  std::error_code ec;
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return FileError(ErrorCode::kIo, tmp, "cannot create", errno);
  while (!data.empty()) {
    ssize_t w = FsWrite(fd, data.data(), data.size(), tmp);
    if (w < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return fail("cannot write", err);
    }
    data.remove_prefix(static_cast<size_t>(w));
  }
  if (FsSync(fd, tmp) != 0) {
    int err = errno;
    ::close(fd);
    return fail("cannot sync", err);
  }
  if (::close(fd) != 0) return fail("cannot close", errno);
  if (FsRename(tmp.c_str(), path.c_str()) != 0) return fail("cannot rename into place", errno);
  return SyncParentDir(path);
}

Result<std::string> ReadSmallFile(const std::string& path, size_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    return FileError(err == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIo, path, "cannot open",
                     err);
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return FileError(ErrorCode::kIo, path, "not a regular file");
  }
  std::string out;
  char buffer[16384];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return FileError(ErrorCode::kIo, path, "cannot read", err);
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > max_bytes) {
      ::close(fd);
      return FileError(ErrorCode::kValidation, path,
                       "larger than the limit of " + std::to_string(max_bytes) + " bytes");
    }
    out.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

}  // namespace atrium::internal
