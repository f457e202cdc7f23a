// libFuzzer target for ParsePatchManifest (hotpatch/src/patch_package.h).
// The parser must return a manifest or an Error and never crash, hang, leak
// or throw. Invariants checked on every input:
// 1. An error names the file, has a message and is kParse (with an offset
//    inside the input when one is given), kValidation or kInternal.
// 2. A manifest satisfies the rules the parser promises: at least one point,
//    canonical signatures (no spaces, a '(' and a final ')'), limits within
//    their bounds, a plain source file name, no (point, function) twice.
// Seeds: tests/fuzz/corpus/patch_manifest/.
//
// Concurrency: libFuzzer calls LLVMFuzzerTestOneInput from one thread.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "located_error_check.h"
#include "patch_package.h"

namespace {

namespace hp = atrium::hotpatch::internal;

constexpr std::string_view kFile = "fuzz/patch.json";

void Require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "patch_manifest_fuzz: invariant violated: %s\n", what);
    std::abort();
  }
}

void CheckManifest(const hp::PatchManifest& m) {
  Require(!m.id.empty() && m.id.size() <= 64, "id length");
  Require(!m.points.empty(), "at least one point");
  std::set<std::pair<std::string, std::string>> seen;
  for (const hp::PatchPointDecl& p : m.points) {
    Require(p.point.find('.') != std::string::npos, "point id is dotted");
    Require(!p.function.empty(), "function is named");
    Require(p.signature.find(' ') == std::string::npos, "signature is canonical");
    Require(p.signature.find('(') != std::string::npos && p.signature.back() == ')',
            "signature has a parameter list");
    Require(seen.emplace(p.point, p.function).second, "no (point, function) twice");
    // The canonical form parses back to itself.
    std::string again = R"({"id":"p","version":"1.0.0","targets":{"app":"a.b"},"points":[)"
                        R"({"point":"a.b","function":"f","signature":")" +
                        p.signature + "\"}]}";
    atrium::Result<hp::PatchManifest> reparsed = hp::ParsePatchManifest(again, kFile);
    Require(reparsed.ok() && reparsed->points[0].signature == p.signature,
            "canonical signature reparses to itself");
  }
  Require(m.memory_kb >= 16 && m.memory_kb <= 65536, "memory_kb in bounds");
  Require(m.instructions >= 1000 && m.instructions <= 1000000000, "instructions in bounds");
  Require(m.time_ms >= 1 && m.time_ms <= 10000, "time_ms in bounds");
  Require(m.max_faults >= 1 && m.max_faults <= 1000, "max_faults in bounds");
  Require(!m.source.empty() && m.source.find('/') == std::string::npos && m.source != ".." &&
              m.source != ".",
          "source is a plain file name");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  atrium::Result<hp::PatchManifest> m = hp::ParsePatchManifest(text, kFile);
  if (m.ok()) {
    CheckManifest(*m);
    return 0;
  }
  atrium::fuzz::RequireLocatedJsonError("patch_manifest_fuzz", m.error(), kFile, size);
  return 0;
}
