// Eager bundle: journals its start/stop; depends on the greeter.
#include "atrium/bundle.h"
#include "fixtures.h"
namespace {
class EagerBundle final : public atrium::BundleActivator {
 public:
  atrium::Status Start(atrium::BundleContext& ctx) override {
    if (auto j = ctx.GetService<fixtures::Journal>())
      j->Add("start:" + std::string(ctx.bundle_name()));
    return atrium::Status::Ok();
  }
  void Stop(atrium::BundleContext& ctx) override {
    if (auto j = ctx.GetService<fixtures::Journal>())
      j->Add("stop:" + std::string(ctx.bundle_name()));
  }
};
}  // namespace
ATRIUM_BUNDLE(EagerBundle)
