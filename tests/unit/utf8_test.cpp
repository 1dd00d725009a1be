#include "core/utf8.h"

#include "core/canonical_json.h"
#include "service/rooms/event_limits.h"

#include <gtest/gtest.h>

#include <string>

namespace despatch {
namespace {

TEST(Utf8Test, AcceptsValidSequences) {
  for (std::string_view ok : {"", "m.room.message", "caf\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80",
                              "\xEF\xBF\xBD", "\xF4\x8F\xBF\xBF"})
    EXPECT_TRUE(is_valid_utf8(ok)) << ok;
}

TEST(Utf8Test, RefusesInvalidSequences) {
  for (std::string_view bad : {"\xFF", "a\xFE", "\xC0\xAF", "\xE0\x80\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80",
                               "\xC3", "\xE2\x82", "\x80", "\xF8\x88\x80\x80\x80"})
    EXPECT_FALSE(is_valid_utf8(bad)) << testing::PrintToString(std::string(bad));
}

TEST(Utf8Test, ReplacesEachInvalidByte) {
  EXPECT_EQ(to_valid_utf8("ok"), "ok");
  EXPECT_EQ(to_valid_utf8("a\xFF" "b"), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(to_valid_utf8("\xC3"), "\xEF\xBF\xBD");
  EXPECT_EQ(to_valid_utf8("caf\xC3\xA9\xFF"), "caf\xC3\xA9\xEF\xBF\xBD");
  EXPECT_TRUE(is_valid_utf8(to_valid_utf8("\xC0\xAF\xED\xA0\x80\xF4\x90\x80\x80")));
}

TEST(JsonNumbersTest, RefusesWhatJsonCannotCarry) {
  for (const char* bad : {"1e400", "-1e400", "[1, {\"a\": 1e999}]", "9007199254740992", "-9007199254740992",
                          "1e300", "18446744073709551615"}) {
    auto v = parse_strict_json(bad);
    ASSERT_TRUE(v.ok()) << bad;
    auto st = check_json_numbers(*v);
    ASSERT_FALSE(st.ok()) << bad;
    EXPECT_EQ(st.error().errcode, errc::kBadJson);
  }
  for (const char* ok : {"0.25", "-0.5", "9007199254740991", "-9007199254740991", "{\"order\": 1e-300}", "[]"}) {
    auto v = parse_strict_json(ok);
    ASSERT_TRUE(v.ok()) << ok;
    EXPECT_TRUE(check_json_numbers(*v).ok()) << ok;
  }
}

json::object event(const char* type, json::object content) {
  return json::object{{"type", type}, {"sender", "@a:x"}, {"content", std::move(content)}};
}

TEST(EventLimitsTest, TypeAndStateKeyLengths) {
  EXPECT_TRUE(check_event_shape(event("m.room.message", {{"body", "x"}})).ok());
  EXPECT_FALSE(check_event_shape(event("", {})).ok());
  std::string long_type(256, 't');
  EXPECT_EQ(check_event_shape(event(long_type.c_str(), {})).error().errcode, errc::kInvalidParam);
  auto ev = event("m.x", {});
  ev["state_key"] = std::string(255, 'k');
  EXPECT_TRUE(check_event_shape(ev).ok());
  ev["state_key"] = std::string(256, 'k');
  EXPECT_EQ(check_event_shape(ev).error().errcode, errc::kInvalidParam);
}

TEST(EventLimitsTest, StateContentSchemas) {
  EXPECT_TRUE(check_event_shape(event("m.room.topic", {{"topic", "t"}})).ok());
  EXPECT_TRUE(check_event_shape(event("m.room.topic", {})).ok());
  EXPECT_EQ(check_event_shape(event("m.room.topic", {{"topic", 5}})).error().errcode, errc::kBadJson);
  EXPECT_FALSE(check_event_shape(event("m.room.name", {{"name", std::string(256, 'n')}})).ok());
  EXPECT_TRUE(check_event_shape(event("m.room.name", {{"name", std::string(255, 'n')}})).ok());
  EXPECT_TRUE(check_event_shape(event("m.room.member", {{"membership", "join"}, {"displayname", nullptr}})).ok());
  EXPECT_FALSE(check_event_shape(event("m.room.member", {{"membership", "join"}, {"displayname", 1}})).ok());
  EXPECT_FALSE(check_event_shape(event("m.room.canonical_alias", {{"alt_aliases", json::array{1}}})).ok());
  EXPECT_FALSE(check_event_shape(event("m.room.redaction", {{"reason", false}})).ok());
}

TEST(EventLimitsTest, WholeEventSize) {
  auto ev = event("m.room.message", {{"body", std::string(65000, 'x')}});
  EXPECT_TRUE(check_event_size(ev).ok());
  ev["content"].as_object()["body"] = std::string(65536, 'x');
  auto st = check_event_size(ev);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().status, 413);
  EXPECT_EQ(st.error().errcode, errc::kTooLarge);
}

}  // namespace
}  // namespace despatch
