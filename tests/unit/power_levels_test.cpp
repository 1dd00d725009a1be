#include "service/rooms/power_levels.h"

#include <gtest/gtest.h>

#include "core/canonical_json.h"

namespace despatch {
namespace {

json::object parse_obj(std::string_view text) { return json::parse(text).as_object(); }

StateMap with_create(std::string_view create_json) {
  StateMap state;
  state[{"m.room.create", ""}] = parse_obj(create_json);
  return state;
}

TEST(PowerLevels, DefaultsWithoutAnyState) {
  PowerLevels pl = PowerLevels::from_state(StateMap{});
  EXPECT_EQ(pl.user_level("@a:x"), 0);
  EXPECT_EQ(pl.event_level("m.room.name", true), 50);
  EXPECT_EQ(pl.event_level("m.room.message", false), 0);
  EXPECT_EQ(pl.ban, 50);
  EXPECT_EQ(pl.kick, 50);
  EXPECT_EQ(pl.redact, 50);
  EXPECT_EQ(pl.invite, 0);
  EXPECT_EQ(pl.notification_level("room"), 50);
}

TEST(PowerLevels, V11CreatorIsTheCreateSender) {
  StateMap state = with_create(R"({"type":"m.room.create","sender":"@alice:x","state_key":"",
      "content":{"room_version":"11","creator":"@mallory:x"}})");
  PowerLevels pl = PowerLevels::from_state(state);
  EXPECT_EQ(pl.user_level("@alice:x"), kCreatorDefaultLevel);
  EXPECT_EQ(pl.user_level("@mallory:x"), 0);
}

TEST(PowerLevels, V10CreatorIsContentCreator) {
  StateMap state = with_create(R"({"type":"m.room.create","sender":"@alice:x","state_key":"",
      "content":{"room_version":"10","creator":"@carol:x"}})");
  PowerLevels pl = PowerLevels::from_state(state);
  EXPECT_EQ(pl.user_level("@carol:x"), 100);
  EXPECT_EQ(pl.user_level("@alice:x"), 0);
}

TEST(PowerLevels, PowerLevelsEventReplacesCreatorDefault) {
  StateMap state = with_create(R"({"type":"m.room.create","sender":"@alice:x","state_key":"",
      "content":{"room_version":"11"}})");
  state[{"m.room.power_levels", ""}] =
      parse_obj(R"({"type":"m.room.power_levels","content":{"users_default":5}})");
  PowerLevels pl = PowerLevels::from_state(state);
  EXPECT_EQ(pl.user_level("@alice:x"), 5);  // no longer special once power_levels exists
  EXPECT_EQ(pl.state_default, 50);
}

TEST(PowerLevels, FromContentReadsEveryField) {
  PowerLevels pl = PowerLevels::from_content(parse_obj(R"({
      "users":{"@a:x":75},"users_default":3,"events":{"m.room.name":10,"m.custom":40},
      "events_default":7,"state_default":60,"ban":61,"kick":62,"invite":63,"redact":64,
      "notifications":{"room":20}})"));
  EXPECT_EQ(pl.user_level("@a:x"), 75);
  EXPECT_EQ(pl.user_level("@b:x"), 3);
  EXPECT_EQ(pl.event_level("m.room.name", true), 10);
  EXPECT_EQ(pl.event_level("m.custom", false), 40);
  EXPECT_EQ(pl.event_level("m.room.topic", true), 60);
  EXPECT_EQ(pl.event_level("m.room.message", false), 7);
  EXPECT_EQ(pl.ban, 61);
  EXPECT_EQ(pl.kick, 62);
  EXPECT_EQ(pl.invite, 63);
  EXPECT_EQ(pl.redact, 64);
  EXPECT_EQ(pl.notification_level("room"), 20);
  EXPECT_EQ(pl.notification_level("other"), 50);
}

TEST(PowerLevels, StringLevelsFromOlderRoomsAreRead) {
  PowerLevels pl = PowerLevels::from_content(parse_obj(R"({
      "users":{"@a:x":" +100 ","@b:x":"-5","@c:x":"0042"},"ban":"70",
      "events":{"m.room.name":"  20"}})"));
  EXPECT_EQ(pl.user_level("@a:x"), 100);
  EXPECT_EQ(pl.user_level("@b:x"), -5);
  EXPECT_EQ(pl.user_level("@c:x"), 42);
  EXPECT_EQ(pl.ban, 70);
  EXPECT_EQ(pl.event_level("m.room.name", true), 20);
}

TEST(PowerLevels, UnreadableValuesFallBackToDefaults) {
  PowerLevels pl = PowerLevels::from_content(parse_obj(R"({
      "users":{"@a:x":"1e3","@b:x":"abc","@c:x":true},"kick":"","ban":null,
      "events":"nope","users_default":"++1"})"));
  EXPECT_EQ(pl.user_level("@a:x"), 0);
  EXPECT_EQ(pl.user_level("@b:x"), 0);
  EXPECT_EQ(pl.user_level("@c:x"), 0);
  EXPECT_EQ(pl.kick, 50);
  EXPECT_EQ(pl.ban, 50);
  EXPECT_TRUE(pl.events.empty());
}

