#include "service/sync/filter.h"

#include <gtest/gtest.h>

#include <climits>
#include <map>
#include <string>

namespace despatch {
namespace {

json::value parse(std::string_view text) { return json::parse(text); }

json::object event(std::string_view text) { return json::parse(text).as_object(); }

Filter parse_ok(std::string_view text) {
  Result<Filter> r = parse_filter(parse(text));
  EXPECT_TRUE(r.ok()) << text << ": " << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : Filter{};
}

void expect_error(std::string_view text, int status, const char* errcode, std::string_view field) {
  Result<Filter> r = parse_filter(parse(text));
  ASSERT_FALSE(r.ok()) << text;
  EXPECT_EQ(r.error().status, status) << text;
  EXPECT_EQ(r.error().errcode, errcode) << text;
  EXPECT_NE(r.error().message.find(field), std::string::npos)
      << text << " -> " << r.error().message;
}

// ---- parsing ----

TEST(FilterParse, SpecExampleFilter) {
  Filter f = parse_ok(R"({
    "room": {
      "state": {"types": ["m.room.*"], "not_rooms": ["!726s6s6q:example.com"]},
      "timeline": {"limit": 10, "types": ["m.room.message"],
                   "not_rooms": ["!726s6s6q:example.com"], "not_senders": ["@spam:example.com"]},
      "ephemeral": {"types": ["m.receipt", "m.typing"]}
    },
    "presence": {"types": ["m.presence"], "not_senders": ["@alice:example.com"]},
    "event_format": "client",
    "event_fields": ["type", "content", "sender"]
  })");
  ASSERT_TRUE(f.room.state.types);
  EXPECT_EQ(*f.room.state.types, std::vector<std::string>{"m.room.*"});
  ASSERT_TRUE(f.room.state.not_rooms);
  EXPECT_EQ(f.room.state.not_rooms->at(0), "!726s6s6q:example.com");
  EXPECT_EQ(f.room.timeline.limit, 10);
  ASSERT_TRUE(f.room.timeline.not_senders);
  EXPECT_EQ(f.room.timeline.not_senders->at(0), "@spam:example.com");
  ASSERT_TRUE(f.room.ephemeral.types);
  EXPECT_EQ(f.room.ephemeral.types->size(), 2u);
  EXPECT_FALSE(f.room.account_data.types);
  ASSERT_TRUE(f.presence.not_senders);
  EXPECT_EQ(f.presence.not_senders->at(0), "@alice:example.com");
  EXPECT_EQ(f.event_format, EventFormat::kClient);
  EXPECT_EQ(f.event_fields, (std::vector<std::string>{"type", "content", "sender"}));
  EXPECT_FALSE(f.room.include_leave);
}

TEST(FilterParse, EmptyObjectGivesDefaults) {
  Filter f = parse_ok("{}");
  EXPECT_TRUE(f.event_fields.empty());
  EXPECT_EQ(f.event_format, EventFormat::kClient);
  EXPECT_FALSE(f.presence.types);
  EXPECT_FALSE(f.room.rooms);
  EXPECT_FALSE(f.room.timeline.limit);
  EXPECT_FALSE(f.room.timeline.contains_url);
  EXPECT_FALSE(f.room.timeline.lazy_load_members);
}

TEST(FilterParse, RoomLevelFieldsAndBooleans) {
  Filter f = parse_ok(R"({"event_format": "federation",
    "account_data": {"types": ["m.push_rules"]},
    "room": {"rooms": ["!a:x"], "not_rooms": ["!b:x"], "include_leave": true,
             "account_data": {"not_types": ["m.tag"]},
             "state": {"lazy_load_members": true, "include_redundant_members": true},
             "timeline": {"contains_url": false, "unread_thread_notifications": true}}})");
  EXPECT_EQ(f.event_format, EventFormat::kFederation);
  EXPECT_EQ(f.account_data.types->at(0), "m.push_rules");
  EXPECT_EQ(*f.room.rooms, std::vector<std::string>{"!a:x"});
  EXPECT_EQ(*f.room.not_rooms, std::vector<std::string>{"!b:x"});
  EXPECT_TRUE(f.room.include_leave);
  EXPECT_EQ(f.room.account_data.not_types->at(0), "m.tag");
  EXPECT_TRUE(f.room.state.lazy_load_members);
  EXPECT_TRUE(f.room.state.include_redundant_members);
  EXPECT_FALSE(f.room.timeline.lazy_load_members);
  ASSERT_TRUE(f.room.timeline.contains_url);
  EXPECT_FALSE(*f.room.timeline.contains_url);
  EXPECT_TRUE(f.room.timeline.unread_thread_notifications);
}

