// com.wallet.transfer: a lazy bundle with a service and a micro-app; it
// needs the account and risk bundles.
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "atrium/bundle.h"
#include "wallet/services.h"

namespace {

class Transfer final : public wallet::TransferService {
 public:
  Transfer(std::shared_ptr<wallet::AccountService> account,
           std::shared_ptr<wallet::RiskService> risk)
      : account_(std::move(account)), risk_(std::move(risk)) {}
  atrium::Status Send(int64_t cents, std::string_view payee) override {
    int score = risk_->Score(cents, payee);
    if (score >= 80) {
      return atrium::MakeError(atrium::ErrorCode::kInvalidArgument,
                               "transfer blocked by risk score " + std::to_string(score));
    }
    return account_->Debit(cents, payee);
  }

 private:
  std::shared_ptr<wallet::AccountService> account_;
  std::shared_ptr<wallet::RiskService> risk_;
};

class TransferPage final : public atrium::MicroApp {
 public:
  explicit TransferPage(std::shared_ptr<Transfer> transfer) : transfer_(std::move(transfer)) {}
  atrium::Status Open(const atrium::LaunchRequest& request) override {
    int64_t cents = 10'000;
    std::string payee = "Grace Hopper";
    for (const auto& [k, v] : request.params) {
      if (k == "cents") cents = std::strtoll(v.c_str(), nullptr, 10);
      if (k == "to") payee = v;
    }
    std::printf("  [transfer] sending %s to %s\n", wallet::FormatCents(cents).c_str(),
                payee.c_str());
    return transfer_->Send(cents, payee);
  }

 private:
  std::shared_ptr<Transfer> transfer_;
};

class TransferBundle final : public atrium::BundleActivator {
 public:
  atrium::Status Start(atrium::BundleContext& ctx) override {
    auto account = ctx.GetService<wallet::AccountService>();
    auto risk = ctx.GetService<wallet::RiskService>();
    if (!account || !risk) {
      return atrium::MakeError(atrium::ErrorCode::kNotFound, "account or risk service missing");
    }
    auto transfer = std::make_shared<Transfer>(std::move(account), std::move(risk));
    auto r = ctx.RegisterService<wallet::TransferService>(transfer);
    if (!r.ok()) return r.error();
    return ctx.RegisterMicroApp("TransferPage", std::make_shared<TransferPage>(transfer));
  }
};

}  // namespace

ATRIUM_BUNDLE(TransferBundle)
