// FieldReader: typed access to a Boost.JSON DOM whose errors name the file
// and the JSON pointer of the offending value (and the bundle, once known).
// Shared by the strict parsers of the manifest, the app descriptor and the
// launch guard's config.
//
// Concurrency: a value type over a borrowed file name; no shared state.
#ifndef ATRIUM_BASE_FIELD_READER_H_
#define ATRIUM_BASE_FIELD_READER_H_

#include <boost/json.hpp>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

#include "atrium/base/strict_json.h"
#include "atrium/result.h"

namespace atrium::internal {

namespace json = boost::json;

// Typed access to a DOM with errors that name the file and JSON pointer.
class FieldReader {
 public:
  explicit FieldReader(std::string_view file) : file_(file) {}

  // Errors raised after this name the bundle too.
  void set_bundle(std::string bundle) { bundle_ = std::move(bundle); }

  Error Invalid(std::string pointer, std::string message) const {
    Error e = MakeLocated(ErrorCode::kValidation, file_, std::move(pointer), std::move(message));
    e.bundle = bundle_;
    return e;
  }

  Error WrongType(const std::string& pointer, const char* expected, const json::value& got) const {
    return Invalid(pointer, std::string("expected ") + expected + ", got " + JsonKindName(got));
  }

  Result<const json::object*> AsObject(const json::value& v, const std::string& pointer) const {
    if (!v.is_object()) return WrongType(pointer, "an object", v);
    return &v.get_object();
  }
  Result<const json::array*> AsArray(const json::value& v, const std::string& pointer) const {
    if (!v.is_array()) return WrongType(pointer, "an array", v);
    return &v.get_array();
  }
  Result<std::string> AsString(const json::value& v, const std::string& pointer) const {
    if (!v.is_string()) return WrongType(pointer, "a string", v);
    const json::string& s = v.get_string();
    return std::string(s.data(), s.size());
  }

  // Rejects the first member of `object` whose key is not in `known`.
  Status CheckKnownFields(const json::object& object, const std::string& pointer,
                          std::initializer_list<std::string_view> known) const {
    return CheckKnownFields(object, pointer,
                            std::span<const std::string_view>(known.begin(), known.size()));
  }
  Status CheckKnownFields(const json::object& object, const std::string& pointer,
                          std::span<const std::string_view> known) const {
    for (const json::key_value_pair& member : object) {
      std::string_view key(member.key().data(), member.key().size());
      bool found = false;
      for (std::string_view k : known) found = found || k == key;
      if (found) continue;
      std::string allowed;
      for (std::string_view k : known) {
        if (!allowed.empty()) allowed += ", ";
        allowed += k;
      }
      return Invalid(Child(pointer, key),
                     "unknown field " + Quote(key) + " (allowed: " + allowed + ")");
    }
    return Status::Ok();
  }

  Result<std::string> RequiredString(const json::object& object, const std::string& pointer,
                                     std::string_view key) const {
    const json::value* v = object.if_contains(key);
    if (v == nullptr) return Missing(pointer, key);
    return AsString(*v, Child(pointer, key));
  }
  Result<std::string> OptionalString(const json::object& object, const std::string& pointer,
                                     std::string_view key, std::string fallback) const {
    const json::value* v = object.if_contains(key);
    if (v == nullptr) return fallback;
    return AsString(*v, Child(pointer, key));
  }
  Result<bool> OptionalBool(const json::object& object, const std::string& pointer,
                            std::string_view key, bool fallback) const {
    const json::value* v = object.if_contains(key);
    if (v == nullptr) return fallback;
    if (!v->is_bool()) return WrongType(Child(pointer, key), "a boolean", *v);
    return v->get_bool();
  }
  // An integer in [lo, hi]; `fallback` when absent.
  Result<int64_t> OptionalInt(const json::object& object, const std::string& pointer,
                              std::string_view key, int64_t fallback, int64_t lo,
                              int64_t hi) const {
    const json::value* v = object.if_contains(key);
    if (v == nullptr) return fallback;
    const std::string at = Child(pointer, key);
    int64_t n = 0;
    if (v->is_int64()) {
      n = v->get_int64();
    } else if (v->is_uint64()) {
      n = v->get_uint64() > static_cast<uint64_t>(hi) ? hi + 1
                                                      : static_cast<int64_t>(v->get_uint64());
    } else {
      return WrongType(at, "an integer", *v);
    }
    if (n < lo || n > hi) {
      return Invalid(at, "value " + std::to_string(n) + " out of range [" + std::to_string(lo) +
                             ", " + std::to_string(hi) + "]");
    }
    return n;
  }
  // A number in (0, hi]; `fallback` when absent.
  Result<double> OptionalPositive(const json::object& object, const std::string& pointer,
                                  std::string_view key, double fallback, double hi) const {
    const json::value* v = object.if_contains(key);
    if (v == nullptr) return fallback;
    const std::string at = Child(pointer, key);
    if (!v->is_number()) return WrongType(at, "a number", *v);
    double d = v->to_number<double>();
    if (!(d > 0 && d <= hi)) {
      return Invalid(at, "value must be > 0 and <= " + std::to_string(static_cast<int64_t>(hi)));
    }
    return d;
  }
  // nullptr when the field is absent.
  Result<const json::object*> OptionalObject(const json::object& object, const std::string& pointer,
                                             std::string_view key) const {
    const json::value* v = object.if_contains(key);
    if (v == nullptr) return static_cast<const json::object*>(nullptr);
    return AsObject(*v, Child(pointer, key));
  }
  // nullptr when the field is absent.
  Result<const json::array*> OptionalArray(const json::object& object, const std::string& pointer,
                                           std::string_view key) const {
    const json::value* v = object.if_contains(key);
    if (v == nullptr) return static_cast<const json::array*>(nullptr);
    return AsArray(*v, Child(pointer, key));
  }
  Result<const json::array*> RequiredArray(const json::object& object, const std::string& pointer,
                                           std::string_view key) const {
    const json::value* v = object.if_contains(key);
    if (v == nullptr) return Missing(pointer, key);
    return AsArray(*v, Child(pointer, key));
  }

 private:
  Error Missing(const std::string& pointer, std::string_view key) const {
    return Invalid(Child(pointer, key), "missing required field " + Quote(key));
  }

  std::string_view file_;
  std::string bundle_;
};

}  // namespace atrium::internal

#endif  // ATRIUM_BASE_FIELD_READER_H_
