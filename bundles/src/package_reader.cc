// PackageReader: opens a .atb (mmap'd read-only), checks its structure
// before handing out anything, verifies the signature on request, and
// decompresses single entries.
//
// Order of trust:
//  1. Open checks every header field, every section bound against the file
//     size (overflow-safe), the index (paths, order, contiguous frames,
//     declared sizes against hard limits and what zstd can produce), the
//     signature block's fixed fields, and the manifest against the header and
//     its own entry. Nothing is read through an offset that was not checked.
//  2. Verify checks Ed25519 over bytes [0, data_offset): header, index and
//     manifest. The index holds each frame's BLAKE2b and each entry's
//     SHA-256, so the signature covers every byte of the file.
//  3. Decoding an entry first compares the frame's BLAKE2b with the index (so
//     the zstd decoder only sees bytes the signer produced), then
//     decompresses in 256 KiB steps, refusing as soon as the output exceeds
//     the declared size, and finally checks the size and SHA-256.
//
// Concurrency: see atrium/package.h. Each decode uses its own ZSTD_DCtx;
// `verified` is atomic; everything else is immutable after Open.
#include <dirent.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "atrium/artifact_kind.h"
#include "atrium/base/file_util.h"
#include "atrium/base/fs_faults.h"
#include "atrium/base/strict_json.h"
#include "atrium/package.h"
#include "atrium/semver.h"
#include "package_format.h"
#include "package_reader_impl.h"

