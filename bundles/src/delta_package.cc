// Delta packages (.atd; atrium/delta_package.h, layout in delta_package.h and
// docs/package.md): the diff and the file handling around it; the parser and
// the rebuild are in atd_image.cc.
//
// Order of trust in apply:
//  1. ParseAtd checks every length in the .atd against its size before any
//     view is made (overflow-safe), and the embedded target index as far as
//     rebuilding reads it (frames back to back, sizes within limits).
//  2. VerifyAtdSignature checks the target's Ed25519 signature over the
//     embedded header, index and manifest: from here on every target size,
//     path and hash is the signer's. The ops stay untrusted hints.
//  3. CheckAtdBase: the base file is the one the delta was made from.
//  4. RebuildTarget checks each rebuilt frame against the signed index
//     before writing it, and the whole file against the recorded SHA-256.
//  5. The rebuilt file is opened by PackageReader, verified, and every entry
//     decoded and hash-checked before it is renamed into place.
//
// Concurrency: free functions without shared mutable state; each call has
// its own files, mappings and zstd contexts.
#include "delta_package.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "atrium/base/file_util.h"
#include "atrium/base/strict_json.h"
#include "delta.h"

namespace atrium {

const char* DeltaOpName(DeltaOp op) {
  switch (op) {
    case DeltaOp::kSame:
      return "same";
    case DeltaOp::kDelta:
      return "delta";
    case DeltaOp::kFull:
      return "full";
  }
  return "unknown";
}

namespace {

using internal::Digest;
using internal::FileError;
using internal::Quote;

std::string Num(uint64_t n) { return std::to_string(n); }

// A file mapped read-only for the duration of a call.
class MappedFile {
 public:
  MappedFile() = default;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile() {
    if (map_ != nullptr) ::munmap(map_, size_);
  }

  Status Open(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return FileError(ErrorCode::kIo, path, "cannot open", errno);
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      int err = errno;
      ::close(fd);
      return FileError(ErrorCode::kIo, path, "cannot stat", err);
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd);
      return FileError(ErrorCode::kIo, path, "not a regular file");
    }
    size_ = static_cast<uint64_t>(st.st_size);
    if (size_ > 0) {
      void* map = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      int err = errno;
      if (map == MAP_FAILED) {
        ::close(fd);
        return FileError(ErrorCode::kIo, path, "cannot mmap", err);
      }
      map_ = map;
    }
    ::close(fd);
    return Status::Ok();
  }

  std::string_view bytes() const {
    return map_ == nullptr ? std::string_view()
                           : std::string_view(static_cast<const char*>(map_), size_);
  }

 private:
  void* map_ = nullptr;
  uint64_t size_ = 0;
};

// `<target>.tmp`, written sequentially, then synced, and renamed over
// `<target>` by Commit; removed by the destructor unless committed.
class TempOutput {
 public:
  TempOutput() = default;
  TempOutput(const TempOutput&) = delete;
  TempOutput& operator=(const TempOutput&) = delete;
  ~TempOutput() {
    if (fd_ >= 0) ::close(fd_);
    if (!temp_.empty()) ::unlink(temp_.c_str());
  }

  static std::string TempPathFor(const std::string& target) { return target + ".tmp"; }

