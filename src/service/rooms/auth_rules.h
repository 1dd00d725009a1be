// Event authorization rules for room versions 10 and 11 (rooms/v10.md, rooms/v11.md), as pure
// functions over an event and a set of room state.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "service/rooms/power_levels.h"
#include "service/rooms/room_version.h"
#include "service/rooms/state_map.h"

namespace despatch {

// The room's membership of `user_id` ("join", "invite", ...), or "" when it has none.
std::string membership_of(const StateMap& state, std::string_view user_id);

// The room's join rule. The spec gives no default; like other servers we treat a room without
// an m.room.join_rules event as "invite".
std::string join_rule_of(const StateMap& state);

// The (type, state_key) entries an event's auth_events must be drawn from ("Auth events
// selection", server-server API). Empty for m.room.create. Assumes a room version that supports
// restricted joins (8+), which covers every version supported here.
std::vector<StateKey> auth_state_keys(const json::object& event);

// Answers whether `event` carries a valid signature from `server_name`. Auth rule 4.2 needs
// this for the server of content.join_authorised_via_users_server, whose keys live elsewhere.
using ServerSignatureCheck =
    std::function<bool(const json::object& event, std::string_view server_name)>;

// Rule 2 of the auth rules, checked against the event's actual auth_events: no duplicate
// (type, state_key), nothing outside auth_state_keys(event), an m.room.create present, and the
// same room_id throughout. Rule 2.3 (no auth event was itself rejected) needs storage and is
// the caller's job. Always OK for m.room.create, which rule 1 decides on its own.
Status check_auth_events(const json::object& event, const std::vector<json::object>& auth_events);

// Applies the authorization rules of `room_version` to `event` against `auth_state`: the state
// built from its auth events, the state before it, or the current state (all three checks on
// receipt of a PDU use this). Entries not selected by auth_state_keys are ignored, so the full
// room state may be passed; use check_auth_events for the list-shaped parts of rule 2.
//
// Rule 4.3.1 (the creator's first join) compares prev_events with the create event's id, so the
// m.room.create entry in `auth_state` must carry an "event_id" field for that rule to apply.
// Rule 4.2 uses `signed_by` when given; without it the event must at least carry a signature
// block from the authorising server, and the caller's signature check must have verified it.
// Third-party invites are verified here: ed25519 signatures in content.third_party_invite.signed
// against the public keys of the matching m.room.third_party_invite event.
//
// Returns OK when allowed, or Error{403, M_FORBIDDEN, "<failed rule>"}; a room version other
// than 10 and 11 gives 400 M_UNSUPPORTED_ROOM_VERSION.
Status check_event_auth(const json::object& event, const StateMap& auth_state,
                        std::string_view room_version, const ServerSignatureCheck& signed_by = {});

}  // namespace despatch
