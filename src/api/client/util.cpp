#include "api/client/util.h"

#include "core/ids.h"

namespace despatch::api {

void add_client(http::Router& r, const char* method, const std::string& suffix, Auth auth,
                RateClass rate, http::Handler h) {
  r.add({method, "/_matrix/client/v3" + suffix, auth, rate, http::Body::kJson, h});
  r.add({method, "/_matrix/client/r0" + suffix, auth, rate, http::Body::kJson, std::move(h)});
}

Result<std::optional<std::string>> opt_string(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  if (!v || v->is_null()) return std::optional<std::string>{};
  if (!v->is_string()) return Error::bad_json(std::string(key) + " must be a string");
  return std::optional<std::string>(std::string(v->as_string()));
}

Result<std::string> req_string(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  if (!v) return Error::missing_param(std::string(key) + " is required");
  if (!v->is_string()) return Error::bad_json(std::string(key) + " must be a string");
  return std::string(v->as_string());
}

Result<std::optional<bool>> opt_bool(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  if (!v || v->is_null()) return std::optional<bool>{};
  if (!v->is_bool()) return Error::bad_json(std::string(key) + " must be a boolean");
  return std::optional<bool>(v->as_bool());
}

Result<std::optional<int64_t>> opt_int(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  if (!v || v->is_null()) return std::optional<int64_t>{};
  if (v->is_int64()) return std::optional<int64_t>(v->as_int64());
  if (v->is_uint64() && v->as_uint64() <= INT64_MAX)
    return std::optional<int64_t>(static_cast<int64_t>(v->as_uint64()));
  return Error::bad_json(std::string(key) + " must be an integer");
}

Result<std::optional<json::object>> opt_object(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  if (!v || v->is_null()) return std::optional<json::object>{};
  if (!v->is_object()) return Error::bad_json(std::string(key) + " must be an object");
  return std::optional<json::object>(v->as_object());
}

Result<std::optional<int64_t>> query_int(const Request& r, const char* name, int64_t lo, int64_t hi) {
  auto* s = r.query_param(name);
  if (!s) return std::optional<int64_t>{};
  if (s->empty() || s->size() > 18 ||
      s->find_first_not_of("0123456789", (*s)[0] == '-' ? 1 : 0) != std::string::npos ||
      *s == "-")
    return Error::invalid_param(std::string(name) + " must be an integer");
  int64_t v = std::stoll(*s);
  if (v < lo || v > hi)
    return Error::invalid_param(std::string(name) + " is out of range");
  return std::optional<int64_t>(v);
}

Status require_self(const Request& r, const std::string& user_id) {
  if (r.who().user_id != user_id) return Error::forbidden("You may only do this for your own account");
  return ok_status();
}

Status refuse_if_suspended(const Request& r) {
  if (r.caller && r.caller->suspended)
    return Error{403, errc::kUserSuspended, "You cannot perform this action while suspended", {}};
  return ok_status();
}

Status require_room_id(const std::string& room_id) {
  if (!is_valid_room_id(room_id)) return Error::invalid_param("Invalid room ID: " + room_id);
  return ok_status();
}

Status check_event_type(const std::string& type) {
  if (type.empty() || type.size() > 255) return Error::invalid_param("Invalid event type");
  return ok_status();
}

Status check_txn_id(const std::string& txn_id) {
  if (txn_id.empty() || txn_id.size() > 255) return Error::invalid_param("Invalid transaction ID");
  return ok_status();
}

}  // namespace despatch::api
