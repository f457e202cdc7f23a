// ServeFile: the answer to a GET or HEAD of one file below a root, by the
// rules of file_request.h: 405 for another method, the refusal ParseTarget
// or OpenInRoot gives, else the file with a strong ETag and Last-Modified,
// 304 for a matching If-None-Match, one byte range (206, or 416) honoured
// under If-Range, Accept-Ranges, and the media type by extension. The body
// streams from the file (FileWindow); nothing is read into memory.
//
// Concurrency: thread-safe (a file opened per call).
#ifndef ATRIUM_DYNAMIC_HTTP_FILE_REPLY_H_
#define ATRIUM_DYNAMIC_HTTP_FILE_REPLY_H_

#include <string>
#include <string_view>

#include "atrium/dynamic/http/http_server.h"

namespace atrium::http {

// `root_real` is a realpath; `relative` a path ParseTarget accepted.
Reply ServeFile(const Request& req, const std::string& root_real, std::string_view relative);

// The file `req`'s target names below `root_real` (ParseTarget, then
// ServeFile).
Reply ServeTarget(const Request& req, const std::string& root_real);

}  // namespace atrium::http

#endif  // ATRIUM_DYNAMIC_HTTP_FILE_REPLY_H_
