// Fixture: a bundle that does what the test host's fixtures::Gate plans for
// it (at its Start, its Stop and its startup tasks "prep" and "bind"), then
// registers "<bundle name>.Service". Built under four names (gated_a,
// gated_b, gated_c which requires gated_b, gated_h) from this one source.
// Without a Gate it only registers.
#include <future>
#include <memory>
#include <string>

#include "atrium/bundle.h"
#include "fixtures.h"

namespace {

std::string Outcome(const atrium::Result<std::shared_ptr<void>>& found) {
  return found.ok() ? "ok" : "failed: " + found.error().message;
}

// Runs the steps planned for `point` (see fixtures::Gate).
void Run(atrium::BundleContext& ctx, fixtures::Gate& gate, const std::string& point) {
  const std::string self(ctx.bundle_name());
  for (const std::string& step : gate.Steps(point)) {
    const size_t colon = step.find(':');
    const std::string verb = step.substr(0, colon);
    const std::string arg = colon == std::string::npos ? "" : step.substr(colon + 1);
    if (verb == "arrive") {
      gate.Arrive(self);
    } else if (verb == "await") {
      gate.AwaitArrival(arg);
    } else if (verb == "release") {
      gate.Release(arg);
    } else if (verb == "get") {
      gate.Report(point + " get " + arg + ": " + Outcome(ctx.services().Find(arg)));
    } else if (verb == "pool-get") {
      auto io = ctx.executor("io");
      if (!io.ok()) {
        gate.Report(point + " pool-get " + arg + ": no io executor");
        continue;
      }
      auto done = std::make_shared<std::promise<std::string>>();
      std::future<std::string> result = done->get_future();
      atrium::Status posted =
          (*io)->Post([&ctx, arg, done] { done->set_value(Outcome(ctx.services().Find(arg))); },
                      atrium::TaskTraits{}.MayBlock());
      gate.Report(point + " pool-get " + arg + ": " +
                  (posted.ok() ? result.get() : "not posted: " + posted.error().message));
    } else if (verb == "main-wait") {
      auto main = ctx.executor("main");
      if (!main.ok()) continue;
      auto done = std::make_shared<std::promise<void>>();
      std::future<void> ran = done->get_future();
      if ((*main)->Post([done] { done->set_value(); }).ok()) ran.wait();
    }
  }
}

class Gated final : public atrium::BundleActivator {
 public:
  atrium::Status Start(atrium::BundleContext& ctx) override {
    gate_ = ctx.services().Get<fixtures::Gate>();
    const std::string self(ctx.bundle_name());
    if (gate_ != nullptr) {
      for (const char* id : {"prep", "bind"}) {
        // Only the ids this copy's bundle.json declares are accepted.
        (void)ctx.RegisterStartupTask(id, [this, &ctx, point = self + ":" + id] {
          Run(ctx, *gate_, point);
          return atrium::Status::Ok();
        });
      }
      Run(ctx, *gate_, self);
    }
    auto registered =
        ctx.services().Register(self + ".Service", std::make_shared<std::string>(self));
    return registered.ok() ? atrium::Status::Ok() : atrium::Status(registered.error());
  }
  void Stop(atrium::BundleContext& ctx) override {
    if (gate_ != nullptr) Run(ctx, *gate_, std::string(ctx.bundle_name()) + "#stop");
  }

 private:
  std::shared_ptr<fixtures::Gate> gate_;
};

}  // namespace

ATRIUM_BUNDLE(Gated)
