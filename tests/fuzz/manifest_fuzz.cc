// libFuzzer target for the bundle.json and app.json parsers. Every input is
// fed to both ParseManifest and ParseAppDescriptor; the parsers must return a
// value or an Error and never crash, hang, leak or throw. On success the model
// must satisfy the rules the parser promises (checked below), and on error the
// Error must name the file and, for syntax errors, an offset inside the input.
// Seeds: tests/fuzz/corpus/manifest/.
//
// Concurrency: libFuzzer calls LLVMFuzzerTestOneInput from one thread.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "atrium/manifest.h"

namespace {

constexpr std::string_view kFile = "fuzz/bundle.json";

void Require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "manifest_fuzz: invariant violated: %s\n", what);
    std::abort();
  }
}

template <typename T>
void CheckError(const atrium::Result<T>& result, size_t input_size) {
  if (result.ok()) return;
  const atrium::Error& e = result.error();
  Require(e.file == kFile, "error names the file");
  Require(!e.message.empty(), "error has a message");
  if (e.code == atrium::ErrorCode::kParse && e.offset) {
    Require(*e.offset <= input_size, "syntax error offset lies inside the input");
  }
  Require(e.code == atrium::ErrorCode::kParse || e.code == atrium::ErrorCode::kValidation ||
              e.code == atrium::ErrorCode::kInternal,
          "error code is parse, validation or internal");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);

  atrium::Result<atrium::Manifest> manifest = atrium::ParseManifest(text, kFile);
  CheckError(manifest, size);
  if (manifest.ok()) {
    Require(atrium::IsValidBundleName(manifest->name), "manifest name is valid");
    for (const atrium::Requirement& r : manifest->requires_) {
      Require(atrium::IsValidBundleName(r.name), "requirement name is valid");
      Require(r.name != manifest->name, "no self-dependency");
    }
    for (const atrium::MicroAppDecl& app : manifest->micro_apps) {
      Require(app.type != "native" || !manifest->library.empty(), "native app has a library");
      Require(!app.entry.empty(), "micro app entry is not empty");
    }
    for (const atrium::StartupTaskDecl& task : manifest->startup) {
      Require(!task.thread.empty(), "task thread is set");
    }
  }

  atrium::Result<atrium::AppDescriptor> app = atrium::ParseAppDescriptor(text, kFile);
  CheckError(app, size);
  if (app.ok()) {
    Require(atrium::IsValidBundleName(app->id), "app id is valid");
    Require(!app->baseline.empty(), "baseline is not empty");
  }
  return 0;
}
