// The store's stamp (store_stamp.h).
#include "atrium/bundles/store_stamp.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <string_view>
#include <vector>

#include "atrium/base/file_util.h"
#include "atrium/base/hash.h"

namespace atrium::internal {

namespace {

constexpr std::string_view kMagic = "atrium store stamp 1\n";
constexpr size_t kMaxStamp = 4096;

std::string StampPath(const std::string& dir) { return dir + "/store.stamp"; }
std::string DbPath(const std::string& dir) { return dir + "/state.db"; }

bool ParseU64(std::string_view text, uint64_t* out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

std::string Hex16(uint64_t v) {
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(v));
  return buffer;
}

}  // namespace

std::string StoreStampText(const StoreStamp& stamp) {
  std::string body(kMagic);
  body += "generation " + std::to_string(stamp.generation) + "\n";
  body += "staged " + std::to_string(stamp.staged) + "\n";
  for (const auto& [kind, rows] : stamp.kinds) {
    body += "kind " + std::to_string(kind) + " " + std::to_string(rows) + "\n";
  }
  body += "db " + std::to_string(stamp.db_dev) + " " + std::to_string(stamp.db_ino) + "\n";
  body += "check " + Hex16(Hash64(body, 0x5374616d70ull)) + "\n";
  return body;
}

std::optional<StoreStamp> ParseStoreStamp(std::string_view text) {
  // The checksum line covers everything before it.
  const size_t check_at = text.rfind("check ");
  if (check_at == std::string_view::npos || text.substr(0, kMagic.size()) != kMagic) {
    return std::nullopt;
  }
  if (text.substr(check_at) !=
      "check " + Hex16(Hash64(text.substr(0, check_at), 0x5374616d70ull)) + "\n") {
    return std::nullopt;
  }
  StoreStamp stamp;
  bool have_generation = false, have_staged = false, have_db = false;
  std::string_view rest = text.substr(kMagic.size(), check_at - kMagic.size());
  while (!rest.empty()) {
    const size_t eol = rest.find('\n');
    if (eol == std::string_view::npos) return std::nullopt;
    std::string_view line = rest.substr(0, eol);
    rest.remove_prefix(eol + 1);
    std::vector<std::string_view> words;
    while (!line.empty()) {
      const size_t sp = line.find(' ');
      words.push_back(line.substr(0, sp));
      line = sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
    }
    uint64_t a = 0, b = 0;
    if (words.size() == 2 && words[0] == "generation" && ParseU64(words[1], &a)) {
      stamp.generation = a;
      have_generation = true;
    } else if (words.size() == 2 && words[0] == "staged" && ParseU64(words[1], &a)) {
      stamp.staged = a;
      have_staged = true;
    } else if (words.size() == 3 && words[0] == "kind" && ParseU64(words[1], &a) && a < 256 &&
               ParseU64(words[2], &b)) {
      stamp.kinds[static_cast<uint8_t>(a)] = b;
    } else if (words.size() == 3 && words[0] == "db" && ParseU64(words[1], &a) &&
               ParseU64(words[2], &b)) {
      stamp.db_dev = a;
      stamp.db_ino = b;
      have_db = true;
    } else {
      return std::nullopt;
    }
  }
  if (!have_generation || !have_staged || !have_db) return std::nullopt;
  return stamp;
}

std::optional<StoreStamp> ReadStoreStamp(const std::string& data_dir) {
  const int fd = ::open(StampPath(data_dir).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return std::nullopt;
  char buffer[kMaxStamp];
  size_t size = 0;
  for (;;) {
    const ssize_t n = ::read(fd, buffer + size, sizeof buffer - size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    size += static_cast<size_t>(n);
    if (size == sizeof buffer) break;
  }
  ::close(fd);
  if (size == sizeof buffer) return std::nullopt;  // no stamp is this long
  auto stamp = ParseStoreStamp(std::string_view(buffer, size));
  if (!stamp) return std::nullopt;
  struct stat st;
  if (::stat(DbPath(data_dir).c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
      static_cast<uint64_t>(st.st_dev) != stamp->db_dev ||
      static_cast<uint64_t>(st.st_ino) != stamp->db_ino) {
    return std::nullopt;
  }
  return stamp;
}

namespace {

template <typename Stat>
int64_t Ns(const Stat& t) {
  return static_cast<int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec;
}

}  // namespace

bool HeldStoreStamp::DbIsTheStamped() const {
  struct stat st;
  return ::stat(DbPath(data_dir_).c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
         static_cast<uint64_t>(st.st_dev) == stamp_.db_dev &&
         static_cast<uint64_t>(st.st_ino) == stamp_.db_ino;
}

std::optional<StoreStamp> HeldStoreStamp::Read() {
  const std::string path = StampPath(data_dir_);
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    Release();
    return std::nullopt;
  }
  auto id_of = [](const struct stat& s) {
    FileId id;
    id.dev = static_cast<uint64_t>(s.st_dev);
    id.ino = static_cast<uint64_t>(s.st_ino);
    id.size = static_cast<uint64_t>(s.st_size);
    id.mtime_ns = Ns(s.st_mtim);
    id.ctime_ns = Ns(s.st_ctim);
    return id;
  };
  // The same stamp file: the same answer. (state.db was checked when it was
  // read; Atrium replaces state.db only after removing the stamp: the launch
  // guard's recovery does.)
  if (fd_ >= 0 && id_of(st) == id_) return stamp_;
  Release();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return std::nullopt;
  char buffer[kMaxStamp];
  ssize_t n;
  do {
    n = ::pread(fd, buffer, sizeof buffer, 0);
  } while (n < 0 && errno == EINTR);
  struct stat opened;
  // A whole stamp in one read (it is far shorter than the buffer), of the
  // file fstat() describes.
  if (n <= 0 || static_cast<size_t>(n) == sizeof buffer || ::fstat(fd, &opened) != 0 ||
      static_cast<uint64_t>(opened.st_size) != static_cast<uint64_t>(n)) {
    ::close(fd);
    return std::nullopt;
  }
  auto stamp = ParseStoreStamp(std::string_view(buffer, static_cast<size_t>(n)));
  if (!stamp) {
    ::close(fd);
    return std::nullopt;
  }
  stamp_ = *stamp;
  if (!DbIsTheStamped()) {
    ::close(fd);
    return std::nullopt;
  }
  fd_ = fd;
  id_ = id_of(opened);
  return stamp_;
}

void HeldStoreStamp::Release() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool WriteStoreStamp(const std::string& data_dir, StoreStamp stamp) {
  struct stat st;
  if (::stat(DbPath(data_dir).c_str(), &st) != 0) return false;
  stamp.db_dev = static_cast<uint64_t>(st.st_dev);
  stamp.db_ino = static_cast<uint64_t>(st.st_ino);
  const std::string text = StoreStampText(stamp);
  const std::string path = StampPath(data_dir);
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) return false;
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = ::close(fd) == 0 && ok;
  if (ok) ok = ::rename(tmp.c_str(), path.c_str()) == 0;
  if (!ok) ::unlink(tmp.c_str());
  return ok;
}

StampLock::StampLock(const std::string& data_dir, Mode mode) {
  const std::string path = data_dir + "/store.stamp.lock";
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd_ < 0) return;
  const int op = mode == Mode::kChange ? LOCK_SH : LOCK_EX | LOCK_NB;
  int rc;
  do {
    rc = ::flock(fd_, op);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

StampLock::~StampLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the lock
}

Status RemoveStoreStamp(const std::string& data_dir) {
  const std::string path = StampPath(data_dir);
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return Status::Ok();
    return ErrnoError(path, "cannot remove the store stamp", errno);
  }
  return SyncPath(data_dir, /*directory=*/true);
}

}  // namespace atrium::internal
