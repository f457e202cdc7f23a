// `atrium update` and `atrium tuf-client` (declared in release_commands.h).
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "atrium/container.h"
#include "atrium/dynamic/tuf_client.h"
#include "atrium/dynamic/update.h"
#include "release_commands.h"

namespace {

namespace json = boost::json;

int UpdateUsage() {
  std::fprintf(stderr,
               "usage: atrium update <app-dir> [--repo URL] [--data-dir D] [--device-id ID]\n"
               "         [--channel C] [--root ROOT.json] [--no-delta] [--json]\n"
               "  one update cycle: refresh the TUF metadata of the release repository,\n"
               "  decide per target, download (a delta when smaller), verify and stage\n");
  return 2;
}

int TufUsage() {
  std::fprintf(stderr,
               "usage (the TUF conformance client protocol):\n"
               "  atrium tuf-client --metadata-dir D init TRUSTED_ROOT\n"
               "  atrium tuf-client --metadata-dir D --metadata-url U refresh\n"
               "  atrium tuf-client --metadata-dir D --metadata-url U --target-name P...\n"
               "      --target-base-url T --target-dir TD download\n");
  return 2;
}

std::string Human(uint64_t bytes) {
  char buf[32];
  if (bytes >= 1 << 20) {
    std::snprintf(buf, sizeof buf, "%.1f MiB", bytes / 1048576.0);
  } else if (bytes >= 1024) {
    std::snprintf(buf, sizeof buf, "%.1f KiB", bytes / 1024.0);
  } else {
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  }
  return buf;
}

}  // namespace

int UpdateMain(int argc, char** argv) {
  std::string app_dir;
  atrium::UpdateOptions options;
  std::string data_dir;
  bool as_json = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (a == "--json") {
      as_json = true;
    } else if (a == "--no-delta") {
      options.allow_deltas = false;
    } else if (!a.empty() && a[0] != '-' && app_dir.empty()) {
      app_dir = a;
    } else if ((v = next()) == nullptr) {
      return UpdateUsage();
    } else if (a == "--repo") {
      options.repo_url = v;
    } else if (a == "--data-dir") {
      data_dir = v;
    } else if (a == "--device-id") {
      options.device_id = v;
    } else if (a == "--channel") {
      options.channel = v;
    } else if (a == "--root") {
      options.trusted_root = v;
    } else if (a == "--now") {
      options.now_unix_s = std::atoll(v);
    } else {
      return UpdateUsage();
    }
  }
  if (app_dir.empty()) return UpdateUsage();
  atrium::ContainerOptions co{app_dir, data_dir, false};
  co.inspect = true;  // an update cycle is not a launch: nothing is promoted
  auto c = atrium::Container::Open(std::move(co));
  if (!c.ok()) {
    std::fprintf(stderr, "atrium update: cannot open app: %s\n", c.error().ToString().c_str());
    return 1;
  }
  const bool terminal = !as_json && isatty(fileno(stderr));
  if (terminal) {
    options.progress = [](const std::string& path, uint64_t done, uint64_t total) {
      std::fprintf(stderr, "\r  %-48.48s %10s / %-10s", path.c_str(), Human(done).c_str(),
                   Human(total).c_str());
    };
  }
  auto report = atrium::RunUpdateCycle(**c, options);
  if (terminal) std::fprintf(stderr, "\r%80s\r", "");
  if (!report.ok()) {
    if (as_json) {
      json::object o;
      o["ok"] = false;
      o["error"] = report.error().ToString();
      std::printf("%s\n", json::serialize(o).c_str());
    } else {
      std::fprintf(stderr, "atrium update: %s\n", report.error().ToString().c_str());
    }
    return 1;
  }
  size_t failed = 0;
  for (const auto& t : report->targets) failed += t.action == atrium::UpdateAction::kFailed;
  if (as_json) {
    json::object o;
    o["ok"] = failed == 0;
    o["repo"] = report->repo_url;
    o["device_id"] = report->device_id;
    o["channel"] = report->channel;
    json::object trusted;
    trusted["root"] = report->trusted.root;
    trusted["timestamp"] = report->trusted.timestamp;
    trusted["snapshot"] = report->trusted.snapshot;
    trusted["targets"] = report->trusted.targets;
    o["trusted"] = std::move(trusted);
    o["bytes_received"] = report->bytes_received;
    o["requests"] = report->requests;
    json::array targets;
    for (const auto& t : report->targets) {
      json::object x;
      x["path"] = t.path;
      x["kind"] = t.kind;
      x["id"] = t.id;
      x["version"] = t.version;
      x["action"] = atrium::UpdateActionName(t.action);
      x["reason"] = t.reason;
      x["via_delta"] = t.via_delta;
      x["bytes"] = t.bytes;
      targets.push_back(std::move(x));
    }
    o["targets"] = std::move(targets);
    std::printf("%s\n", json::serialize(o).c_str());
  } else {
    std::printf("update of %s from %s (channel %s, device %s)\n", (*c)->app().id.c_str(),
                report->repo_url.c_str(), report->channel.c_str(), report->device_id.c_str());
    std::printf("trusted: root v%lld, timestamp v%lld, snapshot v%lld, targets v%lld\n",
                static_cast<long long>(report->trusted.root),
                static_cast<long long>(report->trusted.timestamp),
                static_cast<long long>(report->trusted.snapshot),
                static_cast<long long>(report->trusted.targets));
    for (const auto& t : report->targets) {
      std::printf("  %-9s %s: %s%s\n", atrium::UpdateActionName(t.action), t.path.c_str(),
                  t.reason.c_str(),
                  t.bytes ? (" (" + Human(t.bytes) + " downloaded)").c_str() : "");
    }
    std::printf("%s over the wire in %llu request(s)\n", Human(report->bytes_received).c_str(),
                static_cast<unsigned long long>(report->requests));
  }
  return failed == 0 ? 0 : 1;
}

