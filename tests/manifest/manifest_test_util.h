// What the manifest tests share (manifest_test.cc: bundle.json read into
// the model and its syntax and limits; manifest_rules_test.cc: the rules of
// every field, files, app.json): a full bundle.json and app.json, editors
// that change one thing in them, and an error matcher that checks the code,
// the file, the JSON pointer and the message.
#ifndef ATRIUM_TESTS_MANIFEST_MANIFEST_TEST_UTIL_H_
#define ATRIUM_TESTS_MANIFEST_MANIFEST_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "atrium/base/strict_json.h"
#include "atrium/manifest.h"
#include "atrium/manifest/app_sections.h"

namespace atrium::manifest_test {

namespace json = boost::json;

inline constexpr char kFile[] = "bundles/bill/bundle.json";
inline constexpr char kAppFile[] = "app/app.json";

inline constexpr char kFullManifest[] = R"json({
  "$schema": "../../docs/bundle.schema.json",
  "name": "com.wallet.bill",
  "version": "1.4.2-beta.1+build.7",
  "description": "Bills and payments",
  "library": "lib/libbill.so",
  "activation": "eager",
  "requires": [
    {"name": "com.wallet.account", "version": "^2.1.0"},
    {"name": "com.wallet.analytics", "version": ">=1.0.0 <3.0.0", "optional": true},
    {"name": "com.wallet.theme"}
  ],
  "provides": [
    {"interface": "com.wallet.bill.BillService", "version": "2.0.0"},
    {"interface": "com.wallet.bill.BillWidget"}
  ],
  "micro_apps": [
    {"id": "bill", "type": "native", "entry": "BillHome", "title": "Bills"},
    {"id": "bill-help", "type": "h5", "entry": "help/index.html"}
  ],
  "startup": [
    {"id": "init.db", "stage": "boot", "thread": "io"},
    {"id": "warm_cache", "stage": "post_frame", "after": ["init.db", "com.wallet.account:login"]}
  ],
  "resources": ["lua/bill.lua", "h5/help"]
})json";

inline constexpr char kApp[] = R"json({
  "$schema": "../docs/app.schema.json",
  "id": "com.wallet.app",
  "version": "3.0.0",
  "name": "Wallet",
  "home": "home",
  "baseline": ["bundles/home", "bundles/bill", "bundles/account"]
})json";

// ---------------------------------------------------------------------------
// Helpers.

// Returns `base` with the value at `pointer` set to `v` (the parent must
// exist; an object member is added if missing).
inline std::string Set(std::string_view base, std::string_view pointer, json::value v) {
  json::value doc = json::parse(base);
  size_t slash = pointer.rfind('/');
  std::string_view parent_ptr = pointer.substr(0, slash);
  std::string key(pointer.substr(slash + 1));
  json::value& parent = parent_ptr.empty() ? doc : doc.at_pointer(parent_ptr);
  if (parent.is_array()) {
    parent.as_array().at(std::stoul(key)) = std::move(v);
  } else {
    parent.as_object()[key] = std::move(v);
  }
  return json::serialize(doc);
}

// Returns `base` without the member at `pointer`.
inline std::string Remove(std::string_view base, std::string_view pointer) {
  json::value doc = json::parse(base);
  size_t slash = pointer.rfind('/');
  std::string_view parent_ptr = pointer.substr(0, slash);
  json::value& parent = parent_ptr.empty() ? doc : doc.at_pointer(parent_ptr);
  parent.as_object().erase(pointer.substr(slash + 1));
  return json::serialize(doc);
}

json::value Str(const std::string& s) { return json::value(json::string_view(s)); }

inline std::string SetManifest(std::string_view pointer, json::value v) {
  return Set(kFullManifest, pointer, std::move(v));
}
inline std::string SetApp(std::string_view pointer, json::value v) {
  return Set(kApp, pointer, std::move(v));
}

// Succeeds if `result` is an error with this code, file and pointer whose
// message contains every fragment.
template <typename T>
::testing::AssertionResult IsError(const Result<T>& result, ErrorCode code,
                                   std::string_view pointer,
                                   std::initializer_list<std::string_view> fragments,
                                   std::string_view file) {
  if (result.ok()) return ::testing::AssertionFailure() << "parsed without error";
  const Error& e = result.error();
  if (e.code != code) {
    return ::testing::AssertionFailure() << "code is '" << ErrorCodeName(e.code) << "', want '"
                                         << ErrorCodeName(code) << "': " << e.ToString();
  }
  if (e.file != file) {
    return ::testing::AssertionFailure() << "file is '" << e.file << "': " << e.ToString();
  }
  if (e.pointer != pointer) {
    return ::testing::AssertionFailure()
           << "pointer is '" << e.pointer << "', want '" << pointer << "': " << e.ToString();
  }
  for (std::string_view fragment : fragments) {
    if (e.message.find(fragment) == std::string::npos) {
      return ::testing::AssertionFailure()
             << "message lacks '" << fragment << "': " << e.ToString();
    }
  }
  return ::testing::AssertionSuccess();
}

inline ::testing::AssertionResult ManifestFails(std::string_view text, ErrorCode code,
                                                std::string_view pointer,
                                                std::initializer_list<std::string_view> fragments) {
  return IsError(ParseManifest(text, kFile), code, pointer, fragments, kFile);
}

inline ::testing::AssertionResult AppFails(std::string_view text, ErrorCode code,
                                           std::string_view pointer,
                                           std::initializer_list<std::string_view> fragments) {
  return IsError(ParseAppDescriptor(text, kAppFile), code, pointer, fragments, kAppFile);
}

// A scratch directory removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "atrium_manifest_XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string Write(const std::string& name, std::string_view content) const {
    std::string path = path_ + "/" + name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// ---------------------------------------------------------------------------
// bundle.json: good input.

}  // namespace atrium::manifest_test

#endif  // ATRIUM_TESTS_MANIFEST_MANIFEST_TEST_UTIL_H_
