#include "release_commands.h"

#include <unistd.h>

#include <boost/json.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "atrium/dynamic/release_repository.h"
#include "atrium/dynamic/update.h"
#include "atrium/package.h"

namespace {

namespace json = boost::json;

int ReleaseUsage() {
  std::fprintf(stderr,
               "usage:\n"
               "  atrium release init <repo> [--keys DIR] [--root-keys N] [--root-threshold K]\n"
               "      [--targets-keys N] [--targets-threshold K] [--snapshot-keys N]\n"
               "      [--timestamp-keys N]        keys for every role, version 1 of each\n"
               "  atrium release add <repo> X.atb [--channel C] [--rollout PCT] [--seed S]\n"
               "      [--app-id ID] [--compat FP | --host-api H] [--max-deltas N]\n"
               "      stage a package, with deltas from earlier versions when smaller\n"
               "  atrium release delegate <repo> <role> --paths 'native_bundle/com.team.*[,...]'\n"
               "      [--terminating] [--role-keys N] [--role-threshold K]\n"
               "      a delegated role an app team signs with its own keys (add --role R)\n"
               "  atrium release publish <repo>    sign targets, snapshot, timestamp\n"
               "  atrium release remove <repo> <kind>/<id>@<version> --reason R\n"
               "  atrium release rotate-key <repo> <role>\n"
               "  atrium release refresh <repo>    re-sign snapshot and timestamp\n"
               "  atrium release status <repo>     what is published, versions, expiry\n"
               "  every command: [--keys DIR] (default <repo>.keys) [--json]\n");
  return 2;
}

int Fail(const char* what, const atrium::Error& e, bool as_json) {
  if (as_json) {
    json::object o;
    o["ok"] = false;
    o["error"] = e.ToString();
    std::printf("%s\n", json::serialize(o).c_str());
  } else {
    std::fprintf(stderr, "atrium %s: %s\n", what, e.ToString().c_str());
  }
  return 1;
}

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> options;
  bool json = false;
  bool terminating = false;
};

// --name value pairs and positionals; `flags` take no value.
bool Parse(int argc, char** argv, Args* a) {
  for (int i = 1; i < argc; ++i) {
    std::string s = argv[i];
    if (s == "--json") {
      a->json = true;
    } else if (s == "--terminating") {
      a->terminating = true;
    } else if (s.rfind("--", 0) == 0) {
      if (i + 1 >= argc) return false;
      a->options[s.substr(2)] = argv[++i];
    } else {
      a->positional.push_back(std::move(s));
    }
  }
  return true;
}

bool Int(const Args& a, const char* name, int* out) {
  auto it = a.options.find(name);
  if (it == a.options.end()) return true;
  char* end = nullptr;
  long v = std::strtol(it->second.c_str(), &end, 10);
  if (end == it->second.c_str() || *end != '\0' || v < 0 || v > 1000) return false;
  *out = static_cast<int>(v);
  return true;
}

std::string Opt(const Args& a, const char* name, std::string fallback = "") {
  auto it = a.options.find(name);
  return it == a.options.end() ? fallback : it->second;
}

void PrintPublish(const atrium::ReleasePublishResult& r, bool as_json) {
  if (as_json) {
    json::object o;
    o["ok"] = true;
    o["root"] = r.root;
    o["targets"] = r.targets;
    o["snapshot"] = r.snapshot;
    o["timestamp"] = r.timestamp;
    o["targets_changed"] = r.targets_changed;
    std::printf("%s\n", json::serialize(o).c_str());
    return;
  }
  std::printf("published: root v%lld, targets v%lld%s, snapshot v%lld, timestamp v%lld\n",
              static_cast<long long>(r.root), static_cast<long long>(r.targets),
              r.targets_changed ? " (new)" : " (unchanged)", static_cast<long long>(r.snapshot),
              static_cast<long long>(r.timestamp));
}

