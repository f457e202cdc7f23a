// Writing a bundle in C++: implement a BundleActivator and name it once with
// ATRIUM_BUNDLE. Header-only: a bundle does not link the Atrium runtime.
//
//   class WalletHome : public atrium::BundleActivator {
//    public:
//     atrium::Status Start(atrium::BundleContext& ctx) override {
//       account_ = ctx.GetService<wallet::AccountService>();   // may load a lazy bundle
//       return ctx.RegisterMicroApp("HomePage", std::make_shared<HomePage>(account_));
//     }
//     void Stop(atrium::BundleContext& ctx) override { account_.reset(); }
//   };
//   ATRIUM_BUNDLE(WalletHome)
//
// What happens when Start fails or throws: the exception is caught at the
// C boundary, the bundle is marked failed with the reason ("activator
// threw: <what()>"), every service it registered is unregistered, Stop is
// not called, the activator object is destroyed and the library released.
// The container and the other bundles go on.
//
// Stop must leave no thread, timer or callback of the bundle running. Work
// goes through executors (BundleContext::executor), never raw threads; the
// container drops the bundle's pending tasks when it stops.
//
// Concurrency: Start and Stop of one bundle are never called concurrently;
// BundleContext methods are thread-safe and may be called from any thread
// between Start and the return of Stop.
#ifndef ATRIUM_BUNDLE_H_
#define ATRIUM_BUNDLE_H_

#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "atrium/bundle_abi.h"
#include "atrium/executor.h"
#include "atrium/log_level.h"
#include "atrium/micro_app.h"
#include "atrium/private_store.h"
#include "atrium/result.h"
#include "atrium/service_registry.h"

namespace atrium {

// What the container gives a bundle. Registrations made through services()
// belong to this bundle and end when it stops.
class BundleContext {
 public:
  virtual std::string_view bundle_name() const = 0;
  virtual std::string_view bundle_version() const = 0;
  virtual std::string_view bundle_dir() const = 0;
  virtual ServiceRegistry& services() = 0;
  // The bundle's private key-value store (opened on first use).
  virtual Result<PrivateStore*> storage() = 0;
  virtual void Log(LogLevel level, std::string_view message) = 0;
  // Registers the code of startup task `id`, declared in this bundle's
  // manifest ("startup"). Call it from Start: the pipeline loads the bundle
  // just before its first task runs, then calls the handler on the task's
  // thread. A non-ok Status (or an exception) fails the task.
  virtual Status RegisterStartupTask(std::string_view id, std::function<Status()> run) = 0;
  // An executor for `target` ("main" or a pool name: urgent, normal, io,
  // net, background, or one the app defines). Tasks are accounted to this
  // bundle, count against its quota, and are dropped when it stops; the
  // library stays mapped until each of its tasks has been destroyed.
  virtual Result<std::shared_ptr<Executor>> executor(std::string_view target) = 0;

  // Live swap (a bundle whose manifest says "live_swap": true). The running
  // version registers an exporter from its Start; when a new version is
  // swapped in, the container calls it (on the swapping thread, while the
  // old version still serves), starts the new version, which takes the state
  // with TakeHandedOverState() in its Start, then stops the old version.
  virtual void SetStateExporter(std::function<std::string()> exporter) = 0;
  // The state the previous version exported (once; nullopt when this start
  // is not a live swap).
  virtual std::optional<std::string> TakeHandedOverState() = 0;

  template <ServiceInterface T>
  Result<uint64_t> RegisterService(std::shared_ptr<T> service, ServiceProperties props = {},
                                   int ranking = 0) {
    return services().Register<T>(std::move(service), std::move(props), ranking);
  }
  template <ServiceInterface T>
  std::shared_ptr<T> GetService() {
    return services().Get<T>();
  }
  // Registers the handler for the native micro-app whose manifest entry is `entry`.
  Status RegisterMicroApp(std::string_view entry, std::shared_ptr<MicroApp> app) {
    ServiceProperties props;
    props.emplace("entry", std::string(entry));
    auto r = services().Register<MicroApp>(std::move(app), std::move(props));
    if (!r.ok()) return r.error();
    return Status::Ok();
  }

 protected:
  ~BundleContext() = default;
};

class BundleActivator {
 public:
  virtual ~BundleActivator() = default;
  virtual Status Start(BundleContext& context) = 0;
  virtual void Stop(BundleContext& /*context*/) {}
};

namespace bundle_detail {

inline void CopyReason(std::string_view reason, char* err, size_t err_len) {
  if (err == nullptr || err_len == 0) return;
  size_t n = reason.size() < err_len - 1 ? reason.size() : err_len - 1;
  std::memcpy(err, reason.data(), n);
  err[n] = '\0';
}

template <typename A>
BundleActivator*& Instance() {
  static BundleActivator* instance = nullptr;
  return instance;
}

template <typename A>
int Start(AtriumBundleContext* c, char* err, size_t err_len) {
  auto& context = *reinterpret_cast<BundleContext*>(c);
  try {
    auto activator = std::make_unique<A>();
    Status s = activator->Start(context);
    if (!s.ok()) {
      CopyReason(s.error().ToString(), err, err_len);
      return 1;
    }
    Instance<A>() = activator.release();
    return 0;
  } catch (const std::exception& e) {
    CopyReason(std::string("activator threw: ") + e.what(), err, err_len);
  } catch (...) {
    CopyReason("activator threw a non-std exception", err, err_len);
  }
  return 2;
}

template <typename A>
int Stop(AtriumBundleContext* c, char* err, size_t err_len) {
  auto& context = *reinterpret_cast<BundleContext*>(c);
  BundleActivator* activator = Instance<A>();
  Instance<A>() = nullptr;
  if (activator == nullptr) return 0;
  int rc = 0;
  try {
    activator->Stop(context);
  } catch (const std::exception& e) {
    CopyReason(std::string("Stop threw: ") + e.what(), err, err_len);
    rc = 2;
  } catch (...) {
    CopyReason("Stop threw a non-std exception", err, err_len);
    rc = 2;
  }
  delete activator;
  return rc;
}

}  // namespace bundle_detail
}  // namespace atrium

// Defines the bundle's C entry point for activator class `Activator`.
#define ATRIUM_BUNDLE(Activator)                                                                  \
  extern "C" __attribute__((visibility("default"))) const AtriumBundleEntry* atrium_bundle_entry( \
      void) {                                                                                     \
    static const AtriumBundleEntry entry = {ATRIUM_BUNDLE_ABI_VERSION,                            \
                                            sizeof(AtriumBundleEntry),                            \
                                            ATRIUM_CXX_ABI_TAG,                                   \
                                            #Activator,                                           \
                                            &::atrium::bundle_detail::Start<Activator>,           \
                                            &::atrium::bundle_detail::Stop<Activator>};           \
    return &entry;                                                                                \
  }

#endif  // ATRIUM_BUNDLE_H_