  Status Create(const std::string& target) {
    target_ = target;
    const std::string temp = TempPathFor(target);
    ::unlink(temp.c_str());  // a stale one from a crash (a symlink is removed, not followed)
    fd_ = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd_ < 0) return FileError(ErrorCode::kIo, temp, "cannot create", errno);
    temp_ = temp;
    return Status::Ok();
  }

  const std::string& temp_path() const { return temp_; }
  uint64_t size() const { return size_; }

  Status WriteAt(uint64_t offset, std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::pwrite(fd_, data.data(), data.size(), static_cast<off_t>(offset));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return FileError(ErrorCode::kIo, temp_, "cannot write", errno);
      data.remove_prefix(static_cast<size_t>(n));
      offset += static_cast<uint64_t>(n);
    }
    return Status::Ok();
  }

  Status Append(std::string_view data) {
    if (Status s = WriteAt(size_, data); !s.ok()) return s;
    size_ += data.size();
    return Status::Ok();
  }

  // fsync and close; the file stays at temp_path() until Commit.
  Status Sync() {
    if (::fchmod(fd_, 0644) != 0) return FileError(ErrorCode::kIo, temp_, "cannot chmod", errno);
    if (::fsync(fd_) != 0) return FileError(ErrorCode::kIo, temp_, "cannot sync", errno);
    if (::close(std::exchange(fd_, -1)) != 0) {
      return FileError(ErrorCode::kIo, temp_, "cannot close", errno);
    }
    return Status::Ok();
  }

  Status Commit() {
    if (::rename(temp_.c_str(), target_.c_str()) != 0) {
      return FileError(ErrorCode::kIo, target_, "cannot rename into place", errno);
    }
    temp_.clear();
    const size_t slash = target_.find_last_of('/');
    const std::string dir = slash == std::string::npos ? "."
                            : slash == 0               ? "/"
                                                       : target_.substr(0, slash);
    int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd >= 0) {
      ::fsync(dir_fd);
      ::close(dir_fd);
    }
    return Status::Ok();
  }

 private:
  std::string target_;
  std::string temp_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

bool SameFile(const std::string& a, const std::string& b) {
  struct stat sa, sb;
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

// kInvalidArgument when writing `out` (or its temporary file) would replace
// one of `inputs`.
Status CheckOutputIsNotInput(const std::string& out, std::initializer_list<std::string> inputs) {
  for (const std::string& in : inputs) {
    for (const std::string& written : {out, TempOutput::TempPathFor(out)}) {
      if (written == in || SameFile(written, in)) {
        return FileError(ErrorCode::kInvalidArgument, out,
                         "the output would replace the input " + Quote(in));
      }
    }
  }
  return Status::Ok();
}

// An opened package whose bytes are also mapped here (frames are copied
// from the mapping; entries are read through the reader).
struct OpenedPackage {
  MappedFile map;
  std::unique_ptr<PackageReader> reader;

  Status Open(const std::string& path) {
    if (Status s = map.Open(path); !s.ok()) return s;
    return OpenReader(path);
  }
  // After map.Open(path).
  Status OpenReader(const std::string& path) {
    Result<std::unique_ptr<PackageReader>> opened = PackageReader::Open(path);
    if (!opened.ok()) return opened.error();
    reader = std::move(opened).value();
    if (reader->info().file_size != map.bytes().size()) {
      return FileError(ErrorCode::kIo, path, "the file changed while being opened");
    }
    return Status::Ok();
  }
  std::string_view Frame(const PackEntryInfo& e) const {
    return map.bytes().substr(e.offset, e.compressed_size);
  }
};

// The level at which `content` compresses to exactly `frame`, trying
// `preferred` levels first; nullopt when none does.
Result<std::optional<int>> FindLevel(std::string_view content, std::string_view frame,
                                     std::initializer_list<int> preferred) {
  std::vector<int> order;
  auto add = [&order](int level) {
    if (level >= 1 && level <= internal::kMaxZstdLevel &&
        std::find(order.begin(), order.end(), level) == order.end()) {
      order.push_back(level);
    }
  };
  for (int level : preferred) add(level);
  for (int level = 1; level <= internal::kMaxZstdLevel; ++level) add(level);
  for (int level : order) {
    Result<std::string> attempt = internal::CompressEntryFrame(content, level);
    if (!attempt.ok()) return std::move(attempt).take_error();
    if (*attempt == frame) return std::optional<int>(level);
  }
  return std::optional<int>();
}

}  // namespace

