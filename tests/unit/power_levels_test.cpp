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

}  // namespace
}  // namespace despatch
