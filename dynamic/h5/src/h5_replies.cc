#include "h5_replies.h"

#include <boost/json.hpp>
#include <utility>

namespace atrium::h5 {
namespace {

namespace bhttp = boost::beast::http;
namespace json = boost::json;

const char* CodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kPermission:
      return "permission";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kParse:
    case ErrorCode::kValidation:
      return "invalid_argument";
    case ErrorCode::kState:
      return "unavailable";
    default:
      return "internal";
  }
}

bhttp::status StatusFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::kPermission:
      return bhttp::status::forbidden;
    case ErrorCode::kNotFound:
      return bhttp::status::not_found;
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kParse:
    case ErrorCode::kValidation:
      return bhttp::status::bad_request;
    case ErrorCode::kState:
      return bhttp::status::service_unavailable;
    default:
      return bhttp::status::internal_server_error;
  }
}

}  // namespace

http::Reply JsonError(const http::Request& req, ErrorCode code, const std::string& message) {
  json::object body;
  body["error"] = message;
  body["code"] = CodeName(code);
  http::Reply reply =
      http::TextReply(StatusFor(code), req, json::serialize(body), "application/json");
  http::SetReplyHeader(reply, bhttp::field::cache_control, "no-store");
  return reply;
}

http::Reply JsonReply(unsigned version, std::string body) {
  http::Request shape;
  shape.version(version);
  http::Reply res = http::TextReply(bhttp::status::ok, shape, std::move(body), "application/json");
  http::SetReplyHeader(res, bhttp::field::cache_control, "no-store");
  return res;
}

}  // namespace atrium::h5
