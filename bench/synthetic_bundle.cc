// The generic synthetic bundle: one library of which every bundle of a
// synthetic app (bench/synthetic_app.h) holds its own copy. It learns which
// bundle it is from its context, so the copies behave as distinct bundles:
// Start registers a SyntheticService under "<bundle name>.Service" and the
// native micro-app handler for entry "Main" (used by "home" and "appNNNN").
//
// Everything lives in an anonymous namespace so the library defines no
// vague-linkage (STB_GNU_UNIQUE) object of its own, which would keep it
// mapped after dlclose and defeat the load/unload benchmarks.
//
// Concurrency: as any bundle (atrium/bundle.h); the objects are immutable.
#include <cstdint>
#include <memory>
#include <string>

#include "atrium/bundle.h"
#include "synthetic_service.h"

namespace {

class NamedNumber final : public atrium::bench::SyntheticService {
 public:
  explicit NamedNumber(uint64_t number) : number_(number) {}
  uint64_t Number() const override { return number_; }

 private:
  const uint64_t number_;
};

class MainScreen final : public atrium::MicroApp {
 public:
  atrium::Status Open(const atrium::LaunchRequest& request) override {
    return atrium::Status::Ok();
  }
};

class SyntheticActivator final : public atrium::BundleActivator {
 public:
  atrium::Status Start(atrium::BundleContext& ctx) override {
    std::shared_ptr<atrium::bench::SyntheticService> service =
        std::make_shared<NamedNumber>(atrium::bench::SyntheticNumber(ctx.bundle_name()));
    auto registered = ctx.services().Register(atrium::bench::SyntheticServiceId(ctx.bundle_name()),
                                              std::move(service));
    if (!registered.ok()) return registered.error();
    return ctx.RegisterMicroApp("Main", std::make_shared<MainScreen>());
  }
};

}  // namespace

ATRIUM_BUNDLE(SyntheticActivator)
