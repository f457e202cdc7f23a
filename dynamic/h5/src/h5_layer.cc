// The H5 layer: h5_package artifacts (StoreLayer: the launch guard lists,
// disables and rolls them back through the store's rows), the app.json "h5"
// section (the H5 apps the host knows and their fallback URLs), and, once
// attached to a container, the H5Pages service: open a page of an H5 app
// from its active package on the app's own origin, or its fallback URL.
// The loopback server starts on the first page opened from a package.
//
// Concurrency: Attach/Detach on the container's thread; H5Pages::Open is
// thread-safe (one mutex around the server's start and the store's
// activation of a staged version).
#include <boost/json.hpp>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>

#include "atrium/base/field_reader.h"
#include "atrium/base/log.h"
#include "atrium/base/result_macros.h"
#include "atrium/base/strict_json.h"
#include "atrium/container.h"
#include "atrium/container_layer.h"
#include "atrium/dynamic/h5.h"
#include "atrium/dynamic/h5/h5_manifest.h"
#include "atrium/dynamic/http/file_request.h"
#include "atrium/dynamic/store_layer.h"
#include "atrium/manifest/app_sections.h"
#include "h5_server.h"

namespace atrium::h5 {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using internal::Child;
using internal::FieldReader;
using internal::Log;
using internal::Quote;

// app.json "h5": {"apps": {"<id>": {"fallback_url": "https://..."}}}
using FallbackUrls = std::map<std::string, std::string, std::less<>>;

Result<FallbackUrls> ReadSection(const json::value& v, std::string_view file,
                                 const std::string& pointer) {
  FieldReader r(file);
  ATRIUM_ASSIGN_OR_RETURN(const json::object* o, r.AsObject(v, pointer));
  ATRIUM_RETURN_IF_ERROR(r.CheckKnownFields(*o, pointer, {"apps"}));
  FallbackUrls out;
  const json::value* apps = o->if_contains("apps");
  if (apps == nullptr) return out;
  const std::string at = Child(pointer, "apps");
  ATRIUM_ASSIGN_OR_RETURN(const json::object* list, r.AsObject(*apps, at));
  for (const auto& [key, app] : *list) {
    const std::string id(key);
    const std::string app_at = Child(at, id);
    if (!IsH5AppId(id)) {
      return r.Invalid(app_at, "invalid H5 app id " + Quote(id) +
                                   ": a lowercase host label: [a-z][a-z0-9-]*, at most 63 "
                                   "characters, not ending in '-'");
    }
    ATRIUM_ASSIGN_OR_RETURN(const json::object* fields, r.AsObject(app, app_at));
    ATRIUM_RETURN_IF_ERROR(r.CheckKnownFields(*fields, app_at, {"fallback_url"}));
    ATRIUM_ASSIGN_OR_RETURN(std::string url, r.RequiredString(*fields, app_at, "fallback_url"));
    if (std::string problem = WebUrlProblem(url); !problem.empty()) {
      return r.Invalid(Child(app_at, "fallback_url"),
                       "invalid fallback URL " + Quote(url) + ": " + problem);
    }
    out.emplace(id, std::move(url));
  }
  return out;
}

Status ValidateSection(const json::value& v, std::string_view file, std::string_view pointer) {
  auto s = ReadSection(v, file, std::string(pointer));
  return s.ok() ? Status::Ok() : Status(s.error());
}
ATRIUM_REGISTER_APP_SECTION("h5", "dynamic/h5", ValidateSection);

std::string PercentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string Query(const LaunchParams& params) {
  std::string out;
  for (const auto& [k, v] : params) {
    if (!out.empty()) out += '&';
    out += PercentEncode(k) + "=" + PercentEncode(v);
  }
  return out;
}

Result<std::string> ReadText(const std::string& path, size_t limit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return MakeError(ErrorCode::kIo, "cannot read " + path);
  std::string text;
  text.resize(limit + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > limit) return MakeError(ErrorCode::kValidation, path + " is too large");
  return text;
}

// The h5.json of an extracted package version, checked again.
Result<H5Manifest> ReadManifest(const std::string& dir) {
  const std::string path = (fs::path(dir) / kManifestName).string();
  auto text = ReadText(path, kMaxManifestBytes);
  if (!text.ok()) return text.error();
  return ParseH5Manifest(*text, path);
}

// The H5Pages service of one attached container.
class Pages final : public H5Pages {
 public:
  Pages(Container* container, ArtifactStore* store) : container_(container), store_(store) {}
  ~Pages() override { Stop(); }

