// The condition parser (condition_node.h): recursive descent over
// condition_lexer.h's tokens, building the Node tree with every literal
// converted. Grammar: docs/config.md, "Conditions".
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "atrium/result.h"
#include "atrium/semver.h"
#include "condition_lexer.h"
#include "condition_node.h"
#include "tzif.h"

namespace atrium::config {
namespace {

using Node = Condition::Node;
using internal::DescribeToken;
using internal::ParseDecimal;
using internal::Printable;
using internal::Token;
using internal::TokenKind;

struct FieldName {
  std::string_view name;
  Node::Field field;
  bool is_int;
};
constexpr FieldName kFields[] = {
    {"app.id", Node::Field::kAppId, false},
    {"device.os", Node::Field::kOs, false},
    {"device.locale", Node::Field::kLocale, false},
    {"device.country", Node::Field::kCountry, false},
    {"device.model", Node::Field::kModel, false},
    {"device.memory_mb", Node::Field::kMemoryMb, true},
    {"device.cores", Node::Field::kCores, true},
};

constexpr std::string_view kSignalPrefix = "signal.";
constexpr size_t kMaxSignalName = 64;
constexpr size_t kMaxSeedBytes = 32;
constexpr int64_t kMicroPerPercent = 1'000'000;

std::optional<Node::Op> CompareOp(TokenKind kind) {
  switch (kind) {
    case TokenKind::kEq:
      return Node::Op::kEq;
    case TokenKind::kNe:
      return Node::Op::kNe;
    case TokenKind::kLt:
      return Node::Op::kLt;
    case TokenKind::kLe:
      return Node::Op::kLe;
    case TokenKind::kGt:
      return Node::Op::kGt;
    case TokenKind::kGe:
      return Node::Op::kGe;
    default:
      return std::nullopt;
  }
}

bool IsOrderOp(Node::Op op) {
  return op == Node::Op::kLt || op == Node::Op::kLe || op == Node::Op::kGt || op == Node::Op::kGe;
}

bool IsSignalName(std::string_view name) {
  if (name.empty() || name.size() > kMaxSignalName) return false;
  if (!((name[0] >= 'a' && name[0] <= 'z') || name[0] == '_')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

bool IsSeed(std::string_view seed) {
  return seed.size() <= kMaxSeedBytes && std::all_of(seed.begin(), seed.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '.';
         });
}

// "YYYY-MM-DDTHH:MM:SS" as seconds since 1970-01-01T00:00:00 of its own
// calendar, or an error description.
Result<int64_t> ParseLocalDateTime(std::string_view s) {
  auto fail = [](std::string what) { return MakeError(ErrorCode::kParse, std::move(what)); };
  constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:dd";
  bool shape_ok = s.size() == kShape.size();
  for (size_t i = 0; shape_ok && i < s.size(); ++i) {
    shape_ok = kShape[i] == 'd' ? (s[i] >= '0' && s[i] <= '9') : s[i] == kShape[i];
  }
  if (!shape_ok) return fail("expected YYYY-MM-DDTHH:MM:SS");
  auto num = [&](size_t at, size_t n) {
    int v = 0;
    for (size_t i = at; i < at + n; ++i) v = v * 10 + (s[i] - '0');
    return v;
  };
  const int year = num(0, 4), month = num(5, 2), day = num(8, 2);
  const int hour = num(11, 2), minute = num(14, 2), second = num(17, 2);
  if (month < 1 || month > 12) return fail("month out of range");
  if (day < 1 || day > static_cast<int>(internal::DaysInMonth(year, month))) {
    return fail("day out of range");
  }
  if (hour > 23 || minute > 59 || second > 59) return fail("time of day out of range");
  return internal::DaysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
}

// "+08:00" / "-05:30" as seconds east of UTC.
std::optional<int32_t> ParseFixedOffset(std::string_view s) {
  if (s.size() != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':') return std::nullopt;
  for (size_t i : {1, 2, 4, 5}) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
  }
  const int hours = (s[1] - '0') * 10 + (s[2] - '0');
  const int minutes = (s[4] - '0') * 10 + (s[5] - '0');
  if (hours > 23 || minutes > 59) return std::nullopt;
  const int32_t seconds = hours * 3600 + minutes * 60;
  return s[0] == '-' ? -seconds : seconds;
}

class Parser {
 public:
  Parser(std::string_view text, std::string_view file, std::string_view name)
      : file_(file), name_(name), lexed_(internal::LexCondition(text, kMaxLiteralBytes)) {}

