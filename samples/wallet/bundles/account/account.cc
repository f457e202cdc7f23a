// com.wallet.account: the account service. Its balance survives restarts in
// the bundle's private store.
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "atrium/bundle.h"
#include "atrium/host_api.h"
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

// The host APIs the wallet offers its H5 pages (docs/host_apis.md): what a
// page may call is decided by the page's signed h5.json and app.json's
// "host_apis" grants, never here.
class GetBalance final : public atrium::HostApi {
 public:
  explicit GetBalance(std::shared_ptr<Account> account) : account_(std::move(account)) {}
  atrium::Result<std::string> Call(const atrium::HostApiCall&) override {
    return "{\"holder\": \"" + account_->Holder() + "\", \"balance\": \"" +
           wallet::FormatCents(account_->BalanceCents()) + "\", \"currency\": \"EUR\"}";
  }

 private:
  std::shared_ptr<Account> account_;
};

// The sample's recent bills: fixed data, so the page shows a list.
class RecentBills final : public atrium::HostApi {
 public:
  atrium::Result<std::string> Call(const atrium::HostApiCall&) override {
    return std::string(R"([{"payee": "City Power", "amount": "42.10", "due": "2026-12-15"},)"
                       R"( {"payee": "Fibre Net", "amount": "29.99", "due": "2026-12-20"},)"
                       R"( {"payee": "Water Works", "amount": "18.75", "due": "2027-01-04"}])");
  }
};

// A transfer: a page reaches it only if its manifest asks and app.json
// grants it (the sample's help centre does neither).
class Transfer final : public atrium::HostApi {
 public:
  explicit Transfer(std::shared_ptr<Account> account) : account_(std::move(account)) {}
  atrium::Result<std::string> Call(const atrium::HostApiCall&) override {
    if (atrium::Status s = account_->Debit(100, "transfer from a page"); !s.ok()) return s.error();
    return std::string("{\"done\": true}");
  }

 private:
  std::shared_ptr<Account> account_;
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
    auto account = std::make_shared<Account>(*store);
    auto r = ctx.RegisterService<wallet::AccountService>(account);
    if (!r.ok()) return r.error();
    const std::pair<const char*, std::shared_ptr<atrium::HostApi>> apis[] = {
        {"wallet.getBalance", std::make_shared<GetBalance>(account)},
        {"wallet.recentBills", std::make_shared<RecentBills>()},
        {"wallet.transfer", std::make_shared<Transfer>(account)}};
    for (const auto& [name, api] : apis) {
      auto registered = ctx.services().Register<atrium::HostApi>(api, {{"name", name}});
      if (!registered.ok()) return registered.error();
    }
    return atrium::Status::Ok();
  }
};

}  // namespace

ATRIUM_BUNDLE(AccountBundle)