  Result<H5Page> Open(std::string_view app_id, std::string_view path,
                      const LaunchParams& params) override;
  // The H5 apps this container knows: a package (the version in use, else
  // the newest staged), else app.json "h5".
  std::optional<DeclaredMicroApp> Find(std::string_view app_id);
  std::vector<DeclaredMicroApp> List();
  Result<size_t> Emit(std::string_view app_id, std::string_view event,
                      std::string_view data) override {
    if (!IsH5AppId(app_id)) {
      return MakeError(ErrorCode::kInvalidArgument, "not an H5 app id: " + Quote(app_id));
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (server_ == nullptr) {  // no page opened from a package yet: none listens
      auto checked = CheckEvent(event, data);
      if (!checked.ok()) return checked.error();
      return size_t{0};
    }
    return server_->Emit(app_id, event, data);
  }
  H5ServerStats stats() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return server_ != nullptr ? server_->stats() : H5ServerStats{};
  }
  void Stop() {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
    if (server_ != nullptr) server_->Stop();
  }

 private:
  Result<H5Page> Fallback(std::string_view app_id, std::string_view path,
                          const LaunchParams& params, std::string reason);
  const FallbackUrls& FallbacksLocked();
  Result<H5Server*> ServerLocked();
  // A package version in use: its row, checked manifest and www/ folder.
  struct Loaded {
    ArtifactRecord record;
    H5Manifest manifest;
    std::string www_real;
  };
  // Activates the staged versions of package `id` (the next open): of an
  // app (`range` null), one whose manifest is an app's and whose libraries
  // are installed in its ranges (active or staged), so a new version never
  // replaces a working one only to fall back; of a library, one that is a
  // library in `range` (an app never moves a library out from under
  // itself). A staged version left staged says why in the log.
  Status ActivateStagedLocked(std::string_view id, const VersionRange* range = nullptr);
  // The version of `id` in use; nullopt when none is; an error (its
  // message says why, for the fallback reason) when it is unusable.
  Result<std::optional<Loaded>> LoadLocked(std::string_view id);

  Container* const container_;
  ArtifactStore* const store_;
  mutable std::mutex mu_;
  std::unique_ptr<H5Server> server_;       // guarded by mu_; made by the first offline open
  std::optional<FallbackUrls> fallbacks_;  // guarded by mu_; read at the first fallback
  bool stopped_ = false;                   // guarded by mu_
};

Result<H5Server*> Pages::ServerLocked() {
  if (server_ != nullptr) return server_.get();
  auto executor = container_->executor("net", "h5");
  if (!executor.ok()) return executor.error();
  H5ServerOptions options;
  options.host_apis = &container_->host_apis();
  std::shared_ptr<Executor> pool = std::move(executor).value();
  options.run_on = [pool](std::function<void()> run) {
    // The runner serves until the server stops (the layer's detach).
    return pool->Post(std::move(run), TaskTraits{}.MayBlock()).ok();
  };
  options.post_delayed = [pool](std::function<void()> run, int64_t delay_ms) {
    return pool->PostDelayed(std::move(run), std::chrono::milliseconds(delay_ms)).ok();
  };
  auto server = H5Server::Start(std::move(options));
  if (!server.ok()) return server.error();
  server_ = std::move(*server);
  Log(LogLevel::kInfo, "", "h5: serving on 127.0.0.1:" + std::to_string(server_->port()));
  return server_.get();
}

const FallbackUrls& Pages::FallbacksLocked() {
  if (!fallbacks_) {
    const AppDescriptor& app = container_->app();
    auto it = app.sections.find("h5");
    fallbacks_.emplace();
    if (it != app.sections.end()) {
      const std::string file = (fs::path(container_->app_dir()) / "app.json").string();
      auto doc = internal::ParseStrictJson(it->second, file, {});
      auto urls = doc.ok() ? ReadSection(*doc, file, "/h5") : Result<FallbackUrls>(doc.error());
      if (urls.ok()) {
        fallbacks_ = std::move(*urls);
      } else {
        Log(LogLevel::kError, "", "h5: app.json \"h5\": " + urls.error().ToString());
      }
    }
  }
  return *fallbacks_;
}

std::optional<DeclaredMicroApp> Pages::Find(std::string_view app_id) {
  if (!IsH5AppId(app_id)) return std::nullopt;
  std::lock_guard<std::mutex> lock(mu_);
  auto rows = store_->List(ArtifactKind::kH5Package);
  if (rows.ok()) {
    const ArtifactRecord* best = nullptr;
    for (const ArtifactRecord& r : *rows) {
      if (r.id != app_id) continue;
      const bool in_use = r.state == ArtifactState::kActive || r.state == ArtifactState::kBaseline;
      const bool best_in_use = best != nullptr && (best->state == ArtifactState::kActive ||
                                                   best->state == ArtifactState::kBaseline);
      if (in_use ? !best_in_use || r.state == ArtifactState::kActive
                 : r.state == ArtifactState::kStaged && best == nullptr) {
        best = &r;
      }
    }
    if (best != nullptr) {
      // A library has no pages: not a micro-app.
      auto manifest = ReadManifest(best->dir);
      if (manifest.ok() && manifest->IsLibrary()) return std::nullopt;
      return DeclaredMicroApp{std::string(app_id), "h5", "",
                              "h5 package " + best->id + " " + best->version + " (" +
                                  ArtifactStateName(best->state) + ")"};
    }
  }
  if (FallbacksLocked().contains(app_id)) {
    return DeclaredMicroApp{std::string(app_id), "h5", "",
                            "app.json \"h5\" (fallback URL only: no package yet)"};
  }
  return std::nullopt;
}

std::vector<DeclaredMicroApp> Pages::List() {
  std::set<std::string, std::less<>> ids;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto rows = store_->List(ArtifactKind::kH5Package); rows.ok()) {
      for (const ArtifactRecord& r : *rows) ids.insert(r.id);
    }
    for (const auto& [id, url] : FallbacksLocked()) ids.insert(id);
  }
  std::vector<DeclaredMicroApp> out;
  for (const std::string& id : ids) {
    if (auto app = Find(id)) out.push_back(std::move(*app));
  }
  return out;
}

