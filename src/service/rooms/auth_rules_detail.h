// Shared by the files that implement auth_rules.h: the parsed event, refusals numbered per
// room version, and the m.room.member rules (auth_member_rules.cpp). Not for other callers.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "service/rooms/auth_rules.h"

namespace despatch::auth_detail {

inline constexpr std::string_view kCreate = "m.room.create";
inline constexpr std::string_view kMember = "m.room.member";
inline constexpr std::string_view kJoinRules = "m.room.join_rules";
inline constexpr std::string_view kThirdPartyInvite = "m.room.third_party_invite";

// The fields of an event the rules read, validated once. room_id is empty only for a v12
// m.room.create, which has none.
struct EventView {
  std::string_view type;
  std::string_view sender;
  std::string_view room_id;
  std::optional<std::string_view> state_key;
  const json::object* content = nullptr;
};

// The code names each rule by its number in rooms/v11.md; cite gives the number the rule has
// on `v`'s own page (v1-5 insert the m.room.aliases rule 4, v1-7 lack 4.2 and 4.3.5, v1-6 the
// knock rule, v1-9 the integer rules 9.1 and 9.2; v12 inserts rules 2 and 10.4).
std::string cite(std::string_view v11_rule, const RoomVersion& v);

// A refusal of the rule numbered `v11_rule` in rooms/v11.md, renumbered for `v`.
Error deny(const RoomVersion& v, std::string_view v11_rule, std::string_view why);
// A refusal of a rule that only some versions have, numbered as their pages do.
Error deny_exact(std::string_view rule, std::string_view why);

// obj[key] if it is a string, else nullopt.
std::optional<std::string_view> str_at(const json::object& obj, std::string_view key);
// obj[key] if it is an object, else nullptr.
const json::object* obj_at(const json::object& obj, std::string_view key);
// The event's content, or an empty object.
const json::object& content_of(const json::object& event);

// The create event's "event_id" member, or its ID computed for `v` when it has none.
std::string create_event_id(const json::object& create, const RoomVersion& v);

struct MemberInput {
  const RoomVersion& v;
  const json::object& event;
  const EventView& ev;
  const StateMap& state;
  const json::object& create;
  const ServerSignatureCheck& signed_by;
};

// The m.room.member rules (rule 4 in v6-11, rule 5 in v1-5 and v12).
Status check_member(const MemberInput& in);

}  // namespace despatch::auth_detail
