// Strict JSON for Atrium's own formats (bundle.json, app.json, patch.json):
// Boost.JSON's parser with a handler that builds the same DOM, rejects
// duplicate keys (Boost.JSON 1.81 would keep one silently), tracks the JSON
// pointer of the value being read, and reports syntax errors with the byte
// offset, "line L, column C" and the offending byte. Plus the helpers every
// strict reader shares: quoting for messages, JSON pointers, located errors.
//
// Concurrency: pure functions.
#ifndef ATRIUM_BASE_STRICT_JSON_H_
#define ATRIUM_BASE_STRICT_JSON_H_

#include <boost/json.hpp>
#include <string>
#include <string_view>

#include "atrium/result.h"

namespace atrium::internal {

struct StrictJsonLimits {
  size_t max_bytes = size_t{1} << 20;
  size_t max_depth = 32;
  const char* noun = "document";  // "document", "manifest": used in messages
};

// Parses `text` into a DOM allocated from `sp`. kParse errors name the file,
// the JSON pointer reached, and the byte offset; kInternal when memory runs
// out. A leading UTF-8 byte-order mark is skipped.
Result<boost::json::value> ParseStrictJson(std::string_view text, std::string_view file,
                                           const StrictJsonLimits& limits,
                                           boost::json::storage_ptr sp = {});

// 'text' for messages: escaped, and cut (at a UTF-8 boundary) when long.
std::string Quote(std::string_view s);
// RFC 6901 pointer of a member / an element under `pointer`.
std::string Child(std::string_view pointer, std::string_view key);
std::string Child(std::string_view pointer, size_t index);
// 1-based "line L, column C" of byte `offset` (columns count characters).
std::string LineColumn(std::string_view text, size_t offset);
// "'x'", "byte 0x01" or "end of input".
std::string DescribeByteAt(std::string_view text, size_t offset);
Error MakeLocated(ErrorCode code, std::string_view file, std::string pointer, std::string message);
// "a string", "an object", ... for "expected X, got Y" messages.
const char* JsonKindName(const boost::json::value& v);
// Version::Parse / VersionRange::Parse messages repeat their input
// ("invalid range '<text>': <detail>"); readers quote the text already, so
// this keeps only the detail when the message has that shape.
std::string_view SemverDetail(std::string_view message);

}  // namespace atrium::internal

#endif  // ATRIUM_BASE_STRICT_JSON_H_
