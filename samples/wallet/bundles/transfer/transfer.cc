// com.wallet.transfer: a lazy bundle with a service and a micro-app; it
// needs the account and risk bundles.
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "atrium/bundle.h"
#include "atrium/patch_point.h"
#include "wallet/services.h"
#include "wallet/startup_work.h"

namespace {

// The transfer fee: meant to be 0.5% (at least 0.10, at most 5.00), but this
// release ships with a bug (5%). Declared as a patch point, so a signed
// hotpatch can fix it without an app release (samples/wallet/patches/fix-fee).
int64_t ComputeFeeImpl(int64_t cents, std::string currency) {
  return cents * 5 / 100;  // BUG: 5%, should be 0.5% with a floor and a cap
}
using FeePoint = atrium::hotpatch::PatchPoint<&ComputeFeeImpl>;

class Transfer final : public wallet::TransferService {
 public:
  Transfer(std::shared_ptr<wallet::AccountService> account,
           std::shared_ptr<wallet::RiskService> risk,
           std::shared_ptr<atrium::hotpatch::PatchPointRegistry> patches)
      : account_(std::move(account)),
        risk_(std::move(risk)),
        patches_(std::move(patches)),
        fee_(patches_.get(), "transfer.fee.compute") {}
  atrium::Status Send(int64_t cents, std::string_view payee) override {
    int score = risk_->Score(cents, payee);
    if (score >= 80) {
      return atrium::MakeError(atrium::ErrorCode::kInvalidArgument,
                               "transfer blocked by risk score " + std::to_string(score));
    }
    int64_t fee = fee_(cents, "EUR");
    std::printf("  [transfer] fee %s\n", wallet::FormatCents(fee).c_str());
    return account_->Debit(cents + fee, payee);
  }

 private:
  std::shared_ptr<wallet::AccountService> account_;
  std::shared_ptr<wallet::RiskService> risk_;
  std::shared_ptr<atrium::hotpatch::PatchPointRegistry> patches_;  // may be null
  FeePoint fee_;
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
    // Startup tasks declared in bundle.json.
    atrium::Status work = wallet::RegisterStartupWork(
        ctx, {{"register_routes", wallet::Cpu(6)},
              {"warm_limits", wallet::Cpu(15)},
              {"load_contacts", [&ctx] { return wallet::TouchStore(ctx, "contacts", 8); }},
              {"compute_fee_table", wallet::Cpu(21)}});
    if (!work.ok()) return work;
    auto account = ctx.GetService<wallet::AccountService>();
    auto risk = ctx.GetService<wallet::RiskService>();
    if (!account || !risk) {
      return atrium::MakeError(atrium::ErrorCode::kNotFound, "account or risk service missing");
    }
    // Without a hotpatch runtime in the host the point simply runs the original.
    auto patches = ctx.GetService<atrium::hotpatch::PatchPointRegistry>();
    ctx.Log(atrium::LogLevel::kInfo, patches != nullptr
                                         ? "fee point transfer.fee.compute open to hotpatches"
                                         : "no hotpatch runtime: the shipped fee applies");
    auto transfer =
        std::make_shared<Transfer>(std::move(account), std::move(risk), std::move(patches));
    auto r = ctx.RegisterService<wallet::TransferService>(transfer);
    if (!r.ok()) return r.error();
    return ctx.RegisterMicroApp("TransferPage", std::make_shared<TransferPage>(transfer));
  }
};

}  // namespace

ATRIUM_BUNDLE(TransferBundle)
