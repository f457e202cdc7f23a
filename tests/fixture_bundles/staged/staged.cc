// Fixture: a bundle with startup tasks. Each handler appends its name (and
// whether it ran on the main loop thread) to "order" in the bundle's
// private store, where tests read it back. Environment knobs:
//   ATRIUM_TEST_FAIL_TASK=<id>        that task's handler fails (<bundle>:<id>:
//                                     only in that bundle, for copies of
//                                     this library under other names)
//   ATRIUM_TEST_UNREGISTERED=<id>     that task gets no handler
//   ATRIUM_TEST_EXIT_TASK=<id>        that task's handler calls std::exit(0)
//   ATRIUM_TEST_QUICK_EXIT_TASK=<id>  that task's handler calls std::quick_exit(0)
//   ATRIUM_TEST_SLOW_TASK=<id>:<ms>   that task's handler sleeps <ms> first
//   ATRIUM_TEST_THROW_TASK=<id>       that task's handler throws (an exception
//                                     class of this library)
//   ATRIUM_TEST_GATE_TASK=<id>:<w>:<r>  that task's handler writes 's' to
//                                     file descriptor <w> and waits for a byte
//                                     on <r> before its work; Stop writes 'x'
//                                     to <w> (a test closes the container
//                                     while the task runs, deterministically)
// Start also posts work through its executors: an io task that records
// "executor" and a delayed task far in the future (dropped at stop).
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "atrium/bundle.h"

namespace {

// The io executor's task and a startup task may append at the same time: the
// read-modify-write is serialized, or one of the two names is lost.
atrium::Status Append(atrium::BundleContext& ctx, const std::string& what) {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  auto store = ctx.storage();
  if (!store.ok()) return store.error();
  auto old = (*store)->Get("order");
  std::string v = old.ok() && old.value() ? *old.value() + "," : "";
  return (*store)->Put("order", v + what);
}

bool Is(const char* env, const char* id, std::string_view bundle = {}) {
  const char* v = std::getenv(env);
  return v != nullptr && (std::string(v) == id || std::string(v) == std::string(bundle) + ":" + id);
}

// The sleep ATRIUM_TEST_SLOW_TASK asks of task `id`, 0 when none.
int SlowMs(const std::string& id) {
  const char* v = std::getenv("ATRIUM_TEST_SLOW_TASK");
  if (v == nullptr) return 0;
  std::string spec = v;
  if (spec.rfind(id + ":", 0) != 0) return 0;
  return std::atoi(spec.c_str() + id.size() + 1);
}

// The descriptors ATRIUM_TEST_GATE_TASK names when it names task `id`
// ("" matches any task), or {-1, -1}.
std::pair<int, int> GateFds(const std::string& id) {
  const char* v = std::getenv("ATRIUM_TEST_GATE_TASK");
  if (v == nullptr) return {-1, -1};
  std::string spec = v;
  const size_t a = spec.find(':'), b = spec.find(':', a + 1);
  if (a == std::string::npos || b == std::string::npos) return {-1, -1};
  if (!id.empty() && spec.substr(0, a) != id) return {-1, -1};
  return {std::atoi(spec.c_str() + a + 1), std::atoi(spec.c_str() + b + 1)};
}

// An exception type of this library: its what() is code of the bundle.
class CacheGone : public std::exception {
 public:
  explicit CacheGone(std::string task) : message_(std::move(task) + ": the cache is gone") {}
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::string message_;
};

class Staged final : public atrium::BundleActivator {
 public:
  atrium::Status Start(atrium::BundleContext& ctx) override {
    for (const char* id : {"prepare", "paint", "settle"}) {
      if (Is("ATRIUM_TEST_UNREGISTERED", id)) continue;
      std::string name = id;
      atrium::Status s = ctx.RegisterStartupTask(id, [&ctx, name]() -> atrium::Status {
        if (auto [w, r] = GateFds(name); w >= 0) {
          char c = 's';
          if (write(w, &c, 1) != 1 || read(r, &c, 1) != 1) {
            return atrium::MakeError(atrium::ErrorCode::kIo, name + ": the test's gate broke");
          }
        }
        if (int ms = SlowMs(name); ms > 0) {
          std::this_thread::sleep_for(std::chrono::milliseconds(ms));
        }
        if (Is("ATRIUM_TEST_EXIT_TASK", name.c_str())) std::exit(0);
        if (Is("ATRIUM_TEST_THROW_TASK", name.c_str())) throw CacheGone(name);
        if (Is("ATRIUM_TEST_QUICK_EXIT_TASK", name.c_str())) std::quick_exit(0);
        if (Is("ATRIUM_TEST_FAIL_TASK", name.c_str(), ctx.bundle_name())) {
          return atrium::MakeError(atrium::ErrorCode::kIo, name + " could not open its cache");
        }
        return Append(ctx, name);
      });
      if (!s.ok()) return s;
    }
    auto io = ctx.executor("io");
    if (!io.ok()) return io.error();
    auto main = ctx.executor("main");
    if (!main.ok()) return main.error();
    // The io task records itself, then reports back on the main loop (which
    // is what wakes a host waiting there for it).
    atrium::Status s = (*io)->Post(
        [&ctx, main = *main] {
          (void)Append(ctx, "executor");
          (void)main->Post([] {});
        },
        atrium::TaskTraits{}.MayBlock());
    if (!s.ok()) return s;
    return (*io)->PostDelayed([&ctx] { (void)Append(ctx, "too-late"); }, std::chrono::minutes(10));
  }
  void Stop(atrium::BundleContext&) override {
    if (int w = GateFds("").first; w >= 0) {
      char c = 'x';
      (void)!write(w, &c, 1);
    }
  }
};

}  // namespace

ATRIUM_BUNDLE(Staged)