TEST(FilterParse, UnknownFieldsIgnored) {
  Filter f = parse_ok(R"({"org.example.custom": [1, 2], "room": {"timeline": {
    "limit": 3, "not_a_field": {"x": 1}}, "whatever": 5}})");
  EXPECT_EQ(f.room.timeline.limit, 3);
}

TEST(FilterParse, TypeErrorsNameTheField) {
  const char* kBad = errc::kBadJson;
  expect_error("[]", 400, kBad, "object");
  expect_error(R"("filter")", 400, kBad, "object");
  expect_error(R"({"event_fields": "type"})", 400, kBad, "event_fields");
  expect_error(R"({"event_fields": ["type", 3]})", 400, kBad, "event_fields");
  expect_error(R"({"event_format": "raw"})", 400, kBad, "event_format");
  expect_error(R"({"event_format": 1})", 400, kBad, "event_format");
  expect_error(R"({"presence": "not_an_object"})", 400, kBad, "presence");
  expect_error(R"({"account_data": []})", 400, kBad, "account_data");
  expect_error(R"({"presence": {"types": "m.presence"}})", 400, kBad, "presence.types");
  expect_error(R"({"presence": {"senders": [null]}})", 400, kBad, "presence.senders");
  expect_error(R"({"room": 1})", 400, kBad, "room");
  expect_error(R"({"room": {"rooms": "!a:x"}})", 400, kBad, "room.rooms");
  expect_error(R"({"room": {"not_rooms": [true]}})", 400, kBad, "room.not_rooms");
  expect_error(R"({"room": {"include_leave": "yes"}})", 400, kBad, "room.include_leave");
  expect_error(R"({"room": {"timeline": "not_an_object"}})", 400, kBad, "room.timeline");
  expect_error(R"({"room": {"state": {"not_rooms": "x"}}})", 400, kBad, "room.state.not_rooms");
  expect_error(R"({"room": {"ephemeral": {"not_types": [1]}}})", 400, kBad,
               "room.ephemeral.not_types");
  expect_error(R"({"room": {"account_data": {"not_senders": {}}}})", 400, kBad,
               "room.account_data.not_senders");
  expect_error(R"({"room": {"timeline": {"limit": "10"}}})", 400, kBad, "room.timeline.limit");
  expect_error(R"({"room": {"timeline": {"limit": 2.5}}})", 400, kBad, "room.timeline.limit");
  expect_error(R"({"room": {"timeline": {"limit": null}}})", 400, kBad, "room.timeline.limit");
  expect_error(R"({"room": {"timeline": {"contains_url": 1}}})", 400, kBad,
               "room.timeline.contains_url");
  expect_error(R"({"room": {"state": {"lazy_load_members": "true"}}})", 400, kBad,
               "room.state.lazy_load_members");
  expect_error(R"({"room": {"state": {"include_redundant_members": 0}}})", 400, kBad,
               "room.state.include_redundant_members");
  expect_error(R"({"room": {"timeline": {"unread_thread_notifications": []}}})", 400, kBad,
               "room.timeline.unread_thread_notifications");
}

