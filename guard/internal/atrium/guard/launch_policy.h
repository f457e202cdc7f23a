// Internal entry points of the launch policy: the "launch_guard" reader for an
// already-parsed app.json DOM, so the app descriptor parser can hook it in
// with pointers under "/launch_guard".
//
// Concurrency: pure functions.
#ifndef ATRIUM_GUARD_LAUNCH_POLICY_H_
#define ATRIUM_GUARD_LAUNCH_POLICY_H_

#include <boost/json/value.hpp>
#include <string_view>

#include "atrium/launch_guard.h"

namespace atrium::internal {

// Validates `value` (the "launch_guard" member) found at `pointer` in `file`.
Result<LaunchGuardConfig> ReadLaunchGuardConfig(const boost::json::value& value,
                                                std::string_view file, std::string_view pointer);

}  // namespace atrium::internal

#endif  // ATRIUM_GUARD_LAUNCH_POLICY_H_
