// com.wallet.bill: lazy micro-app that pays a bill from the account.
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "atrium/bundle.h"
#include "wallet/services.h"
#include "wallet/startup_work.h"

namespace {

class BillPage final : public atrium::MicroApp {
 public:
  explicit BillPage(atrium::BundleContext* ctx) : ctx_(ctx) {}
  atrium::Status Open(const atrium::LaunchRequest& request) override {
    auto account = ctx_->GetService<wallet::AccountService>();
    if (!account) return atrium::MakeError(atrium::ErrorCode::kNotFound, "no account service");
    int64_t cents = 4'250;
    for (const auto& [k, v] : request.params) {
      if (k == "cents") cents = std::strtoll(v.c_str(), nullptr, 10);
    }
    std::printf("  [bill] paying electricity %s\n", wallet::FormatCents(cents).c_str());
    return account->Debit(cents, "electricity");
  }

 private:
  atrium::BundleContext* const ctx_;
};

class BillBundle final : public atrium::BundleActivator {
 public:
  atrium::Status Start(atrium::BundleContext& ctx) override {
    // Startup tasks declared in bundle.json.
    atrium::Status work = wallet::RegisterStartupWork(
        ctx, {{"register_routes", wallet::Cpu(6)},
              {"load_billers", [&ctx] { return wallet::TouchStore(ctx, "billers", 5); }},
              {"warm_cache", [&ctx] { return wallet::TouchStore(ctx, "cache", 7); }},
              {"sync_due",
               [] {
                 wallet::AwaitNetwork(12);
                 return atrium::Status::Ok();
               }},
              {"index_history", wallet::Cpu(60)},
              {"precompute_summary", wallet::Cpu(18)}});
    if (!work.ok()) return work;
    return ctx.RegisterMicroApp("BillPage", std::make_shared<BillPage>(&ctx));
  }
};

}  // namespace

ATRIUM_BUNDLE(BillBundle)
