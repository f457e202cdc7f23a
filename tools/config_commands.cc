#include "config_commands.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "atrium/container.h"
#include "atrium/dynamic/config.h"
#include "atrium/dynamic/config_eval.h"

namespace {

int Usage() {
  std::fprintf(stderr,
               "usage:\n"
               "  atrium config show <app-dir> [--data-dir D] [--source]\n"
               "      every key with a value (and, with --source, where it comes from)\n"
               "  atrium config eval <config.json> [--app-id ID] [--app-version V]\n"
               "      [--device-id X] [--os OS] [--locale L] [--country CC] [--model M]\n"
               "      [--memory-mb N] [--cores N] [--signal name=value]... [--now UNIX_MS]\n"
               "      what that device gets, condition by condition\n"
               "  atrium config validate <config.json>\n");
  return 2;
}

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

int Show(int argc, char** argv) {
  std::string app_dir, data_dir;
  bool source = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--data-dir" && i + 1 < argc) {
      data_dir = argv[++i];
    } else if (a == "--source") {
      source = true;
    } else if (app_dir.empty() && a[0] != '-') {
      app_dir = a;
    } else {
      return Usage();
    }
  }
  if (app_dir.empty()) return Usage();
  atrium::ContainerOptions options{app_dir, data_dir, false};
  options.inspect = true;  // to look: staged updates stay staged
  auto c = atrium::Container::Open(std::move(options));
  if (!c.ok()) {
    std::fprintf(stderr, "atrium: cannot open app: %s\n", c.error().ToString().c_str());
    return 1;
  }
  auto remote = atrium::RemoteConfig::Of(**c);
  if (!remote) {
    std::fprintf(stderr, "atrium: this app has no remote config layer\n");
    return 1;
  }
  const auto entries = remote->Entries();
  const std::string version = remote->active_version();
  std::printf("remote config of %s: %s, %zu key(s)\n", (*c)->app().id.c_str(),
              version.empty() ? "no config set (defaults only)" : ("set " + version).c_str(),
              entries.size());
  for (const atrium::ConfigEntry& e : entries) {
    if (source) {
      std::printf("  %-44s %-6s %-24s %s [%s]\n", e.key.c_str(), atrium::ConfigTypeText(e.type),
                  e.value.c_str(), e.source.c_str(), e.activation.c_str());
    } else {
      std::printf("  %-44s %s\n", e.key.c_str(), e.value.c_str());
    }
  }
  return 0;
}

int Eval(int argc, char** argv, bool validate_only) {
  std::string file;
  atrium::ConfigEvalDevice device;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (!a.empty() && a[0] != '-' && file.empty()) {
      file = a;
      continue;
    }
    if (validate_only || (v = next()) == nullptr) return Usage();
    if (a == "--app-id")
      device.app_id = v;
    else if (a == "--app-version")
      device.app_version = v;
    else if (a == "--device-id")
      device.device_id = v;
    else if (a == "--os")
      device.os = v;
    else if (a == "--locale")
      device.locale = v;
    else if (a == "--country")
      device.country = v;
    else if (a == "--model")
      device.model = v;
    else if (a == "--memory-mb")
      device.memory_mb = std::atoll(v);
    else if (a == "--cores")
      device.cores = std::atoll(v);
    else if (a == "--now")
      device.now_unix_ms = std::atoll(v);
    else if (a == "--signal") {
      const std::string kv = v;
      const size_t eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) {
        std::fprintf(stderr, "atrium config eval: --signal wants name=value, got '%s'\n", v);
        return 2;
      }
      device.signals[kv.substr(0, eq)] = kv.substr(eq + 1);
    } else {
      return Usage();
    }
  }
  if (file.empty()) return Usage();
  std::string text;
  if (!ReadFile(file, &text)) {
    std::fprintf(stderr, "atrium: %s: cannot read\n", file.c_str());
    return 1;
  }
  auto report = atrium::EvaluateConfigSet(text, file, device);
  if (!report.ok()) {
    std::fprintf(stderr, "%s\n", report.error().ToString().c_str());
    return 1;
  }
  if (validate_only) {
    std::printf("%s: config set %s %s: %zu condition(s), %zu parameter(s): ok\n", file.c_str(),
                report->id.c_str(), report->version.c_str(), report->conditions.size(),
                report->parameter_count);
    return 0;
  }
  std::printf("config set %s %s for device '%s' (app %s %s)\n", report->id.c_str(),
              report->version.c_str(), device.device_id.c_str(), device.app_id.c_str(),
              device.app_version.c_str());
  std::printf("conditions:\n");
  for (const auto& c : report->conditions) {
    std::printf("  %-5s %-24s %s\n", c.holds ? "true" : "false", c.name.c_str(),
                c.expression.c_str());
  }
  std::printf("values (%zu of %zu parameters):\n", report->values.size(), report->parameter_count);
  for (const auto& v : report->values) {
    std::printf("  %-44s %-6s %-24s %s\n", v.key.c_str(), atrium::ConfigTypeText(v.type),
                v.value.c_str(), v.source.c_str());
  }
  return 0;
}

}  // namespace

int ConfigMain(int argc, char** argv) {
  if (argc < 2) return Usage();
  const std::string sub = argv[1];
  if (sub == "show") return Show(argc - 1, argv + 1);
  if (sub == "eval") return Eval(argc - 1, argv + 1, false);
  if (sub == "validate") return Eval(argc - 1, argv + 1, true);
  return Usage();
}
