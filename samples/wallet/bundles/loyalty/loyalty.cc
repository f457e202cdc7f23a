// com.wallet.loyalty: never loads in the sample (its requirement is not
// installed); built so the isolation is real, not a missing file.
#include <memory>

#include "atrium/bundle.h"

namespace {

class LoyaltyBundle final : public atrium::BundleActivator {
 public:
  atrium::Status Start(atrium::BundleContext& ctx) override { return atrium::Status::Ok(); }
};

}  // namespace

ATRIUM_BUNDLE(LoyaltyBundle)
