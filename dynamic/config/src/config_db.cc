#include "config_db.h"

#include <sodium.h>

#include <filesystem>

#include "atrium/base/hex.h"
#include "atrium/base/result_macros.h"
#include "atrium/bundles/store_database.h"

namespace atrium::config {

using ::atrium::internal::SqliteDb;
using ::atrium::internal::Statement;
using ::atrium::internal::WithStoreDatabase;

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS config_values (
  set_id TEXT NOT NULL, version TEXT NOT NULL, fingerprint INTEGER NOT NULL,
  key TEXT NOT NULL, type INTEGER NOT NULL, value TEXT NOT NULL, source TEXT NOT NULL,
  PRIMARY KEY (key));
CREATE TABLE IF NOT EXISTS config_signals (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS config_state (
  id INTEGER PRIMARY KEY CHECK (id = 1), device_id TEXT NOT NULL DEFAULT '',
  last_attempt_ms INTEGER NOT NULL DEFAULT 0, last_success_ms INTEGER NOT NULL DEFAULT 0,
  failures INTEGER NOT NULL DEFAULT 0, backoff_until_ms INTEGER NOT NULL DEFAULT 0);
INSERT OR IGNORE INTO config_state (id) VALUES (1);
)sql";

}  // namespace

Result<std::unique_ptr<ConfigDb>> ConfigDb::Open(const ArtifactStore& store) {
  // Created once: a launch that finds the tables only reads (no write
  // transaction, no fsync on the open path).
  ATRIUM_RETURN_IF_ERROR(WithStoreDatabase(store, [](SqliteDb& db) -> Status {
    Statement s(db.handle(),
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'config_state'");
    const int rc = s.Step();
    if (rc == SQLITE_ROW) return Status::Ok();
    if (rc != SQLITE_DONE) return db.SqlError(rc, "read the schema");
    return db.Exec(kSchema, "create the config tables");
  }));
  return std::unique_ptr<ConfigDb>(new ConfigDb(&store));
}

Result<std::optional<std::vector<CachedValue>>> ConfigDb::LoadValues(const std::string& set_id,
                                                                     const std::string& version,
                                                                     uint64_t fingerprint) {
  std::optional<std::vector<CachedValue>> found;
  ATRIUM_RETURN_IF_ERROR(WithStoreDatabase(*store_, [&](SqliteDb& db) -> Status {
    Statement s(db.handle(),
                "SELECT key, type, value, source, set_id, version, fingerprint FROM config_values");
    std::vector<CachedValue> out;
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) {
      if (s.Text(4) != set_id || s.Text(5) != version ||
          static_cast<uint64_t>(s.Int(6)) != fingerprint) {
        return Status::Ok();  // another set's or context's values: not these
      }
      const int64_t type = s.Int(1);
      if (type < 0 || type > static_cast<int64_t>(ConfigType::kJson)) {
        return db.SqlError(SQLITE_CORRUPT, "read a config value of unknown type");
      }
      Result<ConfigValue> v = ConfigValue::FromStored(static_cast<ConfigType>(type), s.Text(2));
      if (!v.ok()) return v.error();
      out.push_back({s.Text(0), std::move(v).value(), s.Text(3)});
    }
    if (rc != SQLITE_DONE) return db.SqlError(rc, "read the config values");
    if (!out.empty()) found = std::move(out);
    return Status::Ok();
  }));
  return found;
}

