// Launches of a test app with the launch guard on, in this process, for the
// guard's tests.
#ifndef ATRIUM_TESTS_GUARD_GUARD_TEST_UTIL_H_
#define ATRIUM_TESTS_GUARD_GUARD_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>

#include "atrium/container.h"
#include "atrium/launch_guard.h"
#include "container/test_app.h"

namespace atrium::testing {

// Adds a "launch_guard" member (JSON object text) to the app's app.json.
inline void SetLaunchGuardConfig(const TestApp& app, const std::string& object) {
  std::ifstream in(app.app_dir() + "/app.json");
  std::string json((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  in.close();
  json.insert(1, "\"launch_guard\": " + object + ", ");
  std::ofstream(app.app_dir() + "/app.json", std::ios::trunc) << json;
}

inline ContainerOptions Guarded(const TestApp& app) {
  ContainerOptions o{app.app_dir(), app.data_dir()};
  o.launch_guard = true;
  o.on_hang = [] {};  // never end the test process
  return o;
}

// One launch: open, (inspect), start, let the pipeline finish, close.
// Returns the level the guard decided.
inline int Launch(const TestApp& app, bool expect_ok, LaunchGuardReport* report = nullptr,
                  const std::function<void(Container&)>& inspect = {}) {
  auto c = Container::Open(Guarded(app));
  EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().ToString());
  if (!c.ok()) return -1;
  const LaunchGuardReport* guard = (*c)->launch_guard();
  EXPECT_NE(guard, nullptr);
  if (guard == nullptr) return -1;
  if (report != nullptr) *report = *guard;
  if (inspect) inspect(**c);
  Status s = (*c)->Start();
  EXPECT_EQ(s.ok(), expect_ok) << (s.ok() ? "ok" : s.error().ToString());
  if (s.ok()) {
    (*c)->scheduler().RunMainLoopUntil([&] { return (*c)->pipeline()->finished(); },
                                       std::chrono::seconds(60));
  }
  return static_cast<int>(guard->decision.level);
}

inline LaunchHistory History(const TestApp& app) {
  auto h = ReadLaunchHistory(app.data_dir() + "/state.db", 20);
  EXPECT_TRUE(h.ok()) << (h.ok() ? "" : h.error().ToString());
  return h.ok() ? *h : LaunchHistory{};
}
}  // namespace atrium::testing

#endif  // ATRIUM_TESTS_GUARD_GUARD_TEST_UTIL_H_
