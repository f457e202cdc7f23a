// PrivateStore: a bundle's private key-value store, one SQLite file per
// bundle under <data_dir>/private/<bundle>.db. This is the user's data a
// launch-guard fallback must never clear (it clears caches and downloaded
// artifacts, never data_dir/private/).
//
// Writes are durable when Put/Erase return (SQLite transaction, WAL mode,
// synchronous=FULL). Errors name the file.
//
// Concurrency: all methods are thread-safe (an internal mutex serializes
// access to the connection).
#ifndef ATRIUM_PRIVATE_STORE_H_
#define ATRIUM_PRIVATE_STORE_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "atrium/export.h"
#include "atrium/result.h"

namespace atrium {

class ATRIUM_EXPORT PrivateStore {
 public:
  // Opens (creating if needed) the store at `path`; parent dirs are created.
  static Result<std::unique_ptr<PrivateStore>> Open(const std::string& path);
  virtual ~PrivateStore() = default;

  virtual Result<std::optional<std::string>> Get(std::string_view key) = 0;
  virtual Status Put(std::string_view key, std::string_view value) = 0;
  virtual Status Erase(std::string_view key) = 0;
  // Keys in ascending order, optionally only those starting with `prefix`.
  virtual Result<std::vector<std::string>> Keys(std::string_view prefix = {}) = 0;
  virtual const std::string& path() const = 0;
};

}  // namespace atrium

#endif  // ATRIUM_PRIVATE_STORE_H_
