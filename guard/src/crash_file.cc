// Reading the crash file at the next launch (strict parser over bytes that
// may be anything) and the file-system side of the crash file: never follow
// a symlink, never block on a FIFO, read and write regular files only.
#include "crash_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "atrium/crash_capture.h"
#include "crash_record_format.h"

namespace atrium {
namespace {

using namespace crash_format;  // NOLINT: the layout constants

Error Corrupt(const std::string& path, uint64_t offset, std::string message) {
  Error e = MakeError(ErrorCode::kCorrupt, std::move(message));
  e.file = path;
  e.offset = offset;
  return e;
}

Error IoError(const std::string& path, std::string message) {
  Error e = MakeError(ErrorCode::kIo, std::move(message));
  e.file = path;
  return e;
}

template <typename T>
T Get(const std::string& b, size_t off) {
  T v;
  std::memcpy(&v, b.data() + off, sizeof(v));
  return v;
}

// A NUL-terminated text field of `cap` bytes at `off`.
bool GetText(const std::string& b, size_t off, size_t cap, std::string* out) {
  const char* p = b.data() + off;
  const void* nul = std::memchr(p, '\0', cap);
  if (!nul) return false;
  out->assign(p, static_cast<const char*>(nul));
  return true;
}

const char* FileTypeName(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  return "not a regular file";
}

// Why the file `fd` (open on `path`) is not one the guard reads or writes,
// or "" when it is: a regular file with one link.
std::string NotPlainFile(int fd) {
  struct stat st {};
  if (fstat(fd, &st) != 0) return std::string("fstat: ") + std::strerror(errno);
  if (!S_ISREG(st.st_mode)) return std::string("is ") + FileTypeName(st.st_mode);
  if (st.st_nlink != 1) return "has " + std::to_string(st.st_nlink) + " hard links";
  return "";
}

}  // namespace

Result<CrashRecord> ParseCrashRecord(const std::string& b, const std::string& path) {
  const size_t size = b.size();
  if (size == 0) {
    Error e = MakeError(ErrorCode::kNotFound, "no crash recorded (empty crash file)");
    e.file = path;
    return e;
  }
  if (size < kHeaderSize) {
    return Corrupt(path, size,
                   "truncated at offset " + std::to_string(size) + ": expected a " +
                       std::to_string(kHeaderSize) + "-byte header");
  }
  if (std::memcmp(b.data(), kMagic, 4) != 0) return Corrupt(path, 0, "bad magic (not ATCR)");
  uint32_t version = Get<uint32_t>(b, 4);
  if (version != kVersion) {
    return Corrupt(path, 4, "unsupported version " + std::to_string(version));
  }
  uint32_t length = Get<uint32_t>(b, 8);
  if (length < kFixedSize || length > kMaxRecord) {
    return Corrupt(path, 8,
                   "impossible record length " + std::to_string(length) + " (must be " +
                       std::to_string(kFixedSize) + ".." + std::to_string(kMaxRecord) + ")");
  }
  if (size < length) {
    return Corrupt(path, size,
                   "truncated at offset " + std::to_string(size) + ": expected " +
                       std::to_string(length) + " bytes");
  }
  if (size > length) {
    return Corrupt(path, length, "trailing bytes after the record");
  }
  uint32_t stored = Get<uint32_t>(b, 12);
  uint32_t computed =
      Crc32(reinterpret_cast<const unsigned char*>(b.data()) + kHeaderSize, length - kHeaderSize);
  if (stored != computed) {
    char msg[96];
    std::snprintf(msg, sizeof(msg), "checksum mismatch: stored %08x, computed %08x", stored,
                  computed);
    return Corrupt(path, 12, msg);
  }

  CrashRecord r;
  r.signal = Get<int32_t>(b, 16);
  r.code = Get<int32_t>(b, 20);
  r.fault_address = Get<uint64_t>(b, 24);
  r.pid = Get<int32_t>(b, 32);
  r.tid = Get<int32_t>(b, 36);
  r.time_sec = Get<int64_t>(b, 40);
  r.time_nsec = Get<int64_t>(b, 48);
  r.launch_id = Get<uint64_t>(b, kLaunchIdOff);
  r.nonce = Get<uint64_t>(b, kNonceOff);
  uint32_t flags = Get<uint32_t>(b, 56);
  if (flags & ~kKnownFlags) return Corrupt(path, 56, "unknown flags " + std::to_string(flags));
  r.foreground = flags & kFlagForeground;
  r.from_terminate = flags & kFlagTerminate;
  r.partial = flags & kFlagPartial;
  r.from_exit = flags & kFlagExit;
  if (r.from_exit ? r.signal != 0 : (r.signal <= 0 || r.signal >= 65)) {
    return Corrupt(path, 16, "invalid signal number " + std::to_string(r.signal));
  }
  size_t frames = Get<uint16_t>(b, 60);
  size_t modules = Get<uint16_t>(b, 62);
  if (frames > static_cast<size_t>(kMaxCrashFrames)) {
    return Corrupt(path, 60, "too many frames: " + std::to_string(frames));
  }
  if (modules > static_cast<size_t>(kMaxCrashModules)) {
    return Corrupt(path, 62, "too many modules: " + std::to_string(modules));
  }
  if (length != kFixedSize + kFrameSize * frames + kModuleSize * modules) {
    return Corrupt(path, 8,
                   "record length " + std::to_string(length) + " does not match " +
                       std::to_string(frames) + " frames and " + std::to_string(modules) +
                       " modules");
  }
  struct Field {
    size_t off, cap;
    std::string* out;
    const char* name;
  } fields[] = {{kThreadOff, kThreadLen, &r.thread, "thread"},
                {kBundleOff, kTextLen, &r.bundle, "bundle"},
                {kTaskOff, kTextLen, &r.task, "task"},
                {kArtifactOff, kTextLen, &r.artifact, "artifact"},
                {kMicroAppOff, kMicroAppLen, &r.micro_app, "micro_app"},
                {kWhatOff, kWhatLen, &r.what, "what"}};
  for (const Field& f : fields) {
    if (!GetText(b, f.off, f.cap, f.out)) {
      return Corrupt(path, f.off, std::string(f.name) + " is not NUL-terminated");
    }
  }
  for (size_t i = 0; i < frames; ++i) {
    size_t off = kFixedSize + kFrameSize * i;
    CrashFrame f;
    f.address = Get<uint64_t>(b, off);
    f.offset = Get<uint64_t>(b, off + 8);
    f.module = Get<int32_t>(b, off + 16);
    if (f.module < -1 || f.module >= static_cast<int>(modules)) {
      return Corrupt(path, off + 16,
                     "frame " + std::to_string(i) + " names module " + std::to_string(f.module) +
                         " of " + std::to_string(modules));
    }
    r.frames.push_back(f);
  }
  for (size_t m = 0; m < modules; ++m) {
    size_t off = kFixedSize + kFrameSize * frames + kModuleSize * m;
    CrashModule mod;
    mod.base = Get<uint64_t>(b, off);
    if (!GetText(b, off + 8, kPathLen, &mod.path) || mod.path.empty()) {
      return Corrupt(path, off + 8, "module " + std::to_string(m) + " has no valid path");
    }
    r.modules.push_back(std::move(mod));
  }
  return r;
}

Result<CrashRecord> ReadCrashFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      Error e = MakeError(ErrorCode::kNotFound, "no crash file");
      e.file = path;
      return e;
    }
    if (errno == ELOOP) return IoError(path, "crash file is a symbolic link (not followed)");
    return IoError(path, std::string("cannot open the crash file: ") + std::strerror(errno));
  }
  if (std::string why = NotPlainFile(fd); !why.empty()) {
    ::close(fd);
    return IoError(path, "crash file " + why + " (not read)");
  }
  // Bounded read: one byte past the largest record is enough to reject it.
  std::string bytes(kMaxRecord + 1, '\0');
  size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = ::read(fd, bytes.data() + got, bytes.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return IoError(path, std::string("reading the crash file: ") + std::strerror(err));
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  bytes.resize(got);
  return ParseCrashRecord(bytes, path);
}

}  // namespace atrium