Result<DeltaStats> DiffPackages(const std::string& base_atb, const std::string& target_atb,
                                const std::string& out_atd, const DiffOptions& options) {
  internal::EnsureSodium();
  if (options.target_level < 0 || options.target_level > internal::kMaxZstdLevel) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "target zstd level " + Num(options.target_level) + " is not 0 (unknown)..19");
  }
  if (Status s = CheckOutputIsNotInput(out_atd, {base_atb, target_atb}); !s.ok()) return s.error();
  OpenedPackage base, target;
  if (Status s = base.Open(base_atb); !s.ok()) return s.error();
  if (Status s = target.Open(target_atb); !s.ok()) return s.error();
  const PackageInfo& bi = base.reader->info();
  const PackageInfo& ti = target.reader->info();

  DeltaStats stats;
  stats.id = ti.id;
  stats.base_version = bi.version;
  stats.target_version = ti.version;
  stats.base_size = bi.file_size;
  stats.target_size = ti.file_size;

  // Base entries by path (sorted) and by content.
  std::unordered_multimap<std::string, size_t> by_content;
  for (size_t j = 0; j < bi.entries.size(); ++j) {
    const auto& sha = bi.entries[j].sha256;
    by_content.emplace(std::string(reinterpret_cast<const char*>(sha.data()), sha.size()), j);
  }
  auto by_path = [&bi](std::string_view path) -> std::optional<size_t> {
    auto it =
        std::lower_bound(bi.entries.begin(), bi.entries.end(), path,
                         [](const PackEntryInfo& e, std::string_view p) { return e.path < p; });
    if (it == bi.entries.end() || it->path != path) return std::nullopt;
    return static_cast<size_t>(it - bi.entries.begin());
  };
  std::vector<bool> used(bi.entries.size(), false);

  TempOutput out;
  if (Status s = out.Create(out_atd); !s.ok()) return s.error();
  const std::string_view target_bytes = target.map.bytes();
  if (Status s = out.Append(std::string(internal::kAtdHeaderSize, '\0')); !s.ok()) return s.error();
  if (Status s = out.Append(target_bytes.substr(0, ti.data_offset)); !s.ok()) return s.error();
  if (Status s = out.Append(target_bytes.substr(ti.signature_offset, ti.signature_size)); !s.ok()) {
    return s.error();
  }
  const uint64_t ops_offset = out.size();

  int level_hint = options.target_level;
  for (size_t i = 0; i < ti.entries.size(); ++i) {
    const PackEntryInfo& t = ti.entries[i];
    if (options.progress) options.progress(DiffProgress{i, ti.entries.size(), t.path});
    const std::string_view new_frame = target.Frame(t);
    DeltaEntryStats entry;
    entry.path = t.path;
    entry.size = t.size;
    entry.frame_size = t.compressed_size;
    std::string op;

    // Candidates: the base entry at the same path, then any with the same content.
    std::vector<size_t> candidates;
    if (std::optional<size_t> j = by_path(t.path)) candidates.push_back(*j);
    auto range = by_content.equal_range(
        std::string(reinterpret_cast<const char*>(t.sha256.data()), t.sha256.size()));
    for (auto it = range.first; it != range.second; ++it) {
      if (candidates.empty() || candidates.front() != it->second) candidates.push_back(it->second);
    }
    for (size_t j : candidates) {
      if (base.Frame(bi.entries[j]) == new_frame) {
        entry.op = DeltaOp::kSame;
        entry.base_path = bi.entries[j].path;
        op = internal::EncodeAtdOp(DeltaOp::kSame, 0, entry.base_path, {});
        used[j] = true;
        break;
      }
    }
    if (op.empty() && !candidates.empty()) {
      const PackEntryInfo& b = bi.entries[candidates.front()];
      Result<std::string> old_bytes = base.reader->ReadEntry(b.path);
      if (!old_bytes.ok()) return old_bytes.error();
      Result<std::string> new_bytes = target.reader->ReadEntry(t.path);
      if (!new_bytes.ok()) return new_bytes.error();
      Result<std::string> d = delta::EncodeDelta(*old_bytes, *new_bytes);
      if (!d.ok()) {
        Error e = std::move(d).take_error();
        e.message = "entry " + Quote(t.path) + ": " + e.message;
        return e;
      }
      if (d->size() < new_frame.size()) {
        Result<std::optional<int>> level =
            FindLevel(*new_bytes, new_frame, {level_hint, options.target_level, 3});
        if (!level.ok()) return std::move(level).take_error();
        if (level->has_value()) {
          level_hint = **level;
          entry.op = DeltaOp::kDelta;
          entry.base_path = b.path;
          entry.level = level_hint;
          op = internal::EncodeAtdOp(DeltaOp::kDelta, level_hint, b.path, *d);
          used[candidates.front()] = true;
        }
      }
    }
    if (op.empty()) {
      entry.op = DeltaOp::kFull;
      op = internal::EncodeAtdOp(DeltaOp::kFull, 0, {}, new_frame);
    }
    entry.stored_size = op.size() - internal::kOpFixedSize - entry.base_path.size();
    ++(entry.op == DeltaOp::kSame    ? stats.same
       : entry.op == DeltaOp::kDelta ? stats.delta
                                     : stats.full);
    if (Status s = out.Append(op); !s.ok()) return s.error();
    stats.entries.push_back(std::move(entry));
  }
  if (options.progress) {
    options.progress(DiffProgress{ti.entries.size(), ti.entries.size(), std::string_view()});
  }
  stats.dropped = static_cast<size_t>(std::count(used.begin(), used.end(), false));

  internal::AtdHeaderFields h;
  h.op_count = static_cast<uint32_t>(ti.entries.size());
  h.base_size = bi.file_size;
  h.target_size = ti.file_size;
  h.base_sha256 = internal::Sha256(base.map.bytes());
  h.target_sha256 = internal::Sha256(target_bytes);
  h.prefix_size = ti.data_offset;
  h.ops_size = out.size() - ops_offset;
  if (Status s = out.WriteAt(0, internal::EncodeAtdHeader(h)); !s.ok()) return s.error();
  stats.delta_size = out.size();
  if (Status s = out.Sync(); !s.ok()) return s.error();
  if (Status s = out.Commit(); !s.ok()) return s.error();
  return stats;
}

