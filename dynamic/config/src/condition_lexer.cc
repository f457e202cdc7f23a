// The condition lexer (condition_lexer.h).
#include "condition_lexer.h"

#include <cstdio>
#include <string>
#include <string_view>
#include <utility>

namespace atrium::config::internal {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsWordStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsWordByte(char c) { return IsWordStart(c) || IsDigit(c) || c == '.'; }
bool IsControl(unsigned char c) { return c < 0x20 || c == 0x7f; }

std::string ByteName(unsigned char c) {
  char buffer[16];
  if (c >= 0x21 && c < 0x7f) {
    std::snprintf(buffer, sizeof buffer, "'%c'", c);
  } else {
    std::snprintf(buffer, sizeof buffer, "byte 0x%02x", c);
  }
  return buffer;
}

class Lexer {
 public:
  Lexer(std::string_view text, size_t max_literal_bytes)
      : text_(text), max_literal_bytes_(max_literal_bytes) {}

  LexedCondition Run() {
    for (;;) {
      SkipSpace();
      if (pos_ >= text_.size()) {
        Emit(TokenKind::kEnd, pos_, {});
        return std::move(out_);
      }
      if (!Next()) return std::move(out_);
    }
  }

 private:
  void SkipSpace() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n')) {
      ++pos_;
    }
  }

  void Emit(TokenKind kind, size_t offset, std::string text) {
    out_.tokens.push_back(Token{kind, offset, std::move(text)});
  }

  bool Fail(size_t offset, std::string message) {
    Emit(TokenKind::kError, offset, {});
    out_.error = std::move(message);
    return false;
  }

  char At(size_t i) const { return i < text_.size() ? text_[i] : '\0'; }

  // One token at pos_ (not at the end, not on a space).
  bool Next() {
    const size_t start = pos_;
    const char c = text_[pos_];
    auto two = [&](char second, TokenKind kind, const char* hint) {
      if (At(start + 1) != second) {
        return Fail(start, std::string("unexpected '") + c + "' (did you mean '" + hint + "'?)");
      }
      pos_ += 2;
      Emit(kind, start, {});
      return true;
    };
    auto one_or_two = [&](TokenKind single, TokenKind with_eq) {
      const bool eq = At(start + 1) == '=';
      pos_ += eq ? 2 : 1;
      Emit(eq ? with_eq : single, start, {});
      return true;
    };
    switch (c) {
      case '(':
      case ')':
      case '[':
      case ']':
      case ',': {
        ++pos_;
        TokenKind kind = c == '('   ? TokenKind::kLParen
                         : c == ')' ? TokenKind::kRParen
                         : c == '[' ? TokenKind::kLBracket
                         : c == ']' ? TokenKind::kRBracket
                                    : TokenKind::kComma;
        Emit(kind, start, {});
        return true;
      }
      case '&':
        return two('&', TokenKind::kAnd, "&&");
      case '|':
        return two('|', TokenKind::kOr, "||");
      case '=':
        return two('=', TokenKind::kEq, "==");
      case '!':
        return one_or_two(TokenKind::kBang, TokenKind::kNe);
      case '<':
        return one_or_two(TokenKind::kLt, TokenKind::kLe);
      case '>':
        return one_or_two(TokenKind::kGt, TokenKind::kGe);
      case '"':
        return String();
      default:
        break;
    }
    if (IsDigit(c) || (c == '-' && IsDigit(At(start + 1)))) return Number();
    if (c == '-') return Fail(start, "expected a digit after '-'");
    if (IsWordStart(c)) {
      while (pos_ < text_.size() && IsWordByte(text_[pos_])) ++pos_;
      Emit(TokenKind::kWord, start, std::string(text_.substr(start, pos_ - start)));
      return true;
    }
    return Fail(start, "unexpected " + ByteName(static_cast<unsigned char>(c)));
  }

  bool Number() {
    const size_t start = pos_;
    if (text_[pos_] == '-') ++pos_;
    while (pos_ < text_.size() && IsDigit(text_[pos_])) ++pos_;
    if (At(pos_) == '.') {
      if (!IsDigit(At(pos_ + 1))) return Fail(pos_, "expected a digit after '.' in a number");
      ++pos_;
      while (pos_ < text_.size() && IsDigit(text_[pos_])) ++pos_;
    }
    Emit(TokenKind::kNumber, start, std::string(text_.substr(start, pos_ - start)));
    return true;
  }

  bool String() {
    const size_t start = pos_++;
    std::string value;
    for (;;) {
      if (pos_ >= text_.size()) return Fail(start, "unterminated string");
      const unsigned char c = static_cast<unsigned char>(text_[pos_]);
      if (c == '"') break;
      if (IsControl(c)) {
        return Fail(pos_, "control character " + ByteName(c) + " in a string (write \\n or \\t)");
      }
      if (c == '\\') {
        const char e = At(pos_ + 1);
        if (e == '"' || e == '\\') {
          value.push_back(e);
        } else if (e == 'n') {
          value.push_back('\n');
        } else if (e == 't') {
          value.push_back('\t');
        } else if (pos_ + 1 >= text_.size()) {
          return Fail(start, "unterminated string");
        } else {
          return Fail(pos_, "unknown escape \\" + Printable(std::string_view(&e, 1)) +
                                " in a string (allowed: \\\" \\\\ \\n \\t)");
        }
        pos_ += 2;
      } else {
        value.push_back(static_cast<char>(c));
        ++pos_;
      }
      if (value.size() > max_literal_bytes_) {
        return Fail(start, "string longer than the limit of " + std::to_string(max_literal_bytes_) +
                               " bytes");
      }
    }
    ++pos_;
    Emit(TokenKind::kString, start, std::move(value));
    return true;
  }

  std::string_view text_;
  size_t max_literal_bytes_;
  size_t pos_ = 0;
  LexedCondition out_;
};

}  // namespace

LexedCondition LexCondition(std::string_view text, size_t max_literal_bytes) {
  return Lexer(text, max_literal_bytes).Run();
}

std::string Printable(std::string_view bytes, size_t max) {
  std::string out;
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (i == max) {
      out += "...";
      break;
    }
    const unsigned char c = static_cast<unsigned char>(bytes[i]);
    if (c >= 0x20 && c < 0x7f) {
      out.push_back(static_cast<char>(c));
    } else {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\x%02x", c);
      out += buffer;
    }
  }
  return out;
}

std::string DescribeToken(const Token& token) {
  switch (token.kind) {
    case TokenKind::kEnd:
    case TokenKind::kError:
      return "end of input";
    case TokenKind::kLParen:
      return "'('";
    case TokenKind::kRParen:
      return "')'";
    case TokenKind::kLBracket:
      return "'['";
    case TokenKind::kRBracket:
      return "']'";
    case TokenKind::kComma:
      return "','";
    case TokenKind::kBang:
      return "'!'";
    case TokenKind::kAnd:
      return "'&&'";
    case TokenKind::kOr:
      return "'||'";
    case TokenKind::kEq:
      return "'=='";
    case TokenKind::kNe:
      return "'!='";
    case TokenKind::kLt:
      return "'<'";
    case TokenKind::kLe:
      return "'<='";
    case TokenKind::kGt:
      return "'>'";
    case TokenKind::kGe:
      return "'>='";
    case TokenKind::kString:
      return "string \"" + Printable(token.text) + "\"";
    case TokenKind::kNumber:
      return "number " + Printable(token.text);
    case TokenKind::kWord:
      return "'" + Printable(token.text) + "'";
  }
  return "?";
}

}  // namespace atrium::config::internal
