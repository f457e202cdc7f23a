// Launch records' lists, stored once per distinct list (launch_artifacts.h).
#include "launch_artifacts.h"

#include <boost/json.hpp>
#include <utility>

#include "atrium/base/file_util.h"

namespace atrium::internal {

namespace json = boost::json;

namespace {

// FNV-1a, 64 bits, as SQLite's signed integer.
int64_t Digest(const std::string& text) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return static_cast<int64_t>(h);
}

}  // namespace

std::string CurrentKindName(std::string kind) {
  static constexpr std::pair<const char*, const char*> kFormer[] = {{"native", "native_bundle"},
                                                                    {"hotpatch", "lua_patch"},
                                                                    {"h5", "h5_package"},
                                                                    {"hcf", "hcf_templates"},
                                                                    {"config", "config_set"}};
  for (const auto& [former, now] : kFormer) {
    if (kind == former) return now;
  }
  return kind;
}

std::string ArtifactsToJson(const std::vector<ArtifactRef>& artifacts) {
  json::array out;
  for (const ArtifactRef& a : artifacts) {
    out.push_back(json::object{{"kind", a.kind}, {"id", a.id}, {"version", a.version}});
  }
  return json::serialize(out);
}

Result<std::vector<ArtifactRef>> ArtifactsFromJson(const std::string& text, const std::string& path,
                                                   int64_t launch_id) {
  auto bad = [&] {
    return FileError(ErrorCode::kCorrupt, path,
                     "launch " + std::to_string(launch_id) + ": unreadable artifact list");
  };
  json::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_array()) return bad();
  std::vector<ArtifactRef> out;
  for (const json::value& e : v.get_array()) {
    const json::object* o = e.if_object();
    if (o == nullptr) return bad();
    const json::value* kind = o->if_contains("kind");
    const json::value* id = o->if_contains("id");
    const json::value* version = o->if_contains("version");
    if (kind == nullptr || id == nullptr || version == nullptr || !kind->is_string() ||
        !id->is_string() || !version->is_string()) {
      return bad();
    }
    out.push_back({CurrentKindName(std::string(kind->get_string())), std::string(id->get_string()),
                   std::string(version->get_string())});
  }
  return out;
}

Result<int64_t> InternLaunchList(SqliteDb& db, const std::string& text) {
  const int64_t digest = Digest(text);
  {
    Statement find(db.handle(), "SELECT id, text FROM launch_lists WHERE digest = ?1");
    find.Bind(1, digest);
    int rc;
    while ((rc = find.Step()) == SQLITE_ROW) {
      if (find.Text(1) == text) return find.Int(0);
    }
    if (rc != SQLITE_DONE) return db.SqlError(rc, "finding a launch list");
  }
  Statement insert(db.handle(), "INSERT INTO launch_lists(digest, text) VALUES(?1, ?2)");
  insert.Bind(1, digest).Bind(2, text);
  if (Status s = db.Run(insert, "storing a launch list"); !s.ok()) return s.error();
  return static_cast<int64_t>(sqlite3_last_insert_rowid(db.handle()));
}

Result<std::string> LaunchListCache::Text(int64_t list_id, int64_t launch_id) {
  if (auto it = texts_.find(list_id); it != texts_.end()) return it->second;
  Statement read(db_.handle(), "SELECT text FROM launch_lists WHERE id = ?1");
  read.Bind(1, list_id);
  const int rc = read.Step();
  if (rc == SQLITE_DONE) {
    return FileError(ErrorCode::kCorrupt, db_.path(),
                     "launch " + std::to_string(launch_id) + ": list " + std::to_string(list_id) +
                         " is missing");
  }
  if (rc != SQLITE_ROW) return db_.SqlError(rc, "reading a launch list");
  return texts_.emplace(list_id, read.Text(0)).first->second;
}

Result<std::vector<ArtifactRef>> LaunchListCache::Artifacts(int64_t list_id, int64_t launch_id) {
  if (auto it = artifacts_.find(list_id); it != artifacts_.end()) return it->second;
  auto text = Text(list_id, launch_id);
  if (!text.ok()) return text.error();
  auto list = ArtifactsFromJson(*text, db_.path(), launch_id);
  if (!list.ok()) return list.error();
  return artifacts_.emplace(list_id, std::move(list).value()).first->second;
}

}  // namespace atrium::internal
