// Patch points: native functions a signed Lua hotpatch may replace, precede
// or follow without an app release. Header-only, so bundles (which do not
// link the runtime) can declare points too.
//
//   int64_t ComputeFeeImpl(int64_t cents, std::string currency);
//   atrium::hotpatch::PatchPoint<&ComputeFeeImpl> fee_point(runtime, "transfer.fee.compute");
//   int64_t fee = fee_point(cents, "EUR");
//
// Unpatched, a call is one atomic load, a predictable branch and a direct
// call of the original. Patched, arguments are converted to PatchValues
// (no allocation), handed to the runtime, which runs the patch chain in Lua
// and converts the result back; on any patch fault the original runs.
//
// Supported parameter/result types: integral types (as int64), float and
// double, bool, std::string / std::string_view / const char* (arguments),
// std::string (results), void results, and records: structs with a
// RecordTraits<T> specialization listing their fields (see below), passed
// to Lua as tables.
//
// Concurrency: a PatchPoint may be called from any thread at once. The
// runtime swaps a point's active chain atomically; a call sees either the
// old or the new chain, never a mix.
#ifndef ATRIUM_PATCH_POINT_H_
#define ATRIUM_PATCH_POINT_H_

#include <atomic>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

namespace atrium::hotpatch {

enum class ValueType : uint8_t { kNil, kInt, kDouble, kBool, kString, kRecord };

struct RecordType;

// A value crossing between native code and a patch. Strings are views: into
// the caller's argument, or into storage the runtime keeps until the call
// returns.
struct PatchValue {
  ValueType type = ValueType::kNil;
  int64_t i = 0;
  double d = 0;
  bool b = false;
  std::string_view s;
  const RecordType* record_type = nullptr;  // kRecord
  const void* record = nullptr;             // kRecord (argument: read-only view)
};

// Field table of a record type (made by RecordTraits, see below).
struct FieldDesc {
  const char* name;
  ValueType type;
  PatchValue (*get)(const void* object);
  // Writes `value` into the field; false when its type does not fit.
  bool (*set)(void* object, const PatchValue& value);
};
struct RecordType {
  const char* name;
  const FieldDesc* fields;
  size_t field_count;
  void* (*create)();  // new default object (for results)
  void (*destroy)(void* object);
};

// Specialize for a struct to pass it to patches as a table:
//   template <> struct RecordTraits<Fee> {
//     static constexpr const char* kName = "Fee";
//     static constexpr auto kFields = std::make_tuple(
//         Field("cents", &Fee::cents), Field("currency", &Fee::currency));
//   };
template <typename T>
struct RecordTraits;

template <typename T, typename M>
struct FieldRef {
  const char* name;
  M T::*member;
};
template <typename T, typename M>
constexpr FieldRef<T, M> Field(const char* name, M T::*member) {
  return {name, member};
}

namespace detail {

template <typename T>
concept Record = requires {
  RecordTraits<T>::kFields;
};

template <typename T>
using Bare = std::remove_cvref_t<T>;

template <typename T>
constexpr ValueType TypeOf() {
  using U = Bare<T>;
  if constexpr (std::is_same_v<U, bool>)
    return ValueType::kBool;
  else if constexpr (std::is_integral_v<U>)
    return ValueType::kInt;
  else if constexpr (std::is_floating_point_v<U>)
    return ValueType::kDouble;
  else if constexpr (std::is_same_v<U, std::string> || std::is_same_v<U, std::string_view> ||
                     std::is_same_v<U, const char*>)
    return ValueType::kString;
  else if constexpr (Record<U>)
    return ValueType::kRecord;
  else
    static_assert(sizeof(U) == 0, "type not supported at a patch point");
}

template <typename T>
const RecordType* RecordTypeOf();

template <typename T>
PatchValue ToValue(const T& v) {
  using U = Bare<T>;
  PatchValue out;
  out.type = TypeOf<U>();
  if constexpr (std::is_same_v<U, bool>)
    out.b = v;
  else if constexpr (std::is_integral_v<U>)
    out.i = static_cast<int64_t>(v);
  else if constexpr (std::is_floating_point_v<U>)
    out.d = static_cast<double>(v);
  else if constexpr (std::is_same_v<U, const char*>)
    out.s = v ? std::string_view(v) : std::string_view();
  else if constexpr (std::is_same_v<U, std::string> || std::is_same_v<U, std::string_view>)
    out.s = v;
  else {
    out.record_type = RecordTypeOf<U>();
    out.record = &v;
  }
  return out;
}

// Converts a value from a patch into T. False when the type does not fit
// (wrong type, integer out of range, fractional number for an integer).
template <typename T>
bool FromValue(const PatchValue& v, T* out) {
  using U = Bare<T>;
  if constexpr (std::is_same_v<U, bool>) {
    if (v.type != ValueType::kBool) return false;
    *out = v.b;
  } else if constexpr (std::is_integral_v<U>) {
    if (v.type != ValueType::kInt) return false;
    if constexpr (std::is_signed_v<U>) {
      if (v.i < static_cast<int64_t>(std::numeric_limits<U>::min()) ||
          v.i > static_cast<int64_t>(std::numeric_limits<U>::max()))
        return false;
    } else {
      if (v.i < 0 || static_cast<uint64_t>(v.i) > std::numeric_limits<U>::max()) return false;
    }
    *out = static_cast<U>(v.i);
  } else if constexpr (std::is_floating_point_v<U>) {
    if (v.type == ValueType::kDouble)
      *out = static_cast<U>(v.d);
    else if (v.type == ValueType::kInt)
      *out = static_cast<U>(v.i);
    else
      return false;
  } else if constexpr (std::is_same_v<U, std::string>) {
    if (v.type != ValueType::kString) return false;
    out->assign(v.s.data(), v.s.size());
  } else if constexpr (Record<U>) {
    if (v.type != ValueType::kRecord || v.record_type != RecordTypeOf<U>()) return false;
    *out = *static_cast<const U*>(v.record);
  } else {
    static_assert(sizeof(U) == 0, "type not supported as a patch result or argument");
  }
  return true;
}

template <typename T, size_t I>
PatchValue GetField(const void* object) {
  const auto& f = std::get<I>(RecordTraits<T>::kFields);
  return ToValue(static_cast<const T*>(object)->*(f.member));
}
template <typename T, size_t I>
bool SetField(void* object, const PatchValue& v) {
  const auto& f = std::get<I>(RecordTraits<T>::kFields);
  return FromValue(v, &(static_cast<T*>(object)->*(f.member)));
}
template <typename T, size_t I>
constexpr ValueType FieldType() {
  const auto& f = std::get<I>(RecordTraits<T>::kFields);
  return TypeOf<decltype(std::declval<T&>().*(f.member))>();
}

template <typename T, size_t... I>
const RecordType* MakeRecordType(std::index_sequence<I...>) {
  static const FieldDesc fields[] = {{std::get<I>(RecordTraits<T>::kFields).name, FieldType<T, I>(),
                                      &GetField<T, I>, &SetField<T, I>}...};
  static const RecordType type = {RecordTraits<T>::kName, fields, sizeof...(I),
                                  []() -> void* { return new T(); },
                                  [](void* p) { delete static_cast<T*>(p); }};
  return &type;
}

template <typename T>
const RecordType* RecordTypeOf() {
  return MakeRecordType<T>(
      std::make_index_sequence<std::tuple_size_v<Bare<decltype(RecordTraits<T>::kFields)>>>());
}

}  // namespace detail

// Calls the original implementation with arguments a patch supplied. Returns
// false (and leaves *result alone) when the arguments do not convert.
using OriginalThunk = bool (*)(const void* point, std::span<const PatchValue> args,
                               PatchValue* result, std::string* string_storage,
                               void** record_storage);

struct Signature {
  ValueType result;
  const RecordType* result_record;  // when result is kRecord
  const ValueType* params;
  const RecordType* const* param_records;
  size_t param_count;
};

// The runtime's side of one point (implemented by the hotpatch runtime).
class PatchPointCore {
 public:
  // Non-null while at least one enabled patch targets this point. Loaded
  // with acquire on every call: the only cost of an unpatched point.
  std::atomic<const void*> active{nullptr};

