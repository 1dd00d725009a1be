// Membership events that cross servers (invites, leaves and knocks through another server):
// the stripped state that goes with an invite or knock, and the checks on a member event a
// remote server hands over. Pure: no storage, no network.
#pragma once

#include "core/result.h"
#include "service/rooms/state_map.h"

#include <boost/json.hpp>

#include <string>

namespace despatch {

namespace json = boost::json;

// At most this many stripped state events are taken from another server.
inline constexpr size_t kMaxStrippedState = 50;

// The stripped state (type, state_key, sender, content) a user outside the room is shown:
// the room's create, join rules, name, avatar, canonical alias, encryption and topic, and
// the member event of `sender` (the inviter; "" for none).
json::array stripped_state(const StateMap& state, const std::string& sender);

// The stripped state another server sent (invite_room_state, knock_room_state): absent is
// none; else an array of at most kMaxStrippedState objects with string type, state_key and
// sender and object content, kept with only those members. 400 M_BAD_JSON otherwise.
Result<json::array> parse_stripped_state(const json::value* v);

// An invite `origin` asks this server (`server_name`) to countersign: an m.room.member event
// of room_id whose content says invite, sent by a user of origin to a user of this server.
// 400 for an event of the wrong shape, 403 for one that is not origin's or not for us.
Status check_incoming_invite(const json::object& ev, const std::string& room_id, const std::string& origin,
                             const std::string& server_name);

// A member event a user's server hands to the room's resident server (send_join,
// send_leave, send_knock): of room_id, `membership`, sent by a user of origin about
// themselves. 400 or 403 as above.
Status check_own_member_event(const json::object& ev, const std::string& room_id, const std::string& origin,
                              const std::string& membership);

// A user-facing form of a stored member event for invite_state / knock_state: type,
// state_key, sender, content, event_id, origin_server_ts.
json::object stripped_with_id(const json::object& ev);

}  // namespace despatch