namespace atrium {
using internal::FileError;

using internal::Quote;

namespace internal {
struct PackageReaderAccess {
  static std::unique_ptr<PackageReader> Make(std::unique_ptr<PackageReader::Impl> impl) {
    return std::unique_ptr<PackageReader>(new PackageReader(std::move(impl)));
  }
  static Result<std::unique_ptr<PackageReader>> FromImage(std::string image, std::string name) {
    auto impl = std::make_unique<PackageReader::Impl>();
    impl->path = std::move(name);
    impl->owned = std::move(image);
    impl->base = reinterpret_cast<const uint8_t*>(impl->owned.data());
    impl->size = impl->owned.size();
    if (Status s = impl->Parse(); !s.ok()) return s.error();
    return Make(std::move(impl));
  }
  static Result<std::unique_ptr<PackageReader>> FromFile(const std::string& path);
};

Result<std::unique_ptr<PackageReader>> OpenPackageBytesForTesting(std::string image,
                                                                  std::string name) {
  return PackageReaderAccess::FromImage(std::move(image), std::move(name));
}
}  // namespace internal

namespace {

using internal::AllZero;
using internal::LoadU16;
using internal::LoadU32;
using internal::LoadU64;
using internal::Num;

}  // namespace

// --- Entries ------------------------------------------------------------------

Status PackageReader::Impl::Decode(size_t i,
                                   const std::function<Status(std::string_view)>& sink) const {
  const PackEntryInfo& e = info.entries[i];
  const std::string_view frame = Slice(e.offset, e.compressed_size);
  if (internal::FrameHash(frame) != frame_hashes[i]) {
    return Corrupt(e.offset, EntryName(i) + ": its " + Num(e.compressed_size) +
                                 "-byte compressed frame does not match the index "
                                 "(damaged or modified)");
  }
  // One zstd frame, nothing before or after it.
  if (frame.size() < 4 || LoadU32(base + e.offset) != ZSTD_MAGICNUMBER ||
      ZSTD_findFrameCompressedSize(frame.data(), frame.size()) != frame.size()) {
    return Corrupt(e.offset, EntryName(i) + ": not exactly one zstd frame");
  }
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  ATRIUM_CHECK(dctx != nullptr, "ZSTD_createDCtx failed");
  // Decoding may run before Verify: cap the window a frame can ask for.
  ZSTD_DCtx_setParameter(dctx.get(), ZSTD_d_windowLogMax, internal::kMaxWindowLog);
  crypto_hash_sha256_state sha;
  crypto_hash_sha256_init(&sha);
  constexpr size_t kChunk = 256 * 1024;
  std::string out(std::min<uint64_t>(kChunk, e.size + 1), '\0');
  ZSTD_inBuffer in{frame.data(), frame.size(), 0};
  uint64_t produced = 0;
  size_t ret = 1;
  while (true) {
    ZSTD_outBuffer ob{out.data(), out.size(), 0};
    ret = ZSTD_decompressStream(dctx.get(), &ob, &in);
    if (ZSTD_isError(ret)) {
      return Corrupt(e.offset + in.pos, EntryName(i) + ": zstd: " + ZSTD_getErrorName(ret));
    }
    produced += ob.pos;
    if (produced > e.size) {
      return Corrupt(e.offset, EntryName(i) + ": decompresses to more than its declared " +
                                   Num(e.size) + " bytes (decompression bomb or damage)");
    }
    if (ob.pos > 0) {
      crypto_hash_sha256_update(&sha, reinterpret_cast<const uint8_t*>(out.data()), ob.pos);
      if (Status s = sink(std::string_view(out.data(), ob.pos)); !s.ok()) return s;
    }
    if (ret == 0) break;  // frame complete and flushed
    if (in.pos == in.size && ob.pos < ob.size) {
      return Corrupt(e.offset + in.pos, EntryName(i) + ": zstd frame ends early");
    }
  }
  if (in.pos != in.size) {
    return Corrupt(e.offset + in.pos, EntryName(i) + ": bytes after the end of its zstd frame");
  }
  if (produced != e.size) {
    return Corrupt(e.offset, EntryName(i) + ": decompresses to " + Num(produced) +
                                 " bytes, not its declared " + Num(e.size));
  }
  internal::Digest digest;
  crypto_hash_sha256_final(&sha, digest.data());
  if (digest != e.sha256) {
    return Corrupt(record_offsets[i] + internal::kRecordSha256,
                   EntryName(i) + ": SHA-256 of its content is " +
                       internal::HexOf(digest.data(), 8) + "..., the index says " +
                       internal::HexOf(e.sha256.data(), 8) + "...");
  }
  return Status::Ok();
}

// --- Public surface -------------------------------------------------------------

Result<std::unique_ptr<PackageReader>> internal::PackageReaderAccess::FromFile(
    const std::string& path) {
  auto impl = std::make_unique<PackageReader::Impl>();
  impl->path = path;
  auto io_error = [&](const std::string& what, int err) {
    Error e = MakeError(ErrorCode::kIo,
                        what + (err != 0 ? ": " + std::string(std::strerror(err)) : std::string()));
    e.file = path;
    return e;
  };
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return io_error("cannot open", errno);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return io_error("cannot stat", err);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return io_error("not a regular file", 0);
  }
  impl->size = static_cast<uint64_t>(st.st_size);
  if (impl->size < internal::kHeaderSize) {
    // Too small to map usefully: read it, so the header check reports it.
    std::string small(impl->size, '\0');
    ssize_t n = impl->size == 0 ? 0 : ::pread(fd, small.data(), small.size(), 0);
    ::close(fd);
    if (n < 0 || static_cast<uint64_t>(n) != impl->size) return io_error("cannot read", errno);
    return FromImage(std::move(small), path);
  }
  void* map = ::mmap(nullptr, impl->size, PROT_READ, MAP_PRIVATE, fd, 0);
  int err = errno;
  ::close(fd);
  if (map == MAP_FAILED) return io_error("cannot mmap", err);
  impl->map = map;
  impl->base = static_cast<const uint8_t*>(map);
  if (Status s = impl->Parse(); !s.ok()) return s.error();
  return Make(std::move(impl));
}

PackageReader::PackageReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PackageReader::~PackageReader() = default;

Result<std::unique_ptr<PackageReader>> PackageReader::Open(const std::string& path) {
  return internal::PackageReaderAccess::FromFile(path);
}

const PackageInfo& PackageReader::info() const { return impl_->info; }
const std::string& PackageReader::path() const { return impl_->path; }
bool PackageReader::verified() const { return impl_->verified.load(std::memory_order_acquire); }

