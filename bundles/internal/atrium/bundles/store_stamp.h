// The store's stamp: a small file beside state.db saying what the database
// held when the last session closed it (generation, staged rows, rows of each
// kind), so an Open that finds nothing staged answers its launch's questions
// without opening SQLite (docs/artifacts.md#the-store-stamp-launches-that-do-not-open-sqlite).
//
// Protocol. A session that changes the artifacts (any generation-bumping
// transaction) holds a shared lock on store.stamp.lock from before it removes
// the stamp (durably: the directory is synced) until after its commit; so
// does the launch guard's recovery while it moves a damaged state.db aside.
// A session that closes the database takes the exclusive lock without
// waiting, reads the counts, closes its connection (SQLite checkpoints and
// removes the WAL when it was the last one) and then writes a stamp, only if
// state.db is still the file it opened and no WAL is left; when another
// session holds the lock it writes none. The stamp names state.db's device,
// inode, size, modification and change times: a reader refuses it when any
// differs or a WAL exists, so a database changed by anything that does not
// follow this protocol (an older build, the sqlite3 shell, a restored copy)
// is read from SQLite again.
//
// Concurrency: free functions and holder classes; no shared state.
#ifndef ATRIUM_BUNDLES_STORE_STAMP_H_
#define ATRIUM_BUNDLES_STORE_STAMP_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "atrium/result.h"

namespace atrium::internal {

// A file's identity as the stamp records state.db's.
struct StampFileId {
  uint64_t dev = 0, ino = 0, size = 0;
  int64_t mtime_ns = 0, ctime_ns = 0;
  bool operator==(const StampFileId&) const = default;
};

// stat() of `path` as a StampFileId; nullopt when it cannot be stat'ed or is
// not a regular file.
std::optional<StampFileId> StampFileIdOf(const std::string& path);

struct StoreStamp {
  uint64_t generation = 0;
  uint64_t staged = 0;                    // rows in state staged
  std::map<std::string, uint64_t> kinds;  // rows of each kind, by its name (absent: none)
  StampFileId db;                         // state.db when the stamp was written

  uint64_t RowsOf(std::string_view kind) const {
    auto it = kinds.find(std::string(kind));
    return it == kinds.end() ? 0 : it->second;
  }
};

// The stamp in `text` (what StoreStampText writes); nullopt when it is
// malformed, truncated or fails its checksum. No file identity check.
std::optional<StoreStamp> ParseStoreStamp(std::string_view text);

// Serialized form: the text WriteStoreStamp writes.
std::string StoreStampText(const StoreStamp& stamp);

// The stamp of the store in `data_dir`; nullopt when there is none, it is
// malformed or truncated (its checksum), state.db is not the file it
// describes (missing, moved aside, replaced, changed since), or a WAL exists.
std::optional<StoreStamp> ReadStoreStamp(const std::string& data_dir);

// Writes the stamp, when state.db is still `opened` (dev and inode: the file
// the session had open) and has no WAL beside it; `stamp.db` is filled in
// from state.db then. A temporary file renamed into place, not synced: a
// stamp lost or cut short by a crash only costs the next Open its fast path.
// False when it wrote none.
bool WriteStoreStamp(const std::string& data_dir, StoreStamp stamp, const StampFileId& opened);

// The stamp of one store, asked many times (a lazy store re-checks it for
// every question it answers from it). The stamp file read is kept open:
// while it is, its inode number cannot be reused, and stamps are only ever
// replaced by rename, never rewritten, so a path that still names the same
// inode (and size and times) still holds the same text. A repeated question
// costs one stat() call. state.db (and the absence of a WAL) is checked when
// the file is read, not again while it is held: whatever follows the
// protocol and changes or replaces state.db removes the stamp first. Not
// thread-safe (the store asks under its mutex).
class HeldStoreStamp {
 public:
  explicit HeldStoreStamp(std::string data_dir) : data_dir_(std::move(data_dir)) {}
  ~HeldStoreStamp() { Release(); }
  HeldStoreStamp(const HeldStoreStamp&) = delete;
  HeldStoreStamp& operator=(const HeldStoreStamp&) = delete;

  // The valid stamp now (ReadStoreStamp's answer), or nullopt.
  std::optional<StoreStamp> Read();
  // Closes the held file (the store opened its database).
  void Release();

 private:
  std::string data_dir_;
  int fd_ = -1;
  StampFileId id_;
  StoreStamp stamp_;
};

// A hold on data_dir/store.stamp.lock (flock).
class StampLock {
 public:
  enum class Mode { kChange, kWriteStamp, kReplace };
  // kChange waits for a shared lock (a change, or opening state.db);
  // kWriteStamp tries the exclusive lock without waiting; kReplace waits for
  // the exclusive lock (the guard's recovery replacing state.db). held()
  // false when the lock file cannot be opened or (kWriteStamp) another
  // session holds it.
  StampLock(const std::string& data_dir, Mode mode);
  ~StampLock();
  StampLock(const StampLock&) = delete;
  StampLock& operator=(const StampLock&) = delete;
  bool held() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// Removes the stamp before a change; when one was removed, syncs the
// directory so the removal is durable before the change's commit. Call with
// a kChange StampLock held.
Status RemoveStoreStamp(const std::string& data_dir);

}  // namespace atrium::internal

#endif  // ATRIUM_BUNDLES_STORE_STAMP_H_
