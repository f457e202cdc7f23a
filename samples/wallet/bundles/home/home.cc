// com.wallet.home: the eager home micro-app. It depends on the account
// bundle and shows tiles for micro-apps that stay unloaded until opened.
#include <cstdio>
#include <memory>

#include "atrium/bundle.h"
#include "atrium/dynamic/config.h"
#include "atrium/patch_point.h"
#include "wallet/services.h"
#include "wallet/startup_work.h"

namespace {

// The greeting line of the home screen, patchable (e.g. for a campaign).
std::string GreetingImpl(std::string holder) { return "Welcome back, " + holder; }

class HomePage final : public atrium::MicroApp {
 public:
  HomePage(std::shared_ptr<wallet::AccountService> account,
           std::shared_ptr<atrium::hotpatch::PatchPointRegistry> patches,
           std::shared_ptr<atrium::Config> config)
      : account_(std::move(account)),
        patches_(std::move(patches)),
        config_(std::move(config)),
        greeting_(patches_.get(), "wallet.home.greeting") {}
  atrium::Status Open(const atrium::LaunchRequest& request) override {
    std::printf("  +--------------------------------------+\n");
    std::printf("  | %-36.36s |\n", greeting_(account_->Holder()).c_str());
    std::printf("  | %-22s %13s |\n", account_->Holder().c_str(),
                wallet::FormatCents(account_->BalanceCents()).c_str());
    std::printf("  | [Bills] [Transfer] [Scan] [Loyalty]  |\n");
    // The promo banner is remote config (com.wallet.home/promo.*).
    if (config_ != nullptr && config_->GetBool("promo.banner", false)) {
      std::printf("  | * %-34.34s |\n", config_->GetString("promo.text", "").c_str());
    }
    std::printf("  +--------------------------------------+\n");
    return atrium::Status::Ok();
  }

 private:
  std::shared_ptr<wallet::AccountService> account_;
  std::shared_ptr<atrium::hotpatch::PatchPointRegistry> patches_;  // may be null
  std::shared_ptr<atrium::Config> config_;                         // may be null
  atrium::hotpatch::PatchPoint<&GreetingImpl> greeting_;
};

class HomeBundle final : public atrium::BundleActivator {
 public:
  atrium::Status Start(atrium::BundleContext& ctx) override {
    // Startup tasks declared in bundle.json.
    atrium::Status work = wallet::RegisterStartupWork(
        ctx, {{"init_theme", wallet::Cpu(9)},
              {"load_strings", wallet::Cpu(12)},
              {"layout", wallet::Cpu(18)},
              {"load_tiles", wallet::Cpu(15)},
              {"bind_account", wallet::Cpu(9)},
              {"render_home", wallet::Cpu(30)},
              {"warm_fonts", wallet::Cpu(15)},
              {"prefetch_images", [&ctx] { return wallet::TouchStore(ctx, "images", 8); }},
              {"report_launch",
               [] {
                 wallet::AwaitNetwork(5);
                 return atrium::Status::Ok();
               }},
              {"warm_router", wallet::Cpu(12)}});
    if (!work.ok()) return work;
    auto account = ctx.GetService<wallet::AccountService>();
    if (!account) {
      return atrium::MakeError(atrium::ErrorCode::kNotFound, "account service unavailable");
    }
    auto patches = ctx.GetService<atrium::hotpatch::PatchPointRegistry>();
    auto config = atrium::ConfigOf(ctx);
    std::shared_ptr<atrium::Config> view = config.ok() ? *config : nullptr;
    return ctx.RegisterMicroApp(
        "HomePage", std::make_shared<HomePage>(std::move(account), std::move(patches), view));
  }
};

}  // namespace

ATRIUM_BUNDLE(HomeBundle)
