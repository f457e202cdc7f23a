// The artifact store's own SQLite connection, for layers that keep tables of
// their own in state.db (the config layer's evaluated values, hotpatch
// faults): one connection per app instead of one per layer, so opening a
// container costs one database open.
//
// Concurrency: `fn` runs on the calling thread under the store's lock; it
// must not call the store (the lock is not recursive) and should be short.
// A table a layer adds is its own: the store never reads it.
#ifndef ATRIUM_BUNDLES_STORE_DATABASE_H_
#define ATRIUM_BUNDLES_STORE_DATABASE_H_

#include <functional>

#include "atrium/artifact_store.h"
#include "atrium/base/sqlite_db.h"

namespace atrium::internal {

// Runs `fn` with the store's connection; returns what `fn` returns.
Status WithStoreDatabase(const ArtifactStore& store, const std::function<Status(SqliteDb& db)>& fn);

}  // namespace atrium::internal

#endif  // ATRIUM_BUNDLES_STORE_DATABASE_H_
