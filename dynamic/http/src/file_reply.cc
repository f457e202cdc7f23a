#include "atrium/dynamic/http/file_reply.h"

#include <cstdint>
#include <ctime>
#include <optional>
#include <utility>

#include "atrium/dynamic/http/file_request.h"

namespace atrium::http {
namespace {

// 405 for a method other than GET and HEAD.
std::optional<Reply> RefuseMethod(const Request& req) {
  if (req.method() == bhttp::verb::get || req.method() == bhttp::verb::head) return std::nullopt;
  Reply res = EmptyReply(bhttp::status::method_not_allowed, req);
  SetReplyHeader(res, bhttp::field::allow, "GET, HEAD");
  return res;
}

}  // namespace

Reply ServeFile(const Request& req, const std::string& root_real, std::string_view relative) {
  if (std::optional<Reply> refused = RefuseMethod(req)) return std::move(*refused);
  const bool head = req.method() == bhttp::verb::head;
  OpenedFile file = OpenInRoot(root_real, std::string(relative));
  if (file.status != 0) return EmptyReply(static_cast<bhttp::status>(file.status), req);
  const uint64_t size = static_cast<uint64_t>(file.st.st_size);
  FileWindow window;
  window.Assign(file.fd, 0, size);  // owns the descriptor from here on

  const std::string etag = StrongETag(file.st);
  const std::string modified = HttpDate(file.st.st_mtim.tv_sec);
  auto validators = [&](auto& res) {
    res.set(bhttp::field::etag, etag);
    res.set(bhttp::field::last_modified, modified);
  };
  const auto if_none_match = req.find(bhttp::field::if_none_match);
  if (if_none_match != req.end() && IfNoneMatchMatches(if_none_match->value(), etag)) {
    bhttp::response<bhttp::empty_body> res{bhttp::status::not_modified, req.version()};
    validators(res);
    return res;
  }

  RangeRequest range;
  const auto range_field = req.find(bhttp::field::range);
  const auto if_range = req.find(bhttp::field::if_range);
  if (!head && range_field != req.end() &&
      (if_range == req.end() || IfRangeAllows(if_range->value(), etag))) {
    range = ParseRange(range_field->value(), size);
  }
  if (range.kind == RangeRequest::kUnsatisfiable) {
    bhttp::response<bhttp::empty_body> res{bhttp::status::range_not_satisfiable, req.version()};
    res.set(bhttp::field::content_range, "bytes */" + std::to_string(size));
    validators(res);
    res.content_length(0);
    return res;
  }

  const bool part = range.kind == RangeRequest::kPart;
  const uint64_t first = part ? range.first : 0;
  const uint64_t length = part ? range.length : size;
  const auto status = part ? bhttp::status::partial_content : bhttp::status::ok;
  auto describe = [&](auto& res) {
    validators(res);
    res.set(bhttp::field::content_type, ContentTypeFor(relative));
    res.set(bhttp::field::accept_ranges, "bytes");
    if (part) {
      res.set(bhttp::field::content_range, "bytes " + std::to_string(first) + "-" +
                                               std::to_string(first + length - 1) + "/" +
                                               std::to_string(size));
    }
    res.content_length(length);
  };
  if (head) {
    bhttp::response<bhttp::empty_body> res{status, req.version()};
    describe(res);
    return res;
  }
  bhttp::response<FileBody> res{status, req.version()};
  window.Narrow(first, length);
  boost::beast::error_code ec;
  res.body().reset(std::move(window), ec);
  if (ec) return EmptyReply(bhttp::status::internal_server_error, req);
  describe(res);
  return res;
}

Reply ServeTarget(const Request& req, const std::string& root_real) {
  if (std::optional<Reply> refused = RefuseMethod(req)) return std::move(*refused);
  const TargetPath target = ParseTarget(req.target());
  if (target.status != 0) return EmptyReply(static_cast<bhttp::status>(target.status), req);
  return ServeFile(req, root_real, target.relative);
}

}  // namespace atrium::http
