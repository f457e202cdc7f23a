// An eager bundle whose startup task reads its remote config: "mode" =
// "crash" aborts the process in the task (a config value that breaks the
// app), anything else records the value in the bundle's private store.
#include <cstdlib>
#include <string>

#include "atrium/bundle.h"
#include "atrium/dynamic/config.h"

namespace {
class ConfiguredBundle final : public atrium::BundleActivator {
 public:
  atrium::Status Start(atrium::BundleContext& ctx) override {
    auto config = atrium::ConfigOf(ctx);
    if (!config.ok()) return config.error();
    std::shared_ptr<atrium::Config> view = *config;
    return ctx.RegisterStartupTask("apply_config", [view, &ctx]() -> atrium::Status {
      const std::string mode = view->GetString("mode", "none");
      if (mode == "crash") std::abort();
      auto store = ctx.storage();
      if (!store.ok()) return store.error();
      return (*store)->Put("mode", mode);
    });
  }
};
}  // namespace
ATRIUM_BUNDLE(ConfiguredBundle)
