// Checks on state events sent through the client API, before the writer appends them.
#pragma once

#include "core/result.h"
#include "service/rooms/state_map.h"
#include "storage/stores.h"

#include <string>

namespace despatch {

// The current state event (type, state_key) when the same sender already set it to exactly
// this content (nullptr otherwise): setting it again, or joining again, makes no new event.
const json::object* unchanged_state(const StateMap& state, const std::string& type, const std::string& state_key,
                                    const std::string& sender, const json::object& content);

// m.room.canonical_alias content: each alias must be valid and, when it is one of
// own_server's, point to room_id (room_state.yaml: 400 M_BAD_ALIAS).
Status check_canonical_aliases(storage::Stores& s, const std::string& room_id, const json::object& content,
                               const std::string& own_server);

}  // namespace despatch
