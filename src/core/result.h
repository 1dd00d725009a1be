// Errors as values: every fallible operation returns Result<T>, whose error carries the
// Matrix errcode and HTTP status the client will see.
#pragma once

#include <boost/json.hpp>

#include <string>
#include <utility>
#include <variant>

namespace despatch {

namespace json = boost::json;

// Matrix errcodes used across the server (client-server spec, "Standard error response").
namespace errc {
inline constexpr const char* kForbidden = "M_FORBIDDEN";
inline constexpr const char* kUnknownToken = "M_UNKNOWN_TOKEN";
inline constexpr const char* kMissingToken = "M_MISSING_TOKEN";
inline constexpr const char* kBadJson = "M_BAD_JSON";
inline constexpr const char* kNotJson = "M_NOT_JSON";
inline constexpr const char* kNotFound = "M_NOT_FOUND";
inline constexpr const char* kLimitExceeded = "M_LIMIT_EXCEEDED";
inline constexpr const char* kUnrecognized = "M_UNRECOGNIZED";
inline constexpr const char* kUnknown = "M_UNKNOWN";
inline constexpr const char* kUserInUse = "M_USER_IN_USE";
inline constexpr const char* kInvalidUsername = "M_INVALID_USERNAME";
inline constexpr const char* kRoomInUse = "M_ROOM_IN_USE";
inline constexpr const char* kInvalidParam = "M_INVALID_PARAM";
inline constexpr const char* kMissingParam = "M_MISSING_PARAM";
inline constexpr const char* kTooLarge = "M_TOO_LARGE";
inline constexpr const char* kUserDeactivated = "M_USER_DEACTIVATED";
inline constexpr const char* kUnsupportedRoomVersion = "M_UNSUPPORTED_ROOM_VERSION";
inline constexpr const char* kGuestAccessForbidden = "M_GUEST_ACCESS_FORBIDDEN";
inline constexpr const char* kExclusive = "M_EXCLUSIVE";
inline constexpr const char* kWeakPassword = "M_WEAK_PASSWORD";
inline constexpr const char* kInvalidRoomState = "M_INVALID_ROOM_STATE";
inline constexpr const char* kIncompatibleRoomVersion = "M_INCOMPATIBLE_ROOM_VERSION";
inline constexpr const char* kBadState = "M_BAD_STATE";
inline constexpr const char* kMissingParams = "M_MISSING_PARAM";
inline constexpr const char* kServerNotTrusted = "M_SERVER_NOT_TRUSTED";
inline constexpr const char* kUnauthorized = "M_UNAUTHORIZED";
inline constexpr const char* kInvalidSignature = "M_INVALID_SIGNATURE";
inline constexpr const char* kUserLocked = "M_USER_LOCKED";
inline constexpr const char* kUserSuspended = "M_USER_SUSPENDED";
}  // namespace errc

struct Error {
  int status = 500;
  std::string errcode = errc::kUnknown;
  std::string message;
  json::object extra;  // extra top-level fields, e.g. retry_after_ms or a UIA session

  static Error forbidden(std::string m) { return {403, errc::kForbidden, std::move(m), {}}; }
  static Error not_found(std::string m) { return {404, errc::kNotFound, std::move(m), {}}; }
  static Error bad_json(std::string m) { return {400, errc::kBadJson, std::move(m), {}}; }
  static Error not_json(std::string m) { return {400, errc::kNotJson, std::move(m), {}}; }
  static Error invalid_param(std::string m) { return {400, errc::kInvalidParam, std::move(m), {}}; }
  static Error missing_param(std::string m) { return {400, errc::kMissingParam, std::move(m), {}}; }
  static Error unknown(std::string m) { return {400, errc::kUnknown, std::move(m), {}}; }
  static Error internal(std::string m) { return {500, errc::kUnknown, std::move(m), {}}; }
  static Error make(int status, const char* code, std::string m) {
    return {status, code, std::move(m), {}};
  }
};

// A value or an Error. Deliberately small: no exceptions cross layer boundaries.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T v) : v_(std::move(v)) {}  // NOLINT(google-explicit-constructor)
  Result(Error e) : v_(std::move(e)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const T& value() const& { return std::get<0>(v_); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

// True when v is a JSON string equal to s.
inline bool is_str(const json::value& v, std::string_view s) {
  return v.is_string() && v.get_string() == s;
}

// The string member `key` of o, or nullptr when it is missing or not a string.
inline const json::string* json_string_at(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? &v->get_string() : nullptr;
}

struct Ok {};
using Status = Result<Ok>;
inline Status ok_status() { return Ok{}; }

}  // namespace despatch

// Propagates an error from an expression returning Result/Status.
#define DS_TRY(expr)                                     \
  do {                                                   \
    auto _ds_r = (expr);                                 \
    if (!_ds_r.ok()) return std::move(_ds_r).error();    \
  } while (0)

#define DS_CONCAT_INNER(a, b) a##b
#define DS_CONCAT(a, b) DS_CONCAT_INNER(a, b)
// Binds the value of a Result expression to `decl`, or returns its error.
#define DS_ASSIGN(decl, expr) DS_ASSIGN_IMPL(DS_CONCAT(_ds_res_, __LINE__), decl, expr)
#define DS_ASSIGN_IMPL(tmp, decl, expr)          \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return std::move(tmp).error();  \
  decl = std::move(tmp).value()

// Coroutine forms of DS_TRY / DS_ASSIGN.
#define DS_CO_TRY(expr)                                  \
  do {                                                   \
    auto _ds_r = (expr);                                 \
    if (!_ds_r.ok()) co_return std::move(_ds_r).error(); \
  } while (0)
#define DS_CO_ASSIGN(decl, expr) DS_CO_ASSIGN_IMPL(DS_CONCAT(_ds_res_, __LINE__), decl, expr)
#define DS_CO_ASSIGN_IMPL(tmp, decl, expr)          \
  auto tmp = (expr);                                \
  if (!tmp.ok()) co_return std::move(tmp).error();  \
  decl = std::move(tmp).value()
