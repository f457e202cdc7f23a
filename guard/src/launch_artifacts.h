// Lists a launch record holds (launch_log.h) stored once per distinct
// list: an app with 1,000 bundles lists 1,000 active artifacts (about 20 KB
// of JSON) when a launch begins and 1,000 resolved bundle names (another
// 20 KB) when it is good, at every launch, while both change only when an
// update is installed. Rows point at their lists (launches.artifact_list
// and launches.resolved_list -> launch_lists.id); upgrading to schema
// version 5 moves earlier rows' lists there too. A row whose list id is 0
// keeps its text in launches.artifacts / launches.resolved, read as before.
//
//   launch_lists(id INTEGER PRIMARY KEY AUTOINCREMENT, digest INTEGER, text TEXT)
//
// `digest` (a 64-bit FNV-1a of the text) finds candidates; the text itself
// decides, so two lists with one digest are two rows.
//
// Concurrency: functions over the caller's connection, inside its lock.
#ifndef ATRIUM_GUARD_SRC_LAUNCH_ARTIFACTS_H_
#define ATRIUM_GUARD_SRC_LAUNCH_ARTIFACTS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "atrium/base/sqlite_db.h"
#include "atrium/dynamic/dynamic_layer.h"
#include "atrium/result.h"

namespace atrium::internal {

// Records written before each artifact kind had one spelling used short
// names; the kinds they meant.
std::string CurrentKindName(std::string kind);

std::string ArtifactsToJson(const std::vector<ArtifactRef>& artifacts);

// kCorrupt naming `path` and the launch when `text` is not such a list.
Result<std::vector<ArtifactRef>> ArtifactsFromJson(const std::string& text, const std::string& path,
                                                   int64_t launch_id);

// The id of the launch_lists row holding exactly `text`, added when none
// does. Call inside a write transaction.
Result<int64_t> InternLaunchList(SqliteDb& db, const std::string& text);

// Reads lists by id for one pass over launch rows, each read (and each
// artifact list parsed) once.
class LaunchListCache {
 public:
  explicit LaunchListCache(SqliteDb& db) : db_(db) {}
  // The text of list `list_id`, which launch `launch_id` names (for errors).
  Result<std::string> Text(int64_t list_id, int64_t launch_id);
  // The artifacts of list `list_id`.
  Result<std::vector<ArtifactRef>> Artifacts(int64_t list_id, int64_t launch_id);

 private:
  SqliteDb& db_;
  std::map<int64_t, std::string> texts_;
  std::map<int64_t, std::vector<ArtifactRef>> artifacts_;
};

}  // namespace atrium::internal

#endif  // ATRIUM_GUARD_SRC_LAUNCH_ARTIFACTS_H_
