#include "atrium/result.h"

namespace atrium {

const char* ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid argument";
    case ErrorCode::kParse: return "parse error";
    case ErrorCode::kValidation: return "validation error";
    case ErrorCode::kNotFound: return "not found";
    case ErrorCode::kAlreadyExists: return "already exists";
    case ErrorCode::kUnresolved: return "unresolved";
    case ErrorCode::kLoad: return "load error";
    case ErrorCode::kActivation: return "activation error";
    case ErrorCode::kIo: return "i/o error";
    case ErrorCode::kState: return "invalid state";
    case ErrorCode::kCorrupt: return "corrupt data";
    case ErrorCode::kInternal: return "internal error";
  }
  return "unknown error";
}

std::string Error::ToString() const {
  std::string out;
  if (!file.empty()) {
    out += file;
    out += ':';
  }
  if (!pointer.empty()) {
    out += pointer;
    out += ':';
  }
  if (offset) {
    out += "@";
    out += std::to_string(*offset);
    out += ':';
  }
  if (!out.empty()) out += ' ';
  if (!bundle.empty() && file.empty()) {
    out += "[" + bundle + "] ";
  }
  out += message;
  return out;
}

}  // namespace atrium
