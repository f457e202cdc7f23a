// Activator that throws from Start after registering a service.
#include <memory>
#include <stdexcept>

#include "atrium/bundle.h"
#include "fixtures.h"

namespace {
class Leaky final : public fixtures::Greeter {
 public:
  std::string Greet(std::string_view) const override { return "should never be seen"; }
};
class ThrowingBundle final : public atrium::BundleActivator {
 public:
  atrium::Status Start(atrium::BundleContext& ctx) override {
    (void)ctx.RegisterService<fixtures::Greeter>(std::make_shared<Leaky>(), {}, 100);
    throw std::runtime_error("boom in Start");
  }
};
}  // namespace
ATRIUM_BUNDLE(ThrowingBundle)
