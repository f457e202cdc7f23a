// The hotpatch runtime: installs signed Lua patches and runs them at the
// patch points native code declares (atrium/patch_point.h).
//
// Execution model (threads):
//  1. Each thread that calls a patched point gets its own Lua state per
//     enabled patch, created on first use and reloaded when the patch set
//     changes. No lock and no shared interpreter on any call path; the
//     unpatched path touches nothing but the point's atomic.
//  2. A point's chain of patches is an immutable object published with one
//     atomic store; a call uses the chain it loaded from start to end.
//  3. Install/enable/disable/rollback take the runtime's mutex, write the
//     durable state (SQLite, <data_dir>/hotpatch.db) first, then publish.
//
// Composition on one point (patches sorted by their manifest `order`, then
// install order):
//  - every `before` patch runs first, in order: fn(args...) may return
//    nothing (go on), "args", a1, a2... (replace the arguments) or
//    "result", r (skip the replace chain and the original);
//  - the `replace` patches nest: the last in order is called first as
//    fn(original, args...), and its `original` calls the previous replace,
//    the first one's `original` calls the native implementation;
//  - every `after` patch runs last, in order: fn(result, args...) may return
//    a new result or nothing (keep).
// Any fault in any patch (Lua error, memory/instruction/time budget, a
// result or argument of the wrong type) abandons the patched call: the
// original runs with the caller's arguments, the fault is recorded against
// that patch, and after its max_faults the patch is disabled durably
// ("failed").
//
// Concurrency: all Runtime methods are thread-safe.
#ifndef ATRIUM_HOTPATCH_H_
#define ATRIUM_HOTPATCH_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "atrium/export.h"
#include "atrium/patch_point.h"
#include "atrium/result.h"
#include "atrium/semver.h"

namespace atrium {
class ArtifactStore;
class Container;
}  // namespace atrium

namespace atrium::hotpatch {

// An owning value for host functions exposed to patches (no records).
struct HostValue {
  ValueType type = ValueType::kNil;
  int64_t i = 0;
  double d = 0;
  bool b = false;
  std::string s;
};

// A function patches may call as host.<name>(...). An Error result raises a
// Lua error in the patch with its message.
using HostFunction = std::function<Result<HostValue>(const std::vector<HostValue>& args)>;

// A patch point as a bundle declares it in its bundle.json "patch_points".
struct DeclaredPatchPoint {
  std::string bundle;
  std::string signature;  // canonical, e.g. "int(int,string)"
};

struct RuntimeOptions {
  std::string data_dir;                   // the app's data dir (state.db)
  std::vector<std::string> trusted_keys;  // Ed25519 public keys, hex
  // The app's artifact store, where patches are installed (kind lua_patch);
  // null: the runtime opens the one in data_dir (AttachTo does).
  ArtifactStore* store = nullptr;
  std::string app_id;
  Version app_version;
  // Installed version of a bundle, for a patch's bundle targets. Called with
  // the runtime's lock held: it must not call into anything that may call
  // the runtime (such as a Container).
  std::function<std::optional<Version>(std::string_view bundle)> bundle_version;
  // The declaration of a patch point by an installed bundle, or nullopt when
  // none declares it. When set, a patch whose points are not all declared,
  // with the same signatures, is refused at install and disabled at the next
  // open; null (a host without bundle manifests): points are checked only
  // against the PatchPoints registered in code. Same lock rule as
  // bundle_version.
  std::function<std::optional<DeclaredPatchPoint>(std::string_view point)> declared_point;
};

struct PatchInfo {
  std::string id;
  std::string version;
  std::string state;   // enabled | disabled | failed
  std::string reason;  // of the last change
  uint32_t faults = 0;
  std::vector<std::string> points;  // "point (mode)"
};

struct PointInfo {
  std::string id;
  std::string signature;             // "int(int,string)"
  std::vector<std::string> patches;  // active, in call order
};

class ATRIUM_EXPORT Runtime : public PatchPointRegistry {
 public:
  static Result<std::shared_ptr<Runtime>> Open(RuntimeOptions options);
  // The runtime of a container's app: the hotpatch layer opens it when the
  // container opens (the app's artifact store, data dir, app id/version,
  // release keys, and the installed bundle versions as they are then, for
  // targeting) and registers it as the PatchPointRegistry bundles look up,
  // before any bundle starts. nullptr when the layer is not in. Valid while
  // the container lives.
  static std::shared_ptr<Runtime> Of(Container& container);

  // Adds host.<name> to the allow-list patches may call.
  virtual Status ExposeFunction(std::string_view name, HostFunction fn) = 0;

  // Verifies (signature, manifest, targets, point signatures already
  // declared) and installs a signed patch package (.atb of kind lua_patch,
  // `atrium pack <patch-dir> --kind lua_patch`) into the artifact store; it
  // is enabled and takes effect at the next call of its points.
  virtual Result<PatchInfo> Install(const std::string& package_path) = 0;
  virtual Status Enable(std::string_view id) = 0;
  virtual Status Disable(std::string_view id, std::string_view reason) = 0;
  // Back to the previous installed version of `id`. Disabling the enabled
  // version (Disable, or max_faults reached) also falls back to it, like
  // every artifact; Disable disables both.
  virtual Status Rollback(std::string_view id) = 0;
  // Disables every patch durably (the launch guard's first resort).
  virtual Status DisableAll(std::string_view reason) = 0;

  virtual std::vector<PatchInfo> List() = 0;
  virtual std::vector<PointInfo> Points() = 0;
};

// "int(int,string,record:Fee)": the form patch manifests declare.
ATRIUM_EXPORT std::string SignatureString(const Signature& signature);

}  // namespace atrium::hotpatch

#endif  // ATRIUM_HOTPATCH_H_