  std::optional<Node> Run() {
    if (Peek().kind == TokenKind::kEnd) {
      Fail(0, "empty condition");
      return std::nullopt;
    }
    Node root;
    if (!ParseOr(0, &root)) return std::nullopt;
    if (Peek().kind != TokenKind::kEnd) {
      FailAt(Peek(), "unexpected " + DescribeToken(Peek()) +
                         " after the end of the condition (join conditions with && or ||)");
      return std::nullopt;
    }
    return root;
  }

  Error TakeError() && { return std::move(*error_); }
  bool uses_time() const { return uses_time_; }
  std::vector<std::string> TakeSignals() && {
    std::sort(signals_.begin(), signals_.end());
    signals_.erase(std::unique(signals_.begin(), signals_.end()), signals_.end());
    return std::move(signals_);
  }

 private:
  const Token& Peek() const { return lexed_.tokens[pos_]; }
  const Token& Take() {
    const Token& t = lexed_.tokens[pos_];
    if (t.kind != TokenKind::kEnd && t.kind != TokenKind::kError) ++pos_;
    return t;
  }
  bool PeekWord(std::string_view word) const {
    return Peek().kind == TokenKind::kWord && Peek().text == word;
  }

  bool Fail(size_t offset, std::string what) {
    if (!error_) {
      Error e = MakeError(ErrorCode::kParse, "condition \"" + name_ + "\": column " +
                                                 std::to_string(offset + 1) + ": " + what);
      e.file = file_;
      e.offset = offset;
      error_ = std::move(e);
    }
    return false;
  }
  // An error at `token`; at a lexer error token, the lexer's error instead.
  bool FailAt(const Token& token, std::string what) {
    if (token.kind == TokenKind::kError) return Fail(token.offset, lexed_.error);
    return Fail(token.offset, std::move(what));
  }
  bool CountNode(const Token& at) {
    if (++nodes_ > kMaxConditionNodes) {
      return Fail(at.offset,
                  "more than " + std::to_string(kMaxConditionNodes) + " conditions and operators");
    }
    return true;
  }
  bool Deeper(const Token& at, size_t depth) {
    if (depth + 1 > kMaxConditionDepth) {
      return Fail(at.offset, "nested deeper than " + std::to_string(kMaxConditionDepth) +
                                 " levels of '(' and '!'");
    }
    return true;
  }

  // A string token after `after` for `subject`, into *out.
  bool ExpectString(std::string_view after, std::string_view subject, std::string* out,
                    size_t* offset = nullptr) {
    const Token& t = Take();
    if (t.kind != TokenKind::kString) {
      return FailAt(t, "expected a string after " + std::string(after) + " for " +
                           std::string(subject) + ", found " + DescribeToken(t));
    }
    *out = t.text;
    if (offset) *offset = t.offset;
    return true;
  }
  bool Expect(TokenKind kind, std::string_view what, std::string_view context) {
    const Token& t = Take();
    if (t.kind != kind) {
      return FailAt(t, "expected " + std::string(what) + " " + std::string(context) + ", found " +
                           DescribeToken(t));
    }
    return true;
  }

  bool ParseOr(size_t depth, Node* out) { return ParseChain(depth, TokenKind::kOr, out); }
  bool ParseAnd(size_t depth, Node* out) { return ParseChain(depth, TokenKind::kAnd, out); }