Status ConfigDb::SaveValues(const std::string& set_id, const std::string& version,
                            uint64_t fingerprint, const std::vector<CachedValue>& values) {
  return WithStoreDatabase(*store_, [&](SqliteDb& db) -> Status {
    SqliteDb::WriteTransaction tx(&db);
    ATRIUM_RETURN_IF_ERROR(tx.Begin());
    ATRIUM_RETURN_IF_ERROR(db.Exec("DELETE FROM config_values", "clear the config values"));
    for (const CachedValue& v : values) {
      Statement s(
          db.handle(),
          "INSERT INTO config_values (set_id, version, fingerprint, key, type, value, source) "
          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
      s.Bind(1, set_id)
          .Bind(2, version)
          .Bind(3, static_cast<int64_t>(fingerprint))
          .Bind(4, v.key)
          .Bind(5, static_cast<int64_t>(v.value.type))
          .Bind(6, v.value.Stored())
          .Bind(7, v.source);
      ATRIUM_RETURN_IF_ERROR(db.Run(s, "save a config value"));
    }
    return tx.Commit();
  });
}

Status ConfigDb::ClearValues() {
  return WithStoreDatabase(*store_, [](SqliteDb& db) {
    return db.Exec("DELETE FROM config_values", "clear the config values");
  });
}

Result<std::map<std::string, std::string, std::less<>>> ConfigDb::Signals() {
  std::map<std::string, std::string, std::less<>> out;
  ATRIUM_RETURN_IF_ERROR(WithStoreDatabase(*store_, [&](SqliteDb& db) -> Status {
    Statement s(db.handle(), "SELECT name, value FROM config_signals");
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) out.emplace(s.Text(0), s.Text(1));
    return rc == SQLITE_DONE ? Status::Ok() : Status(db.SqlError(rc, "read the config signals"));
  }));
  return out;
}

Status ConfigDb::SetSignal(std::string_view name, std::string_view value) {
  return WithStoreDatabase(*store_, [&](SqliteDb& db) -> Status {
    if (value.empty()) {
      Statement s(db.handle(), "DELETE FROM config_signals WHERE name = ?1");
      s.Bind(1, name);
      return db.Run(s, "clear a config signal");
    }
    Statement s(db.handle(), "INSERT OR REPLACE INTO config_signals (name, value) VALUES (?1, ?2)");
    s.Bind(1, name).Bind(2, value);
    return db.Run(s, "set a config signal");
  });
}

Result<FetchSchedule> ConfigDb::Schedule() {
  FetchSchedule f;
  ATRIUM_RETURN_IF_ERROR(WithStoreDatabase(*store_, [&](SqliteDb& db) -> Status {
    Statement s(db.handle(),
                "SELECT last_attempt_ms, last_success_ms, failures, backoff_until_ms FROM "
                "config_state WHERE id = 1");
    const int rc = s.Step();
    if (rc != SQLITE_ROW) return db.SqlError(rc, "read the config fetch schedule");
    f = FetchSchedule{s.Int(0), s.Int(1), s.Int(2), s.Int(3)};
    return Status::Ok();
  }));
  return f;
}

Status ConfigDb::SaveSchedule(const FetchSchedule& f) {
  return WithStoreDatabase(*store_, [&](SqliteDb& db) {
    Statement s(db.handle(),
                "UPDATE config_state SET last_attempt_ms = ?1, last_success_ms = ?2, failures = "
                "?3, backoff_until_ms = ?4 WHERE id = 1");
    s.Bind(1, f.last_attempt_ms)
        .Bind(2, f.last_success_ms)
        .Bind(3, f.failures)
        .Bind(4, f.backoff_until_ms);
    return db.Run(s, "save the config fetch schedule");
  });
}

Result<std::string> ConfigDb::DeviceId() {
  std::string id;
  ATRIUM_RETURN_IF_ERROR(WithStoreDatabase(*store_, [&](SqliteDb& db) -> Status {
    {
      Statement s(db.handle(), "SELECT device_id FROM config_state WHERE id = 1");
      const int rc = s.Step();
      if (rc != SQLITE_ROW) return db.SqlError(rc, "read the device id");
      id = s.Text(0);
    }
    if (!id.empty()) return Status::Ok();
    uint8_t bytes[16];
    randombytes_buf(bytes, sizeof bytes);
    id = ::atrium::internal::HexOf(bytes, sizeof bytes);
    Statement s(db.handle(), "UPDATE config_state SET device_id = ?1 WHERE id = 1");
    s.Bind(1, id);
    return db.Run(s, "save the device id");
  }));
  return id;
}

}  // namespace atrium::config
