// com.wallet.home: the eager home micro-app. It depends on the account
// bundle and shows tiles for micro-apps that stay unloaded until opened.
#include <cstdio>
#include <memory>

#include "atrium/bundle.h"
#include "wallet/services.h"

namespace {

class HomePage final : public atrium::MicroApp {
 public:
  explicit HomePage(std::shared_ptr<wallet::AccountService> account)
      : account_(std::move(account)) {}
  atrium::Status Open(const atrium::LaunchRequest& request) override {
    std::printf("  +--------------------------------------+\n");
    std::printf("  | Wallet home                          |\n");
    std::printf("  | %-22s %13s |\n", account_->Holder().c_str(),
                wallet::FormatCents(account_->BalanceCents()).c_str());
    std::printf("  | [Bills] [Transfer] [Scan] [Loyalty]  |\n");
    std::printf("  +--------------------------------------+\n");
    return atrium::Status::Ok();
  }

 private:
  std::shared_ptr<wallet::AccountService> account_;
};

class HomeBundle final : public atrium::BundleActivator {
 public:
  atrium::Status Start(atrium::BundleContext& ctx) override {
    auto account = ctx.GetService<wallet::AccountService>();
    if (!account) {
      return atrium::MakeError(atrium::ErrorCode::kNotFound, "account service unavailable");
    }
    return ctx.RegisterMicroApp("HomePage", std::make_shared<HomePage>(std::move(account)));
  }
};

}  // namespace

ATRIUM_BUNDLE(HomeBundle)
