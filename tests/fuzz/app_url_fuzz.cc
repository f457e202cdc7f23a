// libFuzzer target for ParseAppUrl. Invariants checked on every input:
// 1. A failure is kParse with an offset no further than one past the input.
// 2. A success formats to printable ASCII that parses back to the same AppUrl
//    and formats to the same text again (FormatAppUrl is canonical), unless
//    the canonical text outgrows kMaxAppUrlBytes (escaping raw bytes grows
//    them), in which case the parser must reject it for its length.
// Seed corpus: tests/fuzz/corpus/app_url/. Built by tests/fuzz/CMakeLists.txt
// as the ctest app_url_fuzz_replay and, with -DATRIUM_LIBFUZZER=ON, as a
// libFuzzer binary (`./dev fuzz` runs it).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "atrium/app_url.h"
#include "atrium/result.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  atrium::Result<atrium::AppUrl> parsed = atrium::ParseAppUrl(input);
  if (!parsed.ok()) {
    const atrium::Error& error = parsed.error();
    ATRIUM_CHECK(error.code == atrium::ErrorCode::kParse, "parse failure is not kParse");
    ATRIUM_CHECK(error.offset.has_value(), "parse error has no offset");
    ATRIUM_CHECK(*error.offset <= size, "parse error offset is past the input");
    ATRIUM_CHECK(!error.message.empty(), "parse error has no message");
    return 0;
  }

  const std::string text = atrium::FormatAppUrl(*parsed);
  for (const char c : text) {
    ATRIUM_CHECK(c > 0x20 && c < 0x7F, "formatted URL is not printable ASCII");
  }
  atrium::Result<atrium::AppUrl> reparsed = atrium::ParseAppUrl(text);
  if (text.size() > atrium::kMaxAppUrlBytes) {
    ATRIUM_CHECK(!reparsed.ok() && reparsed.error().offset == atrium::kMaxAppUrlBytes,
                 "over-long canonical URL was not rejected for its length");
    return 0;
  }
  ATRIUM_CHECK(reparsed.ok(), "formatted URL does not parse");
  ATRIUM_CHECK(*reparsed == *parsed, "round trip changed the AppUrl");
  ATRIUM_CHECK(atrium::FormatAppUrl(*reparsed) == text, "FormatAppUrl is not canonical");
  return 0;
}
