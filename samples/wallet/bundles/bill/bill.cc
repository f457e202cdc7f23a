// com.wallet.bill: lazy micro-app that pays a bill from the account.
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "atrium/bundle.h"
#include "wallet/services.h"
#include "wallet/startup_work.h"
#ifdef WALLET_FAULT
#include "wallet/fault.h"

// The fault packages (samples/faults) export the route table builder so a
// test can find it in .dynsym and damage its code on disk.
extern "C" __attribute__((visibility("default"), noinline)) int wallet_bill_route_table(void) {
  return static_cast<int>(wallet::BurnCpu(6) & 0x7fffffff);
}
#endif

namespace {

#ifdef WALLET_FAULT
// register_routes in a fault package: crashes where the fault says so,
// else builds the route table.
atrium::Status RegisterRoutes() {
#if WALLET_FAULT == WALLET_FAULT_SEGV
  wallet::CrashNullRead();
#elif WALLET_FAULT == WALLET_FAULT_ABORT
  std::abort();
#else
  volatile int digest = wallet_bill_route_table();
  (void)digest;
  return atrium::Status::Ok();
#endif
}

// The startup tasks a fault package adds to the baseline's (its bundle.json
// declares them).
atrium::Status RegisterFaultTasks(atrium::BundleContext& ctx) {
#if WALLET_FAULT == WALLET_FAULT_HANG
  return ctx.RegisterStartupTask("block_main", []() -> atrium::Status { wallet::BlockForever(); });
#elif WALLET_FAULT == WALLET_FAULT_BGCRASH
  return ctx.RegisterStartupTask("late_crash", wallet::CrashAfter(2000));
#else
  return atrium::Status::Ok();
#endif
}
#endif

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
#ifdef WALLET_FAULT
    std::function<atrium::Status()> register_routes = RegisterRoutes;
#else
    std::function<atrium::Status()> register_routes = wallet::Cpu(6);
#endif
    // Startup tasks declared in bundle.json.
    atrium::Status work = wallet::RegisterStartupWork(
        ctx, {{"register_routes", register_routes},
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
#ifdef WALLET_FAULT
    work = RegisterFaultTasks(ctx);
    if (!work.ok()) return work;
#endif
    return ctx.RegisterMicroApp("BillPage", std::make_shared<BillPage>(&ctx));
  }
};

}  // namespace

ATRIUM_BUNDLE(BillBundle)
