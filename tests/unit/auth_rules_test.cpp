// Auth rules for room versions 1 to 12: fixture-driven cases (tests/unit/fixtures/auth, one
// per rule and per difference between versions) plus direct tests of the helpers and of the
// parts fixtures cannot express.
#include "service/rooms/auth_rules.h"

#include "test_support.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "service/rooms/event_format.h"


namespace despatch {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> fixture_names() { return test::fixture_names("auth"); }

json::object load_fixture(const std::string& name) { return test::load_fixture("auth", name); }

StateMap state_of(const json::array& events) {
  StateMap state;
  for (const json::value& v : events) {
    const json::object& e = v.as_object();
    state[{std::string(e.at("type").as_string()), std::string(e.at("state_key").as_string())}] = e;
  }
  return state;
}

class AuthFixtureTest : public testing::TestWithParam<std::string> {};

// Each fixture: room_version, state (events), event, expect ("allow"/"deny"), reason (a
// substring of the refusal, usually the rule's number on the version's page), and optionally
// auth_events (state is the event's auth_events list, so rule 2 is checked on it first),
// room_create (a v12 create event the room ID names, added to the state but not to the auth
// events list), errcode and status.
TEST_P(AuthFixtureTest, MatchesExpectation) {
  json::object f = load_fixture(GetParam());
  SCOPED_TRACE(std::string(f.at("description").as_string()));
  const json::object& event = f.at("event").as_object();
  const json::array& events = f.at("state").as_array();
  std::string version(f.at("room_version").as_string());

  Status result = ok_status();
  if (f.contains("auth_events") && f.at("auth_events").as_bool()) {
    std::vector<json::object> list;
    for (const json::value& v : events) list.push_back(v.as_object());
    result = check_auth_events(event, list, version);
  }
  StateMap state = state_of(events);
  if (f.contains("room_create")) state[{"m.room.create", ""}] = f.at("room_create").as_object();
  if (result.ok()) result = check_event_auth(event, state, version);

  if (f.at("expect").as_string() == "allow") {
    EXPECT_TRUE(result.ok()) << "refused: " << result.error().message;
    return;
  }
  ASSERT_FALSE(result.ok()) << "expected a refusal";
  std::string errcode = f.contains("errcode") ? std::string(f.at("errcode").as_string())
                                              : std::string(errc::kForbidden);
  int status = f.contains("status") ? static_cast<int>(f.at("status").as_int64()) : 403;
  EXPECT_EQ(result.error().errcode, errcode);
  EXPECT_EQ(result.error().status, status);
  std::string reason(f.at("reason").as_string());
  // A rule number must be the refused rule itself, not a prefix of it ("4.2" is not "4.2.6").
  if (reason.find_first_not_of("0123456789.") == std::string::npos) {
    reason = "auth rule " + reason + ":";
  }
  EXPECT_NE(result.error().message.find(reason), std::string::npos)
      << "message '" << result.error().message << "' lacks '" << reason << "'";
}

INSTANTIATE_TEST_SUITE_P(Fixtures, AuthFixtureTest, testing::ValuesIn(fixture_names()),
                         [](const testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

TEST(AuthFixtures, CoverBothOutcomesInQuantity) {
  int allow = 0;
  int deny = 0;
  for (const std::string& name : fixture_names()) {
    (load_fixture(name).at("expect").as_string() == "allow" ? allow : deny)++;
  }
  EXPECT_GE(allow + deny, 60);
  EXPECT_GE(allow, 20);
  EXPECT_GE(deny, 20);
}

// ---- Direct tests ----

json::object parse_obj(std::string_view text) { return json::parse(text).as_object(); }

constexpr std::string_view kRoom = "!r:a.example";

json::object state_event(std::string_view type, std::string_view sender, std::string_view key,
                         std::string_view content) {
  json::object e;
  e["type"] = type;
  e["sender"] = sender;
  e["state_key"] = key;
  e["room_id"] = kRoom;
  e["content"] = json::parse(content);
  e["prev_events"] = json::array{"$p"};
  return e;
}

void put(StateMap& state, const json::object& e) {
  state[{std::string(e.at("type").as_string()), std::string(e.at("state_key").as_string())}] = e;
}

StateMap restricted_room() {
  StateMap state;
  json::object create =
      state_event("m.room.create", "@alice:a.example", "", R"({"room_version":"11"})");
  create["event_id"] = "$create";
  put(state, create);
  put(state,
      state_event("m.room.join_rules", "@alice:a.example", "", R"({"join_rule":"restricted"})"));
  put(state, state_event("m.room.member", "@alice:a.example", "@alice:a.example",
                         R"({"membership":"join"})"));
  return state;
}

json::object restricted_join(bool with_signature) {
  json::object e = state_event("m.room.member", "@bob:b.example", "@bob:b.example",
                               R"({"membership":"join",
                                   "join_authorised_via_users_server":"@alice:a.example"})");
  if (with_signature) e["signatures"] = json::parse(R"({"a.example":{"ed25519:x":"c2ln"}})");
  return e;
}

TEST(AuthStateKeys, CreateSelectsNothing) {
  EXPECT_TRUE(
      auth_state_keys(parse_obj(R"({"type":"m.room.create","sender":"@a:x"})"), "11").empty());
}

TEST(AuthStateKeys, MessageSelectsCreatePowerLevelsAndSender) {
  auto keys = auth_state_keys(parse_obj(R"({"type":"m.room.message","sender":"@a:x"})"), "11");
  std::vector<StateKey> expected = {
      {"m.room.create", ""}, {"m.room.power_levels", ""}, {"m.room.member", "@a:x"}};
  EXPECT_EQ(keys, expected);
}

TEST(AuthStateKeys, RestrictedJoinAddsJoinRulesAndAuthoriserOnce) {
  auto keys = auth_state_keys(parse_obj(R"({"type":"m.room.member","sender":"@b:y",
      "state_key":"@b:y","content":{"membership":"join",
      "join_authorised_via_users_server":"@a:x"}})"),
                              "11");
  std::vector<StateKey> expected = {{"m.room.create", ""},
                                    {"m.room.power_levels", ""},
                                    {"m.room.member", "@b:y"},
                                    {"m.room.join_rules", ""},
                                    {"m.room.member", "@a:x"}};
  EXPECT_EQ(keys, expected);
}

TEST(AuthStateKeys, ThirdPartyInviteAddsTokenEntry) {
  auto keys = auth_state_keys(parse_obj(R"({"type":"m.room.member","sender":"@a:x",
      "state_key":"@c:z","content":{"membership":"invite",
      "third_party_invite":{"signed":{"mxid":"@c:z","token":"t1"}}}})"),
                              "11");
  EXPECT_NE(std::find(keys.begin(), keys.end(), StateKey{"m.room.third_party_invite", "t1"}),
            keys.end());
  EXPECT_NE(std::find(keys.begin(), keys.end(), StateKey{"m.room.member", "@c:z"}), keys.end());
  EXPECT_NE(std::find(keys.begin(), keys.end(), StateKey{"m.room.join_rules", ""}), keys.end());
}

