#include "log_commands.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "atrium/container.h"

namespace {

constexpr const char* kLevels[] = {"debug", "info", "warning", "error"};

int LevelRank(std::string_view name) {
  for (int i = 0; i < 4; ++i) {
    if (name == kLevels[i]) return i;
  }
  return -1;
}

// "10m", "2h", "3d", "45s" before now, or Unix milliseconds; -1 if neither.
int64_t ParseSince(const std::string& text, int64_t now_ms) {
  if (text.empty()) return -1;
  char* end = nullptr;
  const long long n = std::strtoll(text.c_str(), &end, 10);
  if (end == text.c_str() || n < 0 || n > 1'000'000'000'000'000) return -1;
  const std::string unit(end);
  if (unit.empty()) return n;
  if (n > 100'000'000) return 0;  // a duration before the epoch: everything
  const int64_t scale = unit == "s"   ? 1000
                        : unit == "m" ? 60'000
                        : unit == "h" ? 3'600'000
                        : unit == "d" ? 86'400'000
                                      : -1;
  if (scale < 0) return -1;
  return std::max<int64_t>(0, now_ms - n * scale);  // before the epoch: everything
}

std::string Unescape(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size()) {
      const char next = text[++i];
      out.push_back(next == 't' ? '\t' : next == 'n' ? '\n' : next);
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

struct Line {
  int64_t ms = 0;
  std::string level, source, message;
};

// <unix-ms>\t<level>\t<source or ->\t<message>
bool ParseLine(const std::string& line, Line* out) {
  const size_t t1 = line.find('\t');
  const size_t t2 = t1 == std::string::npos ? t1 : line.find('\t', t1 + 1);
  const size_t t3 = t2 == std::string::npos ? t2 : line.find('\t', t2 + 1);
  if (t3 == std::string::npos || t1 == 0) return false;
  char* end = nullptr;
  out->ms = std::strtoll(line.c_str(), &end, 10);
  if (end != line.c_str() + t1) return false;
  out->level = line.substr(t1 + 1, t2 - t1 - 1);
  if (LevelRank(out->level) < 0) return false;
  const std::string source = line.substr(t2 + 1, t3 - t2 - 1);
  out->source = source == "-" ? std::string() : Unescape(source);
  out->message = Unescape(std::string_view(line).substr(t3 + 1));
  return true;
}

std::string Time(int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03d", buf, static_cast<int>(ms % 1000));
  return out;
}

}  // namespace

int LogsMain(int argc, char** argv) {
  std::string app, data_dir, bundle, since, level = "debug";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= argc) return false;
      *out = argv[++i];
      return true;
    };
    bool ok = true;
    if (a == "--data-dir") {
      ok = value(&data_dir);
    } else if (a == "--bundle") {
      ok = value(&bundle);
    } else if (a == "--since") {
      ok = value(&since);
    } else if (a == "--level") {
      ok = value(&level);
    } else if (!a.empty() && a[0] == '-') {
      ok = false;
    } else if (app.empty()) {
      app = a;
    } else {
      ok = false;
    }
    if (!ok) {
      std::fprintf(stderr, "atrium logs: bad argument %s\n", a.c_str());
      return 2;
    }
  }
  if (app.empty()) {
    std::fprintf(stderr,
                 "usage: atrium logs <app-dir> [--data-dir D] [--bundle B] "
                 "[--since 10m|2h|3d|<unix-ms>] [--level debug|info|warning|error]\n");
    return 2;
  }
  const int min_rank = LevelRank(level);
  if (min_rank < 0) {
    std::fprintf(stderr, "atrium logs: unknown level '%s' (debug, info, warning, error)\n",
                 level.c_str());
    return 2;
  }
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  const int64_t since_ms = since.empty() ? 0 : ParseSince(since, now_ms);
  if (since_ms < 0) {
    std::fprintf(stderr, "atrium logs: --since takes 45s, 10m, 2h, 3d or Unix milliseconds\n");
    return 2;
  }
  atrium::ContainerOptions options{app, data_dir, false};
  options.inspect = true;  // reading logs changes nothing
  auto c = atrium::Container::Open(std::move(options));
  if (!c.ok()) {
    std::fprintf(stderr, "atrium: cannot open app: %s\n", c.error().ToString().c_str());
    return 1;
  }
  const std::string dir = (*c)->data_dir() + "/logs/";
  size_t shown = 0, unreadable = 0;
  bool any_file = false;
  for (const char* name : {"atrium.log.1", "atrium.log"}) {  // older half first
    std::ifstream in(dir + name);
    if (!in) continue;
    any_file = true;
    std::string text;
    while (std::getline(in, text)) {
      Line line;
      if (!ParseLine(text, &line)) {
        ++unreadable;
        continue;
      }
      if (line.ms < since_ms || LevelRank(line.level) < min_rank) continue;
      if (!bundle.empty() && line.source != bundle) continue;
      std::printf("%s %-7s %s%s%s%s\n", Time(line.ms).c_str(), line.level.c_str(),
                  line.source.empty() ? "" : "[", line.source.c_str(),
                  line.source.empty() ? "" : "] ", line.message.c_str());
      ++shown;
    }
  }
  if (!any_file) {
    std::printf("no logs yet in %s (written by launches: atrium run)\n", dir.c_str());
    return 0;
  }
  if (unreadable > 0) {
    std::fprintf(stderr, "atrium logs: %zu line(s) not in the log format skipped\n", unreadable);
  }
  if (shown == 0) std::printf("no log lines match\n");
  return 0;
}
