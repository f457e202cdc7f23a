// Interfaces shared between the fixture bundles and the tests.
#ifndef ATRIUM_TESTS_FIXTURES_H_
#define ATRIUM_TESTS_FIXTURES_H_

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
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

// Registered by a test host for the `gated_*` fixtures: what each of them
// does at a point ("<bundle>" for its Start, "<bundle>#stop" for its Stop,
// "<bundle>:<task>" for a startup task), and a gate per bundle that holds it
// until the test releases it. Steps, run in order:
//   arrive             wait at this bundle's gate until Release(bundle)
//   await:<bundle>     wait until <bundle> arrived at its gate
//   release:<bundle>   release <bundle>'s gate
//   get:<interface>    look the service up (Find) and Report the outcome
//   pool-get:<iface>   an io-pool task looks it up; wait for the task
//   main-wait          post an empty main-loop task and wait for it to run
// Tests wait on conditions here, never on time.
class Gate {
 public:
  static constexpr std::string_view kInterfaceId = "com.test.Gate";
  void Plan(const std::string& point, std::vector<std::string> steps) {
    std::lock_guard lock(mu_);
    plans_[point] = std::move(steps);
  }
  std::vector<std::string> Steps(const std::string& point) const {
    std::lock_guard lock(mu_);
    auto it = plans_.find(point);
    return it == plans_.end() ? std::vector<std::string>{} : it->second;
  }
  // The startup task ids planned for `bundle` ("<bundle>:<task>" points).
  std::vector<std::string> Tasks(const std::string& bundle) const {
    std::lock_guard lock(mu_);
    std::vector<std::string> ids;
    for (const auto& [point, steps] : plans_) {
      if (point.size() > bundle.size() + 1 && point.compare(0, bundle.size(), bundle) == 0 &&
          point[bundle.size()] == ':') {
        ids.push_back(point.substr(bundle.size() + 1));
      }
    }
    return ids;
  }
  void Arrive(const std::string& who) {
    std::unique_lock lock(mu_);
    arrived_.insert(who);
    cv_.notify_all();
    cv_.wait(lock, [&] { return released_.count(who) != 0; });
  }
  void AwaitArrival(const std::string& who) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return arrived_.count(who) != 0; });
  }
  void Release(const std::string& who) {
    std::lock_guard lock(mu_);
    released_.insert(who);
    cv_.notify_all();
  }
  void Report(std::string what) {
    std::lock_guard lock(mu_);
    reports_.push_back(std::move(what));
    cv_.notify_all();
  }
  // Until `n` reports were made.
  std::vector<std::string> AwaitReports(size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return reports_.size() >= n; });
    return reports_;
  }
  std::vector<std::string> reports() const {
    std::lock_guard lock(mu_);
    return reports_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::vector<std::string>> plans_;
  std::set<std::string> arrived_, released_;
  std::vector<std::string> reports_;
};

}  // namespace fixtures

#endif  // ATRIUM_TESTS_FIXTURES_H_
