// LogLevel: how loud a log line is (the runtime's own log and a bundle's
// BundleContext::Log). The runtime writes lines at or above $ATRIUM_LOG
// (debug|info|warning|error; default warning) to stderr.
#ifndef ATRIUM_LOG_LEVEL_H_
#define ATRIUM_LOG_LEVEL_H_

namespace atrium {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

}  // namespace atrium

#endif  // ATRIUM_LOG_LEVEL_H_
