#include "service/sync/filter.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <utility>

namespace despatch {
namespace {

using StringList = std::optional<std::vector<std::string>>;

std::string child_path(std::string_view parent, std::string_view key) {
  std::string out(parent);
  if (!out.empty()) out += '.';
  out += key;
  return out;
}

Error wrong_type(const std::string& path, const char* expected) {
  return Error::bad_json("Filter field '" + path + "' must be " + expected);
}

// Each reader leaves `out` untouched when the key is absent.

Status read_bool(const json::object& obj, std::string_view key, std::string_view parent,
                 std::optional<bool>& out) {
  const json::value* v = obj.if_contains(key);
  if (!v) return ok_status();
  if (!v->is_bool()) return wrong_type(child_path(parent, key), "a boolean");
  out = v->get_bool();
  return ok_status();
}

Status read_bool(const json::object& obj, std::string_view key, std::string_view parent,
                 bool& out) {
  std::optional<bool> b;
  DS_TRY(read_bool(obj, key, parent, b));
  if (b) out = *b;
  return ok_status();
}

Status read_string_list(const json::object& obj, std::string_view key, std::string_view parent,
                        StringList& out) {
  const json::value* v = obj.if_contains(key);
  if (!v) return ok_status();
  const std::string path = child_path(parent, key);
  if (!v->is_array()) return wrong_type(path, "an array of strings");
  std::vector<std::string> items;
  items.reserve(v->get_array().size());
  for (const json::value& item : v->get_array()) {
    if (!item.is_string()) return wrong_type(path, "an array of strings");
    items.emplace_back(item.get_string());
  }
  out = std::move(items);
  return ok_status();
}

// Accepts any integral JSON number (10 and 10.0 alike); saturates rather than overflowing int.
Status read_limit(const json::object& obj, std::string_view parent, std::optional<int>& out) {
  const json::value* v = obj.if_contains("limit");
  if (!v) return ok_status();
  const std::string path = child_path(parent, "limit");
  std::int64_t n = 0;
  if (v->is_int64()) {
    n = v->get_int64();
  } else if (v->is_uint64()) {
    n = INT_MAX;  // only values past INT64_MAX land here
  } else if (v->is_double()) {
    double d = v->get_double();
    if (!std::isfinite(d) || std::trunc(d) != d) return wrong_type(path, "an integer");
    n = d > static_cast<double>(INT_MAX) ? INT_MAX : static_cast<std::int64_t>(d);
  } else {
    return wrong_type(path, "an integer");
  }
  if (n < 0) return Error::invalid_param("Filter field '" + path + "' must not be negative");
  out = static_cast<int>(std::min<std::int64_t>(n, INT_MAX));
  return ok_status();
}

Result<const json::object*> as_object(const json::value& v, const std::string& path) {
  if (!v.is_object()) {
    return path.empty() ? Error::bad_json("Filter must be a JSON object")
                        : wrong_type(path, "an object");
  }
  return &v.get_object();
}

Status parse_event_filter_into(const json::object& obj, std::string_view path, EventFilter& out) {
  DS_TRY(read_limit(obj, path, out.limit));
  DS_TRY(read_string_list(obj, "types", path, out.types));
  DS_TRY(read_string_list(obj, "not_types", path, out.not_types));
  DS_TRY(read_string_list(obj, "senders", path, out.senders));
  DS_TRY(read_string_list(obj, "not_senders", path, out.not_senders));
  return ok_status();
}

Status parse_room_event_filter_into(const json::object& obj, std::string_view path,
                                    RoomEventFilter& out) {
  DS_TRY(parse_event_filter_into(obj, path, out));
  DS_TRY(read_string_list(obj, "rooms", path, out.rooms));
  DS_TRY(read_string_list(obj, "not_rooms", path, out.not_rooms));
  DS_TRY(read_bool(obj, "contains_url", path, out.contains_url));
  DS_TRY(read_bool(obj, "lazy_load_members", path, out.lazy_load_members));
  DS_TRY(read_bool(obj, "include_redundant_members", path, out.include_redundant_members));
  DS_TRY(read_bool(obj, "unread_thread_notifications", path, out.unread_thread_notifications));
  return ok_status();
}

// Parses obj[key] as a sub-filter when present, using `parse_into` for the body.
template <class F, class ParseInto>
Status read_sub_filter(const json::object& obj, std::string_view key, std::string_view parent,
                       F& out, ParseInto parse_into) {
  const json::value* v = obj.if_contains(key);
  if (!v) return ok_status();
  const std::string path = child_path(parent, key);
  DS_ASSIGN(const json::object* sub, as_object(*v, path));
  return parse_into(*sub, path, out);
}

Status parse_room_filter_into(const json::object& obj, std::string_view path, RoomFilter& out) {
  DS_TRY(read_string_list(obj, "rooms", path, out.rooms));
  DS_TRY(read_string_list(obj, "not_rooms", path, out.not_rooms));
  DS_TRY(read_bool(obj, "include_leave", path, out.include_leave));
  for (auto [key, target] : {std::pair<const char*, RoomEventFilter*>{"ephemeral", &out.ephemeral},
                             {"state", &out.state},
                             {"timeline", &out.timeline},
                             {"account_data", &out.account_data}}) {
    DS_TRY(read_sub_filter(obj, key, path, *target, parse_room_event_filter_into));
  }
  return ok_status();
}

void put_list(json::object& obj, std::string_view key, const StringList& list) {
  if (!list) return;
  json::array arr;
  arr.reserve(list->size());
  for (const std::string& s : *list) arr.emplace_back(s);
  obj[key] = std::move(arr);
}

void put_event_filter(json::object& obj, const EventFilter& f) {
  if (f.limit) obj["limit"] = *f.limit;
  put_list(obj, "types", f.types);
  put_list(obj, "not_types", f.not_types);
  put_list(obj, "senders", f.senders);
  put_list(obj, "not_senders", f.not_senders);
}

json::object event_filter_to_json(const EventFilter& f) {
  json::object obj;
  put_event_filter(obj, f);
  return obj;
}

void put_if_nonempty(json::object& obj, std::string_view key, json::object sub) {
  if (!sub.empty()) obj[key] = std::move(sub);
}

std::string_view string_field(const json::object& obj, std::string_view key) {
  const json::value* v = obj.if_contains(key);
  return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

// Any string counts, even "", so media events are told apart by shape, not by value.
bool content_has_url(const json::object& event) {
  const json::value* content = event.if_contains("content");
  if (!content || !content->is_object()) return false;
  const json::value* url = content->get_object().if_contains("url");
  return url && url->is_string();
}

bool contains(const std::vector<std::string>& list, std::string_view s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

bool any_type_matches(const std::vector<std::string>& patterns, std::string_view type) {
  return std::any_of(patterns.begin(), patterns.end(),
                     [&](const std::string& p) { return type_matches(p, type); });
}

bool allowed_by_lists(const StringList& allow, const StringList& deny, std::string_view id) {
  if (deny && contains(*deny, id)) return false;
  return !allow || contains(*allow, id);
}

// Splits a dotted path into property names, undoing the "\." and "\\" escapes. Any other
// backslash is literal, as the spec reserves other escapes for future use.
std::vector<std::string> split_field_path(std::string_view path) {
  std::vector<std::string> parts(1);
  for (size_t i = 0; i < path.size(); ++i) {
    char c = path[i];
    if (c == '\\' && i + 1 < path.size() && (path[i + 1] == '.' || path[i + 1] == '\\')) {
      parts.back() += path[++i];
    } else if (c == '.') {
      parts.emplace_back();
    } else {
      parts.back() += c;
    }
  }
  return parts;
}

void copy_field_path(const json::object& src, const std::vector<std::string>& parts,
                     json::object& dst) {
  // Find the value first so a missing leaf leaves no empty parent objects behind.
  const json::object* from = &src;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    const json::value* next = from->if_contains(parts[i]);
    if (!next || !next->is_object()) return;
    from = &next->get_object();
  }
  const json::value* leaf = from->if_contains(parts.back());
  if (!leaf) return;

  json::object* to = &dst;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    json::value& slot = (*to)[parts[i]];
    if (!slot.is_object()) slot = json::object();
    to = &slot.get_object();
  }
  // Overwriting is safe: the source value is a superset of anything a shorter or longer path
  // already copied here.
  (*to)[parts.back()] = *leaf;
}

Result<json::value> parse_inline_json(std::string_view text) {
  json::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return Error::not_json("Filter is not valid JSON: " + ec.message());
  return v;
}

}  // namespace

Result<Filter> parse_filter(const json::value& v) {
  DS_ASSIGN(const json::object* obj, as_object(v, ""));
  Filter f;
  StringList fields;
  DS_TRY(read_string_list(*obj, "event_fields", "", fields));
  if (fields) f.event_fields = std::move(*fields);
  if (const json::value* fmt = obj->if_contains("event_format")) {
    if (fmt->is_string() && fmt->get_string() == "client") {
      f.event_format = EventFormat::kClient;
    } else if (fmt->is_string() && fmt->get_string() == "federation") {
      f.event_format = EventFormat::kFederation;
    } else {
      return wrong_type("event_format", "\"client\" or \"federation\"");
    }
  }
  DS_TRY(read_sub_filter(*obj, "presence", "", f.presence, parse_event_filter_into));
  DS_TRY(read_sub_filter(*obj, "account_data", "", f.account_data, parse_event_filter_into));
  DS_TRY(read_sub_filter(*obj, "room", "", f.room, parse_room_filter_into));
  return f;
}

Result<RoomEventFilter> parse_room_event_filter(const json::value& v) {
  DS_ASSIGN(const json::object* obj, as_object(v, ""));
  RoomEventFilter f;
  DS_TRY(parse_room_event_filter_into(*obj, "", f));
  return f;
}

json::object room_event_filter_to_json(const RoomEventFilter& f) {
  json::object obj;
  put_event_filter(obj, f);
  put_list(obj, "rooms", f.rooms);
  put_list(obj, "not_rooms", f.not_rooms);
  if (f.contains_url) obj["contains_url"] = *f.contains_url;
  if (f.lazy_load_members) obj["lazy_load_members"] = true;
  if (f.include_redundant_members) obj["include_redundant_members"] = true;
  if (f.unread_thread_notifications) obj["unread_thread_notifications"] = true;
  return obj;
}

json::object filter_to_json(const Filter& f) {
  json::object obj;
  if (!f.event_fields.empty()) {
    json::array fields;
    for (const std::string& s : f.event_fields) fields.emplace_back(s);
    obj["event_fields"] = std::move(fields);
  }
  if (f.event_format == EventFormat::kFederation) obj["event_format"] = "federation";
  put_if_nonempty(obj, "presence", event_filter_to_json(f.presence));
  put_if_nonempty(obj, "account_data", event_filter_to_json(f.account_data));

  json::object room;
  put_list(room, "rooms", f.room.rooms);
  put_list(room, "not_rooms", f.room.not_rooms);
  if (f.room.include_leave) room["include_leave"] = true;
  put_if_nonempty(room, "ephemeral", room_event_filter_to_json(f.room.ephemeral));
  put_if_nonempty(room, "state", room_event_filter_to_json(f.room.state));
  put_if_nonempty(room, "timeline", room_event_filter_to_json(f.room.timeline));
  put_if_nonempty(room, "account_data", room_event_filter_to_json(f.room.account_data));
  put_if_nonempty(obj, "room", std::move(room));
  return obj;
}

int effective_limit(const EventFilter& f, int default_limit) {
  return std::clamp(f.limit.value_or(default_limit), 0, kMaxEventLimit);
}

bool type_matches(std::string_view pattern, std::string_view type) {
  // Greedy glob with single backtrack point: on mismatch, let the last '*' absorb one more char.
  size_t p = 0, t = 0;
  size_t star = std::string_view::npos, resume = 0;
  while (t < type.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (p < pattern.size() && pattern[p] == type[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool matches(const EventFilter& f, const json::object& event) {
  std::string_view type = string_field(event, "type");
  if (f.not_types && any_type_matches(*f.not_types, type)) return false;
  if (f.types && !any_type_matches(*f.types, type)) return false;
  return allowed_by_lists(f.senders, f.not_senders, string_field(event, "sender"));
}

bool matches(const RoomEventFilter& f, const json::object& event) {
  return matches(f, event, string_field(event, "room_id"));
}

bool matches(const RoomEventFilter& f, const json::object& event, std::string_view room_id) {
  if (!room_allowed(f, room_id)) return false;
  if (!matches(static_cast<const EventFilter&>(f), event)) return false;
  return !f.contains_url || content_has_url(event) == *f.contains_url;
}

bool room_allowed(const RoomFilter& f, std::string_view room_id) {
  return allowed_by_lists(f.rooms, f.not_rooms, room_id);
}

bool room_allowed(const RoomEventFilter& f, std::string_view room_id) {
  return allowed_by_lists(f.rooms, f.not_rooms, room_id);
}

json::object apply_event_fields(const json::object& event, const std::vector<std::string>& fields) {
  if (fields.empty()) return event;
  json::object out;
  for (const std::string& path : fields) copy_field_path(event, split_field_path(path), out);
  return out;
}

Result<Filter> resolve_filter_param(
    std::string_view param,
    const std::function<std::optional<json::value>(std::string_view filter_id)>& load_stored) {
  if (param.empty()) return Filter{};
  if (param.front() == '{') {
    DS_ASSIGN(json::value v, parse_inline_json(param));
    return parse_filter(v);
  }
  std::optional<json::value> stored;
  if (load_stored) stored = load_stored(param);
  if (!stored) return Error::invalid_param("No such filter ID");
  return parse_filter(*stored);
}

Result<RoomEventFilter> parse_room_event_filter_param(std::string_view param) {
  if (param.empty()) return RoomEventFilter{};
  DS_ASSIGN(json::value v, parse_inline_json(param));
  return parse_room_event_filter(v);
}

}  // namespace despatch
