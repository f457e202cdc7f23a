// libFuzzer target for CanonicalJson (dynamic/tuf: the OLPC canonical JSON
// that TUF signatures and key ids are computed over). The input is parsed by
// Boost.JSON (error_code overload, no exceptions); when it parses, its
// canonical form must be computed or refused, never crash. Invariants:
// 1. A refusal is kValidation and names, in Error::pointer, a value of the
//    document that is a floating-point number (Boost.JSON's parser stops at
//    32 levels, so the 64-level limit is never what refuses here).
// 2. Canonical bytes without raw control characters (which OLPC writes
//    unescaped and JSON forbids in strings) parse again, to the same value.
// 3. Idempotence: canonicalizing what they parse to gives the same bytes.
// Seeds: tests/fuzz/corpus/canonical_json/.
//
// Concurrency: libFuzzer calls LLVMFuzzerTestOneInput from one thread.
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "atrium/dynamic/tuf/canonical_json.h"

namespace {

namespace json = boost::json;

void Require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "canonical_json_fuzz: invariant violated: %s\n", what);
    std::abort();
  }
}

bool HasControlCharacter(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  json::error_code ec;
  json::value doc = json::parse(text, ec);
  if (ec) return 0;

  atrium::Result<std::string> canonical = atrium::tuf::CanonicalJson(doc);
  if (!canonical.ok()) {
    const atrium::Error& e = canonical.error();
    Require(e.code == atrium::ErrorCode::kValidation, "refusal is a validation error");
    json::error_code pointer_ec;
    const json::value* at = doc.find_pointer(e.pointer, pointer_ec);
    Require(at != nullptr, "refusal names a value of the document");
    Require(at->is_double(), "refusal names a floating-point number");
    return 0;
  }

  json::value again = json::parse(*canonical, ec);
  if (ec) {
    Require(HasControlCharacter(*canonical), "canonical bytes parse unless raw controls");
    return 0;
  }
  Require(again == doc, "canonical bytes parse to the same value");
  atrium::Result<std::string> twice = atrium::tuf::CanonicalJson(again);
  Require(twice.ok(), "canonical bytes canonicalize");
  Require(*twice == *canonical, "canonicalization is idempotent");
  return 0;
}
