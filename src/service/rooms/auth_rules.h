// Event authorization rules for room versions 1 to 12 (the "Authorisation rules" section of
// rooms/v1.md ... rooms/v12.md), as pure functions over an event and a set of room state. What
// differs between versions is read from the RoomVersion table (room_version.h).
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
// selection", server-server API) in `room_version`: no m.room.create in v12, whose room ID
// stands for it; the join_authorised_via_users_server member only from v8, which has restricted
// joins. Empty for m.room.create. An unknown version gets the newest version's selection.
std::vector<StateKey> auth_state_keys(const json::object& event, std::string_view room_version);

// Answers whether `event` carries a valid signature from `server_name`. Auth rule 4.2 needs
// this for the server of content.join_authorised_via_users_server, whose keys live elsewhere.
using ServerSignatureCheck =
    std::function<bool(const json::object& event, std::string_view server_name)>;

// The rules about the event's actual auth_events (rule 2 in v1-11, rule 3 in v12): no
// duplicate (type, state_key), nothing outside auth_state_keys(event), the same room_id
// throughout, and an m.room.create among them (v1-11) or none (v12). Rule 2.3 (no auth event
// was itself rejected) needs storage and is the caller's job. Always OK for m.room.create,
// which rule 1 decides on its own.
Status check_auth_events(const json::object& event, const std::vector<json::object>& auth_events,
                         std::string_view room_version);

// Applies the authorization rules of `room_version` to `event` against `auth_state`: the state
// built from its auth events, the state before it, or the current state (all three checks on
// receipt of a PDU use this). Entries not selected by auth_state_keys are ignored, so the full
// room state may be passed; use check_auth_events for the list-shaped rules. In v12 the
// m.room.create entry must be present even though no event cites it, and its ID must be the
// event's room ID (rule 2).
//
// The ID of the m.room.create entry (for the creator's first join, rule 4.3.1, and v12's rule
// 2) is its "event_id" member when it has one, as stored events do, and otherwise computed
// from it, which v1-2 cannot do. v1-2's redaction rule compares the event's own "event_id".
// Rule 4.2 uses `signed_by` when given; without it the event must at least carry a signature
// block from the authorising server, and the caller's signature check must have verified it.
// Third-party invites are verified here: ed25519 signatures in content.third_party_invite.signed
// against the public keys of the matching m.room.third_party_invite event.
//
// Returns OK when allowed, or Error{403, M_FORBIDDEN, "auth rule <n>: ..."} where <n> numbers
// the failed rule as the version's own spec page does; an unsupported room version gives 400
// M_UNSUPPORTED_ROOM_VERSION.
Status check_event_auth(const json::object& event, const StateMap& auth_state,
                        std::string_view room_version, const ServerSignatureCheck& signed_by = {});

}  // namespace despatch