int TufClientMain(int argc, char** argv) {
  std::string metadata_dir, metadata_url, target_base_url, target_dir, command, root;
  std::vector<std::string> targets;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (a == "init" || a == "refresh" || a == "download") {
      command = a;
      if (a == "init") {
        if ((v = next()) == nullptr) return TufUsage();
        root = v;
      }
    } else if ((v = next()) == nullptr) {
      return TufUsage();
    } else if (a == "--metadata-dir") {
      metadata_dir = v;
    } else if (a == "--metadata-url") {
      metadata_url = v;
    } else if (a == "--target-name") {
      targets.push_back(v);
    } else if (a == "--target-base-url") {
      target_base_url = v;
    } else if (a == "--target-dir") {
      target_dir = v;
    } else {
      return TufUsage();
    }
  }
  if (metadata_dir.empty() || command.empty()) return TufUsage();
  auto fail = [](const atrium::Error& e) {
    std::fprintf(stderr, "atrium tuf-client: %s\n", e.ToString().c_str());
    return 1;
  };
  if (command == "init") {
    atrium::Status s = atrium::TufClient::Init(metadata_dir, root);
    return s.ok() ? 0 : fail(s.error());
  }
  if (metadata_url.empty()) return TufUsage();
  atrium::TufClientOptions o;
  o.metadata_dir = metadata_dir;
  o.metadata_url = metadata_url;
  o.target_url = target_base_url;
  auto client = atrium::TufClient::Open(o);
  if (!client.ok()) return fail(client.error());
  atrium::Status s = (*client)->Refresh();
  if (!s.ok()) return fail(s.error());
  if (command == "refresh") return 0;
  if (target_base_url.empty() || target_dir.empty() || targets.empty()) return TufUsage();
  for (const std::string& path : targets) {
    auto t = (*client)->FindTarget(path);
    if (!t.ok()) return fail(t.error());
    auto got = (*client)->Download(*t, target_dir);
    if (!got.ok()) return fail(got.error());
  }
  return 0;
}
