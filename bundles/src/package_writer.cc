// PackDirectory: walks a directory, compresses each regular file into its
// own zstd frame and writes a signed .atb (layout in package_format.h and
// docs/package.md).
//
// Memory stays bounded whatever the sizes: files are read and compressed in
// 1 MiB steps straight into the output, at data_offset (the index size
// depends only on the paths, so it is known before any entry is compressed);
// the index, the manifest and the header are written last, then signed.
// The output is a temporary file beside `out_path`, fsync'd and renamed over
// it; a failure removes the temporary file and leaves `out_path` alone.
//
// Concurrency: a pure function of its arguments and the file system; runs on
// the caller's thread (the progress callback too).
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "atrium/artifact_kind.h"
#include "atrium/base/file_util.h"
#include "atrium/base/strict_json.h"
#include "atrium/manifest.h"
#include "atrium/package.h"
#include "package_format.h"

namespace atrium {
namespace {

namespace fs = std::filesystem;
using internal::FileError;
using internal::Quote;

struct SourceFile {
  std::string path;  // entry path, '/'-separated
  std::string full;  // on disk
  uint64_t size = 0;
  bool executable = false;
};

// Every regular file under `dir`, sorted by entry path (bytewise), except
// the previous output when it lies inside `dir` (same device and inode as
// `skip`, when given).
Result<std::vector<SourceFile>> ListFiles(const std::string& dir, const struct stat* skip) {
  std::vector<SourceFile> files;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return FileError(ErrorCode::kIo, dir, "not a directory", ec ? ec.value() : 0);
  }
  fs::recursive_directory_iterator it(dir, fs::directory_options::none, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const fs::path& p = it->path();
    struct stat st;
    if (::lstat(p.c_str(), &st) != 0) {
      return FileError(ErrorCode::kIo, p.string(), "cannot stat", errno);
    }
    if (S_ISDIR(st.st_mode)) continue;
    if (skip != nullptr && st.st_dev == skip->st_dev && st.st_ino == skip->st_ino) continue;
    std::string rel = p.lexically_relative(dir).generic_string();
    if (S_ISLNK(st.st_mode)) {
      return FileError(ErrorCode::kInvalidArgument, p.string(),
                       "symbolic links cannot be packed (entry " + Quote(rel) + ")");
    }
    if (!S_ISREG(st.st_mode)) {
      return FileError(ErrorCode::kInvalidArgument, p.string(),
                       "only regular files can be packed (entry " + Quote(rel) + ")");
    }
    if (std::string problem = internal::EntryPathProblem(rel); !problem.empty()) {
      return FileError(ErrorCode::kInvalidArgument, p.string(),
                       "cannot be an entry " + Quote(rel) + ": " + problem);
    }
    files.push_back(
        {rel, p.string(), static_cast<uint64_t>(st.st_size), (st.st_mode & S_IXUSR) != 0});
  }
  if (ec) return FileError(ErrorCode::kIo, dir, "cannot list: " + ec.message());
  std::sort(files.begin(), files.end(),
            [](const SourceFile& a, const SourceFile& b) { return a.path < b.path; });
  return files;
}

// The output file: a temporary beside the target until Commit.
class AtomicOutput {
 public:
  ~AtomicOutput() {
    if (fd_ >= 0) ::close(fd_);
    if (!temp_.empty()) ::unlink(temp_.c_str());
  }

  Status Create(const std::string& out_path) {
    target_ = out_path;
    const size_t slash = out_path.find_last_of('/');
    dir_ = slash == std::string::npos ? "." : slash == 0 ? "/" : out_path.substr(0, slash);
    const std::string base = slash == std::string::npos ? out_path : out_path.substr(slash + 1);
    std::string temp = (slash == std::string::npos ? "" : out_path.substr(0, slash + 1)) + "." +
                       base + ".tmp-XXXXXX";
    fd_ = ::mkstemp(temp.data());
    if (fd_ < 0)
      return FileError(ErrorCode::kIo, out_path, "cannot create a temporary file", errno);
    temp_ = temp;
    return Status::Ok();
  }

