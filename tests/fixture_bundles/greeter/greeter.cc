// Lazy service bundle: registers a Greeter.
#include <memory>

#include "atrium/bundle.h"
#include "fixtures.h"

namespace {
class HelloGreeter final : public fixtures::Greeter {
 public:
  std::string Greet(std::string_view who) const override { return "hello, " + std::string(who); }
};
class GreeterBundle final : public atrium::BundleActivator {
 public:
  atrium::Status Start(atrium::BundleContext& ctx) override {
    if (auto j = ctx.GetService<fixtures::Journal>())
      j->Add("start:" + std::string(ctx.bundle_name()));
    auto r = ctx.RegisterService<fixtures::Greeter>(std::make_shared<HelloGreeter>());
    if (!r.ok()) return r.error();
    return atrium::Status::Ok();
  }
  void Stop(atrium::BundleContext& ctx) override {
    if (auto j = ctx.GetService<fixtures::Journal>())
      j->Add("stop:" + std::string(ctx.bundle_name()));
  }
};
}  // namespace
ATRIUM_BUNDLE(GreeterBundle)
