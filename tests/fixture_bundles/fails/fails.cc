// Activator whose Start returns an error.
#include "atrium/bundle.h"
namespace {
class FailingBundle final : public atrium::BundleActivator {
 public:
  atrium::Status Start(atrium::BundleContext&) override {
    return atrium::MakeError(atrium::ErrorCode::kIo, "config file missing");
  }
};
}  // namespace
ATRIUM_BUNDLE(FailingBundle)
