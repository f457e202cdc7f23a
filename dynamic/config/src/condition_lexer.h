// The tokens of the condition language (docs/config.md, "Conditions") and
// the lexer that cuts a condition's text into them. Private to
// dynamic/config: condition.cc parses the tokens.
//
// The lexer stops at the first malformed byte: the token list then ends in a
// kError token located there, so the parser reports problems in text order.
//
// Concurrency: pure functions over their arguments; thread-safe.
#ifndef ATRIUM_DYNAMIC_CONFIG_SRC_CONDITION_LEXER_H_
#define ATRIUM_DYNAMIC_CONFIG_SRC_CONDITION_LEXER_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace atrium::config::internal {

enum class TokenKind {
  kEnd,       // end of input
  kError,     // malformed input here; LexedCondition::error says what
  kLParen,    // (
  kRParen,    // )
  kLBracket,  // [
  kRBracket,  // ]
  kComma,     // ,
  kBang,      // !
  kAnd,       // &&
  kOr,        // ||
  kEq,        // ==
  kNe,        // !=
  kLt,        // <
  kLe,        // <=
  kGt,        // >
  kGe,        // >=
  kString,    // "..." (text holds the decoded value)
  kNumber,    // -?[0-9]+(\.[0-9]+)? (text holds it as written)
  kWord,      // [A-Za-z_][A-Za-z0-9_.]*: fields, keywords, signal.NAME
};

struct Token {
  TokenKind kind = TokenKind::kEnd;
  size_t offset = 0;  // of the token's first byte in the condition
  std::string text;
};

struct LexedCondition {
  // Never empty; the last token is kEnd or kError.
  std::vector<Token> tokens;
  std::string error;  // when the last token is kError
};

LexedCondition LexCondition(std::string_view text, size_t max_literal_bytes);

// How a token reads in an error message: "end of input", "'=='",
// "string \"CN\"", "number 12", "'device.colour'" (long texts shortened).
std::string DescribeToken(const Token& token);
// `bytes` for an error message: printable ASCII as is, the rest as \xNN,
// cut after `max` bytes with "...".
std::string Printable(std::string_view bytes, size_t max = 40);

}  // namespace atrium::config::internal

#endif  // ATRIUM_DYNAMIC_CONFIG_SRC_CONDITION_LEXER_H_
