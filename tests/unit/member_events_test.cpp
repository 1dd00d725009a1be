// Member events across servers: the stripped state shown to a user outside the room, the
// stripped state taken from another server, and the checks on invites and on the member
// events a user's server hands to the resident server.
#include "service/rooms/member_events.h"

#include <gtest/gtest.h>

namespace despatch {
namespace {

constexpr const char* kRoom = "!room:a.example";

json::object state_ev(const char* type, const char* key, const char* sender, json::object content) {
  return json::object{{"event_id", std::string("$") + type}, {"type", type},          {"state_key", key},
                      {"sender", sender},                    {"room_id", kRoom},      {"content", content},
                      {"origin_server_ts", 7},               {"depth", 3},            {"auth_events", json::array{}}};
}

json::object member(const char* sender, const char* target, const char* membership) {
  return state_ev("m.room.member", target, sender, {{"membership", membership}});
}

TEST(StrippedState, KeepsTheRoomsDescriptionAndTheInvitersMembershipOnly) {
  StateMap s;
  auto put = [&s](json::object e) {
    s[{std::string(e.at("type").as_string()), std::string(e.at("state_key").as_string())}] = e;
  };
  put(state_ev("m.room.create", "", "@alice:a.example", {{"room_version", "11"}}));
  put(state_ev("m.room.join_rules", "", "@alice:a.example", {{"join_rule", "invite"}}));
  put(state_ev("m.room.name", "", "@alice:a.example", {{"name", "Budget"}}));
  put(state_ev("m.room.power_levels", "", "@alice:a.example", {{"users", json::object{}}}));
  put(state_ev("m.room.history_visibility", "", "@alice:a.example", {{"history_visibility", "shared"}}));
  put(member("@alice:a.example", "@alice:a.example", "join"));
  put(member("@carol:a.example", "@carol:a.example", "join"));
  json::array out = stripped_state(s, "@alice:a.example");
  std::set<std::pair<std::string, std::string>> kinds;
  for (auto& e : out) {
    const json::object& o = e.as_object();
    kinds.insert({std::string(o.at("type").as_string()), std::string(o.at("state_key").as_string())});
    // Stripped: no event ID, no graph, no signatures.
    EXPECT_FALSE(o.contains("event_id"));
    EXPECT_FALSE(o.contains("depth"));
    EXPECT_FALSE(o.contains("auth_events"));
    EXPECT_TRUE(o.contains("sender"));
    EXPECT_TRUE(o.at("content").is_object());
  }
  std::set<std::pair<std::string, std::string>> want = {{"m.room.create", ""},
                                                        {"m.room.join_rules", ""},
                                                        {"m.room.name", ""},
                                                        {"m.room.member", "@alice:a.example"}};
  EXPECT_EQ(kinds, want);
  EXPECT_EQ(stripped_state(s, "").size(), 3u);
}

TEST(StrippedState, FromAnotherServerIsCheckedAndStripped) {
  EXPECT_TRUE(parse_stripped_state(nullptr).ok());
  EXPECT_TRUE(parse_stripped_state(nullptr)->empty());
  json::value good = json::array{state_ev("m.room.name", "", "@alice:a.example", {{"name", "N"}})};
  auto parsed = parse_stripped_state(&good);
  ASSERT_TRUE(parsed.ok());
  ASSERT_EQ(parsed->size(), 1u);
  EXPECT_FALSE(parsed->at(0).as_object().contains("event_id"));
  EXPECT_FALSE(parsed->at(0).as_object().contains("depth"));

  json::value not_array = json::object{};
  EXPECT_EQ(parse_stripped_state(&not_array).error().errcode, std::string(errc::kBadJson));
  json::value not_object = json::array{1};
  EXPECT_EQ(parse_stripped_state(&not_object).error().status, 400);
  json::value no_content = json::array{json::object{{"type", "m.room.name"}, {"state_key", ""}, {"sender", "@a:b"}}};
  EXPECT_FALSE(parse_stripped_state(&no_content).ok());
  json::value key_not_string =
      json::array{json::object{{"type", "m.room.name"}, {"state_key", 1}, {"sender", "@a:b"}, {"content", json::object{}}}};
  EXPECT_FALSE(parse_stripped_state(&key_not_string).ok());
  json::array many;
  for (size_t i = 0; i <= kMaxStrippedState; ++i) many.push_back(good.as_array()[0]);
  json::value too_many = many;
  EXPECT_FALSE(parse_stripped_state(&too_many).ok());
}

TEST(IncomingInvite, MustBeAnInviteFromTheOriginToAUserOfOurs) {
  json::object ok = member("@alice:a.example", "@bob:b.example", "invite");
  EXPECT_TRUE(check_incoming_invite(ok, kRoom, "a.example", "b.example").ok());
  // Another server's inviter: 403.
  EXPECT_EQ(check_incoming_invite(ok, kRoom, "c.example", "b.example").error().status, 403);
  // Someone else's user invited: 403.
  EXPECT_EQ(check_incoming_invite(ok, kRoom, "a.example", "c.example").error().status, 403);
  // Not an invite, another room, not a member event, a bad user ID: 400.
  EXPECT_EQ(check_incoming_invite(member("@alice:a.example", "@bob:b.example", "join"), kRoom, "a.example",
                                  "b.example").error().status, 400);
  EXPECT_EQ(check_incoming_invite(ok, "!other:a.example", "a.example", "b.example").error().status, 400);
  json::object wrong_type = ok;
  wrong_type["type"] = "m.room.message";
  EXPECT_EQ(check_incoming_invite(wrong_type, kRoom, "a.example", "b.example").error().status, 400);
  json::object bad_target = ok;
  bad_target["state_key"] = "bob";
  EXPECT_EQ(check_incoming_invite(bad_target, kRoom, "a.example", "b.example").error().status, 400);
  json::object no_content = ok;
  no_content.erase("content");
  EXPECT_FALSE(check_incoming_invite(no_content, kRoom, "a.example", "b.example").ok());
}

TEST(OwnMemberEvent, IsTheOriginsUserAboutThemselves) {
  json::object leave = member("@bob:b.example", "@bob:b.example", "leave");
  EXPECT_TRUE(check_own_member_event(leave, kRoom, "b.example", "leave").ok());
  EXPECT_EQ(check_own_member_event(leave, kRoom, "c.example", "leave").error().status, 403);
  EXPECT_EQ(check_own_member_event(leave, kRoom, "b.example", "knock").error().status, 400);
  EXPECT_EQ(check_own_member_event(member("@bob:b.example", "@carol:b.example", "leave"), kRoom, "b.example",
                                   "leave").error().status, 400);
  EXPECT_EQ(check_own_member_event(leave, "!other:a.example", "b.example", "leave").error().status, 400);
}

TEST(StrippedWithId, KeepsWhatIdentifiesTheMemberEvent) {
  json::object e = member("@alice:a.example", "@bob:b.example", "invite");
  e["signatures"] = json::object{{"a.example", json::object{}}};
  json::object out = stripped_with_id(e);
  EXPECT_EQ(out.at("event_id"), e.at("event_id"));
  EXPECT_EQ(out.at("origin_server_ts"), e.at("origin_server_ts"));
  EXPECT_FALSE(out.contains("signatures"));
  EXPECT_FALSE(out.contains("depth"));
}

}  // namespace
}  // namespace despatch
