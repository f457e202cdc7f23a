#include "atrium/artifact_kind.h"

#include <algorithm>
#include <deque>
#include <mutex>

namespace atrium {
namespace {

constexpr const char* kFormatOwner = "the format";

struct KindTable {
  std::mutex mu;
  // Guarded by mu. A deque: entries never move, so ArtifactKindName can
  // hand out their names' c_str() for the life of the process.
  std::deque<ArtifactKindSpec> kinds;
  bool claimed[kFirstRegisteredKind] = {};  // reserved kinds claimed by a layer
};

KindTable& Table() {
  static KindTable* table = [] {
    auto* t = new KindTable();  // leaked: used by static initializers and at exit
    t->kinds.push_back(
        {ArtifactKind::kNativeBundle, "native_bundle", "bundle.json", {}, kFormatOwner});
    t->kinds.push_back({ArtifactKind::kH5Package, "h5_package", "", {}, kFormatOwner});
    t->kinds.push_back({ArtifactKind::kHcfTemplates, "hcf_templates", "", {}, kFormatOwner});
    t->kinds.push_back({ArtifactKind::kLuaPatch, "lua_patch", "", {}, kFormatOwner});
    t->kinds.push_back({ArtifactKind::kConfigSet, "config_set", "", {}, kFormatOwner});
    t->claimed[static_cast<uint8_t>(ArtifactKind::kNativeBundle)] = true;  // the format's own
    return t;
  }();
  return *table;
}

bool IsKindName(std::string_view name) {
  if (name.empty() || name.size() > 32 || name[0] < 'a' || name[0] > 'z') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

ArtifactKindSpec* FindLocked(KindTable& t, ArtifactKind kind) {
  for (ArtifactKindSpec& k : t.kinds) {
    if (k.kind == kind) return &k;
  }
  return nullptr;
}

ArtifactKindSpec* FindLocked(KindTable& t, std::string_view name) {
  for (ArtifactKindSpec& k : t.kinds) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

}  // namespace

Status RegisterArtifactKind(ArtifactKindSpec spec) {
  const unsigned code = static_cast<uint8_t>(spec.kind);
  if (!IsKindName(spec.name)) {
    return MakeError(ErrorCode::kInvalidArgument, "artifact kind name \"" + spec.name +
                                                      "\" is not [a-z][a-z0-9_]*, 1-32 characters");
  }
  if (spec.manifest_name.find('/') != std::string::npos) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "artifact kind " + spec.name + ": the manifest must be a top-level file");
  }
  KindTable& t = Table();
  std::lock_guard lock(t.mu);
  ArtifactKindSpec* by_code = FindLocked(t, spec.kind);
  ArtifactKindSpec* by_name = FindLocked(t, spec.name);
  if (code < kFirstRegisteredKind) {
    // A reserved kind: claimed once, by byte and name together.
    if (by_code == nullptr || by_code != by_name) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "artifact kind byte " + std::to_string(code) + " is reserved" +
                           (by_code != nullptr ? " for " + by_code->name : std::string()) +
                           "; new kinds take " + std::to_string(kFirstRegisteredKind) + "-255");
    }
    if (t.claimed[code]) {
      return MakeError(ErrorCode::kAlreadyExists,
                       "artifact kind " + spec.name + " is already claimed by " + by_code->owner);
    }
    t.claimed[code] = true;
    by_code->manifest_name = std::move(spec.manifest_name);
    by_code->validate_manifest = std::move(spec.validate_manifest);
    by_code->owner = std::move(spec.owner);
    return Status::Ok();
  }
  if (by_code != nullptr || by_name != nullptr) {
    const ArtifactKindSpec* taken = by_code != nullptr ? by_code : by_name;
    return MakeError(ErrorCode::kAlreadyExists,
                     "artifact kind " + spec.name + " (byte " + std::to_string(code) +
                         ") collides with " + taken->name + " (byte " +
                         std::to_string(static_cast<uint8_t>(taken->kind)) + ") of " +
                         taken->owner);
  }
  t.kinds.push_back(std::move(spec));
  return Status::Ok();
}

std::optional<ArtifactKindSpec> FindArtifactKind(ArtifactKind kind) {
  KindTable& t = Table();
  std::lock_guard lock(t.mu);
  const ArtifactKindSpec* k = FindLocked(t, kind);
  return k != nullptr ? std::optional<ArtifactKindSpec>(*k) : std::nullopt;
}

std::optional<ArtifactKindSpec> FindArtifactKind(std::string_view name) {
  KindTable& t = Table();
  std::lock_guard lock(t.mu);
  const ArtifactKindSpec* k = FindLocked(t, name);
  return k != nullptr ? std::optional<ArtifactKindSpec>(*k) : std::nullopt;
}

std::vector<ArtifactKindSpec> RegisteredArtifactKinds() {
  KindTable& t = Table();
  std::lock_guard lock(t.mu);
  std::vector<ArtifactKindSpec> out(t.kinds.begin(), t.kinds.end());
  std::sort(out.begin(), out.end(),
            [](const ArtifactKindSpec& a, const ArtifactKindSpec& b) { return a.kind < b.kind; });
  return out;
}

const char* ArtifactKindName(ArtifactKind kind) {
  KindTable& t = Table();
  std::lock_guard lock(t.mu);
  const ArtifactKindSpec* k = FindLocked(t, kind);
  return k != nullptr ? k->name.c_str() : "unknown";
}

std::optional<ArtifactKind> ParseArtifactKind(std::string_view name) {
  KindTable& t = Table();
  std::lock_guard lock(t.mu);
  const ArtifactKindSpec* k = FindLocked(t, name);
  return k != nullptr ? std::optional<ArtifactKind>(k->kind) : std::nullopt;
}

}  // namespace atrium