int Release(int argc, char** argv) {
  if (argc < 2) return ReleaseUsage();
  const std::string sub = argv[1];
  Args a;
  if (!Parse(argc - 1, argv + 1, &a) || a.positional.empty()) return ReleaseUsage();
  const std::string repo = a.positional[0];
  atrium::ReleaseOptions options;
  options.keys_dir = Opt(a, "keys");
  if (auto now = Opt(a, "now"); !now.empty()) options.now_unix_s = std::atoll(now.c_str());
  const std::string what = "release " + sub;
  if (sub == "init") {
    atrium::ReleaseInitOptions init;
    if (!Int(a, "root-keys", &init.root.keys) || !Int(a, "root-threshold", &init.root.threshold) ||
        !Int(a, "targets-keys", &init.targets.keys) ||
        !Int(a, "targets-threshold", &init.targets.threshold) ||
        !Int(a, "snapshot-keys", &init.snapshot.keys) ||
        !Int(a, "timestamp-keys", &init.timestamp.keys)) {
      return ReleaseUsage();
    }
    if (a.options.count("root-keys") && !a.options.count("root-threshold")) {
      init.root.threshold = init.root.keys / 2 + 1;
    }
    atrium::Status s = atrium::ReleaseRepository::Init(repo, init, options);
    if (!s.ok()) return Fail(what.c_str(), s.error(), a.json);
    auto r = atrium::ReleaseRepository::Open(repo, options);
    if (!r.ok()) return Fail(what.c_str(), r.error(), a.json);
    if (a.json) {
      std::printf("{\"ok\":true,\"repo\":%s,\"keys\":%s}\n",
                  json::serialize(json::value(repo)).c_str(),
                  json::serialize(json::value((*r)->keys_dir())).c_str());
    } else {
      std::printf(
          "initialised %s: root %d of %d keys, version 1 of every role\n"
          "keys in %s (keep them off the server; the app pins %s/metadata/1.root.json)\n",
          repo.c_str(), init.root.threshold, init.root.keys, (*r)->keys_dir().c_str(),
          repo.c_str());
    }
    return 0;
  }
  auto opened = atrium::ReleaseRepository::Open(repo, options);
  if (!opened.ok()) return Fail(what.c_str(), opened.error(), a.json);
  atrium::ReleaseRepository& r = **opened;
  if (sub == "add") {
    if (a.positional.size() != 2) return ReleaseUsage();
    atrium::ReleaseAddOptions add;
    add.channel = Opt(a, "channel", "stable");
    add.role = Opt(a, "role");
    add.rollout_seed = Opt(a, "seed");
    add.app_id = Opt(a, "app-id");
    add.compat = Opt(a, "compat");
    if (!Int(a, "max-deltas", &add.max_deltas)) return ReleaseUsage();
    if (auto pct = Opt(a, "rollout"); !pct.empty()) {
      char* end = nullptr;
      const double v = std::strtod(pct.c_str(), &end);
      if (end == pct.c_str() || (*end != '\0' && std::string(end) != "%") || !(v >= 0) || v > 100) {
        std::fprintf(stderr, "atrium release add: --rollout wants a percentage 0..100, got '%s'\n",
                     pct.c_str());
        return 2;
      }
      add.rollout_micro_percent = std::llround(v * 1e6);
    }
    const bool terminal = !a.json && isatty(fileno(stderr));
    add.progress = [&](const std::string& from, const std::string& entry, size_t done,
                       size_t total) {
      if (terminal) {
        std::fprintf(stderr, "\r  delta from %s: %zu/%zu %-40.40s", from.c_str(), done, total,
                     entry.c_str());
      }
    };
    // Native code names what it was built against; default: this build
    // (with --host-api H, the app's host API version; default 1).
    if (add.compat.empty()) {
      auto pkg = atrium::PackageReader::Open(a.positional[1]);
      if (pkg.ok()) {
        const std::string kind = atrium::ArtifactKindName((*pkg)->info().kind);
        if (kind == "native_bundle" || kind == "lua_patch") {
          add.compat = atrium::NativeCompatFingerprint(Opt(a, "host-api", "1"));
        }
      }
    }
    auto result = r.Add(a.positional[1], add);
    if (terminal) std::fprintf(stderr, "\r%80s\r", "");
    if (!result.ok()) return Fail(what.c_str(), result.error(), a.json);
    if (a.json) {
      json::object o;
      o["ok"] = true;
      o["target"] = result->target_path;
      o["length"] = result->length;
      o["sha256"] = result->sha256;
      o["unchanged"] = result->unchanged;
      json::array d;
      for (const auto& x : result->deltas) {
        json::object e;
        e["from"] = x.from_version;
        e["path"] = x.path;
        e["length"] = x.length;
        e["kept"] = x.kept;
        d.push_back(std::move(e));
      }
      o["deltas"] = std::move(d);
      std::printf("%s\n", json::serialize(o).c_str());
    } else {
      std::printf("%s %s (%llu bytes)\n", result->unchanged ? "already staged:" : "staged",
                  result->target_path.c_str(), static_cast<unsigned long long>(result->length));
      for (const auto& x : result->deltas) {
        std::printf(
            "  delta from %s: %llu bytes, %s\n", x.from_version.c_str(),
            static_cast<unsigned long long>(x.length),
            x.kept ? ("kept as " + x.path).c_str() : "not smaller than the package: dropped");
      }
      std::printf("run `atrium release publish %s` to sign and publish\n", repo.c_str());
    }
    return 0;
  }
  if (sub == "delegate") {
    if (a.positional.size() != 2 || Opt(a, "paths").empty()) return ReleaseUsage();
    atrium::ReleaseDelegation d;
    d.name = a.positional[1];
    const std::string paths = Opt(a, "paths");
    for (size_t start = 0; start <= paths.size();) {
      const size_t comma = paths.find(',', start);
      const std::string p =
          paths.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (!p.empty()) d.paths.push_back(p);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    d.terminating = a.terminating;
    if (!Int(a, "role-keys", &d.keys.keys) || !Int(a, "role-threshold", &d.keys.threshold)) {
      return ReleaseUsage();
    }
    atrium::Status s = r.Delegate(d);
    if (!s.ok()) return Fail(what.c_str(), s.error(), a.json);
    if (a.json) {
      std::printf("{\"ok\":true}\n");
    } else {
      std::printf(
          "delegated %s to role %s (%d of %d keys in %s; staged)\n"
          "add its packages with `atrium release add %s X.atb --role %s`\n",
          paths.c_str(), d.name.c_str(), d.keys.threshold, d.keys.keys, r.keys_dir().c_str(),
          repo.c_str(), d.name.c_str());
    }
    return 0;
  }
  if (sub == "publish" || sub == "refresh") {
    auto p = sub == "publish" ? r.Publish() : r.Refresh();
    if (!p.ok()) return Fail(what.c_str(), p.error(), a.json);
    PrintPublish(*p, a.json);
    return 0;
  }
  if (sub == "rotate-key") {
    if (a.positional.size() != 2) return ReleaseUsage();
    auto p = r.RotateKey(a.positional[1]);
    if (!p.ok()) return Fail(what.c_str(), p.error(), a.json);
    if (!a.json)
      std::printf("rotated the %s key(s); root v%lld\n", a.positional[1].c_str(),
                  static_cast<long long>(p->root));
    PrintPublish(*p, a.json);
    return 0;
  }
  if (sub == "remove") {
    if (a.positional.size() != 2 || Opt(a, "reason").empty()) return ReleaseUsage();
    const std::string ref = a.positional[1];
    const size_t slash = ref.find('/'), at = ref.rfind('@');
    if (slash == std::string::npos || at == std::string::npos || at < slash) {
      std::fprintf(stderr, "atrium release remove: expected <kind>/<id>@<version>, got '%s'\n",
                   ref.c_str());
      return 2;
    }
    atrium::Status s = r.Remove(ref.substr(0, slash), ref.substr(slash + 1, at - slash - 1),
                                ref.substr(at + 1), Opt(a, "reason"));
    if (!s.ok()) return Fail(what.c_str(), s.error(), a.json);
    if (a.json) {
      std::printf("{\"ok\":true}\n");
    } else {
      std::printf(
          "withdrawn %s (staged): devices that run it will disable it\n"
          "run `atrium release publish %s` to publish\n",
          ref.c_str(), repo.c_str());
    }
    return 0;
  }
  if (sub == "status") {
    auto st = r.GetStatus();
    if (!st.ok()) return Fail(what.c_str(), st.error(), a.json);
    if (a.json) {
      json::object o;
      o["ok"] = true;
      json::object roles;
      for (const auto& role : st->roles) {
        json::object x;
        x["version"] = role.version;
        x["expires"] = role.expires_text;
        roles[role.role] = std::move(x);
      }
      o["roles"] = std::move(roles);
      json::array targets;
      for (const auto& t : st->targets) {
        json::object x;
        x["path"] = t.path;
        x["role"] = t.role;
        x["kind"] = t.kind;
        x["id"] = t.id;
        x["version"] = t.version;
        x["channel"] = t.channel;
        x["rollout_micro_percent"] = t.rollout_micro_percent;
        x["length"] = t.length;
        x["published"] = t.published;
        if (!t.withdrawn_reason.empty()) x["withdrawn"] = t.withdrawn_reason;
        targets.push_back(std::move(x));
      }
      o["targets"] = std::move(targets);
      o["unpublished_changes"] = st->unpublished_changes;
      std::printf("%s\n", json::serialize(o).c_str());
      return 0;
    }
    std::printf("repository %s (keys %s)\n", repo.c_str(), r.keys_dir().c_str());
    for (const auto& role : st->roles) {
      std::printf("  %-10s v%-5lld expires %s\n", role.role.c_str(),
                  static_cast<long long>(role.version), role.expires_text.c_str());
    }
    std::printf("targets:%s\n", st->unpublished_changes ? " (unpublished changes staged)" : "");
    for (const auto& t : st->targets) {
      if (t.kind == "delta") continue;
      std::string line = "  " + t.path + (t.role == "targets" ? "" : "  [role " + t.role + "]") +
                         "  " + t.channel + " " +
                         std::to_string(t.rollout_micro_percent / 1'000'000) + "%";
      if (!t.delta_from.empty()) {
        line += "  deltas from";
        for (const auto& f : t.delta_from) line += " " + f;
      }
      if (!t.withdrawn_reason.empty()) line += "  WITHDRAWN: " + t.withdrawn_reason;
      if (!t.published) line += "  (staged)";
      std::printf("%s\n", line.c_str());
    }
    return 0;
  }
  return ReleaseUsage();
}

}  // namespace

int ReleaseMain(int argc, char** argv) { return Release(argc, argv); }
