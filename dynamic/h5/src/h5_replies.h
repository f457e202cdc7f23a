// The JSON answers of the H5 server's bridge endpoints (calls and event
// polls): a result, and an error as {"error": message, "code": name} with
// the HTTP status its ErrorCode maps to (docs/h5.md lists them).
#ifndef ATRIUM_DYNAMIC_H5_H5_REPLIES_H_
#define ATRIUM_DYNAMIC_H5_H5_REPLIES_H_

#include <string>

#include "atrium/dynamic/http/http_server.h"
#include "atrium/result.h"

namespace atrium::h5 {

// {"error": message, "code": ...}, no-store, with the status for `code`.
http::Reply JsonError(const http::Request& req, ErrorCode code, const std::string& message);
// 200 with `body` (JSON), no-store, for an HTTP/1.`version % 10` request.
http::Reply JsonReply(unsigned version, std::string body);

}  // namespace atrium::h5

#endif  // ATRIUM_DYNAMIC_H5_H5_REPLIES_H_
