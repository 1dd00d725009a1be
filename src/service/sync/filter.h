// The filter model shared by /sync, /messages and /context: parsing and validating filter JSON,
// serialising it back for GET /user/{userId}/filter/{filterId}, and matching events against it.
// Pure logic: no storage, no I/O.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace despatch {

// Timeline events returned per room when a filter gives no limit (also /messages, /context).
inline constexpr int kDefaultTimelineLimit = 10;
// Upper bound on any limit a client asks for, so one request cannot pull unbounded history.
inline constexpr int kMaxEventLimit = 1000;

// An absent list (std::nullopt) means "no constraint"; a present but empty allow list matches
// nothing. not_* lists always win over their allow list.
struct EventFilter {
  std::optional<int> limit;                           // >= 0; kept as given, clamp on use
  std::optional<std::vector<std::string>> types;      // entries may contain '*' wildcards
  std::optional<std::vector<std::string>> not_types;  // entries may contain '*' wildcards
  std::optional<std::vector<std::string>> senders;
  std::optional<std::vector<std::string>> not_senders;
};

struct RoomEventFilter : EventFilter {
  std::optional<std::vector<std::string>> rooms;
  std::optional<std::vector<std::string>> not_rooms;
  std::optional<bool> contains_url;  // absent: the url key is not considered
  bool lazy_load_members = false;
  bool include_redundant_members = false;  // only meaningful with lazy_load_members
  bool unread_thread_notifications = false;
};

struct RoomFilter {
  std::optional<std::vector<std::string>> rooms;
  std::optional<std::vector<std::string>> not_rooms;
  bool include_leave = false;
  RoomEventFilter ephemeral;
  RoomEventFilter state;
  RoomEventFilter timeline;
  RoomEventFilter account_data;
};

enum class EventFormat { kClient, kFederation };

struct Filter {
  std::vector<std::string> event_fields;  // dotted paths; empty means every field
  EventFormat event_format = EventFormat::kClient;
  EventFilter presence;
  EventFilter account_data;
  RoomFilter room;
};

// Parses a complete filter (the body of POST /user/{userId}/filter). Unknown fields are ignored.
// A field of the wrong JSON type, or an unknown event_format, is 400 M_BAD_JSON naming the
// field by its dotted path (e.g. "room.timeline.types"); a negative limit is 400 M_INVALID_PARAM.
// Limits above INT_MAX are saturated to INT_MAX.
Result<Filter> parse_filter(const json::value& v);

// Parses a bare RoomEventFilter (the `filter` parameter of /messages and /context), with the
// same error rules as parse_filter.
Result<RoomEventFilter> parse_room_event_filter(const json::value& v);

// Serialises a filter back to JSON. Semantically equivalent to what was parsed, not byte-exact:
// fields left at their defaults (false booleans, client format, empty sub-filters) are omitted.
json::object filter_to_json(const Filter& f);
json::object room_event_filter_to_json(const RoomEventFilter& f);

// The limit to apply: the filter's own limit, else `default_limit`, capped at kMaxEventLimit.
int effective_limit(const EventFilter& f, int default_limit = kDefaultTimelineLimit);

// True if `type` matches `pattern`, where '*' in the pattern matches any run of characters
// (including none) and every other character matches itself.
bool type_matches(std::string_view pattern, std::string_view type);

// Matches on the event's `type` and `sender`; a missing field compares as "" so a present
// allow list rejects it.
bool matches(const EventFilter& f, const json::object& event);

// As above, plus rooms/not_rooms against the event's `room_id` and contains_url (true when
// `content.url` is a string).
bool matches(const RoomEventFilter& f, const json::object& event);

// For events that do not carry their room (ephemeral and room account data in /sync): the
// room is supplied by the caller instead of read from the event.
bool matches(const RoomEventFilter& f, const json::object& event, std::string_view room_id);

// Whether a room passes the rooms/not_rooms lists; /sync applies the RoomFilter form before any
// per-section filter, and may use the RoomEventFilter form to skip a room wholesale.
bool room_allowed(const RoomFilter& f, std::string_view room_id);
bool room_allowed(const RoomEventFilter& f, std::string_view room_id);

// Returns a copy of `event` holding only the listed dot-separated paths (see the spec appendix:
// "\." is a literal dot and "\\" a literal backslash inside a name). Paths that do not exist are
// skipped; a path through a non-object stops there. An empty list returns the whole event.
json::object apply_event_fields(const json::object& event, const std::vector<std::string>& fields);

// Resolves /sync's `filter` query parameter. Empty means the default filter. A value starting
// with '{' is inline JSON: unparsable text is 400 M_NOT_JSON, a bad shape is as parse_filter.
// Anything else is a filter ID handed to `load_stored`; when that yields nothing the ID is
// unknown (or malformed) and the result is 400 M_INVALID_PARAM, as Synapse does for /sync (the
// spec only defines 404 for the GET filter endpoint itself).
Result<Filter> resolve_filter_param(
    std::string_view param,
    const std::function<std::optional<json::value>(std::string_view filter_id)>& load_stored);

// Parses the `filter` query parameter of /messages and /context, which is always inline JSON.
// Empty means no filter; otherwise errors are as resolve_filter_param's inline case.
Result<RoomEventFilter> parse_room_event_filter_param(std::string_view param);

}  // namespace despatch