TEST(AuthStateKeys, LeaveDoesNotSelectJoinRules) {
  auto keys = auth_state_keys(parse_obj(R"({"type":"m.room.member","sender":"@a:x",
      "state_key":"@c:z","content":{"membership":"leave"}})"),
                              "11");
  EXPECT_EQ(keys.size(), 4u);
  EXPECT_EQ(std::find(keys.begin(), keys.end(), StateKey{"m.room.join_rules", ""}), keys.end());
}

TEST(StateHelpers, MembershipAndJoinRule) {
  StateMap state = restricted_room();
  EXPECT_EQ(membership_of(state, "@alice:a.example"), "join");
  EXPECT_EQ(membership_of(state, "@nobody:a.example"), "");
  EXPECT_EQ(join_rule_of(state), "restricted");
  EXPECT_EQ(join_rule_of(StateMap{}), "invite");
}

TEST(CheckEventAuth, SignatureHookDecidesRule42) {
  StateMap state = restricted_room();
  std::string asked;
  ServerSignatureCheck yes = [&asked](const json::object&, std::string_view server) {
    asked = std::string(server);
    return true;
  };
  ServerSignatureCheck no = [](const json::object&, std::string_view) { return false; };
  EXPECT_TRUE(check_event_auth(restricted_join(false), state, "11", yes).ok());
  EXPECT_EQ(asked, "a.example");
  Status refused = check_event_auth(restricted_join(true), state, "11", no);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("4.2"), std::string::npos);
  // Without a hook the authorising server's signature block must at least be present.
  EXPECT_TRUE(check_event_auth(restricted_join(true), state, "11").ok());
  EXPECT_FALSE(check_event_auth(restricted_join(false), state, "11").ok());
}

TEST(CheckEventAuth, CreatorFirstJoinNeedsCreateEventId) {
  StateMap state;
  put(state, state_event("m.room.create", "@alice:a.example", "", R"({"room_version":"11"})"));
  json::object join = state_event("m.room.member", "@alice:a.example", "@alice:a.example",
                                  R"({"membership":"join"})");
  join["prev_events"] = json::array{"$create"};
  EXPECT_FALSE(check_event_auth(join, state, "11").ok());  // no event_id to compare with
  state[{"m.room.create", ""}]["event_id"] = "$create";
  EXPECT_TRUE(check_event_auth(join, state, "11").ok());
}

TEST(CheckEventAuth, UnselectedStateEntriesAreIgnored) {
  StateMap state = restricted_room();
  json::object foreign = state_event("m.room.topic", "@alice:a.example", "", R"({"topic":"t"})");
  foreign["room_id"] = "!elsewhere:a.example";
  put(state, foreign);  // not selected for a message, so its room_id is irrelevant here
  json::object msg = parse_obj(R"({"type":"m.room.message","sender":"@alice:a.example",
      "room_id":"!r:a.example","content":{"body":"x"},"prev_events":["$p"]})");
  EXPECT_TRUE(check_event_auth(msg, state, "11").ok());
  EXPECT_FALSE(check_auth_events(msg, {state.begin()->second, foreign}, "11").ok());
}