  // operand { op operand }, the operands being and-chains (for ||) or unaries.
  bool ParseChain(size_t depth, TokenKind op, Node* out) {
    auto operand = [&](Node* n) {
      return op == TokenKind::kOr ? ParseAnd(depth, n) : ParseUnary(depth, n);
    };
    Node first;
    if (!operand(&first)) return false;
    if (Peek().kind != op) {
      *out = std::move(first);
      return true;
    }
    Node chain;
    chain.kind = op == TokenKind::kOr ? Node::Kind::kOr : Node::Kind::kAnd;
    chain.children.push_back(std::move(first));
    while (Peek().kind == op) {
      if (!CountNode(Take())) return false;
      Node next;
      if (!operand(&next)) return false;
      chain.children.push_back(std::move(next));
    }
    *out = std::move(chain);
    return true;
  }

  bool ParseUnary(size_t depth, Node* out) {
    if (Peek().kind != TokenKind::kBang) return ParsePrimary(depth, out);
    const Token& bang = Peek();
    if (!Deeper(bang, depth) || !CountNode(bang)) return false;
    Take();
    Node operand;
    if (!ParseUnary(depth + 1, &operand)) return false;
    out->kind = Node::Kind::kNot;
    out->children.push_back(std::move(operand));
    return true;
  }

  bool ParsePrimary(size_t depth, Node* out) {
    const Token& t = Peek();
    if (t.kind == TokenKind::kLParen) {
      if (!Deeper(t, depth)) return false;
      Take();
      if (!ParseOr(depth + 1, out)) return false;
      return Expect(TokenKind::kRParen, "')'",
                    "to close the '(' at column " + std::to_string(t.offset + 1));
    }
    if (t.kind != TokenKind::kWord) {
      return FailAt(t, "expected a condition, found " + DescribeToken(t));
    }
    if (!CountNode(t)) return false;
    const std::string& word = t.text;
    if (word == "true" || word == "false") {
      Take();
      out->kind = word == "true" ? Node::Kind::kTrue : Node::Kind::kFalse;
      return true;
    }
    if (word == "app.version") return ParseVersion(out);
    if (word == "date.now") return ParseTime(out);
    if (word == "percent") return ParsePercent(out);
    if (word.starts_with(kSignalPrefix)) return ParseSignal(out);
    for (const FieldName& f : kFields) {
      if (word == f.name) return f.is_int ? ParseInt(f, out) : ParseString(f, out);
    }
    return Fail(t.offset, "unknown field '" + Printable(word) + "'");
  }

  // ["not"] "in" "[" STRING { "," STRING } "]", after the subject.
  bool ParseList(std::string_view subject, Node::Op* op, std::vector<std::string>* list) {
    *op = Node::Op::kIn;
    if (PeekWord("not")) {
      Take();
      *op = Node::Op::kNotIn;
      if (!PeekWord("in")) {
        return FailAt(Peek(), "expected 'in' after 'not' for " + std::string(subject) + ", found " +
                                  DescribeToken(Peek()));
      }
    }
    Take();  // "in"
    if (!Expect(TokenKind::kLBracket, "'['", "after 'in' for " + std::string(subject))) {
      return false;
    }
    if (Peek().kind == TokenKind::kRBracket) {
      return Fail(Peek().offset, "empty list after 'in' for " + std::string(subject));
    }
    for (;;) {
      const Token& item = Peek();
      if (list->size() == kMaxListItems) {
        return Fail(item.offset, "list for " + std::string(subject) + " has more than " +
                                     std::to_string(kMaxListItems) + " items");
      }
      std::string value;
      if (!ExpectString("'in ['", subject, &value)) return false;
      list->push_back(std::move(value));
      const Token& sep = Take();
      if (sep.kind == TokenKind::kRBracket) return true;
      if (sep.kind != TokenKind::kComma) {
        return FailAt(sep, "expected ',' or ']' in the list for " + std::string(subject) +
                               ", found " + DescribeToken(sep));
      }
    }
  }

