#include "synthetic_app.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string_view>
#include <system_error>

#include "atrium/manifest.h"
#include "synthetic_service.h"

namespace fs = std::filesystem;

namespace atrium::bench {
namespace {

constexpr uint32_t kMaxBundles = 9999;  // names carry four digits
constexpr uint32_t kFanOut = 3;         // needed bundles form a tree of this fan-out
constexpr uint32_t kMaxUnneededRequires = 3;

// splitmix64: tiny, and the same sequence on every platform and library
// (std distributions are not).
class SeededSequence {
 public:
  explicit SeededSequence(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  uint32_t Below(uint32_t n) { return static_cast<uint32_t>(Next() % n); }

 private:
  uint64_t state_;
};

std::string Digits(uint32_t i) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04" PRIu32, i);
  return buf;
}

Error IoError(const std::string& what, const fs::path& path, const std::error_code& ec) {
  Error e = MakeError(ErrorCode::kIo, what + ": " + ec.message());
  e.file = path.string();
  return e;
}

Status WriteFile(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) {
    Error e = MakeError(ErrorCode::kIo, "cannot write file");
    e.file = path.string();
    return e;
  }
  return Status::Ok();
}

// Identifiers written below are generated ([a-z0-9.] only), so they need no
// JSON escaping.
std::string Quoted(std::string_view s) {
  std::string q;
  q.reserve(s.size() + 2);
  q += '"';
  q += s;
  q += '"';
  return q;
}

std::string ManifestJson(const SyntheticApp& app, uint32_t i, uint32_t total) {
  const SyntheticBundle& b = app.bundles[i];
  std::string j = "{\n";
  j += "  \"name\": " + Quoted(b.name) + ",\n";
  j += "  \"version\": \"1.0.0\",\n";
  j += "  \"description\": \"Synthetic bundle " + std::to_string(i) + " of " +
       std::to_string(total) +
       (b.needed ? ", needed by the launch.\",\n" : ", not needed by the launch.\",\n");
  j += "  \"library\": " + Quoted(fs::path(b.library).filename().string()) + ",\n";
  j += std::string("  \"activation\": ") + (b.eager ? "\"eager\"" : "\"lazy\"") + ",\n";
  if (!b.requires_.empty()) {
    j += "  \"requires\": [";
    for (size_t k = 0; k < b.requires_.size(); ++k) {
      j += (k == 0 ? "\n" : ",\n");
      j += "    {\"name\": " + Quoted(app.bundles[b.requires_[k]].name) +
           ", \"version\": \"^1.0.0\"}";
    }
    j += "\n  ],\n";
  }
  j += "  \"provides\": [{\"interface\": " + Quoted(SyntheticServiceId(b.name)) +
       ", \"version\": \"1.0.0\"}]";
  if (i == 0) {
    j += ",\n  \"micro_apps\": [{\"id\": \"home\", \"type\": \"native\", \"entry\": \"Main\", "
         "\"title\": \"Home\"}]";
  } else if (!b.needed) {
    j += ",\n  \"micro_apps\": [{\"id\": \"app" + Digits(i) +
         "\", \"type\": \"native\", \"entry\": \"Main\"}]";
  }
  j += "\n}\n";
  return j;
}

std::string AppJson(const SyntheticApp& app, uint32_t needed) {
  std::string j = "{\n";
  j += "  \"id\": " + Quoted(app.id) + ",\n";
  j += "  \"version\": \"1.0.0\",\n";
  j += "  \"name\": \"Synthetic app (" + std::to_string(app.bundles.size()) + " bundles, " +
       std::to_string(needed) + " needed)\",\n";
  j += "  \"home\": \"home\",\n";
  j += "  \"baseline\": [";
  for (size_t i = 0; i < app.bundles.size(); ++i) {
    j += (i == 0 ? "\n" : ",\n");
    j += "    \"bundles/b" + Digits(static_cast<uint32_t>(i)) + "\"";
  }
  j += "\n  ]\n}\n";
  return j;
}

// Clears what an earlier run wrote, or refuses a non-empty directory.
Status PrepareOutDir(const fs::path& out, bool replace) {
  std::error_code ec;
  if (fs::exists(out, ec) && !fs::is_empty(out, ec)) {
    if (!replace) {
      Error e = MakeError(ErrorCode::kAlreadyExists,
                          "output directory is not empty (pass --force to replace an app "
                          "written by an earlier run)");
      e.file = out.string();
      return e;
    }
    fs::remove(out / "app.json", ec);
    if (ec) return IoError("cannot remove", out / "app.json", ec);
    fs::remove_all(out / "bundles", ec);
    if (ec) return IoError("cannot remove", out / "bundles", ec);
  }
  fs::create_directories(out / "bundles", ec);
  if (ec) return IoError("cannot create directory", out / "bundles", ec);
  return Status::Ok();
}

}  // namespace

