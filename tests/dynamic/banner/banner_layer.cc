#include "banner_layer.h"

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <memory>

#include "atrium/dynamic/store_layer.h"

namespace atrium::banner {
namespace {

namespace fs = std::filesystem;

// banner.json beyond id and version: exactly one more member, a string "text".
Status ValidateBannerManifest(std::string_view text, std::string_view file) {
  auto fail = [&](std::string pointer, std::string message) {
    Error e = MakeError(ErrorCode::kValidation, std::move(message));
    e.file = std::string(file);
    e.pointer = std::move(pointer);
    return e;
  };
  boost::json::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) return fail("", "expected a JSON object");
  const boost::json::object& o = v.get_object();
  for (const auto& member : o) {
    if (member.key() != "id" && member.key() != "version" && member.key() != "text") {
      return fail("/" + std::string(member.key()), "unknown field");
    }
  }
  const boost::json::value* t = o.if_contains("text");
  if (t == nullptr) return fail("", "missing required field 'text'");
  if (!t->is_string()) return fail("/text", "expected a string");
  return Status::Ok();
}

}  // namespace

std::string PackBanner(const std::string& work, const SecretKey& key, const std::string& id,
                       const std::string& version, const std::string& manifest) {
  const std::string dir = work + "/banner-src-" + id + "-" + version;
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir + "/banner.json")
      << (manifest.empty() ? R"({"id": ")" + id + R"(", "version": ")" + version +
                                 R"(", "text": "Welcome to )" + version + R"("})"
                           : manifest);
  std::ofstream(dir + "/banner.png") << "not really a png " << version;
  PackOptions o;
  o.apps = {"*"};  // any app: this test is not about app scope
  o.kind = kBannerKind;
  o.secret_key = key;
  const std::string out = work + "/banner-" + id + "-" + version + ".atb";
  auto r = PackDirectory(dir, o, out);
  return r.ok() ? out : "error: " + r.error().ToString();
}

}  // namespace atrium::banner

ATRIUM_REGISTER_DYNAMIC_LAYER(([] {
  atrium::DynamicLayerSpec spec;
  spec.kind = "banner";
  spec.package_kind = atrium::banner::kBannerKind;
  spec.manifest_name = "banner.json";
  spec.validate_manifest = atrium::banner::ValidateBannerManifest;
  spec.activation = atrium::ActivationPoint::kNextOpen;
  spec.description = "test banners (tests/dynamic/banner)";
  spec.create = atrium::StoreLayerFactory(atrium::banner::kBannerKind);
  return spec;
}()));
