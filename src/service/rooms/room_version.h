// Room versions 1 to 12 (content/rooms/v1.md ... v12.md) as one table of properties: the event
// format, redaction, authorization rules and state resolution read a property here instead of
// comparing version strings, so a difference between versions is named in one place.
#pragma once

#include <span>
#include <string_view>

namespace despatch {

// How a room version forms event IDs.
enum class EventIdFormat {
  kOpaque,                // v1-2: "$opaque:server", chosen by the origin and carried in `event_id`
  kReferenceHash,         // v3: "$" + unpadded base64 (+ /) of the reference hash
  kUrlSafeReferenceHash,  // v4+: "$" + URL-safe unpadded base64 (- _) of the reference hash
};

enum class StateResolution {
  kV1,   // room version 1 (rooms/v1.md)
  kV2,   // room versions 2-11 (rooms/v2.md)
  kV21,  // room version 12: v2 starting from an empty state, plus the conflicted subgraph
};

struct RoomVersion {
  std::string_view id;
  EventIdFormat event_ids;
  StateResolution state_res;

  // ---- Event format ----
  bool event_refs_with_hashes;  // v1-2: prev_events and auth_events are [event_id, hashes] pairs
  bool key_validity_enforced;   // v5+: a signing key must be valid at the event's origin_server_ts
  bool strict_canonical_json;   // v6+: events are strict canonical JSON, so no float values
  bool create_has_creator;      // v1-10: m.room.create names the creator in content.creator;
                                // from v11 the creator is the create event's sender
  bool redacts_in_content;      // v11+: m.room.redaction carries `redacts` in content, not on top
  bool room_id_from_create;     // v12: the room ID is the create event's ID with "!" for "$";
                                // the create event has no room_id and is never an auth event

  // ---- Redaction algorithm ----
  bool redaction_keeps_aliases;     // v1-5: m.room.aliases keeps `aliases`
  bool redaction_keeps_allow;       // v8+: m.room.join_rules keeps `allow`
  bool redaction_keeps_authoriser;  // v9+: m.room.member keeps join_authorised_via_users_server
  bool redaction_v11;  // v11+: top-level origin, membership and prev_state are no longer kept;
                       // m.room.create keeps all of content, m.room.redaction content.redacts,
                       // m.room.power_levels `invite`, m.room.member third_party_invite.signed

  // ---- Authorization rules ----
  bool aliases_rule;    // v1-5: m.room.aliases needs a state_key equal to the sender's domain
  bool redaction_rule;  // v1-2: m.room.redaction needs the redact level or a same-domain target
  bool notifications_checked;  // v6+: changes to power levels' `notifications` are checked
  bool knocking;               // v7+: the knock join rule and membership
  bool restricted_joins;       // v8+: the restricted join rule and join_authorised_via_users_server
  bool knock_restricted;       // v10+: the knock_restricted join rule
  bool integer_power_levels;   // v10+: every power level value must be an integer, never a string
  bool infinite_creators;      // v12: the sender and content.additional_creators of the create
                               // event have infinite power and may not appear in power levels
};

// The version named `id` ("1" ... "12"), or nullptr for any other string.
const RoomVersion* find_room_version(std::string_view id);

// True for "1" to "12".
bool is_supported_room_version(std::string_view id);

// Every supported version, oldest first.
std::span<const RoomVersion> room_versions();

// The newest version (12); callers that must pick rules for an unknown version use this.
const RoomVersion& latest_room_version();

}  // namespace despatch
