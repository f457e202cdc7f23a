// Result<T>: the value-or-error type every fallible Atrium operation returns
// at a boundary (parsing, loading, installing). An Error says what went wrong
// (code + message) and where (file, JSON pointer, byte offset, bundle name),
// so a user can find the problem without a debugger.
//
// Concurrency: plain value types; no shared state.
#ifndef ATRIUM_RESULT_H_
#define ATRIUM_RESULT_H_

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace atrium {

enum class ErrorCode {
  kInvalidArgument,  // caller passed something malformed
  kParse,            // input text/bytes could not be parsed
  kValidation,       // parsed, but violates a rule of the format
  kNotFound,         // named thing does not exist
  kAlreadyExists,    // duplicate name / registration
  kUnresolved,       // bundle dependencies cannot be satisfied
  kLoad,             // dlopen / entry symbol / ABI problem
  kActivation,       // bundle activator failed or threw
  kIo,               // file system or database error
  kState,            // operation not valid in the current state
  kCorrupt,          // stored data failed an integrity check
  kInternal,
  kPermission,  // refused by a policy: not granted, not requested, wrong origin
};

inline const char* ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "invalid argument";
    case ErrorCode::kParse:
      return "parse error";
    case ErrorCode::kValidation:
      return "validation error";
    case ErrorCode::kNotFound:
      return "not found";
    case ErrorCode::kAlreadyExists:
      return "already exists";
    case ErrorCode::kUnresolved:
      return "unresolved";
    case ErrorCode::kLoad:
      return "load error";
    case ErrorCode::kActivation:
      return "activation error";
    case ErrorCode::kIo:
      return "i/o error";
    case ErrorCode::kState:
      return "invalid state";
    case ErrorCode::kCorrupt:
      return "corrupt data";
    case ErrorCode::kInternal:
      return "internal error";
    case ErrorCode::kPermission:
      return "permission denied";
  }
  return "unknown error";
}

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  // Where the problem is, as precisely as known. Empty fields are unknown.
  std::string file;                // path of the file involved
  std::string pointer;             // JSON pointer inside the file ("/requires/0/version")
  std::optional<uint64_t> offset;  // byte offset inside the file
  std::string bundle;              // bundle name involved

  // "file:pointer: message" (the form `atrium validate` prints), with the
  // bundle and offset added when known.
  // Header-only so bundles, which do not link the runtime, can use it.
  std::string ToString() const {
    std::string out;
    if (!file.empty()) out.append(file).append(":");
    if (!pointer.empty()) out.append(pointer).append(":");
    if (offset) out.append("@").append(std::to_string(*offset)).append(":");
    if (!out.empty()) out.push_back(' ');
    if (!bundle.empty() && file.empty()) out.append("[").append(bundle).append("] ");
    out += message;
    return out;
  }
};

inline Error MakeError(ErrorCode code, std::string message) {
  Error e;
  e.code = code;
  e.message = std::move(message);
  return e;
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}      // NOLINT
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    Check();
    return std::get<0>(v_);
  }
  const T& value() const& {
    Check();
    return std::get<0>(v_);
  }
  T&& value() && {
    Check();
    return std::get<0>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const {
    if (ok()) Die("Result::error() called on a value");
    return std::get<1>(v_);
  }
  Error&& take_error() && {
    if (ok()) Die("Result::take_error() called on a value");
    return std::get<1>(std::move(v_));
  }

 private:
  void Check() const {
    if (!ok()) Die(std::get<1>(v_).ToString().c_str());
  }
  [[noreturn]] static void Die(const char* what) {
    std::fprintf(stderr, "atrium: Result::value() on error: %s\n", what);
    std::abort();
  }
  std::variant<T, Error> v_;
};

// Result<void> spelling: Status.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)) {}  // NOLINT
  static Status Ok() { return Status(); }

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const {
    if (ok()) {
      std::fprintf(stderr, "atrium: Status::error() on OK\n");
      std::abort();
    }
    return *error_;
  }

 private:
  std::optional<Error> error_;
};

}  // namespace atrium

#define ATRIUM_CHECK(cond, msg)                                                              \
  do {                                                                                       \
    if (!(cond)) {                                                                           \
      std::fprintf(stderr, "%s:%d: check failed: %s: %s\n", __FILE__, __LINE__, #cond, msg); \
      std::abort();                                                                          \
    }                                                                                        \
  } while (0)

#endif  // ATRIUM_RESULT_H_