Result<ApplyStats> ApplyDeltaPackage(const std::string& base_atb, const std::string& atd,
                                     std::span<const PublicKey> trusted_keys,
                                     const std::string& out_atb) {
  internal::EnsureSodium();
  if (trusted_keys.empty()) {
    return FileError(ErrorCode::kInvalidArgument, atd,
                     "no trusted keys to verify the target package with");
  }
  if (Status s = CheckOutputIsNotInput(out_atb, {base_atb, atd}); !s.ok()) return s.error();
  MappedFile atd_map;
  if (Status s = atd_map.Open(atd); !s.ok()) return s.error();
  Result<internal::AtdImage> image = internal::ParseAtd(atd_map.bytes(), atd);
  if (!image.ok()) return std::move(image).take_error();
  if (Status s = internal::VerifyAtdSignature(*image, trusted_keys); !s.ok()) return s.error();
  OpenedPackage base;
  if (Status s = base.map.Open(base_atb); !s.ok()) return s.error();
  if (Status s = internal::CheckAtdBase(*image, base.map.bytes(), base_atb); !s.ok()) {
    return s.error();
  }
  if (Status s = base.OpenReader(base_atb); !s.ok()) return s.error();

  ApplyStats stats;
  TempOutput out;
  if (Status s = out.Create(out_atb); !s.ok()) return s.error();
  Status rebuilt = internal::RebuildTarget(
      *image, base.map.bytes(), *base.reader,
      [&out](std::string_view piece) { return out.Append(piece); }, &stats);
  if (!rebuilt.ok()) return rebuilt.error();
  if (Status s = out.Sync(); !s.ok()) return s.error();
  {
    auto failed = [&](Error e) {
      e.message = "the package rebuilt from " + Quote(atd) + " fails its check: " + e.message;
      return e;
    };
    Result<std::unique_ptr<PackageReader>> check = PackageReader::Open(out.temp_path());
    if (!check.ok()) return failed(check.error());
    if (Status s = (*check)->Verify(trusted_keys); !s.ok()) return failed(s.error());
    if (Status s = (*check)->VerifyAllEntries(); !s.ok()) return failed(s.error());
    const PackageInfo& info = (*check)->info();
    stats.id = info.id;
    stats.version = info.version;
    stats.key_id = info.signer_key_id;
  }
  if (Status s = out.Commit(); !s.ok()) return s.error();
  stats.delta_size = image->size;
  stats.target_size = out.size();
  return stats;
}

}  // namespace atrium
