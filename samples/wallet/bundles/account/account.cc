// com.wallet.account: the account service. Its balance survives restarts in
// the bundle's private store.
#include <memory>
#include <mutex>

#include "atrium/bundle.h"
#include "wallet/services.h"
#include "wallet/startup_work.h"

namespace {

class Account final : public wallet::AccountService {
 public:
  explicit Account(atrium::PrivateStore* store) : store_(store) {}
  std::string Holder() const override { return "Ada Lovelace"; }
  int64_t BalanceCents() const override {
    std::lock_guard lock(mu_);
    return LoadLocked();
  }
  atrium::Status Debit(int64_t cents, std::string_view memo) override {
    std::lock_guard lock(mu_);
    int64_t balance = LoadLocked();
    if (cents <= 0 || cents > balance) {
      return atrium::MakeError(
          atrium::ErrorCode::kInvalidArgument,
          "cannot debit " + wallet::FormatCents(cents) + " from " + wallet::FormatCents(balance));
    }
    return store_->Put("balance_cents", std::to_string(balance - cents));
  }

 private:
  int64_t LoadLocked() const {
    auto v = store_->Get("balance_cents");
    if (!v.ok() || !v.value()) return 1'250'000;  // opening balance
    return std::stoll(*v.value());
  }
  mutable std::mutex mu_;
  atrium::PrivateStore* const store_;
};

class AccountBundle final : public atrium::BundleActivator {
 public:
  atrium::Status Start(atrium::BundleContext& ctx) override {
    // Startup tasks declared in bundle.json.
    atrium::Status work = wallet::RegisterStartupWork(
        ctx, {{"open_store", [&ctx] { return wallet::TouchStore(ctx, "session.open", 6); }},
              {"migrate_schema", [&ctx] { return wallet::TouchStore(ctx, "schema", 3); }},
              {"warm_session", [&ctx] { return wallet::TouchStore(ctx, "session.warm", 10); }},
              {"load_profile", wallet::Cpu(18)},
              {"refresh_balance",
               [] {
                 wallet::AwaitNetwork(15);
                 return atrium::Status::Ok();
               }},
              {"prune_sessions", [&ctx] { return wallet::TouchStore(ctx, "session.prune", 4); }}});
    if (!work.ok()) return work;
    auto store = ctx.storage();
    if (!store.ok()) return store.error();
    auto r = ctx.RegisterService<wallet::AccountService>(std::make_shared<Account>(*store));
    if (!r.ok()) return r.error();
    return atrium::Status::Ok();
  }
};

}  // namespace

ATRIUM_BUNDLE(AccountBundle)
