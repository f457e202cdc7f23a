#include "h5_encoding.h"

#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <cctype>
#include <cerrno>
#include <optional>

#include "atrium/dynamic/http/file_reply.h"
#include "atrium/dynamic/http/file_request.h"
#include "h5_server.h"

namespace atrium::h5 {
namespace {

namespace bhttp = boost::beast::http;

// `plain` compressed with `coding`; nullopt when the library fails.
std::optional<std::string> Compress(std::string_view coding, const std::string& plain) {
  if (coding == "zstd") {
    std::string packed(ZSTD_compressBound(plain.size()), '\0');
    const size_t n = ZSTD_compress(packed.data(), packed.size(), plain.data(), plain.size(), 3);
    if (ZSTD_isError(n)) return std::nullopt;
    packed.resize(n);
    return packed;
  }
  z_stream z{};
  // windowBits 15 + 16: a gzip wrapper (RFC 1952), not zlib's.
  if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return std::nullopt;
  std::string packed(deflateBound(&z, plain.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(plain.data()));
  z.avail_in = static_cast<uInt>(plain.size());
  z.next_out = reinterpret_cast<Bytef*>(packed.data());
  z.avail_out = static_cast<uInt>(packed.size());
  const int rc = deflate(&z, Z_FINISH);
  packed.resize(z.total_out);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) return std::nullopt;
  return packed;
}

}  // namespace

// Whether an Accept-Encoding value accepts `coding` ("gzip, zstd",
// "zstd;q=0.5"; not "zstd;q=0"), a lowercase name.
bool Accepts(std::string_view header, std::string_view coding) {
  while (!header.empty()) {
    const size_t comma = header.find(',');
    std::string_view item = header.substr(0, comma);
    const size_t semi = item.find(';');
    std::string_view name = item.substr(0, semi);
    while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
    while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
    bool same = name.size() == coding.size();
    for (size_t i = 0; same && i < name.size(); ++i) {
      same = std::tolower(static_cast<unsigned char>(name[i])) == coding[i];
    }
    if (same) {
      std::string_view params = semi == std::string_view::npos ? "" : item.substr(semi + 1);
      std::string q;
      for (char c : params) {
        if (c != ' ') q += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
      return !(q == "q=0" || q == "q=0." || q == "q=0.0" || q == "q=0.00" || q == "q=0.000");
    }
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  return false;
}

// zstd, else gzip, else nothing ("").
std::string_view PickCoding(std::string_view accept_encoding) {
  if (Accepts(accept_encoding, "zstd")) return "zstd";
  if (Accepts(accept_encoding, "gzip")) return "gzip";
  return "";
}

// Text the server compresses: what a page loads by the kilobyte.
bool Compressible(std::string_view path) {
  for (std::string_view ext :
       {".html", ".htm", ".js", ".mjs", ".css", ".json", ".svg", ".txt", ".xml", ".map"}) {
    if (path.size() > ext.size() && path.ends_with(ext)) return true;
  }
  return false;
}

// The `coding` (zstd, gzip) representation of a file, or nullopt to serve
// it as it is (not found or unreadable: ServeFile answers; too large to
// compress in memory).
bool ServeCompressed(const http::Request& req, std::string_view coding,
                     const std::string& root_real, const std::string& relative, http::Reply& out) {
  http::OpenedFile file = http::OpenInRoot(root_real, relative);
  if (file.status != 0) return false;
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{file.fd};
  const auto size = static_cast<uint64_t>(file.st.st_size);
  if (size > kMaxCompressedFileBytes) return false;
  std::string etag = http::StrongETag(file.st);
  etag.insert(etag.size() - 1, "-" + std::string(coding));  // its own validator
  const std::string modified = http::HttpDate(file.st.st_mtim.tv_sec);
  auto describe = [&](auto& res) {
    res.set(bhttp::field::etag, etag);
    res.set(bhttp::field::last_modified, modified);
    res.set(bhttp::field::vary, "Accept-Encoding");
  };
  const auto if_none_match = req.find(bhttp::field::if_none_match);
  if (if_none_match != req.end() && http::IfNoneMatchMatches(if_none_match->value(), etag)) {
    bhttp::response<bhttp::empty_body> res{bhttp::status::not_modified, req.version()};
    describe(res);
    out = std::move(res);
    return true;
  }
  std::string plain(size, '\0');
  size_t got = 0;
  while (got < size) {
    const ssize_t n = ::pread(file.fd, plain.data() + got, size - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;  // shrank or failed: ServeFile decides
    got += static_cast<size_t>(n);
  }
  std::optional<std::string> packed = Compress(coding, plain);
  if (!packed) return false;
  http::Reply reply =
      http::TextReply(bhttp::status::ok, req, std::move(*packed), http::ContentTypeFor(relative));
  std::visit(
      [&](auto& res) {
        describe(res);
        res.set(bhttp::field::content_encoding, coding);
      },
      reply);
  out = std::move(reply);
  return true;
}

}  // namespace atrium::h5