namespace atrium::internal {

std::string MoveCrashFileAside(const std::string& path, const std::string& suffix) {
  namespace fs = std::filesystem;
  const std::string aside = path + suffix;
  std::error_code ec;
  fs::remove_all(aside, ec);  // an older one (even a directory) gives way
  if (::rename(path.c_str(), aside.c_str()) == 0 || errno == ENOENT) return "";
  return "cannot move " + path + " aside to " + aside + ": " + std::strerror(errno);
}

Result<int> OpenCrashFileForRecords(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && (!S_ISREG(st.st_mode) || st.st_nlink != 1)) {
    if (std::string failed = MoveCrashFileAside(path, ".rejected"); !failed.empty()) {
      return IoError(path, "crash file is not a plain file and " + failed);
    }
  }
  // No O_TRUNC before the checks: truncating a hard link would empty a file
  // elsewhere. O_NOFOLLOW and O_NONBLOCK cover a swap after the lstat.
  const int fd =
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
  if (fd < 0) {
    return IoError(path, std::string("cannot open the crash file: ") + std::strerror(errno));
  }
  if (std::string why = NotPlainFile(fd); !why.empty()) {
    ::close(fd);
    return IoError(path, "crash file " + why + " (crash capture not installed)");
  }
  if (::ftruncate(fd, 0) != 0) {
    const int err = errno;
    ::close(fd);
    return IoError(path, std::string("cannot empty the crash file: ") + std::strerror(err));
  }
  return fd;
}

}  // namespace atrium::internal