Status PackageReader::Verify(std::span<const PublicKey> trusted_keys) {
  internal::EnsureSodium();
  const Impl& p = *impl_;
  if (trusted_keys.empty()) {
    return p.Fail(ErrorCode::kInvalidArgument, p.info.signature_offset,
                  "no trusted keys to verify the signature with");
  }
  const KeyId& claimed = p.info.signer_key_id;
  const uint8_t* signature = p.base + p.info.signature_offset + internal::kSignatureBytes;
  bool known = false;
  for (const PublicKey& key : trusted_keys) {
    if (KeyIdOf(key) != claimed) continue;
    known = true;
    if (crypto_sign_verify_detached(signature, p.base, p.info.data_offset, key.data()) == 0) {
      impl_->verified.store(true, std::memory_order_release);
      return Status::Ok();
    }
  }
  if (!known) {
    return p.Corrupt(p.info.signature_offset + internal::kSignatureKeyId,
                     "signed by key " + KeyIdHex(claimed) + ", which is not among the " +
                         Num(trusted_keys.size()) + " trusted key(s)" + internal::kWhereKeysAre);
  }
  return p.Corrupt(p.info.signature_offset + internal::kSignatureBytes,
                   "the Ed25519 signature of key " + KeyIdHex(claimed) +
                       " does not verify over bytes [0, " + Num(p.info.data_offset) +
                       ") (header, index and manifest changed after signing, or a damaged "
                       "signature)");
}

Result<std::string> PackageReader::ReadEntry(std::string_view path) const {
  const auto& entries = impl_->info.entries;
  auto it = std::lower_bound(entries.begin(), entries.end(), path,
                             [](const PackEntryInfo& e, std::string_view p) { return e.path < p; });
  if (it == entries.end() || it->path != path) {
    Error e = MakeError(ErrorCode::kNotFound, "no entry " + Quote(path) + " in the package");
    e.file = impl_->path;
    return e;
  }
  std::string out;
  out.reserve(it->size);
  Status s = impl_->Decode(static_cast<size_t>(it - entries.begin()), [&](std::string_view chunk) {
    out.append(chunk);
    return Status::Ok();
  });
  if (!s.ok()) return s.error();
  return out;
}

