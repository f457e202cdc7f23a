// A bundle that listens to the registry: every "com.test.Ping" event goes to
// the host's Journal ("heard <interface>"). With ATRIUM_TEST_LISTEN_THEN_THROW
// set, Start throws right after adding the listener (its Stop never runs).
#include <cstdlib>
#include <memory>
#include <stdexcept>

#include "atrium/bundle.h"
#include "fixtures.h"

namespace {
class ListeningBundle final : public atrium::BundleActivator {
 public:
  atrium::Status Start(atrium::BundleContext& ctx) override {
    auto journal = ctx.GetService<fixtures::Journal>();
    if (!journal) return atrium::MakeError(atrium::ErrorCode::kNotFound, "no journal");
    ctx.services().AddListener("com.test.Ping", [journal](const atrium::ServiceEvent& e) {
      journal->Add("heard " + e.info.interface_id);
    });
    if (std::getenv("ATRIUM_TEST_LISTEN_THEN_THROW") != nullptr) {
      throw std::runtime_error("boom after listening");
    }
    return atrium::Status::Ok();
  }
};
}  // namespace
ATRIUM_BUNDLE(ListeningBundle)
