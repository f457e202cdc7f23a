// The condition language of config sets (docs/config.md has the grammar):
//
//   app.version satisfies "^1.2.0" && device.country in ["CN", "SG"]
//   percent("promo") <= 20 || signal.tier == "gold"
//   !(device.memory_mb < 2048) && date.now >= date("2026-12-01T00:00:00", "Asia/Shanghai")
//
// A condition is parsed once (Condition::Parse, with located errors: file,
// condition name and 1-based column) and evaluated many times against a
// DeviceContext. Evaluation is total and bounded: no loops, a parsed
// condition has at most kMaxConditionNodes nodes, and a missing fact
// (no device id for percent, an unset signal, an empty string field, no app
// version) makes the comparison false, whatever its operator.
//
// Concurrency: a parsed Condition is immutable; Evaluate is thread-safe.
#ifndef ATRIUM_DYNAMIC_CONFIG_CONDITION_H_
#define ATRIUM_DYNAMIC_CONFIG_CONDITION_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "atrium/result.h"
#include "atrium/semver.h"

namespace atrium::config {

// What conditions are evaluated against: the app, the device, the host's and
// bundles' custom signals, and the time.
struct DeviceContext {
  std::string app_id;
  std::optional<Version> app_version;
  std::string device_id;  // the randomization id of percent(); empty: percent is false
  std::string os;         // "linux", "android", "ios"
  std::string locale;     // "zh_CN"
  std::string country;    // ISO 3166-1 alpha-2, upper case ("CN")
  std::string model;
  int64_t memory_mb = 0;  // 0 or less: not reported (comparisons are false)
  int64_t cores = 0;      // 0 or less: not reported
  std::map<std::string, std::string, std::less<>> signals;
  int64_t now_unix_ms = 0;  // 0 or less: no clock (date.now comparisons are false)
};

// Limits of the language (a condition beyond them is refused at parse).
inline constexpr size_t kMaxConditionText = 4096;  // bytes
inline constexpr size_t kMaxConditionDepth = 32;   // nesting of ( ) and !
inline constexpr size_t kMaxConditionNodes = 256;  // atoms + operators
inline constexpr size_t kMaxLiteralBytes = 256;    // one string literal
inline constexpr size_t kMaxListItems = 100;       // one [ ... ] list

class Condition {
 public:
  // Parses `text`. Errors are kParse with e.file = `file`, e.offset = the
  // 0-based byte offset, and a message that starts with
  // `condition "<name>": column <N>: ` (N 1-based).
  static Result<Condition> Parse(std::string_view text, std::string_view file,
                                 std::string_view name);

  bool Evaluate(const DeviceContext& context) const;

  // Facts the condition reads, for deciding when values need re-evaluation.
  bool uses_time() const;
  // The signal names it reads (sorted, unique).
  const std::vector<std::string>& signals() const;
  // The text it was parsed from.
  const std::string& text() const;

  struct Node;  // defined in src/condition_node.h

 private:
  std::shared_ptr<const Node> root_;
  std::shared_ptr<const std::vector<std::string>> signals_;
  std::string text_;
  bool uses_time_ = false;
};

}  // namespace atrium::config

#endif  // ATRIUM_DYNAMIC_CONFIG_CONDITION_H_