  // Runs the patch chain. On success writes the result (for a string
  // result, into *string_storage; for a record, a new object in
  // *record_storage that the caller takes) and returns true. On any fault
  // (error, budget, wrong result type) records it and returns false: the
  // caller runs the original.
  virtual bool Invoke(std::span<const PatchValue> args, PatchValue* result,
                      std::string* string_storage, void** record_storage, const void* point,
                      OriginalThunk original) = 0;

 protected:
  ~PatchPointCore() = default;
};

// Hands out PatchPointCores; registered in the service registry under
// kInterfaceId by the host, looked up by bundles.
class PatchPointRegistry {
 public:
  static constexpr std::string_view kInterfaceId = "atrium.hotpatch.PatchPointRegistry";
  virtual ~PatchPointRegistry() = default;
  // Declares a point (idempotent for the same signature). Returns nullptr
  // when `id` is already declared with another signature (logged).
  virtual PatchPointCore* Declare(std::string_view id, const Signature& signature) = 0;
};

namespace detail {
class Inert final : public PatchPointCore {
 public:
  bool Invoke(std::span<const PatchValue>, PatchValue*, std::string*, void**, const void*,
              OriginalThunk) override {
    return false;
  }
};
inline PatchPointCore& InertCore() {
  static Inert* inert = new Inert();  // leaked: points may be called during exit
  return *inert;
}
}  // namespace detail

template <auto Fn>
class PatchPoint;

template <typename R, typename... A, R (*Fn)(A...)>
class PatchPoint<Fn> {
 public:
  // `registry` may be null (no hotpatch runtime): the point always runs Fn.
  PatchPoint(PatchPointRegistry* registry, std::string_view id) : core_(Bind(registry, id)) {}

