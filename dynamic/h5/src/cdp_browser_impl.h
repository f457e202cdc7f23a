// CdpBrowser::Impl, shared by the browser's two rooms: cdp_pipe.cc (the
// child process and the pipe transport: NUL-framed JSON both ways,
// non-blocking ends polled with the caller's deadline) and cdp_browser.cc
// (starting the browser and the few DevTools commands the H5 layer needs).
//
// The transport's invariants:
//  1. inbox[inbox_begin, size) holds bytes read but not yet framed;
//     [inbox_begin, scanned) is known to hold no NUL.
//  2. While skipping, the bytes up to the next NUL belong to a message
//     over the cap and are thrown away as they arrive.
//  3. gone is set once the browser cannot answer any more (exit, pipe
//     closed, page crashed or detached); it never resets.
//  4. eof is set once the pipe from the browser has ended; it is not
//     polled again.
//
// Concurrency: one owner thread (see cdp_browser.h).
#ifndef ATRIUM_DYNAMIC_H5_CDP_BROWSER_IMPL_H_
#define ATRIUM_DYNAMIC_H5_CDP_BROWSER_IMPL_H_

#include <sys/types.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "atrium/dynamic/h5/cdp_browser.h"
#include "atrium/result.h"

namespace atrium::h5 {

struct CdpBrowser::Impl {
  using Clock = std::chrono::steady_clock;
  enum class Ready { kRead, kWrite, kTimeout };

  explicit Impl(CdpBrowserOptions o) : options(std::move(o)) {}
  ~Impl();  // cdp_pipe.cc

  // Starting and the DevTools calls (cdp_browser.cc).
  Status Start();
  Status Attach(Clock::time_point deadline);
  // The reply's result, or nullopt when the deadline passed first.
  Result<std::optional<boost::json::object>> Call(std::string_view method,
                                                  boost::json::object params,
                                                  Clock::time_point deadline);
  // Reads one message (an event is queued, a stray reply dropped); false
  // when the deadline passed first.
  Result<bool> ReadOne(Clock::time_point deadline);
  Status OnEvent(boost::json::object event);

  // The child process (cdp_pipe.cc).
  Status MakeProfile();
  Status Spawn();
  Error Gone(const std::string& what);
  std::string ExitText();
  void WaitForExit(Clock::time_point deadline);

  // Transport (cdp_pipe.cc).
  Result<Ready> Wait(Clock::time_point deadline, bool want_write);
  Status ReadAvailable();
  std::optional<std::string_view> Frame(bool* dropped);
  Result<std::optional<boost::json::object>> Next(Clock::time_point deadline);
  // false: the deadline passed before a byte was written.
  Result<bool> Send(const boost::json::object& message, Clock::time_point deadline);

  const CdpBrowserOptions options;
  std::string profile;
  bool scratch_profile = false;
  std::string stderr_path;
  pid_t pid = -1;
  int pidfd = -1;
  int to_browser = -1;    // our end of the browser's fd 3
  int from_browser = -1;  // our end of the browser's fd 4
  bool eof = false;
  std::string inbox;
  size_t inbox_begin = 0;
  size_t scanned = 0;
  bool skipping = false;
  int64_t next_id = 1;
  std::string session;
  // Of `session`, oldest first, at most kMaxQueuedEvents (cdp_browser.cc).
  std::deque<boost::json::object> events;
  std::optional<Error> gone;
};

// Helpers both rooms use.
namespace cdp_internal {

inline std::string Errno(int err) { return std::strerror(err); }

// Runs f, turning an exception (bad_alloc on a huge message) into an error.
template <typename F>
auto NoThrow(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kInternal, std::string("CdpBrowser: ") + e.what());
  } catch (...) {
    return MakeError(ErrorCode::kInternal, "CdpBrowser: unknown exception");
  }
}

}  // namespace cdp_internal
}  // namespace atrium::h5

#endif  // ATRIUM_DYNAMIC_H5_CDP_BROWSER_IMPL_H_