TEST(CheckEventAuth, V10CreatorComesFromContentNotSender) {
  StateMap state;
  json::object create = state_event("m.room.create", "@alice:a.example", "",
                                    R"({"room_version":"10","creator":"@carol:a.example"})");
  put(state, create);
  put(state, state_event("m.room.member", "@alice:a.example", "@alice:a.example",
                         R"({"membership":"join"})"));
  put(state, state_event("m.room.member", "@carol:a.example", "@carol:a.example",
                         R"({"membership":"join"})"));
  json::object by_alice = state_event("m.room.name", "@alice:a.example", "", R"({"name":"n"})");
  json::object by_carol = state_event("m.room.name", "@carol:a.example", "", R"({"name":"n"})");
  EXPECT_FALSE(check_event_auth(by_alice, state, "10").ok());
  EXPECT_TRUE(check_event_auth(by_carol, state, "10").ok());
}

TEST(CheckAuthEvents, CreateEventIsDecidedByRuleOne) {
  json::object create = state_event("m.room.create", "@a:a.example", "", R"({})");
  EXPECT_TRUE(check_auth_events(create, {}, "11").ok());
}

TEST(CheckAuthEvents, NonStateAuthEventIsRefused) {
  json::object msg = parse_obj(R"({"type":"m.room.message","sender":"@a:a.example",
      "room_id":"!r:a.example","content":{}})");
  json::object not_state = parse_obj(R"({"type":"m.room.create","room_id":"!r:a.example"})");
  Status s = check_auth_events(msg, {not_state}, "11");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("2.2"), std::string::npos);
}

TEST(AuthStateKeys, DependOnTheRoomVersion) {
  json::object join = parse_obj(R"({"type":"m.room.member","sender":"@b:y","state_key":"@b:y",
      "content":{"membership":"join","join_authorised_via_users_server":"@a:x"}})");
  auto has = [](const std::vector<StateKey>& keys, const StateKey& key) {
    return std::find(keys.begin(), keys.end(), key) != keys.end();
  };
  for (int n = 1; n <= 12; ++n) {
    std::vector<StateKey> keys = auth_state_keys(join, std::to_string(n));
    EXPECT_EQ(has(keys, {"m.room.create", ""}), n < 12) << "v" << n;
    EXPECT_EQ(has(keys, {"m.room.member", "@a:x"}), n >= 8) << "v" << n;
    EXPECT_TRUE(has(keys, {"m.room.join_rules", ""})) << "v" << n;
  }
}

// v12 rule 2 with a create event as it comes off the wire: no event_id member, so its ID is
// computed, and the room ID must be that ID with "!".
TEST(CheckEventAuth, V12RoomIdIsTheComputedCreateEventId) {
  json::object create = parse_obj(R"({"type":"m.room.create","state_key":"","sender":"@a:x",
      "content":{"room_version":"12"},"prev_events":[],"auth_events":[],"depth":1,
      "origin_server_ts":1})");
  std::string room_id = compute_room_id(create, "12");
  ASSERT_EQ(room_id.substr(1), compute_event_id(create, "12").substr(1));
  StateMap state;
  state[{"m.room.create", ""}] = create;
  json::object join = parse_obj(R"({"type":"m.room.member","sender":"@a:x","state_key":"@a:x",
      "content":{"membership":"join"},"depth":2,"origin_server_ts":2})");
  join["room_id"] = room_id;
  join["prev_events"] = json::array{json::string(compute_event_id(create, "12"))};
  EXPECT_TRUE(check_event_auth(join, state, "12").ok());
  put(state, join);
  state[{"m.room.member", "@a:x"}]["room_id"] = room_id;
  json::object msg = parse_obj(R"({"type":"m.room.message","sender":"@a:x","content":{}})");
  msg["room_id"] = room_id;
  EXPECT_TRUE(check_event_auth(msg, state, "12").ok());
  msg["room_id"] = "!" + std::string(room_id.size() - 1, 'A');
  Status other_room = check_event_auth(msg, state, "12");
  ASSERT_FALSE(other_room.ok());
  EXPECT_NE(other_room.error().message.find("auth rule 2:"), std::string::npos);
  state.erase({"m.room.create", ""});
  msg["room_id"] = room_id;
  EXPECT_FALSE(check_event_auth(msg, state, "12").ok()) << "no create event for the room ID";
}

TEST(CheckAuthEvents, UnknownRoomVersionIsRefused) {
  json::object msg = parse_obj(R"({"type":"m.room.message","sender":"@a:a.example",
      "room_id":"!r:a.example","content":{}})");
  Status s = check_auth_events(msg, {}, "13");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().errcode, errc::kUnsupportedRoomVersion);
}

}  // namespace
}  // namespace despatch
