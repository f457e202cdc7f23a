// The condition language (atrium/dynamic/config/condition.h): Parse checks
// the size limit and hands the text to condition_parser.cc; Evaluate walks
// the Node tree (condition_node.h has its invariants).
#include "atrium/dynamic/config/condition.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "atrium/base/bucket.h"
#include "atrium/result.h"
#include "condition_node.h"

namespace atrium::config {
namespace {

using Node = Condition::Node;

template <typename T>
bool Compare(Node::Op op, const T& a, const T& b) {
  switch (op) {
    case Node::Op::kEq:
      return a == b;
    case Node::Op::kNe:
      return !(a == b);
    case Node::Op::kLt:
      return a < b;
    case Node::Op::kLe:
      return a < b || a == b;
    case Node::Op::kGt:
      return b < a;
    case Node::Op::kGe:
      return b < a || a == b;
    default:
      return false;
  }
}

// Empty strings and non-positive numbers are facts the host did not give.
const std::string* StringFact(Node::Field field, const DeviceContext& c) {
  const std::string* value = nullptr;
  switch (field) {
    case Node::Field::kAppId:
      value = &c.app_id;
      break;
    case Node::Field::kOs:
      value = &c.os;
      break;
    case Node::Field::kLocale:
      value = &c.locale;
      break;
    case Node::Field::kCountry:
      value = &c.country;
      break;
    case Node::Field::kModel:
      value = &c.model;
      break;
    default:
      return nullptr;
  }
  return value->empty() ? nullptr : value;
}

bool MatchText(const Node& n, std::string_view value, std::string_view literal) {
  switch (n.op) {
    case Node::Op::kEq:
      return value == literal;
    case Node::Op::kNe:
      return value != literal;
    case Node::Op::kIn:
    case Node::Op::kNotIn: {
      const bool found = std::find(n.list.begin(), n.list.end(), value) != n.list.end();
      return n.op == Node::Op::kIn ? found : !found;
    }
    case Node::Op::kContains:
      return value.find(literal) != std::string_view::npos;
    case Node::Op::kStartsWith:
      return value.starts_with(literal);
    default:
      return false;
  }
}

bool Eval(const Node& n, const DeviceContext& c) {
  switch (n.kind) {
    case Node::Kind::kTrue:
      return true;
    case Node::Kind::kFalse:
      return false;
    case Node::Kind::kNot:
      return !Eval(n.children[0], c);
    case Node::Kind::kAnd:
      return std::all_of(n.children.begin(), n.children.end(),
                         [&](const Node& child) { return Eval(child, c); });
    case Node::Kind::kOr:
      return std::any_of(n.children.begin(), n.children.end(),
                         [&](const Node& child) { return Eval(child, c); });
    case Node::Kind::kString: {
      const std::string* value = StringFact(n.field, c);
      return value && MatchText(n, *value, n.text);
    }
    case Node::Kind::kInt: {
      const int64_t value = n.field == Node::Field::kMemoryMb ? c.memory_mb : c.cores;
      return value > 0 && Compare(n.op, value, n.integer);
    }
    case Node::Kind::kVersion:
      return c.app_version && Compare(n.op, *c.app_version, *n.version);
    case Node::Kind::kRange:
      return c.app_version && n.range->Matches(*c.app_version);
    case Node::Kind::kSignal: {
      auto it = c.signals.find(n.text);
      if (it == c.signals.end()) return false;
      if (!n.numeric) return MatchText(n, it->second, n.literal);
      std::optional<double> value = internal::ParseDecimal(it->second);
      return value && Compare(n.op, *value, n.number);
    }
    case Node::Kind::kTime:
      return c.now_unix_ms > 0 && Compare(n.op, c.now_unix_ms, n.integer);
    case Node::Kind::kPercent: {
      if (c.device_id.empty()) return false;
      const uint32_t micro = atrium::internal::MicroPercentile(n.text, c.device_id);
      switch (n.op) {
        case Node::Op::kLe:
          return micro <= n.high;
        case Node::Op::kGt:
          return micro > n.low;
        default:
          return micro > n.low && micro <= n.high;
      }
    }
  }
  return false;
}

}  // namespace

Result<Condition> Condition::Parse(std::string_view text, std::string_view file,
                                   std::string_view name) {
  if (text.size() > kMaxConditionText) {
    Error e = MakeError(ErrorCode::kParse, "condition \"" + std::string(name) + "\": column " +
                                               std::to_string(kMaxConditionText + 1) +
                                               ": condition is " + std::to_string(text.size()) +
                                               " bytes, longer than the limit of " +
                                               std::to_string(kMaxConditionText));
    e.file = std::string(file);
    e.offset = kMaxConditionText;
    return e;
  }
  Result<internal::ParsedCondition> parsed = internal::ParseConditionTree(text, file, name);
  if (!parsed.ok()) return std::move(parsed).take_error();
  Condition condition;
  condition.uses_time_ = parsed->uses_time;
  condition.signals_ = std::make_shared<const std::vector<std::string>>(std::move(parsed->signals));
  condition.root_ = std::make_shared<const Node>(std::move(parsed->root));
  condition.text_ = std::string(text);
  return condition;
}

bool Condition::Evaluate(const DeviceContext& context) const {
  return root_ && Eval(*root_, context);
}

bool Condition::uses_time() const { return uses_time_; }

const std::vector<std::string>& Condition::signals() const {
  static const std::vector<std::string>* const kNone = new std::vector<std::string>();
  return signals_ ? *signals_ : *kNone;
}

const std::string& Condition::text() const { return text_; }

}  // namespace atrium::config
