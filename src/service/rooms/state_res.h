// State resolution (rooms/v2.md "State resolution" for room versions 2-11, and its v2.1
// changes in rooms/v12.md) as a pure function over an event graph: no storage, no I/O. The
// caller hands over the state sets to merge and a way to look events up; the result is the
// room state at the point where those states meet (the state before an event whose
// prev_events they follow, or the current state across the forward extremities).
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "service/rooms/auth_rules.h"
#include "service/rooms/state_map.h"

namespace despatch {

// A room state as state resolution sees it: (type, state_key) -> event ID.
using StateIds = std::map<StateKey, std::string>;

// The event with `event_id` (type, state_key, sender, content, auth_events, origin_server_ts,
// room_id, as received), or nullptr if it is not known. The pointer must stay valid for the
// duration of the resolve_state call.
using EventLookup = std::function<const json::object*(const std::string& event_id)>;

// True for an event rejected by the checks on receipt of a PDU (server-server API). Such an
// event may still be in a state set and is resolved like any other, but it never stands in for
// a state entry that is missing during the iterative auth checks.
using RejectedCheck = std::function<bool(const std::string& event_id)>;

// Resolves `state_sets` under the algorithm of `room_version`: v2 for versions 2-11, v2.1 for
// 12. Every event of every state set and of their auth chains must be known to `lookup`; a
// missing one is 404 M_NOT_FOUND naming it. Room version 1 (whose algorithm is different and
// not implemented here) and unknown versions are 400 M_UNSUPPORTED_ROOM_VERSION. `signed_by`
// is passed to check_event_auth for rule 4.2 (an authorising server's signature).
//
// One state set is returned as it is; none gives an empty state.
Result<StateIds> resolve_state(std::string_view room_version,
                               const std::vector<StateIds>& state_sets, const EventLookup& lookup,
                               const RejectedCheck& rejected = {},
                               const ServerSignatureCheck& signed_by = {});

}  // namespace despatch
