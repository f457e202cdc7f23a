// com.wallet.scan: a lazy micro-app with no dependencies.
#include <cstdio>
#include <memory>

#include "atrium/bundle.h"

namespace {

class ScanPage final : public atrium::MicroApp {
 public:
  atrium::Status Open(const atrium::LaunchRequest& request) override {
    std::string code = "atrium://app/transfer?to=Grace+Hopper&cents=2500";
    for (const auto& [k, v] : request.params) {
      if (k == "code") code = v;
    }
    std::printf("  [scan] decoded %s\n", code.c_str());
    return atrium::Status::Ok();
  }
};

class ScanBundle final : public atrium::BundleActivator {
 public:
  atrium::Status Start(atrium::BundleContext& ctx) override {
    return ctx.RegisterMicroApp("ScanPage", std::make_shared<ScanPage>());
  }
};

}  // namespace

ATRIUM_BUNDLE(ScanBundle)
