#include "atrium/dynamic/tuf/canonical_json.h"

#include <algorithm>
#include <vector>

#include "atrium/base/strict_json.h"

namespace atrium::tuf {
namespace {

constexpr int kMaxDepth = 64;

void AppendString(std::string& out, std::string_view s) {
  out.push_back('"');
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
}

// The error names the value in Error::pointer ("" is the value itself).
Error NotCanonical(const std::string& pointer, std::string message) {
  Error e = MakeError(ErrorCode::kValidation, std::move(message));
  e.pointer = pointer;
  return e;
}

// `depth`: the number of arrays and objects around `v`.
Status Append(std::string& out, const boost::json::value& v, const std::string& pointer,
              int depth) {
  if ((v.is_array() || v.is_object()) && depth >= kMaxDepth) {
    return NotCanonical(pointer, "nested deeper than " + std::to_string(kMaxDepth) +
                                     " levels (the canonical JSON limit)");
  }
  switch (v.kind()) {
    case boost::json::kind::null:
      out += "null";
      return {};
    case boost::json::kind::bool_:
      out += v.get_bool() ? "true" : "false";
      return {};
    case boost::json::kind::int64:
      out += std::to_string(v.get_int64());
      return {};
    case boost::json::kind::uint64:
      out += std::to_string(v.get_uint64());
      return {};
    case boost::json::kind::double_:
      return NotCanonical(pointer,
                          "a floating-point number or an integer beyond 64 bits (canonical JSON "
                          "allows only 64-bit integers)");
    case boost::json::kind::string:
      AppendString(out, v.get_string());
      return {};
    case boost::json::kind::array: {
      out.push_back('[');
      const auto& a = v.get_array();
      for (size_t i = 0; i < a.size(); ++i) {
        if (i) out.push_back(',');
        if (Status s = Append(out, a[i], internal::Child(pointer, i), depth + 1); !s.ok()) return s;
      }
      out.push_back(']');
      return {};
    }
    case boost::json::kind::object: {
      const auto& o = v.get_object();
      std::vector<const boost::json::key_value_pair*> members;
      members.reserve(o.size());
      for (const auto& kv : o) members.push_back(&kv);
      std::sort(members.begin(), members.end(), [](const auto* a, const auto* b) {
        return std::string_view(a->key()) < std::string_view(b->key());
      });
      out.push_back('{');
      for (size_t i = 0; i < members.size(); ++i) {
        if (i) out.push_back(',');
        AppendString(out, members[i]->key());
        out.push_back(':');
        if (Status s =
                Append(out, members[i]->value(),
                       internal::Child(pointer, std::string_view(members[i]->key())), depth + 1);
            !s.ok()) {
          return s;
        }
      }
      out.push_back('}');
      return {};
    }
  }
  return MakeError(ErrorCode::kInternal, "canonical JSON: unknown value kind");
}

}  // namespace

Result<std::string> CanonicalJson(const boost::json::value& value) {
  std::string out;
  if (Status s = Append(out, value, "", 0); !s.ok()) return s.error();
  return out;
}

}  // namespace atrium::tuf