TEST(PowerLevelValues, StrictAcceptsOnlyCanonicalIntegers) {
  EXPECT_EQ(strict_power_level(json::value(50)), 50);
  EXPECT_EQ(strict_power_level(json::value(-20)), -20);
  EXPECT_EQ(strict_power_level(json::value(std::uint64_t{7})), 7);
  EXPECT_EQ(strict_power_level(json::value(kMaxCanonicalInt)), kMaxCanonicalInt);
  EXPECT_FALSE(strict_power_level(json::value(kMaxCanonicalInt + 1)));
  EXPECT_FALSE(strict_power_level(json::value(-kMaxCanonicalInt - 1)));
  EXPECT_FALSE(strict_power_level(json::value("50")));
  EXPECT_FALSE(strict_power_level(json::value(50.0)));
  EXPECT_FALSE(strict_power_level(json::value(nullptr)));
}

TEST(PowerLevelValues, LenientHandlesStringsAndTruncatesFloats) {
  EXPECT_EQ(lenient_power_level(json::value("  -007 ")), -7);
  EXPECT_EQ(lenient_power_level(json::value(50.9)), 50);
  EXPECT_EQ(lenient_power_level(json::value(-1.5)), -1);
  EXPECT_FALSE(lenient_power_level(json::value("10.5")));
  EXPECT_FALSE(lenient_power_level(json::value("+-1")));
  EXPECT_FALSE(lenient_power_level(json::value("99999999999999999999")));
  EXPECT_FALSE(lenient_power_level(json::value(1e300)));
}

TEST(RoomCreator, DependsOnTheCreateEventsVersion) {
  EXPECT_EQ(room_creator(
                parse_obj(R"({"sender":"@s:x","content":{"room_version":"11","creator":"@c:x"}})")),
            "@s:x");
  EXPECT_EQ(room_creator(
                parse_obj(R"({"sender":"@s:x","content":{"room_version":"10","creator":"@c:x"}})")),
            "@c:x");
  // An absent room_version means version 1, which names the creator in content.
  EXPECT_EQ(room_creator(parse_obj(R"({"sender":"@s:x","content":{"creator":"@c:x"}})")), "@c:x");
  EXPECT_EQ(room_creator(parse_obj(R"({"sender":"@s:x","content":{"room_version":"10"}})")), "");
}

const RoomVersion& v(std::string_view id) { return *find_room_version(id); }

TEST(RoomCreators, V12AddsValidAdditionalCreatorsOnce) {
  json::object create = parse_obj(R"({"sender":"@s:x","content":{"room_version":"12",
      "additional_creators":["@b:y","not a user","@s:x","@b:y","@c:z",7]}})");
  EXPECT_EQ(room_creators(create, v("12")), (std::vector<std::string>{"@s:x", "@b:y", "@c:z"}));
  // Before v12 the field means nothing.
  EXPECT_EQ(room_creators(create, v("11")), (std::vector<std::string>{"@s:x"}));
  json::object old = parse_obj(R"({"sender":"@s:x","content":{"creator":"@c:x",
      "additional_creators":["@b:y"]}})");
  EXPECT_EQ(room_creators(old, v("1")), (std::vector<std::string>{"@c:x"}));
}

TEST(PowerLevels, V12CreatorsAreInfiniteWithOrWithoutPowerLevels) {
  StateMap state = with_create(R"({"type":"m.room.create","sender":"@alice:x","state_key":"",
      "content":{"room_version":"12","additional_creators":["@bob:y"]}})");
  PowerLevels without = PowerLevels::from_state(state);
  EXPECT_EQ(without.user_level("@alice:x"), kInfinitePowerLevel);
  EXPECT_EQ(without.user_level("@bob:y"), kInfinitePowerLevel);
  EXPECT_EQ(without.user_level("@carol:x"), 0);
  state[{"m.room.power_levels", ""}] = parse_obj(
      R"({"type":"m.room.power_levels","content":{"users":{"@alice:x":1,"@carol:x":100}}})");
  PowerLevels with = PowerLevels::from_state(state, v("12"));
  EXPECT_EQ(with.user_level("@alice:x"), kInfinitePowerLevel);  // listed or not
  EXPECT_EQ(with.user_level("@carol:x"), 100);
  EXPECT_GT(with.user_level("@bob:y"), kMaxCanonicalInt);
  // The same create event read as v11: only the sender, at 100 while no power levels exist.
  state.erase({"m.room.power_levels", ""});
  PowerLevels as_v11 = PowerLevels::from_state(state, v("11"));
  EXPECT_EQ(as_v11.user_level("@alice:x"), kCreatorDefaultLevel);
  EXPECT_EQ(as_v11.user_level("@bob:y"), 0);
}

TEST(PowerLevelValues, WhatEachVersionAcceptsInNewEvents) {
  json::value integer(50), text(" +50 "), real(50.7), bad("5x");
  for (int n = 1; n <= 12; ++n) {
    const RoomVersion& rv = v(std::to_string(n));
    EXPECT_EQ(power_level_for_version(integer, rv), 50) << n;
    EXPECT_EQ(power_level_for_version(text, rv).has_value(), n <= 9) << n;
    EXPECT_EQ(power_level_for_version(real, rv).has_value(), n <= 5) << n;
    EXPECT_FALSE(power_level_for_version(bad, rv)) << n;
  }
  EXPECT_EQ(power_level_for_version(real, v("5")), 50);
}

TEST(RoomVersionOfCreate, AbsentMeansOneAndUnknownIsNull) {
  EXPECT_EQ(room_version_of_create(parse_obj(R"({"content":{}})"))->id, "1");
  EXPECT_EQ(room_version_of_create(parse_obj(R"({"content":{"room_version":"9"}})"))->id, "9");
  EXPECT_EQ(room_version_of_create(parse_obj(R"({"content":{"room_version":"x"}})")), nullptr);
  EXPECT_EQ(room_version_of_create(parse_obj(R"({"content":{"room_version":9}})")), nullptr);
}

}  // namespace
}  // namespace despatch
