#include "atrium/base/log.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace atrium::internal {
namespace {

LogLevel Threshold() {
  static const LogLevel level = [] {
    const char* env = std::getenv("ATRIUM_LOG");
    if (env == nullptr) return LogLevel::kWarning;
    if (std::strcmp(env, "debug") == 0) return LogLevel::kDebug;
    if (std::strcmp(env, "info") == 0) return LogLevel::kInfo;
    if (std::strcmp(env, "error") == 0) return LogLevel::kError;
    return LogLevel::kWarning;
  }();
  return level;
}

const char* Name(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "?";
}

}  // namespace

bool LogEnabled(LogLevel level) { return level >= Threshold(); }

void Log(LogLevel level, std::string_view bundle, std::string_view message) {
  if (!LogEnabled(level)) return;
  std::string line = "atrium ";
  line += Name(level);
  if (!bundle.empty()) {
    line += " [";
    line += bundle;
    line += ']';
  }
  line += ": ";
  line += message;
  line += '\n';
  (void)!::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace atrium::internal