  int fd() const { return fd_; }

  Status WriteAt(uint64_t offset, std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::pwrite(fd_, data.data(), data.size(), static_cast<off_t>(offset));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return FileError(ErrorCode::kIo, target_, "cannot write", errno);
      data.remove_prefix(static_cast<size_t>(n));
      offset += static_cast<uint64_t>(n);
    }
    return Status::Ok();
  }

  Status Commit() {
    if (::fchmod(fd_, 0644) != 0) return FileError(ErrorCode::kIo, target_, "cannot chmod", errno);
    if (::fsync(fd_) != 0) return FileError(ErrorCode::kIo, target_, "cannot sync", errno);
    int fd = std::exchange(fd_, -1);
    if (::close(fd) != 0) return FileError(ErrorCode::kIo, target_, "cannot close", errno);
    if (::rename(temp_.c_str(), target_.c_str()) != 0) {
      return FileError(ErrorCode::kIo, target_, "cannot rename into place", errno);
    }
    temp_.clear();
    int dir_fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd >= 0) {
      ::fsync(dir_fd);
      ::close(dir_fd);
    }
    return Status::Ok();
  }

 private:
  std::string target_;
  std::string dir_;
  std::string temp_;
  int fd_ = -1;
};

// Compresses one file into `out` at `offset`; fills the record's sizes and
// hashes. The frame is made by internal::EntryFrameCompressor, which delta
// packages also use to rebuild it.
class FrameWriter {
 public:
  explicit FrameWriter(int level) : level_(level) { in_.resize(internal::kFrameInputStep); }

  Status Write(const SourceFile& f, AtomicOutput* out, uint64_t offset, internal::IndexRecord* r,
               uint64_t* done, uint64_t total, const PackOptions& opts) {
    compressor_.Begin(level_, f.size);
    int fd = ::open(f.full.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return FileError(ErrorCode::kIo, f.full, "cannot open", errno);
    crypto_hash_sha256_state sha;
    crypto_hash_sha256_init(&sha);
    crypto_generichash_state frame_hash;
    crypto_generichash_init(&frame_hash, nullptr, 0, 32);
    uint64_t read_total = 0;
    uint64_t written = 0;
    auto sink = [&](std::string_view piece) {
      crypto_generichash_update(&frame_hash, reinterpret_cast<const uint8_t*>(piece.data()),
                                piece.size());
      Status s = out->WriteAt(offset + written, piece);
      written += piece.size();
      return s;
    };
    Status status;
    while (status.ok()) {
      ssize_t n = ::read(fd, in_.data(), in_.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        status = FileError(ErrorCode::kIo, f.full, "cannot read", errno);
        break;
      }
      const size_t got = static_cast<size_t>(n);
      const bool eof = n == 0;
      read_total += got;
      if (read_total > f.size) {
        status = FileError(ErrorCode::kIo, f.full, "the file grew while it was being packed");
        break;
      }
      crypto_hash_sha256_update(&sha, reinterpret_cast<const uint8_t*>(in_.data()), got);
      if (eof && read_total != f.size) {
        status = FileError(ErrorCode::kIo, f.full, "the file shrank while it was being packed");
        break;
      }
      status = compressor_.Feed(std::string_view(in_.data(), got), eof, sink);
      if (!status.ok()) {
        if (status.error().file.empty()) {
          Error e = status.error();
          e.file = f.full;
          status = e;
        }
        break;
      }
      if (got > 0) {
        *done += got;
        if (opts.progress) opts.progress(PackProgress{*done, total, f.path});
      }
      if (eof) break;
    }
    ::close(fd);
    if (!status.ok()) return status;
    r->offset = offset;
    r->compressed_size = written;
    r->size = f.size;
    r->mode = f.executable ? internal::kModeExecutable : 0;
    r->path = f.path;
    crypto_hash_sha256_final(&sha, r->sha256.data());
    crypto_generichash_final(&frame_hash, r->frame_hash.data(), r->frame_hash.size());
    return Status::Ok();
  }

 private:
  internal::EntryFrameCompressor compressor_;
  int level_;
  std::string in_;
};

}  // namespace