  bool ParseString(const FieldName& f, Node* out) {
    const std::string subject(Take().text);
    out->kind = Node::Kind::kString;
    out->field = f.field;
    const Token& op = Peek();
    if (op.kind == TokenKind::kEq || op.kind == TokenKind::kNe) {
      Take();
      out->op = op.kind == TokenKind::kEq ? Node::Op::kEq : Node::Op::kNe;
      return ExpectString(DescribeToken(op), subject, &out->text);
    }
    if (PeekWord("in") || PeekWord("not")) return ParseList(subject, &out->op, &out->list);
    if (PeekWord("contains") || PeekWord("starts_with")) {
      out->op = op.text == "contains" ? Node::Op::kContains : Node::Op::kStartsWith;
      const std::string after = DescribeToken(Take());
      return ExpectString(after, subject, &out->text);
    }
    return FailAt(op, "expected ==, !=, in, not in, contains or starts_with after " + subject +
                          ", found " + DescribeToken(op));
  }

  bool ParseInt(const FieldName& f, Node* out) {
    const std::string subject(Take().text);
    out->kind = Node::Kind::kInt;
    out->field = f.field;
    const Token& op = Take();
    std::optional<Node::Op> cmp = CompareOp(op.kind);
    if (!cmp) {
      return FailAt(
          op, "expected ==, !=, <, <=, > or >= after " + subject + ", found " + DescribeToken(op));
    }
    out->op = *cmp;
    const Token& lit = Take();
    if (lit.kind != TokenKind::kNumber || lit.text.find('.') != std::string::npos) {
      return FailAt(lit, "expected an integer after " + DescribeToken(op) + " for " + subject +
                             ", found " + DescribeToken(lit));
    }
    const char* begin = lit.text.data();
    const char* end = begin + lit.text.size();
    auto [stop, ec] = std::from_chars(begin, end, out->integer);
    if (ec != std::errc() || stop != end) {
      return Fail(lit.offset, "integer " + Printable(lit.text) + " for " + subject +
                                  " is out of the 64-bit range");
    }
    return true;
  }

  bool ParseVersion(Node* out) {
    const std::string subject(Take().text);
    const Token& op = Take();
    std::string literal;
    size_t at = 0;
    if (op.kind == TokenKind::kWord && op.text == "satisfies") {
      if (!ExpectString("'satisfies'", subject, &literal, &at)) return false;
      Result<VersionRange> range = VersionRange::Parse(literal);
      if (!range.ok()) {
        return Fail(at, "expected a version range for app.version: " + range.error().message);
      }
      out->kind = Node::Kind::kRange;
      out->range = std::move(range).value();
      return true;
    }
    std::optional<Node::Op> cmp = CompareOp(op.kind);
    if (!cmp) {
      return FailAt(op, "expected ==, !=, <, <=, >, >= or satisfies after app.version, found " +
                            DescribeToken(op));
    }
    if (!ExpectString(DescribeToken(op), subject, &literal, &at)) return false;
    Result<Version> version = Version::Parse(literal);
    if (!version.ok()) {
      return Fail(at, "expected a semantic version for app.version: " + version.error().message);
    }
    out->kind = Node::Kind::kVersion;
    out->op = *cmp;
    out->version = std::move(version).value();
    return true;
  }

  bool ParseSignal(Node* out) {
    const Token& field = Take();
    const std::string subject = field.text;
    const std::string name = subject.substr(kSignalPrefix.size());
    if (!IsSignalName(name)) {
      return Fail(field.offset + kSignalPrefix.size(),
                  "invalid signal name '" + Printable(name) +
                      "' (expected [a-z_][a-z0-9_]*, at most 64 bytes)");
    }
    out->kind = Node::Kind::kSignal;
    out->text = name;
    signals_.push_back(name);
    const Token& op = Peek();
    if (PeekWord("in") || PeekWord("not")) return ParseList(subject, &out->op, &out->list);
    if (PeekWord("contains")) {
      Take();
      out->op = Node::Op::kContains;
      return ExpectString("'contains'", subject, &out->literal);
    }
    std::optional<Node::Op> cmp = CompareOp(op.kind);
    if (!cmp) {
      return FailAt(op, "expected ==, !=, in, not in, contains, <, <=, > or >= after " + subject +
                            ", found " + DescribeToken(op));
    }
    Take();
    out->op = *cmp;
    if (!IsOrderOp(*cmp)) return ExpectString(DescribeToken(op), subject, &out->literal);
    out->numeric = true;
    const Token& lit = Take();
    if (lit.kind != TokenKind::kNumber) {
      return FailAt(lit, "expected a number after " + DescribeToken(op) + " for " + subject +
                             ", found " + DescribeToken(lit));
    }
    std::optional<double> number = ParseDecimal(lit.text);
    if (!number) {
      return Fail(lit.offset,
                  "number " + Printable(lit.text) + " for " + subject + " is out of range");
    }
    out->number = *number;
    return true;
  }

