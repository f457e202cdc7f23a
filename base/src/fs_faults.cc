// File-system fault injection (fs_faults.h): the armed scope, the Fs*
// system-call wrappers, and a SQLite VFS that forwards to SQLite's default
// one after asking the scope about each write and sync.
#include "atrium/base/fs_faults.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <new>
#include <string>

#include "atrium/result.h"

namespace atrium::internal {
namespace {

// The armed scope. Read without a lock on the fast path (nothing armed);
// while one is armed, g_scope_mu is held from reading the pointer to the end
// of Decide, and the scope's destructor takes it to disarm, so another
// thread's operation never reaches a destroyed scope.
std::atomic<FsFaultScope*> g_scope{nullptr};
std::mutex g_scope_mu;

// errno, or 0, for `op` on `path`; `len` may be shortened for a write.
int Injected(FsOp op, std::string_view path, size_t* len) {
  if (g_scope.load(std::memory_order_acquire) == nullptr) return 0;
  std::lock_guard lock(g_scope_mu);
  FsFaultScope* scope = g_scope.load(std::memory_order_relaxed);
  return scope == nullptr ? 0 : scope->Decide(op, path, len);
}

// --- The SQLite VFS ---

constexpr const char* kVfsName = "atrium-fs-faults";
std::atomic<bool> g_vfs_registered{false};

struct FaultFile {
  sqlite3_file base;   // pMethods = &kFileMethods once the real file is open
  sqlite3_file* real;  // right after this struct, szOsFile of the real VFS
  std::string* path;
};

sqlite3_file* Real(sqlite3_file* f) { return reinterpret_cast<FaultFile*>(f)->real; }

int FileClose(sqlite3_file* f) {
  FaultFile* ff = reinterpret_cast<FaultFile*>(f);
  const int rc = ff->real->pMethods->xClose(ff->real);
  delete ff->path;
  ff->path = nullptr;
  return rc;
}
int FileRead(sqlite3_file* f, void* buf, int n, sqlite3_int64 off) {
  return Real(f)->pMethods->xRead(Real(f), buf, n, off);
}
int FileWrite(sqlite3_file* f, const void* buf, int n, sqlite3_int64 off) {
  FaultFile* ff = reinterpret_cast<FaultFile*>(f);
  if (int err = Injected(FsOp::kWrite, *ff->path, nullptr); err != 0) {
    return err == ENOSPC ? SQLITE_FULL : SQLITE_IOERR_WRITE;
  }
  return ff->real->pMethods->xWrite(ff->real, buf, n, off);
}
int FileTruncate(sqlite3_file* f, sqlite3_int64 size) {
  return Real(f)->pMethods->xTruncate(Real(f), size);
}
int FileSync(sqlite3_file* f, int flags) {
  FaultFile* ff = reinterpret_cast<FaultFile*>(f);
  if (Injected(FsOp::kSync, *ff->path, nullptr) != 0) return SQLITE_IOERR_FSYNC;
  return ff->real->pMethods->xSync(ff->real, flags);
}
int FileSize(sqlite3_file* f, sqlite3_int64* size) {
  return Real(f)->pMethods->xFileSize(Real(f), size);
}
int FileLock(sqlite3_file* f, int level) { return Real(f)->pMethods->xLock(Real(f), level); }
int FileUnlock(sqlite3_file* f, int level) { return Real(f)->pMethods->xUnlock(Real(f), level); }
int FileCheckReservedLock(sqlite3_file* f, int* out) {
  return Real(f)->pMethods->xCheckReservedLock(Real(f), out);
}
int FileControl(sqlite3_file* f, int op, void* arg) {
  return Real(f)->pMethods->xFileControl(Real(f), op, arg);
}
int FileSectorSize(sqlite3_file* f) { return Real(f)->pMethods->xSectorSize(Real(f)); }
int FileDeviceCharacteristics(sqlite3_file* f) {
  return Real(f)->pMethods->xDeviceCharacteristics(Real(f));
}
int FileShmMap(sqlite3_file* f, int region, int size, int extend, void volatile** out) {
  return Real(f)->pMethods->xShmMap(Real(f), region, size, extend, out);
}
int FileShmLock(sqlite3_file* f, int offset, int n, int flags) {
  return Real(f)->pMethods->xShmLock(Real(f), offset, n, flags);
}
void FileShmBarrier(sqlite3_file* f) { Real(f)->pMethods->xShmBarrier(Real(f)); }
int FileShmUnmap(sqlite3_file* f, int delete_flag) {
  return Real(f)->pMethods->xShmUnmap(Real(f), delete_flag);
}
int FileFetch(sqlite3_file* f, sqlite3_int64 off, int n, void** out) {
  return Real(f)->pMethods->xFetch(Real(f), off, n, out);
}
int FileUnfetch(sqlite3_file* f, sqlite3_int64 off, void* p) {
  return Real(f)->pMethods->xUnfetch(Real(f), off, p);
}

const sqlite3_io_methods kFileMethods = {
    3,
    FileClose,
    FileRead,
    FileWrite,
    FileTruncate,
    FileSync,
    FileSize,
    FileLock,
    FileUnlock,
    FileCheckReservedLock,
    FileControl,
    FileSectorSize,
    FileDeviceCharacteristics,
    FileShmMap,
    FileShmLock,
    FileShmBarrier,
    FileShmUnmap,
    FileFetch,
    FileUnfetch,
};

sqlite3_vfs* RealVfs(sqlite3_vfs* vfs) { return static_cast<sqlite3_vfs*>(vfs->pAppData); }

int VfsOpen(sqlite3_vfs* vfs, sqlite3_filename name, sqlite3_file* f, int flags, int* out_flags) {
  FaultFile* ff = reinterpret_cast<FaultFile*>(f);
  ff->base.pMethods = nullptr;
  ff->real = reinterpret_cast<sqlite3_file*>(ff + 1);
  ff->path = nullptr;
  const int rc = RealVfs(vfs)->xOpen(RealVfs(vfs), name, ff->real, flags, out_flags);
  if (ff->real->pMethods == nullptr) return rc;  // nothing to close
  ATRIUM_CHECK(ff->real->pMethods->iVersion >= 3, "SQLite's default VFS files are version 3");
  ff->path = new std::string(name != nullptr ? name : "");
  ff->base.pMethods = &kFileMethods;
  return rc;
}
int VfsDelete(sqlite3_vfs* vfs, const char* name, int sync_dir) {
  return RealVfs(vfs)->xDelete(RealVfs(vfs), name, sync_dir);
}
int VfsAccess(sqlite3_vfs* vfs, const char* name, int flags, int* out) {
  return RealVfs(vfs)->xAccess(RealVfs(vfs), name, flags, out);
}
int VfsFullPathname(sqlite3_vfs* vfs, const char* name, int n, char* out) {
  return RealVfs(vfs)->xFullPathname(RealVfs(vfs), name, n, out);
}
void* VfsDlOpen(sqlite3_vfs* vfs, const char* name) {
  return RealVfs(vfs)->xDlOpen(RealVfs(vfs), name);
}
void VfsDlError(sqlite3_vfs* vfs, int n, char* out) {
  RealVfs(vfs)->xDlError(RealVfs(vfs), n, out);
}
void (*VfsDlSym(sqlite3_vfs* vfs, void* handle, const char* symbol))(void) {
  return RealVfs(vfs)->xDlSym(RealVfs(vfs), handle, symbol);
}
void VfsDlClose(sqlite3_vfs* vfs, void* handle) { RealVfs(vfs)->xDlClose(RealVfs(vfs), handle); }
int VfsRandomness(sqlite3_vfs* vfs, int n, char* out) {
  return RealVfs(vfs)->xRandomness(RealVfs(vfs), n, out);
}
int VfsSleep(sqlite3_vfs* vfs, int us) { return RealVfs(vfs)->xSleep(RealVfs(vfs), us); }
int VfsCurrentTime(sqlite3_vfs* vfs, double* out) {
  return RealVfs(vfs)->xCurrentTime(RealVfs(vfs), out);
}
int VfsGetLastError(sqlite3_vfs* vfs, int n, char* out) {
  return RealVfs(vfs)->xGetLastError(RealVfs(vfs), n, out);
}
int VfsCurrentTimeInt64(sqlite3_vfs* vfs, sqlite3_int64* out) {
  return RealVfs(vfs)->xCurrentTimeInt64(RealVfs(vfs), out);
}

}  // namespace

// Registers the VFS, not as the default, once per process.
void EnableFsFaultInjection() {
  static std::once_flag once;
  std::call_once(once, [] {
    sqlite3_vfs* real = sqlite3_vfs_find(nullptr);
    ATRIUM_CHECK(real != nullptr && real->iVersion >= 2, "SQLite has a default VFS of version 2+");
    static sqlite3_vfs vfs{};
    vfs.iVersion = 2;
    vfs.szOsFile = static_cast<int>(sizeof(FaultFile)) + real->szOsFile;
    vfs.mxPathname = real->mxPathname;
    vfs.zName = kVfsName;
    vfs.pAppData = real;
    vfs.xOpen = VfsOpen;
    vfs.xDelete = VfsDelete;
    vfs.xAccess = VfsAccess;
    vfs.xFullPathname = VfsFullPathname;
    vfs.xDlOpen = VfsDlOpen;
    vfs.xDlError = VfsDlError;
    vfs.xDlSym = VfsDlSym;
    vfs.xDlClose = VfsDlClose;
    vfs.xRandomness = VfsRandomness;
    vfs.xSleep = VfsSleep;
    vfs.xCurrentTime = VfsCurrentTime;
    vfs.xGetLastError = VfsGetLastError;
    vfs.xCurrentTimeInt64 = VfsCurrentTimeInt64;
    ATRIUM_CHECK(sqlite3_vfs_register(&vfs, /*makeDflt=*/0) == SQLITE_OK,
                 "registering the fault-injection VFS");
    g_vfs_registered.store(true, std::memory_order_release);
  });
}

const char* FsOpName(FsOp op) {
  switch (op) {
    case FsOp::kWrite:
      return "write";
    case FsOp::kSync:
      return "fsync";
    case FsOp::kRename:
      return "rename";
    case FsOp::kMkdir:
      return "mkdir";
    case FsOp::kCount:
      break;
  }
  return "?";
}

ssize_t FsWrite(int fd, const void* data, size_t n, std::string_view path) {
  if (int err = Injected(FsOp::kWrite, path, &n); err != 0) {
    errno = err;
    return -1;
  }
  return ::write(fd, data, n);
}

int FsSync(int fd, std::string_view path) {
  if (int err = Injected(FsOp::kSync, path, nullptr); err != 0) {
    errno = err;
    return -1;
  }
  return ::fsync(fd);
}

int FsRename(const char* from, const char* to) {
  if (int err = Injected(FsOp::kRename, from, nullptr); err != 0) {
    errno = err;
    return -1;
  }
  return ::rename(from, to);
}

int FsMkdirAt(int dir_fd, const char* name, mode_t mode, std::string_view path) {
  if (int err = Injected(FsOp::kMkdir, path, nullptr); err != 0) {
    errno = err;
    return -1;
  }
  return ::mkdirat(dir_fd, name, mode);
}

const char* FsFaultVfsName() {
  return g_vfs_registered.load(std::memory_order_acquire) ? kVfsName : nullptr;
}

FsFaultScope::FsFaultScope(std::optional<FsFaultPlan> plan) : plan_(std::move(plan)) {
  EnableFsFaultInjection();
  std::lock_guard lock(g_scope_mu);
  FsFaultScope* expected = nullptr;
  ATRIUM_CHECK(g_scope.compare_exchange_strong(expected, this), "one FsFaultScope at a time");
}

FsFaultScope::~FsFaultScope() {
  std::lock_guard lock(g_scope_mu);
  g_scope.store(nullptr, std::memory_order_release);
}

int FsFaultScope::count(FsOp op) const {
  std::lock_guard lock(mu_);
  return counts_[static_cast<size_t>(op)];
}

bool FsFaultScope::fired() const {
  std::lock_guard lock(mu_);
  return fired_;
}

std::string FsFaultScope::fired_path() const {
  std::lock_guard lock(mu_);
  return fired_path_;
}

int FsFaultScope::Decide(FsOp op, std::string_view path, size_t* len) {
  std::lock_guard lock(mu_);
  if (plan_ && !plan_->path_contains.empty() &&
      path.find(plan_->path_contains) == std::string_view::npos) {
    return 0;
  }
  const int n = ++counts_[static_cast<size_t>(op)];
  if (!plan_ || fired_ || plan_->op != op || plan_->nth != n) return 0;
  if (plan_->short_write) {
    // SQLite's writes are never short, and a 1-byte write cannot be cut:
    // the plan passes over them.
    if (len == nullptr || *len < 2) return 0;
    fired_ = true;
    fired_path_ = std::string(path);
    *len /= 2;
    return 0;
  }
  fired_ = true;
  fired_path_ = std::string(path);
  return plan_->err;
}

}  // namespace atrium::internal