Result<PackStats> PackDirectory(const std::string& dir, const PackOptions& opts,
                                const std::string& out_path) {
  internal::EnsureSodium();
  if (opts.zstd_level < 1 || opts.zstd_level > internal::kMaxZstdLevel) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "zstd level " + std::to_string(opts.zstd_level) + " is not 1..19");
  }
  const std::optional<ArtifactKindSpec> kind_spec = FindArtifactKind(opts.kind);
  if (!kind_spec) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "unknown artifact kind " + std::to_string(static_cast<unsigned>(opts.kind)));
  }
  if (Status s = internal::CheckSecretKey(opts.secret_key, "PackOptions::secret_key"); !s.ok()) {
    return s.error();
  }
  Result<std::vector<std::string>> apps = internal::NormaliseApps(opts.apps);
  if (!apps.ok()) return apps.error();
  const std::string apps_section = internal::EncodeAppsSection(*apps);

  struct stat previous_output;
  const bool output_exists = ::stat(out_path.c_str(), &previous_output) == 0;
  Result<std::vector<SourceFile>> listed =
      ListFiles(dir, output_exists ? &previous_output : nullptr);
  if (!listed.ok()) return std::move(listed).take_error();
  std::vector<SourceFile> files = std::move(listed).value();

  // The manifest: its file must be one of the entries.
  // The kind's own manifest file when it names one (bundle.json, a layer's),
  // else the one asked for, else artifact.json.
  if (!kind_spec->manifest_name.empty() && !opts.manifest_name.empty() &&
      opts.manifest_name != kind_spec->manifest_name) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "a " + kind_spec->name + " package's manifest is " +
                         Quote(kind_spec->manifest_name) + ", not " + Quote(opts.manifest_name));
  }
  const std::string manifest_name = !kind_spec->manifest_name.empty() ? kind_spec->manifest_name
                                    : opts.manifest_name.empty()      ? "artifact.json"
                                                                      : opts.manifest_name;
  auto manifest_it =
      std::lower_bound(files.begin(), files.end(), manifest_name,
                       [](const SourceFile& f, const std::string& p) { return f.path < p; });
  const std::string manifest_path = dir + "/" + manifest_name;
  if (manifest_it == files.end() || manifest_it->path != manifest_name) {
    return FileError(ErrorCode::kNotFound, manifest_path,
                     std::string("missing manifest: a ") + ArtifactKindName(opts.kind) +
                         " package needs " + Quote(manifest_name) + " in the directory");
  }
  Result<std::string> manifest =
      internal::ReadSmallFile(manifest_path, internal::kMaxManifestBytes);
  if (!manifest.ok()) return std::move(manifest).take_error();
  if (manifest->size() != manifest_it->size) {
    return FileError(ErrorCode::kIo, manifest_path, "the file changed while it was being packed");
  }
  Result<internal::ManifestFacts> facts =
      internal::ReadManifestFacts(opts.kind, *manifest, manifest_path);
  if (!facts.ok()) return std::move(facts).take_error();
  if (!opts.id.empty() && opts.id != facts->id) {
    return FileError(
        ErrorCode::kInvalidArgument, manifest_path,
        "the id " + Quote(opts.id) + " asked for differs from the manifest's " + Quote(facts->id));
  }
  if (!opts.version.empty() && opts.version != facts->version) {
    return FileError(ErrorCode::kInvalidArgument, manifest_path,
                     "the version " + Quote(opts.version) +
                         " asked for differs from the "
                         "manifest's " +
                         Quote(facts->version));
  }
  if (std::string problem = internal::ArtifactIdProblem(opts.kind, facts->id); !problem.empty()) {
    return FileError(ErrorCode::kValidation, manifest_path,
                     "invalid id " + Quote(facts->id) + ": " + problem);
  }
  if (facts->version.size() > internal::kMaxVersionBytes) {
    return FileError(
        ErrorCode::kValidation, manifest_path,
        "the version is longer than " + std::to_string(internal::kMaxVersionBytes) + " bytes");
  }
  std::vector<std::string_view> paths;
  for (const SourceFile& f : files) paths.push_back(f.path);
  if (std::string missing = internal::MissingManifestFile(*facts, paths); !missing.empty()) {
    return FileError(ErrorCode::kValidation, manifest_path, missing);
  }
  // A path that is a file cannot also be a directory here: the file system
  // guarantees it, and the reader checks it.
  if (files.size() > internal::kMaxEntries) {
    return FileError(ErrorCode::kValidation, dir,
                     std::to_string(files.size()) + " files; a package holds at most " +
                         std::to_string(internal::kMaxEntries));
  }
  uint64_t index_size = 0;
  uint64_t total = 0;
  for (const SourceFile& f : files) {
    index_size += internal::kRecordFixedSize + f.path.size();
    if (f.size > internal::kMaxEntryBytes) {
      return FileError(ErrorCode::kValidation, f.full,
                       "larger than the " + std::to_string(internal::kMaxEntryBytes) +
                           "-byte limit for one entry");
    }
    total += f.size;
  }
  if (total > internal::kMaxTotalBytes) {
    return FileError(
        ErrorCode::kValidation, dir,
        "more than the package limit of " + std::to_string(internal::kMaxTotalBytes) + " bytes");
  }
  if (index_size > internal::kMaxIndexBytes) {
    return FileError(ErrorCode::kValidation, dir, "the paths make an index over the limit");
  }

  AtomicOutput out;
  if (Status s = out.Create(out_path); !s.ok()) return s.error();
  const uint64_t data_offset =
      internal::kHeaderSize + apps_section.size() + index_size + manifest->size();
  FrameWriter frames(opts.zstd_level);
  std::vector<internal::IndexRecord> records(files.size());
  uint64_t offset = data_offset;
  uint64_t done = 0;
  if (opts.progress) opts.progress(PackProgress{0, total, files.front().path});
  for (size_t i = 0; i < files.size(); ++i) {
    if (Status s = frames.Write(files[i], &out, offset, &records[i], &done, total, opts); !s.ok()) {
      return s.error();
    }
    offset += records[i].compressed_size;
  }
  if (records[manifest_it - files.begin()].sha256 != internal::Sha256(*manifest)) {
    return FileError(ErrorCode::kIo, manifest_path, "the file changed while it was being packed");
  }

  internal::HeaderFields h;
  h.apps_section_size = apps_section.size();
  h.kind = opts.kind;
  h.id = facts->id;
  h.version = facts->version;
  h.index_size = index_size;
  h.manifest_size = manifest->size();
  h.data_size = offset - data_offset;
  h.entry_count = static_cast<uint32_t>(files.size());
  h.manifest_entry = static_cast<uint32_t>(manifest_it - files.begin());
  h.total_size = total;
  std::string prefix = internal::EncodeHeader(h);
  prefix.reserve(data_offset);
  prefix += apps_section;
  for (const internal::IndexRecord& r : records) internal::AppendIndexRecord(&prefix, r);
  prefix += *manifest;
  ATRIUM_CHECK(prefix.size() == data_offset, "package prefix size mismatch");
  const std::string signature = internal::SignatureBlock(prefix, opts.secret_key);
  if (Status s = out.WriteAt(0, prefix); !s.ok()) return s.error();
  if (Status s = out.WriteAt(offset, signature); !s.ok()) return s.error();
  if (Status s = out.Commit(); !s.ok()) return s.error();

  PackStats stats;
  stats.id = facts->id;
  stats.version = facts->version;
  stats.entries = files.size();
  stats.total_size = total;
  stats.compressed_size = h.data_size;
  stats.file_size = offset + signature.size();
  stats.key_id = KeyIdOf(PublicKeyOf(opts.secret_key));
  stats.apps = std::move(apps).value();
  return stats;
}

}  // namespace atrium