TEST(FilterParse, NegativeLimitIsInvalidParam) {
  expect_error(R"({"room": {"timeline": {"limit": -1}}})", 400, errc::kInvalidParam,
               "room.timeline.limit");
  expect_error(R"({"presence": {"limit": -5}})", 400, errc::kInvalidParam, "presence.limit");
  expect_error(R"({"room": {"timeline": {"limit": -3.0}}})", 400, errc::kInvalidParam,
               "room.timeline.limit");
}

TEST(FilterParse, LimitEdgeValues) {
  EXPECT_EQ(parse_ok(R"({"presence": {"limit": 0}})").presence.limit, 0);
  EXPECT_EQ(parse_ok(R"({"presence": {"limit": 20.0}})").presence.limit, 20);
  EXPECT_EQ(parse_ok(R"({"presence": {"limit": 5000000000}})").presence.limit, INT_MAX);
  EXPECT_EQ(parse_ok(R"({"presence": {"limit": 18446744073709551615}})").presence.limit, INT_MAX);
}

TEST(FilterParse, RoomEventFilterStandalone) {
  Result<RoomEventFilter> r = parse_room_event_filter(
      parse(R"({"contains_url": true, "types": ["m.room.message"], "limit": 4,
                "not_rooms": ["!b:x"], "lazy_load_members": true})"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->contains_url, true);
  EXPECT_EQ(r->limit, 4);
  EXPECT_EQ(r->types->at(0), "m.room.message");
  EXPECT_EQ(r->not_rooms->at(0), "!b:x");
  EXPECT_TRUE(r->lazy_load_members);

  Result<RoomEventFilter> bad = parse_room_event_filter(parse(R"({"senders": "@a:x"})"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().errcode, errc::kBadJson);
  EXPECT_NE(bad.error().message.find("senders"), std::string::npos);

  Result<RoomEventFilter> not_obj = parse_room_event_filter(parse("[1]"));
  ASSERT_FALSE(not_obj.ok());
  EXPECT_EQ(not_obj.error().errcode, errc::kBadJson);
}

// ---- serialisation ----

TEST(FilterToJson, RoundTripsGivenFields) {
  const char* kText = R"({
    "event_fields": ["type", "content.m\\.relates_to"],
    "event_format": "federation",
    "presence": {"types": ["m.presence"], "not_senders": ["@alice:example.com"], "limit": 2},
    "account_data": {"not_types": ["m.*"]},
    "room": {"rooms": ["!a:x"], "not_rooms": [], "include_leave": true,
             "state": {"types": ["m.room.*"], "lazy_load_members": true,
                       "include_redundant_members": true},
             "timeline": {"limit": 10, "senders": ["@b:x"], "contains_url": false,
                          "unread_thread_notifications": true},
             "ephemeral": {"not_types": ["m.typing"], "rooms": ["!c:x"]},
             "account_data": {"types": []}}})";
  json::value original = parse(kText);
  json::object out = filter_to_json(parse_ok(kText));
  EXPECT_EQ(json::value(out), original) << json::serialize(out);
  // And parsing the output again is stable.
  EXPECT_EQ(filter_to_json(parse_ok(json::serialize(out))), out);
}

TEST(FilterToJson, DefaultsAreOmitted) {
  EXPECT_TRUE(filter_to_json(Filter{}).empty());
  json::object out = filter_to_json(parse_ok(
      R"({"event_format": "client", "presence": {}, "room": {"include_leave": false,
          "timeline": {"lazy_load_members": false}}})"));
  EXPECT_TRUE(out.empty()) << json::serialize(out);
}

TEST(FilterToJson, RoomEventFilterForm) {
  RoomEventFilter f;
  f.limit = 7;
  f.contains_url = true;
  f.not_senders = std::vector<std::string>{"@x:y"};
  EXPECT_EQ(json::value(room_event_filter_to_json(f)),
            parse(R"({"limit": 7, "contains_url": true, "not_senders": ["@x:y"]})"));
}

// ---- limits ----