  bool ParseTime(Node* out) {
    Take();
    const Token& op = Take();
    std::optional<Node::Op> cmp = CompareOp(op.kind);
    if (!cmp || !IsOrderOp(*cmp)) {
      return FailAt(op, "expected <, <=, > or >= after date.now, found " + DescribeToken(op));
    }
    const Token& date = Take();
    if (date.kind != TokenKind::kWord || date.text != "date") {
      return FailAt(date, "expected date(\"YYYY-MM-DDTHH:MM:SS\") after " + DescribeToken(op) +
                              " for date.now, found " + DescribeToken(date));
    }
    if (!Expect(TokenKind::kLParen, "'('", "after 'date'")) return false;
    std::string text;
    size_t text_at = 0;
    if (!ExpectString("'date('", "date.now", &text, &text_at)) return false;
    Result<int64_t> local = ParseLocalDateTime(text);
    if (!local.ok()) {
      return Fail(text_at,
                  "invalid date-time \"" + Printable(text) + "\": " + local.error().message);
    }
    int64_t unix_seconds = *local;
    if (Peek().kind == TokenKind::kComma) {
      Take();
      std::string zone;
      size_t zone_at = 0;
      if (!ExpectString("','", "date()", &zone, &zone_at)) return false;
      Result<int64_t> converted = ToUnix(*local, zone);
      if (!converted.ok()) return Fail(zone_at, converted.error().message);
      unix_seconds = *converted;
    }
    if (!Expect(TokenKind::kRParen, "')'", "to close 'date('")) return false;
    out->kind = Node::Kind::kTime;
    out->op = *cmp;
    out->integer = unix_seconds * 1000;
    uses_time_ = true;
    return true;
  }

  static Result<int64_t> ToUnix(int64_t local, std::string_view zone) {
    if (zone == "Z" || zone == "UTC") return local;
    if (!zone.empty() && (zone[0] == '+' || zone[0] == '-')) {
      std::optional<int32_t> offset = ParseFixedOffset(zone);
      if (!offset) {
        return MakeError(ErrorCode::kParse, "invalid UTC offset '" + Printable(zone) +
                                                "' (expected +HH:MM or -HH:MM)");
      }
      return local - *offset;
    }
    if (!internal::IsValidZoneName(zone)) {
      return MakeError(ErrorCode::kParse,
                       "invalid time zone name '" + Printable(zone) +
                           "' (expected an IANA name such as Asia/Shanghai, +HH:MM or UTC)");
    }
    Result<internal::TimeZone> tz = internal::TimeZone::Load(internal::kZoneInfoDir, zone);
    if (!tz.ok()) return tz.error();
    return tz->LocalToUnix(local);
  }