Result<H5Page> Pages::Fallback(std::string_view app_id, std::string_view path,
                               const LaunchParams& params, std::string reason) {
  const FallbackUrls& fallbacks = FallbacksLocked();
  auto it = fallbacks.find(app_id);
  if (it == fallbacks.end()) {
    return MakeError(ErrorCode::kNotFound, "H5 app " + Quote(app_id) + " cannot open: " + reason +
                                               ", and app.json \"h5\" names no fallback_url");
  }
  H5Page page;
  page.app_id = std::string(app_id);
  page.url = it->second;
  if (!path.empty()) {
    if (!page.url.ends_with('/')) page.url += '/';
    page.url += path;
  }
  if (!params.empty())
    page.url += (page.url.find('?') == std::string::npos ? "?" : "&") + Query(params);
  page.display_url = page.url;
  page.fallback_reason = std::move(reason);
  Log(LogLevel::kWarning, "",
      "h5: " + page.app_id + " opens its fallback URL: " + page.fallback_reason);
  return page;
}

Result<H5Page> Pages::Open(std::string_view app_id, std::string_view path,
                           const LaunchParams& params) {
  if (!IsH5AppId(app_id)) {
    return MakeError(ErrorCode::kInvalidArgument, "not an H5 app id: " + Quote(app_id));
  }
  if (!path.empty()) {
    const std::string target = "/" + std::string(path);
    if (path.find('?') != std::string_view::npos || path.find('#') != std::string_view::npos ||
        http::ParseTarget(target).status != 0 || http::ParseTarget(target).relative != path) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "H5 page path " + Quote(path) + " is not a file path inside the package");
    }
  }
  for (const auto& [key, value] : params) {
    if (key == kLaunchParam) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "H5 page parameter " + Quote(key) + " is reserved for the server");
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (stopped_) return MakeError(ErrorCode::kState, "the container is closing");
  // The activation point: a staged version becomes active at the next open.
  if (Status s = ActivateStagedLocked(app_id); !s.ok()) {
    return Fallback(app_id, path, params, "its packages cannot be read: " + s.error().ToString());
  }
  auto version = LoadLocked(app_id);
  if (!version.ok()) return Fallback(app_id, path, params, version.error().message);
  if (!version->has_value()) return Fallback(app_id, path, params, "no package is installed");
  const Loaded& loaded = **version;
  const H5Manifest& manifest = loaded.manifest;
  if (manifest.IsLibrary()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "H5 package " + Quote(app_id) + " is a library: it has no pages to open");
  }
  // The libraries it uses, each pinned to its version in use (a staged one
  // the app's range accepts activates at the next open of the app).
  std::vector<SharedFiles> shared;
  for (const LibraryUse& use : manifest.uses) {
    const std::string wanted = "it uses library " + Quote(use.id) + " " + use.range.text();
    if (Status s = ActivateStagedLocked(use.id, &use.range); !s.ok()) {
      return Fallback(app_id, path, params, wanted + ", whose packages cannot be read");
    }
    auto lib = LoadLocked(use.id);
    if (!lib.ok()) return Fallback(app_id, path, params, wanted + ", and " + lib.error().message);
    if (!lib->has_value()) {
      return Fallback(app_id, path, params, wanted + ", which is not installed");
    }
    const Loaded& l = **lib;
    if (!l.manifest.IsLibrary()) {
      return Fallback(
          app_id, path, params,
          wanted + ", but " + Quote(use.id) + " " + l.record.version + " is an app, not a library");
    }
    if (!use.range.Matches(l.manifest.version)) {
      return Fallback(app_id, path, params,
                      wanted + ", and " + l.record.version + " is the version installed");
    }
    shared.push_back(SharedFiles{use.id, l.record.version, l.www_real, l.manifest.cache.max_age_s,
                                 l.manifest.cache.immutable});
  }
  const ArtifactRecord& record = loaded.record;
  auto server = ServerLocked();
  if (!server.ok())
    return Fallback(app_id, path, params,
                    "the H5 server cannot start: " + server.error().ToString());
  PageSession session;
  session.app_id = std::string(app_id);
  session.version = record.version;
  session.www_real = loaded.www_real;
  session.entry = manifest.entry;
  session.csp = manifest.csp;
  session.max_age_s = manifest.cache.max_age_s;
  session.immutable = manifest.cache.immutable;
  session.shared = std::move(shared);
  for (const JsApiDecl& api : manifest.jsapis) session.jsapis.push_back(api.name);
  const std::string code = (*server)->AddSession(std::move(session));
  H5Page page;
  page.app_id = std::string(app_id);
  page.offline = true;
  page.version = record.version;
  const std::string query = Query(params);
  page.display_url = (*server)->Origin(app_id) + "/" +
                     std::string(path.empty() ? manifest.entry : path) +
                     (query.empty() ? "" : "?" + query);
  page.url =
      page.display_url + (query.empty() ? "?" : "&") + std::string(kLaunchParam) + "=" + code;
  return page;
}

