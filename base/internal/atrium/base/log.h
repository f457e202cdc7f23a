// Internal logging to stderr. The threshold comes from $ATRIUM_LOG
// (debug|info|warning|error; default warning). Thread-safe: one write(2)
// per line.
#ifndef ATRIUM_BASE_LOG_H_
#define ATRIUM_BASE_LOG_H_

#include <string_view>

#include "atrium/log_level.h"

namespace atrium::internal {

bool LogEnabled(LogLevel level);
void Log(LogLevel level, std::string_view bundle, std::string_view message);

}  // namespace atrium::internal

#endif  // ATRIUM_BASE_LOG_H_
