#include "service/rooms/event_limits.h"

#include "core/canonical_json.h"

#include <string_view>

namespace despatch {
namespace {

enum class Kind { kString, kOptString, kNullableString, kStringArray };

struct FieldRule {
  std::string_view type;   // event type
  std::string_view field;  // key in content
  Kind kind;
  size_t max_bytes = 0;    // 0: only the event's overall limit
};

// Fields of state content that the server, the auth rules or every client reads as a given
// type: a number where a string belongs breaks rendering for the whole room.
constexpr FieldRule kRules[] = {
    {"m.room.name", "name", Kind::kString, 255},
    {"m.room.topic", "topic", Kind::kString},
    {"m.room.avatar", "url", Kind::kOptString},
    {"m.room.canonical_alias", "alias", Kind::kNullableString, 255},
    {"m.room.canonical_alias", "alt_aliases", Kind::kStringArray, 255},
    {"m.room.join_rules", "join_rule", Kind::kString},
    {"m.room.history_visibility", "history_visibility", Kind::kString},
    {"m.room.guest_access", "guest_access", Kind::kString},
    {"m.room.encryption", "algorithm", Kind::kString},
    {"m.room.member", "membership", Kind::kString},
    {"m.room.member", "displayname", Kind::kNullableString},
    {"m.room.member", "avatar_url", Kind::kNullableString},
    {"m.room.member", "reason", Kind::kOptString},
    {"m.room.redaction", "reason", Kind::kOptString},
};

Status check_string(const json::value& v, const FieldRule& r) {
  if (!v.is_string()) return Error::bad_json(std::string(r.field) + " in " + std::string(r.type) + " must be a string");
  if (r.max_bytes && v.get_string().size() > r.max_bytes)
    return Error::bad_json(std::string(r.field) + " in " + std::string(r.type) + " is too long");
  return ok_status();
}

Status check_field(const json::object& content, const FieldRule& r) {
  const json::value* v = content.if_contains(r.field);
  switch (r.kind) {
    case Kind::kString:
      // A missing required field is the auth rules' or the client's business (an empty
      // m.room.topic content clears the topic); only a wrong type is refused here.
      if (!v) return ok_status();
      return check_string(*v, r);
    case Kind::kOptString:
      if (!v) return ok_status();
      return check_string(*v, r);
    case Kind::kNullableString:
      if (!v || v->is_null()) return ok_status();
      return check_string(*v, r);
    case Kind::kStringArray:
      if (!v) return ok_status();
      if (!v->is_array()) return Error::bad_json(std::string(r.field) + " must be an array of strings");
      for (auto& item : v->get_array()) DS_TRY(check_string(item, r));
      return ok_status();
  }
  return ok_status();
}

}  // namespace

Status check_event_shape(const json::object& ev) {
  const json::value* type = ev.if_contains("type");
  if (!type || !type->is_string() || type->get_string().empty() || type->get_string().size() > kMaxEventTypeBytes)
    return Error::invalid_param("Event type must be a string of 1 to 255 bytes");
  if (const json::value* key = ev.if_contains("state_key")) {
    if (!key->is_string() || key->get_string().size() > kMaxStateKeyBytes)
      return Error::invalid_param("state_key must be a string of at most 255 bytes");
  }
  const json::value* content = ev.if_contains("content");
  if (!content || !content->is_object()) return Error::bad_json("Event content must be an object");
  std::string_view t = type->get_string();
  for (const auto& r : kRules)
    if (r.type == t) DS_TRY(check_field(content->get_object(), r));
  return ok_status();
}

Status check_event_size(const json::object& ev) {
  if (canonical_json(ev).size() > kMaxEventBytes)
    return Error::make(413, errc::kTooLarge, "Event too large (the limit is 65536 bytes)");
  return ok_status();
}

}  // namespace despatch