Status PackageReader::VerifyAllEntries() const {
  for (size_t i = 0; i < impl_->info.entries.size(); ++i) {
    Status s = impl_->Decode(i, [](std::string_view) { return Status::Ok(); });
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

namespace {

// A directory descriptor closed on scope exit.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      Reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  ~Fd() { Reset(); }
  int get() const { return fd_; }
  int Release() { return std::exchange(fd_, -1); }
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

Status WriteAll(int fd, std::string_view data, const std::string& file) {
  while (!data.empty()) {
    ssize_t n = internal::FsWrite(fd, data.data(), data.size(), file);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FileError(ErrorCode::kIo, file, "cannot write", errno);
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

Status SyncDir(int dir_fd, const std::string& file) {
  if (internal::FsSync(dir_fd, file) != 0) {
    return FileError(ErrorCode::kIo, file, "cannot sync directory", errno);
  }
  return Status::Ok();
}

}  // namespace

Status PackageReader::ExtractTo(const std::string& dir) const {
  const Impl& p = *impl_;
  if (!verified()) {
    return p.Fail(ErrorCode::kState, p.info.signature_offset,
                  "the package signature has not been verified; call Verify() before ExtractTo");
  }
  bool created_root = internal::FsMkdirAt(AT_FDCWD, dir.c_str(), 0755, dir) == 0;
  if (!created_root && errno != EEXIST) {
    return FileError(ErrorCode::kIo, dir, "cannot create the directory", errno);
  }
  Fd root(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (root.get() < 0) return FileError(ErrorCode::kIo, dir, "cannot open the directory", errno);
  if (!created_root) {
    // Only an empty directory: nothing already in it (a symlink planted
    // where an entry goes) can redirect a write.
    int dup_fd = ::dup(root.get());
    DIR* listing = dup_fd >= 0 ? ::fdopendir(dup_fd) : nullptr;
    if (listing == nullptr) {
      if (dup_fd >= 0) ::close(dup_fd);
      return FileError(ErrorCode::kIo, dir, "cannot list the directory", errno);
    }
    bool empty = true;
    while (struct dirent* d = ::readdir(listing)) {
      std::string_view name = d->d_name;
      if (name != "." && name != "..") empty = false;
    }
    ::closedir(listing);
    if (!empty) {
      return FileError(ErrorCode::kAlreadyExists, dir, "the directory to extract into is not empty",
                       0);
    }
  }

  std::set<std::string> made_dirs;  // relative paths of directories this call created
  for (size_t i = 0; i < p.info.entries.size(); ++i) {
    const PackEntryInfo& e = p.info.entries[i];
    const std::string target = dir + "/" + e.path;
    // Walk the parent directories one segment at a time, never following a
    // symlink; the path was validated at Open (relative, no '..').
    Fd cur(::dup(root.get()));
    size_t start = 0;
    for (size_t slash = e.path.find('/'); slash != std::string::npos;
         slash = e.path.find('/', start)) {
      const std::string segment = e.path.substr(start, slash - start);
      if (internal::FsMkdirAt(cur.get(), segment.c_str(), 0755,
                              dir + "/" + e.path.substr(0, slash)) == 0) {
        made_dirs.insert(e.path.substr(0, slash));
      } else if (errno != EEXIST) {
        return FileError(ErrorCode::kIo, dir + "/" + e.path.substr(0, slash),
                         "cannot create the directory", errno);
      }
      Fd next(
          ::openat(cur.get(), segment.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (next.get() < 0) {
        return FileError(ErrorCode::kIo, dir + "/" + e.path.substr(0, slash),
                         "refusing to write through something that is not a directory", errno);
      }
      cur = std::move(next);
      start = slash + 1;
    }
    const std::string leaf = e.path.substr(start);
    const mode_t mode = e.executable ? 0755 : 0644;
    Fd out(::openat(cur.get(), leaf.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                    mode));
    if (out.get() < 0) {
      return FileError(errno == EEXIST ? ErrorCode::kAlreadyExists : ErrorCode::kIo, target,
                       "cannot create", errno);
    }
    Status s =
        p.Decode(i, [&](std::string_view chunk) { return WriteAll(out.get(), chunk, target); });
    if (s.ok() && ::fchmod(out.get(), mode) != 0) {
      s = FileError(ErrorCode::kIo, target, "cannot set the mode", errno);
    }
    if (s.ok() && internal::FsSync(out.get(), target) != 0)
      s = FileError(ErrorCode::kIo, target, "cannot sync", errno);
    if (s.ok() && ::close(out.Release()) != 0) {
      s = FileError(ErrorCode::kIo, target, "cannot close", errno);
    }
    if (!s.ok()) {
      out.Reset();
      ::unlinkat(cur.get(), leaf.c_str(), 0);
      return s;
    }
  }
  // Make the new names durable: every directory created, deepest first.
  for (auto it = made_dirs.rbegin(); it != made_dirs.rend(); ++it) {
    Fd d(::openat(root.get(), it->c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (d.get() < 0) return FileError(ErrorCode::kIo, dir + "/" + *it, "cannot open", errno);
    if (Status s = SyncDir(d.get(), dir + "/" + *it); !s.ok()) return s;
  }
  if (Status s = SyncDir(root.get(), dir); !s.ok()) return s;
  if (created_root) {  // and the new directory's own name
    std::string trimmed = dir;
    while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.pop_back();
    const size_t slash = trimmed.find_last_of('/');
    const std::string parent = slash == std::string::npos ? "."
                               : slash == 0               ? "/"
                                                          : trimmed.substr(0, slash);
    Fd up(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (up.get() >= 0) ::fsync(up.get());
  }
  return Status::Ok();
}

}  // namespace atrium
