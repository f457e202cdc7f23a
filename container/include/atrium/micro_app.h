// Micro-apps and the router that opens them.
//
// A micro-app is a screen-level unit a user opens ("home", "bill"),
// declared in a bundle manifest's `micro_apps` with an id, a type and an
// entry. The router maps `Launch(appId, params)` and `atrium://app/<appId>?k=v`
// URLs to the declaring bundle, loads that bundle if needed, and hands the
// request to the launcher registered for the micro-app's type. Launchers are
// a registry keyed by type name (duplicates rejected), so a layer adds a type
// (h5, hcf, ...) without touching the router.
//
// The built-in "native" launcher calls the MicroApp handler the bundle
// registered for the declared entry with BundleContext::RegisterMicroApp.
//
// Micro-apps a dynamic layer declares (an H5 app is declared by its
// package, with no bundle) come from micro-app sources the layer adds: an
// id no installed bundle declares is looked up in each source, in the order
// added; bundles win over sources. Such a micro-app has no bundle to load;
// filters and its type's launcher apply as to any other.
//
// Concurrency: MicroAppRouter methods are thread-safe. Launch runs the
// launcher on the calling thread.
#ifndef ATRIUM_MICRO_APP_H_
#define ATRIUM_MICRO_APP_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "atrium/result.h"

namespace atrium {

using LaunchParams = std::vector<std::pair<std::string, std::string>>;

struct LaunchRequest {
  std::string app_id;
  LaunchParams params;
  std::string bundle;      // declaring bundle
  std::string bundle_dir;  // its directory (resources live here)
  std::string type;        // micro-app type
  std::string entry;       // entry as declared
  // The page inside the micro-app a URL names ("bills/2026.html" of
  // atrium://app/help/bills/2026.html); "" for the micro-app itself.
  std::string path;
};

// A micro-app a source declares.
struct DeclaredMicroApp {
  std::string app_id;
  std::string type;   // "h5"
  std::string entry;  // as its declaration says ("index.html")
  std::string from;   // where it is declared, for people ("h5 package help 1.2.0")
};

// Declares micro-apps that no bundle manifest names.
class MicroAppSource {
 public:
  virtual ~MicroAppSource() = default;
  virtual std::optional<DeclaredMicroApp> Find(std::string_view app_id) = 0;
  virtual std::vector<DeclaredMicroApp> List() = 0;
};

// A native micro-app's handler, registered by its bundle.
class MicroApp {
 public:
  // Service interface id under which handlers are registered (property
  // "entry" = declared entry).
  static constexpr std::string_view kInterfaceId = "atrium.MicroApp";
  virtual ~MicroApp() = default;
  virtual Status Open(const LaunchRequest& request) = 0;
};

// Decides whether a micro-app may open (a kill switch, a permission): Ok to
// let it, an error (returned to the caller of Launch) to refuse.
using LaunchFilter = std::function<Status(const LaunchRequest& request)>;

// Opens micro-apps of one type.
class MicroAppLauncher {
 public:
  virtual ~MicroAppLauncher() = default;
  virtual Status Launch(const LaunchRequest& request) = 0;
};

class MicroAppRouter {
 public:
  virtual ~MicroAppRouter() = default;
  // Registers the launcher for `type`; kAlreadyExists if one is registered.
  virtual Status RegisterLauncher(std::string_view type,
                                  std::shared_ptr<MicroAppLauncher> launcher) = 0;
  virtual Status UnregisterLauncher(std::string_view type) = 0;
  // Opens micro-app `app_id`: kNotFound for an unknown id or a type with no
  // launcher, kUnresolved / kLoad / kActivation when its bundle cannot run.
  virtual Status Launch(std::string_view app_id, LaunchParams params = {}) = 0;
  // Opens an `atrium://app/<appId>[/path]?k=v` URL (kParse on a malformed
  // URL); the path reaches the launcher in LaunchRequest::path.
  virtual Status OpenUrl(std::string_view url) = 0;
  // Adds a source of micro-apps (see above); returns its id.
  virtual uint64_t AddMicroAppSource(std::shared_ptr<MicroAppSource> source) = 0;
  virtual void RemoveMicroAppSource(uint64_t id) = 0;
  // Every micro-app the sources declare now, in source order.
  virtual std::vector<DeclaredMicroApp> SourcedMicroApps() = 0;
  // Adds a filter every Launch consults, after the micro-app resolved and
  // before its bundle loads (a refused micro-app's bundle is not loaded),
  // in the order added; the first refusal wins. Filters run on the
  // launching thread with no router lock held. Returns the filter's id.
  virtual uint64_t AddLaunchFilter(LaunchFilter filter) = 0;
  virtual void RemoveLaunchFilter(uint64_t id) = 0;
};

}  // namespace atrium

#endif  // ATRIUM_MICRO_APP_H_