TEST(FilterLimit, DefaultAndClamp) {
  EventFilter f;
  EXPECT_EQ(kDefaultTimelineLimit, 10);
  EXPECT_EQ(effective_limit(f), kDefaultTimelineLimit);
  EXPECT_EQ(effective_limit(f, 50), 50);
  f.limit = 3;
  EXPECT_EQ(effective_limit(f), 3);
  f.limit = 0;
  EXPECT_EQ(effective_limit(f), 0);
  f.limit = 1000000;
  EXPECT_EQ(effective_limit(f), kMaxEventLimit);
  EXPECT_EQ(effective_limit(EventFilter{}, 5000), kMaxEventLimit);
}

// ---- matching ----

TEST(FilterMatch, TypeWildcards) {
  EXPECT_TRUE(type_matches("m.room.*", "m.room.message"));
  EXPECT_TRUE(type_matches("m.room.*", "m.room."));
  EXPECT_FALSE(type_matches("m.room.*", "m.room"));
  EXPECT_FALSE(type_matches("m.room.*", "m.roomy.message"));
  EXPECT_TRUE(type_matches("*", "anything"));
  EXPECT_TRUE(type_matches("*", ""));
  EXPECT_TRUE(type_matches("m.room.message", "m.room.message"));
  EXPECT_FALSE(type_matches("m.room.message", "m.room.message2"));
  EXPECT_FALSE(type_matches("m.room.message", "m.room.messag"));
  EXPECT_TRUE(type_matches("m.*.member", "m.room.member"));
  EXPECT_FALSE(type_matches("m.*.member", "m.room.members"));
  EXPECT_TRUE(type_matches("*.a*b", "x.aab.aXb"));
  EXPECT_FALSE(type_matches("*.a*b", "x.aab.aXc"));
  EXPECT_FALSE(type_matches("m.?oom", "m.room"));  // only '*' is special
}

TEST(FilterMatch, TypesAbsentEmptyAndListed) {
  json::object msg = event(R"({"type": "m.room.message", "sender": "@a:x"})");
  EventFilter f;
  EXPECT_TRUE(matches(f, msg));
  f.types = std::vector<std::string>{};
  EXPECT_FALSE(matches(f, msg));
  f.types = std::vector<std::string>{"m.room.member", "m.room.*"};
  EXPECT_TRUE(matches(f, msg));
  f.types = std::vector<std::string>{"m.room.member"};
  EXPECT_FALSE(matches(f, msg));
  f.types = std::vector<std::string>{"m.room.*"};
  EXPECT_FALSE(matches(f, event(R"({"sender": "@a:x"})")));  // no type at all
}

TEST(FilterMatch, NotTypesWinOverTypes) {
  EventFilter f;
  f.types = std::vector<std::string>{"m.room.*"};
  f.not_types = std::vector<std::string>{"m.room.member"};
  EXPECT_TRUE(matches(f, event(R"({"type": "m.room.message"})")));
  EXPECT_FALSE(matches(f, event(R"({"type": "m.room.member"})")));
  f.types = std::nullopt;
  f.not_types = std::vector<std::string>{"m.*"};
  EXPECT_FALSE(matches(f, event(R"({"type": "m.typing"})")));
  EXPECT_TRUE(matches(f, event(R"({"type": "org.example"})")));
  f.not_types = std::vector<std::string>{};
  EXPECT_TRUE(matches(f, event(R"({"type": "m.typing"})")));  // empty deny list denies nothing
}

TEST(FilterMatch, SendersAndNotSenders) {
  json::object from_a = event(R"({"type": "m.room.message", "sender": "@a:x"})");
  json::object from_b = event(R"({"type": "m.room.message", "sender": "@b:x"})");
  EventFilter f;
  f.senders = std::vector<std::string>{"@a:x"};
  EXPECT_TRUE(matches(f, from_a));
  EXPECT_FALSE(matches(f, from_b));
  EXPECT_FALSE(matches(f, event(R"({"type": "m.room.message"})")));  // senderless
  f.not_senders = std::vector<std::string>{"@a:x"};
  EXPECT_FALSE(matches(f, from_a));  // deny wins even when allowed
  f.senders = std::nullopt;
  EXPECT_TRUE(matches(f, from_b));
  f.senders = std::vector<std::string>{};
  EXPECT_FALSE(matches(f, from_b));
  // Senders are literal, not globs.
  f = EventFilter{};
  f.senders = std::vector<std::string>{"@*"};
  EXPECT_FALSE(matches(f, from_a));
}

