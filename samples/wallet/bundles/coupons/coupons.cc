// com.wallet.coupons: unresolved through com.wallet.loyalty.
#include "atrium/bundle.h"

namespace {

class CouponsBundle final : public atrium::BundleActivator {
 public:
  atrium::Status Start(atrium::BundleContext& ctx) override { return atrium::Status::Ok(); }
};

}  // namespace

ATRIUM_BUNDLE(CouponsBundle)