  // A percent bound: 0-100 with at most 6 decimals, in micro-percent.
  bool ParsePercentNumber(std::string_view after, uint32_t* out) {
    const Token& lit = Take();
    if (lit.kind != TokenKind::kNumber) {
      return FailAt(lit, "expected a percentage after " + std::string(after) +
                             " for percent, found " + DescribeToken(lit));
    }
    std::string_view s = lit.text;
    const size_t dot = s.find('.');
    std::string_view whole = s.substr(0, dot);
    std::string_view fraction = dot == std::string_view::npos ? "" : s.substr(dot + 1);
    while (whole.size() > 1 && whole[0] == '0') whole.remove_prefix(1);
    if (s[0] == '-' || whole.size() > 3) {
      return Fail(lit.offset, "percentage " + Printable(s) + " is not between 0 and 100");
    }
    if (fraction.size() > 6) {
      return Fail(lit.offset, "percentage " + Printable(s) + " has more than 6 decimals");
    }
    int64_t micro = 0;
    for (char c : whole) micro = micro * 10 + (c - '0');
    micro *= kMicroPerPercent;
    int64_t scale = kMicroPerPercent / 10;
    for (char c : fraction) {
      micro += (c - '0') * scale;
      scale /= 10;
    }
    if (micro > 100 * kMicroPerPercent) {
      return Fail(lit.offset, "percentage " + Printable(s) + " is not between 0 and 100");
    }
    *out = static_cast<uint32_t>(micro);
    return true;
  }

  bool ParsePercent(Node* out) {
    Take();
    out->kind = Node::Kind::kPercent;
    if (Peek().kind == TokenKind::kLParen) {
      Take();
      size_t at = 0;
      if (!ExpectString("'percent('", "percent", &out->text, &at)) return false;
      if (!IsSeed(out->text)) {
        return Fail(at, "invalid percent seed \"" + Printable(out->text) +
                            "\" (0 to 32 bytes of [-_.0-9a-zA-Z])");
      }
      if (!Expect(TokenKind::kRParen, "')'", "after the percent seed")) return false;
    }
    const Token& op = Take();
    if (op.kind == TokenKind::kLe) {
      out->op = Node::Op::kLe;
      return ParsePercentNumber("'<='", &out->high);
    }
    if (op.kind == TokenKind::kGt) {
      out->op = Node::Op::kGt;
      return ParsePercentNumber("'>'", &out->low);
    }
    if (op.kind != TokenKind::kWord || op.text != "between") {
      return FailAt(op, "expected <=, > or between after percent, found " + DescribeToken(op));
    }
    out->op = Node::Op::kBetween;
    const size_t low_at = Peek().offset;
    if (!ParsePercentNumber("'between'", &out->low)) return false;
    if (!PeekWord("and")) {
      return FailAt(Peek(), "expected 'and' after the lower bound of percent between, found " +
                                DescribeToken(Peek()));
    }
    Take();
    if (!ParsePercentNumber("'and'", &out->high)) return false;
    if (out->low > out->high) {
      return Fail(low_at, "percent between: the lower bound is above the upper bound");
    }
    return true;
  }

  std::string file_;
  std::string name_;
  internal::LexedCondition lexed_;
  size_t pos_ = 0;
  size_t nodes_ = 0;
  bool uses_time_ = false;
  std::vector<std::string> signals_;
  std::optional<Error> error_;
};

}  // namespace

namespace internal {

// NUMBER's grammar (-?[0-9]+(\.[0-9]+)?) as a double; nullopt when `text` is
// not one or lies beyond a double's range.
std::optional<double> ParseDecimal(std::string_view text) {
  size_t i = 0;
  if (i < text.size() && text[i] == '-') ++i;
  const size_t digits = i;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
  if (i == digits) return std::nullopt;
  if (i < text.size() && text[i] == '.') {
    const size_t fraction = ++i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    if (i == fraction) return std::nullopt;
  }
  if (i != text.size()) return std::nullopt;
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

Result<ParsedCondition> ParseConditionTree(std::string_view text, std::string_view file,
                                           std::string_view name) {
  Parser parser(text, file, name);
  std::optional<Node> root = parser.Run();
  if (!root) return std::move(parser).TakeError();
  ParsedCondition parsed;
  parsed.root = std::move(*root);
  parsed.uses_time = parser.uses_time();
  parsed.signals = std::move(parser).TakeSignals();
  return parsed;
}

}  // namespace internal
}  // namespace atrium::config
