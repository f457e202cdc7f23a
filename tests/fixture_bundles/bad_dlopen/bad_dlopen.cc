// References a symbol nothing defines, so dlopen(RTLD_NOW) fails.
#include "atrium/bundle.h"
extern "C" int atrium_fixture_symbol_that_does_not_exist(void);
namespace {
class Unlinkable final : public atrium::BundleActivator {
 public:
  atrium::Status Start(atrium::BundleContext&) override {
    return atrium_fixture_symbol_that_does_not_exist() ? atrium::Status::Ok()
                                                       : atrium::Status::Ok();
  }
};
}  // namespace
ATRIUM_BUNDLE(Unlinkable)
