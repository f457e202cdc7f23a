// bundle.json "patch_points" (see patch_package.h): the patch points a
// bundle declares, read with the same rules as patch.json's points.
//
// Concurrency: pure functions.
#include <boost/json.hpp>
#include <exception>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "patch_json.h"
#include "patch_package.h"

#define ASSIGN_OR_RETURN ATRIUM_ASSIGN_OR_RETURN
#define RETURN_IF_ERROR ATRIUM_RETURN_IF_ERROR

namespace atrium::hotpatch::internal {
namespace {

using namespace patch_json;  // NOLINT: the shared rules of hotpatch's manifests

Result<std::vector<BundlePatchPoint>> BuildBundlePatchPoints(const json::value& v,
                                                             std::string_view file,
                                                             const std::string& at) {
  Walker w(file);
  ASSIGN_OR_RETURN(const json::array* points, w.Array(v, at));
  if (points->size() > kMaxPoints) {
    return w.Invalid(at, "too many points (" + std::to_string(points->size()) + "); the limit is " +
                             std::to_string(kMaxPoints));
  }
  std::vector<BundlePatchPoint> out;
  std::unordered_map<std::string, size_t> first_at;
  for (size_t i = 0; i < points->size(); ++i) {
    const std::string item_at = Element(at, i);
    ASSIGN_OR_RETURN(const json::object* p, w.Object((*points)[i], item_at));
    RETURN_IF_ERROR(w.OnlyFields(*p, item_at, {"point", "signature", "description"}));
    BundlePatchPoint point;
    ASSIGN_OR_RETURN(point.point, ReadPointId(w, *p, item_at));
    auto [it, fresh] = first_at.emplace(point.point, i);
    if (!fresh) {
      return w.Invalid(Member(item_at, "point"), "point " + Quote(point.point) +
                                                     " is declared twice (first at " +
                                                     Element(at, it->second) + ")");
    }
    ASSIGN_OR_RETURN(const json::value* signature, w.Need(*p, item_at, "signature"));
    ASSIGN_OR_RETURN(std::string text, w.String(*signature, Member(item_at, "signature")));
    if (std::string problem = SignatureGrammar(text).Parse(&point.signature); !problem.empty()) {
      return w.Invalid(Member(item_at, "signature"),
                       "invalid signature " + Quote(text) + ": " + problem +
                           " (form: 'result(param,...)', e.g. 'int(int,string)')");
    }
    if (const json::value* d = w.Find(*p, "description")) {
      ASSIGN_OR_RETURN(std::string unused, w.String(*d, Member(item_at, "description")));
    }
    out.push_back(std::move(point));
  }
  return out;
}

}  // namespace

Result<std::vector<BundlePatchPoint>> ReadBundlePatchPoints(const boost::json::value& section,
                                                            std::string_view file,
                                                            std::string_view pointer) {
  try {
    return BuildBundlePatchPoints(section, file, std::string(pointer));
  } catch (const std::exception& ex) {
    return Located(ErrorCode::kInternal, file, std::string(pointer),
                   std::string("out of resources while reading patch points: ") + ex.what());
  }
}

}  // namespace atrium::hotpatch::internal

#undef RETURN_IF_ERROR
#undef ASSIGN_OR_RETURN