Status Pages::ActivateStagedLocked(std::string_view id, const VersionRange* range) {
  auto rows = store_->List(ArtifactKind::kH5Package);
  if (!rows.ok()) return rows.error();
  // Whether a usable version of library `use` is installed (in use or
  // staged), by version and state (its kind is checked when it is opened).
  auto installed = [&](const LibraryUse& use) {
    for (const ArtifactRecord& r : *rows) {
      const bool usable = r.state == ArtifactState::kActive ||
                          r.state == ArtifactState::kBaseline || r.state == ArtifactState::kStaged;
      auto v = Version::Parse(r.version);
      if (r.id == use.id && usable && v.ok() && use.range.Matches(*v)) return true;
    }
    return false;
  };
  for (const ArtifactRecord& r : *rows) {
    if (r.id != id || r.state != ArtifactState::kStaged) continue;
    auto manifest = ReadManifest(r.dir);
    std::string why;
    if (!manifest.ok()) {
      why = manifest.error().ToString();
    } else if (range == nullptr && manifest->IsLibrary()) {
      why = "a library activates with an app that uses it";
    } else if (range != nullptr && !manifest->IsLibrary()) {
      why = "an app, not a library";
    } else if (range != nullptr && !range->Matches(manifest->version)) {
      continue;  // another app's range may take it
    } else {
      for (const LibraryUse& use : manifest->uses) {
        if (why.empty() && !installed(use)) {
          why = "it uses library " + Quote(use.id) + " " + use.range.text() +
                ", which is not installed";
        }
      }
    }
    if (!why.empty()) {
      Log(LogLevel::kWarning, "", "h5: " + r.id + " " + r.version + " stays staged: " + why);
      continue;
    }
    auto activated = store_->Activate(ArtifactKind::kH5Package, r.id, r.version,
                                      "activated at the next open of the H5 app");
    if (!activated.ok()) {
      Log(LogLevel::kError, "",
          "h5: " + r.id + " " + r.version + " not activated: " + activated.error().ToString());
    }
  }
  return Status::Ok();
}

