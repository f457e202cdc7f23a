// TestApp: a throw-away app folder (app.json + copies of fixture bundles)
// and data dir in a fresh temp directory, removed on destruction.
#ifndef ATRIUM_TESTS_CONTAINER_TEST_APP_H_
#define ATRIUM_TESTS_CONTAINER_TEST_APP_H_

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace atrium::testing {

class TestApp {
 public:
  // `fixtures`: directory names under ATRIUM_TEST_BUNDLES_DIR.
  explicit TestApp(const std::vector<std::string>& fixtures, std::string home = "consumer") {
    char tmpl[] = "/tmp/atrium-test-XXXXXX";
    root_ = mkdtemp(tmpl);
    std::filesystem::create_directories(app_dir() + "/bundles");
    for (const auto& f : fixtures) AddFixture(f);
    home_ = std::move(home);
    WriteAppJson();
  }
  ~TestApp() {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  std::string root() const { return root_; }
  std::string app_dir() const { return root_ + "/app"; }
  std::string data_dir() const { return root_ + "/data"; }
  std::string bundle_dir(const std::string& fixture) const {
    return app_dir() + "/bundles/" + fixture;
  }

  void AddFixture(const std::string& fixture) {
    std::filesystem::copy(std::string(ATRIUM_TEST_BUNDLES_DIR) + "/" + fixture, bundle_dir(fixture),
                          std::filesystem::copy_options::recursive);
    baseline_.push_back("bundles/" + fixture);
  }
  // Adds a bundle directory with only a manifest (resource-only unless the
  // manifest names a library).
  void AddManifest(const std::string& dir, const std::string& json) {
    std::filesystem::create_directories(bundle_dir(dir));
    std::ofstream(bundle_dir(dir) + "/bundle.json") << json;
    baseline_.push_back("bundles/" + dir);
  }
  // More top-level members of app.json (", \"h5\": {...}"); rewrites it.
  void SetExtraJson(std::string members) {
    extra_ = std::move(members);
    WriteAppJson();
  }
  // Pins a release key (64 hex digits) in app.json.
  void SetReleaseKey(std::string hex) { release_key_ = std::move(hex); }
  // app.json startup.critical: what fails the launch when it fails (any
  // other failure isolates its bundle); rewrites app.json.
  void SetCritical(std::vector<std::string> critical) {
    critical_ = std::move(critical);
    WriteAppJson();
  }
  void WriteAppJson() {
    std::string list;
    for (const auto& b : baseline_) list += (list.empty() ? "\"" : ", \"") + b + "\"";
    std::ofstream(app_dir() + "/app.json")
        << "{\"id\": \"com.test.app\", \"version\": \"1.0.0\", \"home\": \"" << home_
        << "\", \"baseline\": [" << list << "]"
        << (release_key_.empty() ? "" : ", \"release_keys\": [\"" + release_key_ + "\"]")
        << CriticalJson() << extra_ << "}";
  }

 private:
  std::string CriticalJson() const {
    if (critical_.empty()) return "";
    std::string list;
    for (const auto& c : critical_) list += (list.empty() ? "\"" : ", \"") + c + "\"";
    return ", \"startup\": {\"critical\": [" + list + "]}";
  }

  std::string root_;
  std::vector<std::string> critical_;
  std::string home_;
  std::string release_key_;
  std::string extra_;
  std::vector<std::string> baseline_;
};

// Sets an environment variable for the scope (the fixture bundles read
// ATRIUM_TEST_* switches).
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) { setenv(name, value, 1); }
  ~ScopedEnv() { unsetenv(name_); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
};

// True when a file whose path contains `needle` is mapped in this process.
inline bool IsMapped(const std::string& needle) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    if (line.find(needle) != std::string::npos) return true;
  }
  return false;
}

}  // namespace atrium::testing

#endif  // ATRIUM_TESTS_CONTAINER_TEST_APP_H_
