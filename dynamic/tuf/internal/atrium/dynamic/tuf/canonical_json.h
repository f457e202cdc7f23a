// Canonical JSON as TUF signs it (the OLPC dialect): object members sorted by
// the bytes of their names, no whitespace, integers, booleans and null as
// JSON writes them, strings with only '\' and '"' escaped (every other byte,
// control characters and newlines included, is written as it is), and no
// floating-point numbers at all. Signatures and key ids are computed over
// these bytes, so the release side and the device must produce exactly the
// same ones for the same value.
//
// Concurrency: pure functions.
#ifndef ATRIUM_DYNAMIC_TUF_CANONICAL_JSON_H_
#define ATRIUM_DYNAMIC_TUF_CANONICAL_JSON_H_

#include <boost/json.hpp>
#include <string>

#include "atrium/result.h"

namespace atrium::tuf {

// The canonical bytes of `value`. kValidation, naming the JSON pointer of the
// value, for a floating-point number (canonical JSON has none) or nesting
// deeper than 64 levels.
Result<std::string> CanonicalJson(const boost::json::value& value);

}  // namespace atrium::tuf

#endif  // ATRIUM_DYNAMIC_TUF_CANONICAL_JSON_H_