Result<std::optional<Pages::Loaded>> Pages::LoadLocked(std::string_view id) {
  auto current = store_->Current(ArtifactKind::kH5Package, id);
  if (!current.ok()) {
    return MakeError(current.error().code,
                     "its package cannot be read: " + current.error().ToString());
  }
  if (!current->has_value()) return std::optional<Loaded>();
  Loaded out;
  out.record = **current;
  auto manifest = ReadManifest(out.record.dir);
  if (!manifest.ok()) {
    return MakeError(ErrorCode::kValidation, "package " + out.record.id + " " + out.record.version +
                                                 " is unusable: " + manifest.error().ToString());
  }
  out.manifest = std::move(*manifest);
  char real[PATH_MAX];
  const std::string www = (fs::path(out.record.dir) / "www").string();
  if (::realpath(www.c_str(), real) == nullptr) {
    return MakeError(ErrorCode::kValidation,
                     "package " + out.record.id + " " + out.record.version + " has no www/ folder");
  }
  out.www_real = real;
  return std::optional<Loaded>(std::move(out));
}

// The router's side: H5 apps as micro-apps of type "h5".
class Source final : public MicroAppSource {
 public:
  explicit Source(std::shared_ptr<Pages> pages) : pages_(std::move(pages)) {}
  std::optional<DeclaredMicroApp> Find(std::string_view app_id) override {
    return pages_->Find(app_id);
  }
  std::vector<DeclaredMicroApp> List() override { return pages_->List(); }

 private:
  std::shared_ptr<Pages> pages_;
};

class Launcher final : public MicroAppLauncher {
 public:
  Launcher(Container* container, std::shared_ptr<Pages> pages)
      : container_(container), pages_(std::move(pages)) {}
  Status Launch(const LaunchRequest& request) override {
    auto page = pages_->Open(request.app_id, request.path, request.params);
    if (!page.ok()) return page.error();
    std::shared_ptr<H5WebView> view = container_->services().Get<H5WebView>();
    if (view == nullptr) view = MakeChromiumWebView({});
    Status shown = view->Show(*page);
    if (!shown.ok()) {
      Error e = shown.error();
      // Not the URL: it carries the page load's launch code.
      e.message =
          "H5 app " + Quote(request.app_id) + ": the web view did not show its page: " + e.message;
      return e;
    }
    Log(LogLevel::kInfo, "",
        "h5: opened " + request.app_id +
            (page->offline ? " " + page->version + " from its package"
                           : " from its fallback URL (" + page->fallback_reason + ")"));
    return Status::Ok();
  }

 private:
  Container* const container_;
  std::shared_ptr<Pages> pages_;
};

class H5Layer final : public StoreLayer, public ContainerLayer {
 public:
  explicit H5Layer(const DynamicLayerContext& ctx)
      : StoreLayer(ArtifactKind::kH5Package, ctx.store) {}
  ~H5Layer() override { DetachContainer(); }

  Status AttachContainer(Container& container) override {
    auto pages = std::make_shared<Pages>(&container, store());
    auto id = container.services().Register<H5Pages>(pages);
    if (!id.ok()) return id.error();
    if (Status s = container.router().RegisterLauncher(
            "h5", std::make_shared<Launcher>(&container, pages));
        !s.ok()) {
      (void)container.services().Unregister(*id);
      return s;
    }
    source_ = container.router().AddMicroAppSource(std::make_shared<Source>(pages));
    container_ = &container;
    pages_ = std::move(pages);
    registration_ = *id;
    return Status::Ok();
  }

  void DetachContainer() override {
    if (container_ == nullptr) return;
    container_->router().RemoveMicroAppSource(source_);
    (void)container_->router().UnregisterLauncher("h5");
    (void)container_->services().Unregister(registration_);
    pages_->Stop();  // before any bundle stops: no bridge call reaches one after
    pages_.reset();
    container_ = nullptr;
  }

 private:
  Container* container_ = nullptr;
  std::shared_ptr<Pages> pages_;
  uint64_t registration_ = 0;
  uint64_t source_ = 0;
};

DynamicLayerSpec H5LayerSpec() {
  DynamicLayerSpec spec;
  spec.kind = "h5_package";
  spec.package_kind = ArtifactKind::kH5Package;
  spec.manifest_name = std::string(kManifestName);
  spec.validate_manifest = ValidateH5Manifest;
  spec.activation = ActivationPoint::kNextOpen;
  spec.description = "H5 offline web packages: the next open of the H5 app";
  spec.create = StoreLayerFactoryOf<H5Layer>(ArtifactKind::kH5Package);
  return spec;
}

}  // namespace
}  // namespace atrium::h5

ATRIUM_REGISTER_DYNAMIC_LAYER(atrium::h5::H5LayerSpec());
