// Lazy bundle with a micro-app; needs the greeter.
#include <memory>

#include "atrium/bundle.h"
#include "fixtures.h"

namespace {
class ConsumerApp final : public atrium::MicroApp {
 public:
  explicit ConsumerApp(atrium::BundleContext* ctx) : ctx_(ctx) {}
  atrium::Status Open(const atrium::LaunchRequest& req) override {
    auto g = ctx_->GetService<fixtures::Greeter>();
    auto j = ctx_->GetService<fixtures::Journal>();
    std::string who = "nobody";
    for (const auto& [k, v] : req.params)
      if (k == "who") who = v;
    if (j) j->Add("open:" + req.app_id + ":" + (g ? g->Greet(who) : "no greeter"));
    return atrium::Status::Ok();
  }

 private:
  atrium::BundleContext* ctx_;
};
class ConsumerBundle final : public atrium::BundleActivator {
 public:
  atrium::Status Start(atrium::BundleContext& ctx) override {
    if (auto j = ctx.GetService<fixtures::Journal>())
      j->Add("start:" + std::string(ctx.bundle_name()));
    return ctx.RegisterMicroApp("ConsumerPage", std::make_shared<ConsumerApp>(&ctx));
  }
  void Stop(atrium::BundleContext& ctx) override {
    if (auto j = ctx.GetService<fixtures::Journal>())
      j->Add("stop:" + std::string(ctx.bundle_name()));
  }
};
}  // namespace
ATRIUM_BUNDLE(ConsumerBundle)
