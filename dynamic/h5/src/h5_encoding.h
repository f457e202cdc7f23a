// The compressed representations the H5 server sends of text files: zstd
// when the client's Accept-Encoding takes it, else gzip (zlib), each with
// its own strong ETag and Vary: Accept-Encoding.
#ifndef ATRIUM_DYNAMIC_H5_H5_ENCODING_H_
#define ATRIUM_DYNAMIC_H5_H5_ENCODING_H_

#include <string>
#include <string_view>

#include "atrium/dynamic/http/http_server.h"

namespace atrium::h5 {

// Whether an Accept-Encoding value accepts `coding` ("gzip, zstd",
// "zstd;q=0.5"; not "zstd;q=0"), a lowercase name.
bool Accepts(std::string_view header, std::string_view coding);
// zstd, else gzip, else nothing ("").
std::string_view PickCoding(std::string_view accept_encoding);
// Text the server compresses: what a page loads by the kilobyte.
bool Compressible(std::string_view path);
// Sets `out` to the `coding` (zstd, gzip) representation of file
// `relative` under `root_real`; false to serve it as it is (not found or
// unreadable: ServeFile answers; too large to compress in memory).
bool ServeCompressed(const http::Request& req, std::string_view coding,
                     const std::string& root_real, const std::string& relative, http::Reply& out);

}  // namespace atrium::h5

#endif  // ATRIUM_DYNAMIC_H5_H5_ENCODING_H_
