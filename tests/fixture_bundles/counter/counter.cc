// Fixture: a live-swappable bundle. Its Counter's count survives a swap:
// the running version exports it, the next version takes it in Start.
#include <atomic>
#include <memory>
#include <string>

#include "atrium/bundle.h"
#include "fixtures.h"

namespace {

class CountingCounter final : public fixtures::Counter {
 public:
  CountingCounter(int64_t start, std::string version)
      : count_(start), version_(std::move(version)) {}
  int64_t Next() override { return ++count_; }
  std::string Version() const override { return version_; }
  int64_t current() const { return count_.load(); }

 private:
  std::atomic<int64_t> count_;
  const std::string version_;
};

class CounterBundle final : public atrium::BundleActivator {
 public:
  atrium::Status Start(atrium::BundleContext& ctx) override {
    int64_t start = 0;
    if (auto state = ctx.TakeHandedOverState(); state && !state->empty()) {
      start = std::stoll(*state);
    }
    auto counter = std::make_shared<CountingCounter>(start, std::string(ctx.bundle_version()));
    std::weak_ptr<CountingCounter> weak = counter;
    ctx.SetStateExporter([weak] {
      auto c = weak.lock();
      return c ? std::to_string(c->current()) : std::string();
    });
    auto r = ctx.RegisterService<fixtures::Counter>(counter);
    if (!r.ok()) return r.error();
    return atrium::Status::Ok();
  }
};

}  // namespace

ATRIUM_BUNDLE(CounterBundle)
