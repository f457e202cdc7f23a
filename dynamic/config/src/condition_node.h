// The parsed form of a condition (atrium/dynamic/config/condition.h): the
// Node tree condition_parser.cc builds and condition.cc evaluates.
//
// Invariants of a parsed tree:
// 1. It has at most kMaxConditionNodes nodes (atoms, '!', '&&', '||'; an
//    && / || chain is one n-ary node that counts each operator) and is at most
//    kMaxConditionDepth levels of '(' and '!' deep, so evaluation and
//    destruction recurse at most that far. The parser checks the depth before
//    it recurses, so hostile nesting cannot exhaust the stack.
// 2. Every literal is converted at parse time (versions, ranges, dates to
//    unix ms, percents to micro-percent); evaluation only compares.
// 3. A comparison whose fact is missing is false whatever its operator.
//
// Private to dynamic/config. Concurrency: a tree is immutable once parsed.
#ifndef ATRIUM_DYNAMIC_CONFIG_SRC_CONDITION_NODE_H_
#define ATRIUM_DYNAMIC_CONFIG_SRC_CONDITION_NODE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "atrium/dynamic/config/condition.h"
#include "atrium/result.h"
#include "atrium/semver.h"

namespace atrium::config {

struct Condition::Node {
  enum class Kind {
    kTrue,
    kFalse,
    kNot,      // children[0]
    kAnd,      // children (2 or more)
    kOr,       // children (2 or more)
    kString,   // string field `field` op text / list
    kInt,      // int field `field` op integer
    kVersion,  // app.version op version
    kRange,    // app.version satisfies range
    kSignal,   // signal `text` op literal / list / number
    kTime,     // date.now op integer (unix ms)
    kPercent,  // percent(text) op low / high (micro-percent)
  };
  enum class Op { kEq, kNe, kLt, kLe, kGt, kGe, kIn, kNotIn, kContains, kStartsWith, kBetween };
  enum class Field { kAppId, kOs, kLocale, kCountry, kModel, kMemoryMb, kCores };

  Kind kind = Kind::kFalse;
  Op op = Op::kEq;
  Field field = Field::kAppId;
  bool numeric = false;  // kSignal: compares `number` with the signal as a number
  std::string text;      // string literal; signal name; percent seed
  std::string literal;   // kSignal: string literal
  std::vector<std::string> list;
  int64_t integer = 0;  // kInt literal; kTime unix ms
  double number = 0;    // kSignal numeric literal
  uint32_t low = 0;     // kPercent: micro-percent bounds
  uint32_t high = 0;
  std::optional<Version> version;
  std::optional<VersionRange> range;
  std::vector<Node> children;
};

namespace internal {

struct ParsedCondition {
  Condition::Node root;
  bool uses_time = false;
  std::vector<std::string> signals;  // sorted, unique
};

// Parses `text` (at most kMaxConditionText bytes); errors as Condition::Parse.
Result<ParsedCondition> ParseConditionTree(std::string_view text, std::string_view file,
                                           std::string_view name);

// NUMBER's grammar (-?[0-9]+(\.[0-9]+)?) as a double; nullopt when `text` is
// not one or lies beyond a double's range.
std::optional<double> ParseDecimal(std::string_view text);

}  // namespace internal
}  // namespace atrium::config

#endif  // ATRIUM_DYNAMIC_CONFIG_SRC_CONDITION_NODE_H_