TEST(FilterMatch, RoomsOnRoomEventFilter) {
  json::object in_a = event(R"({"type": "m.room.message", "room_id": "!a:x", "sender": "@u:x"})");
  json::object in_b = event(R"({"type": "m.room.message", "room_id": "!b:x", "sender": "@u:x"})");
  RoomEventFilter f;
  EXPECT_TRUE(matches(f, in_a));
  f.rooms = std::vector<std::string>{"!a:x"};
  EXPECT_TRUE(matches(f, in_a));
  EXPECT_FALSE(matches(f, in_b));
  EXPECT_FALSE(matches(f, event(R"({"type": "m.room.message"})")));
  f.not_rooms = std::vector<std::string>{"!a:x"};
  EXPECT_FALSE(matches(f, in_a));  // not_rooms wins
  EXPECT_FALSE(room_allowed(f, "!a:x"));
  f.rooms = std::nullopt;
  EXPECT_TRUE(matches(f, in_b));
  EXPECT_TRUE(room_allowed(f, "!b:x"));
  // Out-of-band room for events that do not carry one (typing, receipts).
  json::object typing = event(R"({"type": "m.typing", "content": {"user_ids": []}})");
  EXPECT_FALSE(matches(f, typing, "!a:x"));
  EXPECT_TRUE(matches(f, typing, "!b:x"));
  // The event-level checks still apply alongside the room checks.
  f.not_types = std::vector<std::string>{"m.typing"};
  EXPECT_FALSE(matches(f, typing, "!b:x"));
}