  R operator()(A... args) const {
    if (core_->active.load(std::memory_order_acquire) == nullptr) [[likely]] {
      return Fn(std::forward<A>(args)...);
    }
    return CallPatched(std::forward<A>(args)...);
  }

  // The runtime's core, or an inert one that is never active.
  const PatchPointCore* core() const { return core_; }

 private:
  static constexpr ValueType kParams[sizeof...(A) == 0 ? 1 : sizeof...(A)] = {
      detail::TypeOf<A>()...};
  template <typename T>
  static const RecordType* RecordOrNull() {
    if constexpr (detail::Record<detail::Bare<T>>)
      return detail::RecordTypeOf<detail::Bare<T>>();
    else
      return nullptr;
  }
  static inline const RecordType* const kParamRecords[sizeof...(A) == 0 ? 1 : sizeof...(A)] = {
      RecordOrNull<A>()...};
  static constexpr ValueType ResultType() {
    if constexpr (std::is_void_v<R>)
      return ValueType::kNil;
    else
      return detail::TypeOf<R>();
  }
  static inline const Signature kSignature = {ResultType(), RecordOrNull<R>(), kParams,
                                              kParamRecords, sizeof...(A)};

  R CallPatched(A... args) const {
    const PatchValue values[sizeof...(A) == 0 ? 1 : sizeof...(A)] = {detail::ToValue(args)...};
    PatchValue result;
    std::string string_storage;
    void* record_storage = nullptr;
    if (core_->Invoke(std::span<const PatchValue>(values, sizeof...(A)), &result, &string_storage,
                      &record_storage, this, &Original)) {
      if constexpr (std::is_void_v<R>) {
        return;
      } else if constexpr (detail::Record<detail::Bare<R>>) {
        R out = std::move(*static_cast<R*>(record_storage));
        delete static_cast<R*>(record_storage);
        return out;
      } else {
        R out{};
        if (detail::FromValue(result, &out)) return out;
      }
    }
    return Fn(std::forward<A>(args)...);
  }

  // Runs Fn with arguments from a patch (converted; false on mismatch).
  static bool Original(const void* self, std::span<const PatchValue> in, PatchValue* result,
                       std::string* string_storage, void** record_storage) {
    if (in.size() != sizeof...(A)) return false;
    return OriginalImpl(in, result, string_storage, record_storage,
                        std::index_sequence_for<A...>());
  }
  template <size_t... I>
  static bool OriginalImpl(std::span<const PatchValue> in, PatchValue* result,
                           std::string* string_storage, void** record_storage,
                           std::index_sequence<I...>) {
    std::tuple<detail::Bare<ArgStorage<A>>...> args;
    if (!(detail::FromValue(in[I], &std::get<I>(args)) && ...)) return false;
    if constexpr (std::is_void_v<R>) {
      Fn(Pass<A>(std::get<I>(args))...);
      result->type = ValueType::kNil;
    } else {
      R r = Fn(Pass<A>(std::get<I>(args))...);
      if constexpr (detail::TypeOf<R>() == ValueType::kString) {
        *string_storage = std::string(r);
        *result = detail::ToValue(*string_storage);
      } else if constexpr (detail::Record<detail::Bare<R>>) {
        auto* copy = new detail::Bare<R>(std::move(r));
        *record_storage = copy;
        *result = detail::ToValue(*copy);
      } else {
        *result = detail::ToValue(r);
      }
    }
    return true;
  }
  // Argument types are stored by value for the original call: views and
  // C strings become std::string so they outlive the Lua values.
  template <typename T>
  using ArgStorage = std::conditional_t<std::is_same_v<detail::Bare<T>, std::string_view> ||
                                            std::is_same_v<detail::Bare<T>, const char*>,
                                        std::string, detail::Bare<T>>;
  template <typename T, typename S>
  static decltype(auto) Pass(S& stored) {
    if constexpr (std::is_same_v<detail::Bare<T>, const char*>)
      return stored.c_str();
    else if constexpr (std::is_same_v<detail::Bare<T>, std::string_view>)
      return std::string_view(stored);
    else
      return static_cast<S&>(stored);
  }

  // Without a runtime (or a refused declaration) the point gets a core that
  // is never active, so a call checks one atomic and nothing else.
  static PatchPointCore* Bind(PatchPointRegistry* registry, std::string_view id) {
    PatchPointCore* core = registry ? registry->Declare(id, kSignature) : nullptr;
    return core ? core : &detail::InertCore();
  }

  PatchPointCore* const core_;
};

}  // namespace atrium::hotpatch

#endif  // ATRIUM_PATCH_POINT_H_
