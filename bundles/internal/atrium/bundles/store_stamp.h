// The store's stamp: a small file beside state.db saying what the database
// held when the last session closed it (generation, staged rows, rows of each
// kind), so an Open that finds nothing staged answers its launch's questions
// without opening SQLite (docs/packages.md#the-store-stamp).
//
// Protocol. A session that changes the artifacts (any generation-bumping
// transaction) holds a shared lock on store.stamp.lock from before it removes
// the stamp (durably: the directory is synced) until after its commit. A
// session that closes the database takes the exclusive lock without waiting,
// reads the counts, and writes a new stamp; when another session holds the
// lock it writes none. So a stamp exists only while no change is under way
// and describes every committed change. The stamp also names state.db's
// device and inode: a database moved aside or replaced invalidates it.
//
// Concurrency: free functions and a lock holder; no shared state.
#ifndef ATRIUM_BUNDLES_STORE_STAMP_H_
#define ATRIUM_BUNDLES_STORE_STAMP_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "atrium/result.h"

namespace atrium::internal {

struct StoreStamp {
  uint64_t generation = 0;
  uint64_t staged = 0;                // rows in state staged
  std::map<uint8_t, uint64_t> kinds;  // rows of each ArtifactKind byte (absent: none)
  uint64_t db_dev = 0, db_ino = 0;    // state.db's identity when written

  uint64_t RowsOf(uint8_t kind) const {
    auto it = kinds.find(kind);
    return it == kinds.end() ? 0 : it->second;
  }
};

// The stamp of the store in `data_dir`; nullopt when there is none, it is
// malformed or truncated (its checksum), or state.db is not the file it
// describes (missing, moved aside, replaced).
std::optional<StoreStamp> ReadStoreStamp(const std::string& data_dir);

// The stamp in `text` (what StoreStampText writes); nullopt when it is
// malformed, truncated or fails its checksum. No file identity check.
std::optional<StoreStamp> ParseStoreStamp(std::string_view text);

// The stamp of one store, asked many times (a lazy store re-checks it for
// every question it answers from it). The stamp file read is kept open: while
// it is, its inode number cannot be reused, and stamps are only ever
// replaced by rename, never rewritten, so a path that still names the same
// inode (and size and times) still holds the same text. A repeated question
// costs one stat() call instead of reading and parsing the file. state.db's
// identity is checked when the file is read, not again while it is held:
// whatever replaces state.db removes the stamp first (the launch guard's
// recovery does; by hand: remove store.stamp too). Not thread-safe (the
// store asks under its mutex).
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
  struct FileId {
    uint64_t dev = 0, ino = 0, size = 0;
    int64_t mtime_ns = 0, ctime_ns = 0;
    bool operator==(const FileId&) const = default;
  };
  bool DbIsTheStamped() const;

  std::string data_dir_;
  int fd_ = -1;
  FileId id_;
  StoreStamp stamp_;
};

// Writes the stamp (a temporary file renamed into place, not synced: a stamp
// lost or cut short by a crash only costs the next Open its fast path).
// `stamp.db_dev`/`db_ino` are filled in from state.db. False when it could not.
bool WriteStoreStamp(const std::string& data_dir, StoreStamp stamp);

// Serialized form (tests): the text WriteStoreStamp writes.
std::string StoreStampText(const StoreStamp& stamp);

// A hold on data_dir/store.stamp.lock (flock).
class StampLock {
 public:
  enum class Mode { kChange, kWriteStamp };
  // kChange waits for a shared lock; kWriteStamp tries the exclusive lock
  // without waiting (held() false when another session holds it).
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