TEST(FilterMatch, ContainsUrl) {
  json::object image =
      event(R"({"type": "m.room.message", "content": {"msgtype": "m.image", "url": "mxc://x/y"}})");
  json::object empty_url = event(R"({"type": "m.room.message", "content": {"url": ""}})");
  json::object text = event(R"({"type": "m.room.message", "content": {"body": "hi"}})");
  json::object bad_url = event(R"({"type": "m.room.message", "content": {"url": 5}})");
  json::object no_content = event(R"({"type": "m.room.message"})");
  json::object top_level_url = event(R"({"type": "m.room.message", "url": "mxc://x/y"})");
  RoomEventFilter f;
  for (const json::object* e : {&image, &empty_url, &text, &bad_url, &no_content}) {
    EXPECT_TRUE(matches(f, *e));
  }
  f.contains_url = true;
  EXPECT_TRUE(matches(f, image));
  EXPECT_TRUE(matches(f, empty_url));
  EXPECT_FALSE(matches(f, text));
  EXPECT_FALSE(matches(f, bad_url));
  EXPECT_FALSE(matches(f, no_content));
  EXPECT_FALSE(matches(f, top_level_url));
  f.contains_url = false;
  EXPECT_FALSE(matches(f, image));
  EXPECT_FALSE(matches(f, empty_url));
  EXPECT_TRUE(matches(f, text));
  EXPECT_TRUE(matches(f, bad_url));
  EXPECT_TRUE(matches(f, no_content));
}

TEST(FilterMatch, RoomFilterRoomAllowed) {
  RoomFilter f;
  EXPECT_TRUE(room_allowed(f, "!a:x"));
  f.rooms = std::vector<std::string>{"!a:x", "!b:x"};
  EXPECT_TRUE(room_allowed(f, "!a:x"));
  EXPECT_FALSE(room_allowed(f, "!c:x"));
  f.not_rooms = std::vector<std::string>{"!b:x"};
  EXPECT_FALSE(room_allowed(f, "!b:x"));
  EXPECT_TRUE(room_allowed(f, "!a:x"));
  f.rooms = std::vector<std::string>{};
  EXPECT_FALSE(room_allowed(f, "!a:x"));
}

TEST(FilterMatch, ParsedFilterEndToEnd) {
  Filter f = parse_ok(R"({"room": {"timeline": {"types": ["m.room.*"],
      "not_types": ["m.room.redaction"], "not_senders": ["@spam:x"], "not_rooms": ["!bad:x"]}}})");
  const RoomEventFilter& t = f.room.timeline;
  EXPECT_TRUE(matches(t, event(R"({"type": "m.room.message", "sender": "@u:x",
                                    "room_id": "!ok:x"})")));
  EXPECT_FALSE(matches(t, event(R"({"type": "m.room.redaction", "sender": "@u:x",
                                     "room_id": "!ok:x"})")));
  EXPECT_FALSE(matches(t, event(R"({"type": "m.room.message", "sender": "@spam:x",
                                     "room_id": "!ok:x"})")));
  EXPECT_FALSE(matches(t, event(R"({"type": "m.room.message", "sender": "@u:x",
                                     "room_id": "!bad:x"})")));
  EXPECT_FALSE(matches(t, event(R"({"type": "m.reaction", "sender": "@u:x",
                                     "room_id": "!ok:x"})")));
}

// ---- event_fields ----

const char* kFullEvent = R"({
  "type": "m.room.message", "sender": "@a:x", "event_id": "$e", "room_id": "!r:x",
  "origin_server_ts": 5,
  "content": {"body": "hi", "msgtype": "m.text",
              "m.relates_to": {"rel_type": "m.thread", "event_id": "$root"},
              "m\\foo": 1, "a.b": {"c": 2}},
  "unsigned": {"age": 10}})";

TEST(EventFields, EmptyListKeepsEverything) {
  json::object e = event(kFullEvent);
  EXPECT_EQ(apply_event_fields(e, {}), e);
}

TEST(EventFields, TopLevelAndNested) {
  json::object out = apply_event_fields(event(kFullEvent), {"type", "content.body", "sender"});
  EXPECT_EQ(json::value(out),
            parse(R"({"type": "m.room.message", "content": {"body": "hi"}, "sender": "@a:x"})"));
  out = apply_event_fields(event(kFullEvent), {"unsigned.age", "content.m.relates_to"});
  // Unescaped dots split the name, so "m.relates_to" is not found as a single key.
  EXPECT_EQ(json::value(out), parse(R"({"unsigned": {"age": 10}})"));
}

TEST(EventFields, EscapedDotsAndBackslashes) {
  json::object e = event(kFullEvent);
  json::object out = apply_event_fields(e, {R"(content.m\.relates_to.rel_type)"});
  EXPECT_EQ(json::value(out), parse(R"({"content": {"m.relates_to": {"rel_type": "m.thread"}}})"));
  out = apply_event_fields(e, {R"(content.m\\foo)"});
  EXPECT_EQ(json::value(out), parse(R"({"content": {"m\\foo": 1}})"));
  out = apply_event_fields(e, {R"(content.a\.b.c)"});
  EXPECT_EQ(json::value(out), parse(R"({"content": {"a.b": {"c": 2}}})"));
  // Other escapes are literal: "\f" names a key made of a backslash then 'f'.
  json::object odd = event(R"({"content": {"\\fx": 3}})");
  out = apply_event_fields(odd, {R"(content.\fx)"});
  EXPECT_EQ(json::value(out), parse(R"({"content": {"\\fx": 3}})"));
}

TEST(EventFields, MissingPathsAndOverlaps) {
  json::object e = event(kFullEvent);
  // Missing leaves and paths through non-objects add nothing, not even empty parents.
  EXPECT_TRUE(apply_event_fields(e, {"content.nope", "type.x", "nope.deeper"}).empty());
  // A whole object and one of its children together keep the whole object, in either order.
  json::object content_only = apply_event_fields(e, {"content"});
  EXPECT_EQ(apply_event_fields(e, {"content.body", "content"}), content_only);
  EXPECT_EQ(apply_event_fields(e, {"content", "content.body"}), content_only);
  EXPECT_EQ(content_only.at("content"), e.at("content"));
  // Two children of one object merge.
  json::object out = apply_event_fields(e, {"content.body", "content.msgtype"});
  EXPECT_EQ(json::value(out), parse(R"({"content": {"body": "hi", "msgtype": "m.text"}})"));
}

// ---- filter parameter resolution ----

struct FakeStore {
  std::map<std::string, json::value, std::less<>> filters;
  int lookups = 0;
  std::optional<json::value> operator()(std::string_view id) {
    ++lookups;
    auto it = filters.find(id);
    if (it == filters.end()) return std::nullopt;
    return it->second;
  }
};

TEST(ResolveFilterParam, InlineJson) {
  FakeStore store;
  auto load = [&](std::string_view id) { return store(id); };
  Result<Filter> r = resolve_filter_param(R"({"room":{"timeline":{"limit":2}}})", load);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->room.timeline.limit, 2);
  EXPECT_EQ(store.lookups, 0);

  Result<Filter> not_json = resolve_filter_param("{room:", load);
  ASSERT_FALSE(not_json.ok());
  EXPECT_EQ(not_json.error().status, 400);
  EXPECT_EQ(not_json.error().errcode, errc::kNotJson);

  Result<Filter> bad_shape = resolve_filter_param(R"({"room": []})", load);
  ASSERT_FALSE(bad_shape.ok());
  EXPECT_EQ(bad_shape.error().errcode, errc::kBadJson);
  EXPECT_EQ(store.lookups, 0);
}

TEST(ResolveFilterParam, StoredId) {
  FakeStore store;
  store.filters["7"] = parse(R"({"room": {"include_leave": true}})");
  store.filters["broken"] = parse(R"({"room": {"include_leave": "x"}})");
  auto load = [&](std::string_view id) { return store(id); };

  Result<Filter> r = resolve_filter_param("7", load);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->room.include_leave);

  Result<Filter> unknown = resolve_filter_param("8", load);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().status, 400);
  EXPECT_EQ(unknown.error().errcode, errc::kInvalidParam);

  // Leading whitespace is not '{': it is an ID, and an unknown one.
  Result<Filter> spaced = resolve_filter_param(R"( {"room": {}})", load);
  ASSERT_FALSE(spaced.ok());
  EXPECT_EQ(spaced.error().errcode, errc::kInvalidParam);

  Result<Filter> broken = resolve_filter_param("broken", load);
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(broken.error().errcode, errc::kBadJson);
  EXPECT_EQ(store.lookups, 4);
}

TEST(ResolveFilterParam, EmptyMeansDefaultAndNullLoaderMeansUnknown) {
  Result<Filter> r = resolve_filter_param("", nullptr);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->room.timeline.limit);
  Result<Filter> no_loader = resolve_filter_param("1", nullptr);
  ASSERT_FALSE(no_loader.ok());
  EXPECT_EQ(no_loader.error().errcode, errc::kInvalidParam);
}

TEST(RoomEventFilterParam, InlineOnly) {
  Result<RoomEventFilter> empty = parse_room_event_filter_param("");
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->contains_url);

  Result<RoomEventFilter> r = parse_room_event_filter_param(R"({"contains_url":true})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->contains_url, true);

  Result<RoomEventFilter> garbage = parse_room_event_filter_param("abc");
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.error().errcode, errc::kNotJson);

  Result<RoomEventFilter> bad = parse_room_event_filter_param(R"({"limit": -2})");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().errcode, errc::kInvalidParam);
}

}  // namespace
}  // namespace despatch