Result<SyntheticApp> WriteSyntheticApp(const SyntheticAppSpec& spec,
                                       const SyntheticProgress& progress) {
  const uint32_t n = spec.bundles;
  const uint32_t m = spec.needed;
  if (n < 1 || n > kMaxBundles) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        "bundle count must be 1.." + std::to_string(kMaxBundles) + ", got " + std::to_string(n));
  }
  if (m < 1 || m > n) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        "needed count must be 1..bundles (" + std::to_string(n) + "), got " + std::to_string(m));
  }
  std::error_code ec;
  if (!fs::is_regular_file(spec.library, ec)) {
    Error e = MakeError(ErrorCode::kNotFound, "synthetic bundle library not found");
    e.file = spec.library;
    return e;
  }
  const fs::path out = fs::absolute(spec.out_dir, ec).lexically_normal();
  if (ec) return IoError("bad output directory", spec.out_dir, ec);
  if (Status s = PrepareOutDir(out, spec.replace); !s.ok()) return s.error();

  SyntheticApp app;
  app.dir = out.string();
  if (!app.dir.empty() && app.dir.back() == '/' && app.dir.size() > 1) app.dir.pop_back();
  app.id = "com.synthetic.app" + std::to_string(n);
  app.bundles.resize(n);
  SeededSequence random(spec.seed);
  for (uint32_t i = 0; i < n; ++i) {
    SyntheticBundle& b = app.bundles[i];
    b.name = "com.synthetic.b" + Digits(i);
    fs::path dir = fs::path(app.dir) / "bundles" / ("b" + Digits(i));
    b.dir = dir.string();
    b.library = (dir / ("lib" + b.name + ".so")).string();
    b.needed = i < m;
    b.eager = i == 0;
    if (b.needed) {
      for (uint32_t c = kFanOut * i + 1; c <= kFanOut * i + kFanOut && c < m; ++c) {
        b.requires_.push_back(c);
      }
    } else {
      // Distinct earlier unneeded bundles: never a cycle, never a needed one.
      const uint32_t earlier = i - m;
      const uint32_t count = std::min(random.Below(kMaxUnneededRequires + 1), earlier);
      while (b.requires_.size() < count) {
        uint32_t dep = m + random.Below(earlier);
        if (std::find(b.requires_.begin(), b.requires_.end(), dep) == b.requires_.end()) {
          b.requires_.push_back(dep);
        }
      }
      std::sort(b.requires_.begin(), b.requires_.end());
    }
  }

  for (uint32_t i = 0; i < n; ++i) {
    const SyntheticBundle& b = app.bundles[i];
    const fs::path dir(b.dir);
    const fs::path manifest_path = dir / "bundle.json";
    std::string manifest = ManifestJson(app, i, n);
    // A manifest the strict parser rejects is a bug here, not bad input.
    auto parsed = ParseManifest(manifest, manifest_path.string());
    if (!parsed.ok()) {
      Error e = parsed.error();
      e.code = ErrorCode::kInternal;
      e.message = "generated an invalid manifest: " + e.message;
      return e;
    }
    fs::create_directory(dir, ec);
    if (ec) return IoError("cannot create directory", dir, ec);
    if (Status s = WriteFile(manifest_path, manifest); !s.ok()) return s.error();
    // A copy, never a link: each bundle must be its own file for dlopen.
    fs::copy_file(spec.library, b.library, fs::copy_options::overwrite_existing, ec);
    if (ec) return IoError("cannot copy the bundle library", b.library, ec);
    if (progress) progress(i + 1, n);
  }

  const fs::path app_json_path = fs::path(app.dir) / "app.json";
  std::string app_json = AppJson(app, m);
  auto parsed = ParseAppDescriptor(app_json, app_json_path.string());
  if (!parsed.ok()) {
    Error e = parsed.error();
    e.code = ErrorCode::kInternal;
    e.message = "generated an invalid app descriptor: " + e.message;
    return e;
  }
  if (Status s = WriteFile(app_json_path, app_json); !s.ok()) return s.error();
  return app;
}

}  // namespace atrium::bench
