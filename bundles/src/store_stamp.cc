// The store's stamp (atrium/bundles/store_stamp.h).
#include "atrium/bundles/store_stamp.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <vector>

#include "atrium/base/file_util.h"
#include "atrium/base/hash.h"

namespace atrium::internal {

namespace {

constexpr std::string_view kMagic = "atrium store stamp 2\n";
constexpr size_t kMaxStamp = 4096;
constexpr uint64_t kCheckSeed = 0x5374616d70ull;

std::string StampPath(const std::string& dir) { return dir + "/store.stamp"; }
std::string DbPath(const std::string& dir) { return dir + "/state.db"; }

template <typename T>
bool ParseNumber(std::string_view text, T* out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

std::string Hex16(uint64_t v) {
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(v));
  return buffer;
}

// A kind's name as the stamp writes it: one word of printable ASCII.
bool IsKindWord(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (c <= ' ' || c > '~') return false;
  }
  return true;
}

bool NoWal(const std::string& data_dir) {
  struct stat st;
  return ::stat((DbPath(data_dir) + "-wal").c_str(), &st) != 0 && errno == ENOENT;
}

template <typename Time>
int64_t Ns(const Time& t) {
  return static_cast<int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec;
}

StampFileId IdOf(const struct stat& st) {
  StampFileId id;
  id.dev = static_cast<uint64_t>(st.st_dev);
  id.ino = static_cast<uint64_t>(st.st_ino);
  id.size = static_cast<uint64_t>(st.st_size);
  id.mtime_ns = Ns(st.st_mtim);
  id.ctime_ns = Ns(st.st_ctim);
  return id;
}

// state.db is the file `stamp` describes, with no WAL beside it.
bool DescribesDb(const std::string& data_dir, const StoreStamp& stamp) {
  const std::optional<StampFileId> db = StampFileIdOf(DbPath(data_dir));
  return db && *db == stamp.db && NoWal(data_dir);
}

}  // namespace

std::optional<StampFileId> StampFileIdOf(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  return IdOf(st);
}

std::string StoreStampText(const StoreStamp& stamp) {
  std::string body(kMagic);
  body += "generation " + std::to_string(stamp.generation) + "\n";
  body += "staged " + std::to_string(stamp.staged) + "\n";
  for (const auto& [kind, rows] : stamp.kinds) {
    body += "kind " + kind + " " + std::to_string(rows) + "\n";
  }
  const StampFileId& db = stamp.db;
  body += "db " + std::to_string(db.dev) + " " + std::to_string(db.ino) + " " +
          std::to_string(db.size) + " " + std::to_string(db.mtime_ns) + " " +
          std::to_string(db.ctime_ns) + "\n";
  body += "check " + Hex16(Hash64(body, kCheckSeed)) + "\n";
  return body;
}

std::optional<StoreStamp> ParseStoreStamp(std::string_view text) {
  // The checksum line covers everything before it.
  const size_t check_at = text.rfind("check ");
  if (check_at == std::string_view::npos || text.substr(0, kMagic.size()) != kMagic) {
    return std::nullopt;
  }
  if (text.substr(check_at) !=
      "check " + Hex16(Hash64(text.substr(0, check_at), kCheckSeed)) + "\n") {
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
    uint64_t a = 0;
    if (words.size() == 2 && words[0] == "generation" && ParseNumber(words[1], &a)) {
      stamp.generation = a;
      have_generation = true;
    } else if (words.size() == 2 && words[0] == "staged" && ParseNumber(words[1], &a)) {
      stamp.staged = a;
      have_staged = true;
    } else if (words.size() == 3 && words[0] == "kind" && IsKindWord(words[1]) &&
               ParseNumber(words[2], &a) && stamp.kinds.count(std::string(words[1])) == 0) {
      stamp.kinds[std::string(words[1])] = a;
    } else if (words.size() == 6 && words[0] == "db" && ParseNumber(words[1], &stamp.db.dev) &&
               ParseNumber(words[2], &stamp.db.ino) && ParseNumber(words[3], &stamp.db.size) &&
               ParseNumber(words[4], &stamp.db.mtime_ns) &&
               ParseNumber(words[5], &stamp.db.ctime_ns)) {
      have_db = true;
    } else {
      return std::nullopt;
    }
  }
  if (!have_generation || !have_staged || !have_db) return std::nullopt;
  return stamp;
}

std::optional<StoreStamp> ReadStoreStamp(const std::string& data_dir) {
  HeldStoreStamp once(data_dir);
  return once.Read();
}

bool WriteStoreStamp(const std::string& data_dir, StoreStamp stamp, const StampFileId& opened) {
  const std::optional<StampFileId> db = StampFileIdOf(DbPath(data_dir));
  if (!db || db->dev != opened.dev || db->ino != opened.ino || !NoWal(data_dir)) return false;
  for (const auto& [kind, rows] : stamp.kinds) {
    if (!IsKindWord(kind)) return false;
  }
  stamp.db = *db;
  const std::string text = StoreStampText(stamp);
  if (text.size() >= kMaxStamp) return false;
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

std::optional<StoreStamp> HeldStoreStamp::Read() {
  const std::string path = StampPath(data_dir_);
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    Release();
    return std::nullopt;
  }
  // The same stamp file: the same answer (see the class comment).
  if (fd_ >= 0 && IdOf(st) == id_) return stamp_;
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
      !S_ISREG(opened.st_mode) ||
      static_cast<uint64_t>(opened.st_size) != static_cast<uint64_t>(n)) {
    ::close(fd);
    return std::nullopt;
  }
  auto stamp = ParseStoreStamp(std::string_view(buffer, static_cast<size_t>(n)));
  if (!stamp || !DescribesDb(data_dir_, *stamp)) {
    ::close(fd);
    return std::nullopt;
  }
  stamp_ = *stamp;
  fd_ = fd;
  id_ = IdOf(opened);
  return stamp_;
}

void HeldStoreStamp::Release() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

StampLock::StampLock(const std::string& data_dir, Mode mode) {
  const std::string path = data_dir + "/store.stamp.lock";
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd_ < 0) return;
  const int op = mode == Mode::kChange       ? LOCK_SH
                 : mode == Mode::kWriteStamp ? LOCK_EX | LOCK_NB
                                             : LOCK_EX;
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
