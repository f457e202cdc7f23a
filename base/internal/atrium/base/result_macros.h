// Early-return helpers for code that returns Result / Status values.
//
//   ATRIUM_ASSIGN_OR_RETURN(auto doc, ParseDocument(text));  // or an existing lvalue
//   ATRIUM_RETURN_IF_ERROR(Validate(doc));
#ifndef ATRIUM_BASE_RESULT_MACROS_H_
#define ATRIUM_BASE_RESULT_MACROS_H_

#include <utility>

#include "atrium/result.h"

#define ATRIUM_RESULT_CONCAT_INNER(a, b) a##b
#define ATRIUM_RESULT_CONCAT(a, b) ATRIUM_RESULT_CONCAT_INNER(a, b)
#define ATRIUM_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return std::move(tmp).take_error(); \
  lhs = std::move(tmp).value()
// lhs = value of the Result `expr`, or return its error.
#define ATRIUM_ASSIGN_OR_RETURN(lhs, expr) \
  ATRIUM_ASSIGN_OR_RETURN_IMPL(ATRIUM_RESULT_CONCAT(atrium_result_, __LINE__), lhs, expr)
// Returns the error of the Status `expr`.
#define ATRIUM_RETURN_IF_ERROR(expr)                         \
  do {                                                       \
    ::atrium::Status atrium_status_ = (expr);                \
    if (!atrium_status_.ok()) return atrium_status_.error(); \
  } while (0)

#endif  // ATRIUM_BASE_RESULT_MACROS_H_
