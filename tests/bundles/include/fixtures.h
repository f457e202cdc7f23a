// Interfaces shared between the fixture bundles and the tests.
#ifndef ATRIUM_TESTS_FIXTURES_H_
#define ATRIUM_TESTS_FIXTURES_H_

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace fixtures {

class Greeter {
 public:
  static constexpr std::string_view kInterfaceId = "com.test.greeter.Greeter";
  virtual ~Greeter() = default;
  virtual std::string Greet(std::string_view who) const = 0;
};

// Registered by the test host; bundles append "start:<name>" / "stop:<name>".
class Journal {
 public:
  static constexpr std::string_view kInterfaceId = "com.test.Journal";
  void Add(std::string entry) {
    std::lock_guard lock(mu_);
    entries_.push_back(std::move(entry));
  }
  std::vector<std::string> entries() const {
    std::lock_guard lock(mu_);
    return entries_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> entries_;
};

// Provided by the live-swappable counter bundle: its count is handed over
// from version to version.
class Counter {
 public:
  static constexpr std::string_view kInterfaceId = "com.test.counter.Counter";
  virtual ~Counter() = default;
  virtual int64_t Next() = 0;
  virtual std::string Version() const = 0;
};

}  // namespace fixtures

#endif  // ATRIUM_TESTS_FIXTURES_H_
