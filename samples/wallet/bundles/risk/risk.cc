// com.wallet.risk: a lazy service bundle with no micro-app.
#include <memory>

#include "atrium/bundle.h"
#include "wallet/services.h"

namespace {

class Risk final : public wallet::RiskService {
 public:
  int Score(int64_t cents, std::string_view payee) const override {
    int score = cents > 500'000 ? 80 : cents > 100'000 ? 40 : 5;
    if (payee.empty()) score = 100;
    return score;
  }
};

class RiskBundle final : public atrium::BundleActivator {
 public:
  atrium::Status Start(atrium::BundleContext& ctx) override {
    auto r = ctx.RegisterService<wallet::RiskService>(std::make_shared<Risk>());
    if (!r.ok()) return r.error();
    return atrium::Status::Ok();
  }
};

}  // namespace

ATRIUM_BUNDLE(RiskBundle)
