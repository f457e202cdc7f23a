// File-system fault injection. The durable write paths (the artifact
// store's extraction and renames, AtomicWriteFile, and every SQLite database
// — the store's rows, the private store, the launch log) write through the
// calls below, and SQLite through a VFS that asks the same plan; a test arms
// an FsFaultScope to make the n-th write, fsync, rename or directory creation
// fail with ENOSPC, EIO or any errno, or a write come up short — the way
// LevelDB's fault-injection Env does — and then checks that the operation
// either succeeded or left the previous state and said why.
//
// With no scope armed every call is the plain system call after one relaxed
// atomic load.
//
// Concurrency: the calls are thread-safe. One FsFaultScope may be alive at a
// time (checked); while it is armed, operations on every thread are counted
// (and serialized through it), and disarming waits for one in progress.
#ifndef ATRIUM_BASE_FS_FAULTS_H_
#define ATRIUM_BASE_FS_FAULTS_H_

#include <sys/types.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace atrium::internal {

enum class FsOp : unsigned char {
  kWrite,   // write(2) of file data, SQLite xWrite
  kSync,    // fsync(2) of a file or directory, SQLite xSync
  kRename,  // rename(2)
  kMkdir,   // mkdir(2) / mkdirat(2)
  kCount,
};
const char* FsOpName(FsOp op);  // "write", "fsync", "rename", "mkdir"

// write(2) that a plan can fail or cut short (half of `n`, at least 1 byte).
ssize_t FsWrite(int fd, const void* data, size_t n, std::string_view path);
// fsync(2) that a plan can fail.
int FsSync(int fd, std::string_view path);
// rename(2) that a plan can fail (matched on `from`).
int FsRename(const char* from, const char* to);
// mkdirat(2) (dir_fd AT_FDCWD for mkdir) that a plan can fail.
int FsMkdirAt(int dir_fd, const char* name, mode_t mode, std::string_view path);

// Registers the fault-injecting SQLite VFS (once per process; FsFaultScope
// calls it too). Databases opened afterwards can be faulted: call it before
// opening the stores a test will fault.
void EnableFsFaultInjection();
// The VFS's name once registered, else nullptr (SQLite's default).
// SqliteDb::Open passes it to sqlite3_open_v2.
const char* FsFaultVfsName();

struct FsFaultPlan {
  FsOp op = FsOp::kWrite;
  int nth = 1;       // the n-th operation of `op` (on a matching path) since arming, 1-based
  int err = ENOSPC;  // errno the operation fails with
  // A write only: instead of failing, write half and return that much (a
  // caller that loops retries; the next write is not touched). SQLite's
  // writes and writes of one byte cannot be cut short: the plan passes over
  // them (fired() stays false).
  bool short_write = false;
  // Only operations on paths containing this (empty: any path).
  std::string path_contains;
};

// Arms `plan` (or, with nullopt, only counts) for its lifetime.
class FsFaultScope {
 public:
  explicit FsFaultScope(std::optional<FsFaultPlan> plan = std::nullopt);
  ~FsFaultScope();
  FsFaultScope(const FsFaultScope&) = delete;
  FsFaultScope& operator=(const FsFaultScope&) = delete;

  // Operations of `op` seen on matching paths since arming.
  int count(FsOp op) const;
  // Whether the planned fault was injected, and on which path.
  bool fired() const;
  std::string fired_path() const;

  // Called by the Fs* calls and the VFS: the errno to fail with (0: go on),
  // and for a write the length to use.
  int Decide(FsOp op, std::string_view path, size_t* len);

 private:
  mutable std::mutex mu_;
  const std::optional<FsFaultPlan> plan_;
  std::array<int, static_cast<size_t>(FsOp::kCount)> counts_{};
  bool fired_ = false;
  std::string fired_path_;
};

}  // namespace atrium::internal

#endif  // ATRIUM_BASE_FS_FAULTS_H_
