// com.wallet.risk: a lazy service bundle with no micro-app.
#include <memory>

#include "atrium/bundle.h"
#include "wallet/services.h"
#include "wallet/startup_work.h"

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
    // Startup tasks declared in bundle.json.
    atrium::Status work = wallet::RegisterStartupWork(ctx, {{"load_rules", wallet::Cpu(27)},
                                                            {"check_root", wallet::Cpu(9)},
                                                            {"device_fingerprint", wallet::Cpu(18)},
                                                            {"warm_model", wallet::Cpu(42)},
                                                            {"upload_signals", [] {
                                                               wallet::AwaitNetwork(5);
                                                               return atrium::Status::Ok();
                                                             }}});
    if (!work.ok()) return work;
    auto r = ctx.RegisterService<wallet::RiskService>(std::make_shared<Risk>());
    if (!r.ok()) return r.error();
    return atrium::Status::Ok();
  }
};

}  // namespace

ATRIUM_BUNDLE(RiskBundle)
