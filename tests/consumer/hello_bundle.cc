// The smallest useful bundle: one native micro-app, "hello". Built against
// the installed headers only (Atrium::headers); it links nothing of Atrium.
#include <cstdio>
#include <memory>

#include "atrium/bundle.h"

namespace {

class HelloPage final : public atrium::MicroApp {
 public:
  atrium::Status Open(const atrium::LaunchRequest& request) override {
    std::printf("  [hello] hello from %s\n", request.bundle.c_str());
    return atrium::Status::Ok();
  }
};

class HelloBundle final : public atrium::BundleActivator {
 public:
  atrium::Status Start(atrium::BundleContext& ctx) override {
    return ctx.RegisterMicroApp("HelloPage", std::make_shared<HelloPage>());
  }
};

}  // namespace

ATRIUM_BUNDLE(HelloBundle)
