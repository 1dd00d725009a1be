#include "service/push/push_rules.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace despatch {
namespace {

constexpr std::string_view kAlice = "@alice:example.org";
constexpr std::string_view kBob = "@bob:example.org";

std::vector<std::string> ids_of(const json::object& rules, std::string_view kind) {
  std::vector<std::string> ids;
  for (const json::value& r : rules.at("global").as_object().at(kind).as_array()) {
    ids.emplace_back(r.at("rule_id").as_string());
  }
  return ids;
}

const json::object& rule_in(const json::object& rules, std::string_view kind, std::string_view id) {
  for (const json::value& r : rules.at("global").as_object().at(kind).as_array()) {
    if (r.at("rule_id").as_string() == id) return r.as_object();
  }
  static const json::object kNone;
  ADD_FAILURE() << "no rule " << id;
  return kNone;
}

json::object parse(std::string_view text) { return json::parse(text).as_object(); }

// A message event from Bob in !room, with the given content.
json::object message(json::object content, std::string_view type = "m.room.message") {
  return {{"type", type},
          {"sender", kBob},
          {"room_id", "!room:example.org"},
          {"event_id", "$e"},
          {"content", std::move(content)}};
}

json::object text(std::string_view body) { return {{"msgtype", "m.text"}, {"body", body}}; }

PushContext context(int64_t members = 5) {
  PushContext ctx;
  ctx.user_id = std::string(kAlice);
  ctx.display_name = "Alice Liddell";
  ctx.member_count = members;
  ctx.user_power_level = [](std::string_view) -> int64_t { return 0; };
  return ctx;
}

PushActions eval(const json::object& event, const PushContext& ctx,
                 const json::object& overrides = {}) {
  return evaluate_push_rules(effective_push_rules(ctx.user_id, overrides), event, ctx);
}

// Overrides with one user override rule whose single condition is `condition`.
json::object with_override(std::string_view condition, std::string_view actions = R"(["notify"])") {
  json::object body = parse(std::string(R"({"conditions": [)") + std::string(condition) +
                            R"(], "actions": )" + std::string(actions) + "}");
  auto r = put_push_rule({}, "override", "custom", body);
  EXPECT_TRUE(r.ok());
  return r.ok() ? *r : json::object();
}

// --- Defaults ---------------------------------------------------------------------------

TEST(PushRulesDefaults, IdsAndOrderFollowTheSpec) {
  json::object rules = default_push_rules(kAlice);
  EXPECT_EQ(ids_of(rules, "override"),
            (std::vector<std::string>{".m.rule.master", ".m.rule.suppress_notices",
                                      ".m.rule.invite_for_me", ".m.rule.member_event",
                                      ".m.rule.is_user_mention", ".m.rule.is_room_mention",
                                      ".m.rule.tombstone", ".m.rule.reaction",
                                      ".m.rule.room.server_acl", ".m.rule.suppress_edits"}));
  EXPECT_EQ(ids_of(rules, "underride"),
            (std::vector<std::string>{".m.rule.call", ".m.rule.encrypted_room_one_to_one",
                                      ".m.rule.room_one_to_one", ".m.rule.message",
                                      ".m.rule.encrypted"}));
  EXPECT_TRUE(ids_of(rules, "content").empty());
  EXPECT_TRUE(ids_of(rules, "room").empty());
  EXPECT_TRUE(ids_of(rules, "sender").empty());
}

TEST(PushRulesDefaults, FlagsAndUserSpecificFields) {
  json::object rules = default_push_rules(kAlice);
  for (const char* kind : {"override", "underride"}) {
    for (const json::value& r : rules["global"].as_object()[kind].as_array()) {
      EXPECT_EQ(r.at("default"), true) << r;
      bool master = r.at("rule_id").as_string() == ".m.rule.master";
      EXPECT_EQ(r.at("enabled").as_bool(), !master) << r;
      EXPECT_TRUE(r.at("actions").is_array());
      EXPECT_TRUE(r.at("conditions").is_array());
    }
  }
  EXPECT_EQ(rule_in(rules, "override", ".m.rule.invite_for_me").at("conditions").at(2),
            parse(R"({"kind":"event_match","key":"state_key","pattern":"@alice:example.org"})"));
  EXPECT_EQ(rule_in(rules, "override", ".m.rule.is_user_mention"),
            parse(R"({"rule_id":".m.rule.is_user_mention","default":true,"enabled":true,
                      "conditions":[{"kind":"event_property_contains",
                                     "key":"content.m\\.mentions.user_ids",
                                     "value":"@alice:example.org"}],
                      "actions":["notify",{"set_tweak":"sound","value":"default"},
                                 {"set_tweak":"highlight"}]})"));
  EXPECT_EQ(rule_in(rules, "underride", ".m.rule.call").at("actions"),
            json::parse(R"(["notify",{"set_tweak":"sound","value":"ring"}])"));
  EXPECT_EQ(rule_in(rules, "underride", ".m.rule.room_one_to_one").at("conditions").at(0),
            parse(R"({"kind":"room_member_count","is":"2"})"));
}

// --- Merging ----------------------------------------------------------------------------

TEST(PushRulesMerge, UserRulesPrecedeDefaultsButNotMaster) {
  json::object o;
  auto r = put_push_rule(o, "override", "mine", parse(R"({"conditions":[],"actions":[]})"));
  ASSERT_TRUE(r.ok());
  r = put_push_rule(*r, "underride", "low", parse(R"({"conditions":[],"actions":["notify"]})"));
  ASSERT_TRUE(r.ok());
  r = put_push_rule(*r, "content", "cake", parse(R"({"pattern":"cake","actions":["notify"]})"));
  ASSERT_TRUE(r.ok());
  r = put_push_rule(*r, "room", "!r:x", parse(R"({"actions":[]})"));
  ASSERT_TRUE(r.ok());
  json::object rules = effective_push_rules(kAlice, *r);
  std::vector<std::string> override_ids = ids_of(rules, "override");
  ASSERT_GE(override_ids.size(), 3u);
  EXPECT_EQ(override_ids[0], ".m.rule.master");
  EXPECT_EQ(override_ids[1], "mine");
  EXPECT_EQ(override_ids[2], ".m.rule.suppress_notices");
  EXPECT_EQ(ids_of(rules, "underride").front(), "low");
  EXPECT_EQ(ids_of(rules, "underride").back(), ".m.rule.encrypted");
  EXPECT_EQ(ids_of(rules, "content"), std::vector<std::string>{"cake"});
  EXPECT_EQ(ids_of(rules, "room"), std::vector<std::string>{"!r:x"});
  const json::object& mine = rule_in(rules, "override", "mine");
  EXPECT_EQ(mine.at("default"), false);
  EXPECT_EQ(mine.at("enabled"), true);
  EXPECT_EQ(rule_in(rules, "content", "cake").at("pattern"), "cake");
}

TEST(PushRulesMerge, DefaultChangesApplyAndJunkIsSkipped) {
  json::object o = parse(R"({
    "defaults": {"override": {".m.rule.master": {"enabled": true}},
                 "underride": {".m.rule.message": {"actions": []}}},
    "custom": {"override": [{"rule_id": ".m.rule.sneaky", "actions": []}, 7, {"no": "id"}],
               "room": "not an array"}})");
  json::object rules = effective_push_rules(kAlice, o);
  EXPECT_EQ(rule_in(rules, "override", ".m.rule.master").at("enabled"), true);
  EXPECT_EQ(rule_in(rules, "underride", ".m.rule.message").at("actions"), json::array());
  EXPECT_EQ(rule_in(rules, "underride", ".m.rule.message").at("default"), true);
  EXPECT_EQ(ids_of(rules, "override").size(), 10u);
  EXPECT_TRUE(ids_of(rules, "room").empty());
}

// --- Edits ------------------------------------------------------------------------------

TEST(PushRulesEdit, PutValidatesKindIdAndBody) {
  json::object ok_body = parse(R"({"conditions":[],"actions":["notify"]})");
  auto expect_error = [](const Result<json::object>& r, const char* code) {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().errcode, code);
    EXPECT_EQ(r.error().status, 400);
  };
  expect_error(put_push_rule({}, "global", "x", ok_body), errc::kInvalidParam);
  expect_error(put_push_rule({}, "override", ".m.rule.master", ok_body), errc::kInvalidParam);
  expect_error(put_push_rule({}, "override", "a/b", ok_body), errc::kInvalidParam);
  expect_error(put_push_rule({}, "override", "a\\b", ok_body), errc::kInvalidParam);
  expect_error(put_push_rule({}, "override", "", ok_body), errc::kInvalidParam);
  expect_error(put_push_rule({}, "override", "x", parse(R"({"conditions":[]})")), errc::kBadJson);
  expect_error(put_push_rule({}, "override", "x", parse(R"({"actions":["notify"]})")),
               errc::kBadJson);
  expect_error(put_push_rule({}, "override", "x", parse(R"({"conditions":[{}],"actions":[]})")),
               errc::kBadJson);
  expect_error(put_push_rule({}, "override", "x", parse(R"({"conditions":[],"actions":["x"]})")),
               errc::kBadJson);
  expect_error(put_push_rule({}, "override", "x", parse(R"({"conditions":[],"actions":[{}]})")),
               errc::kBadJson);
  expect_error(put_push_rule({}, "override", "x", parse(R"({"conditions":[],
                                       "actions":[{"set_tweak":"highlight","value":"yes"}]})")),
               errc::kBadJson);
  expect_error(put_push_rule({}, "content", "x", parse(R"({"actions":[]})")), errc::kBadJson);
  expect_error(put_push_rule({}, "override", "x", ok_body, std::string_view("missing")),
               errc::kUnknown);
  expect_error(
      put_push_rule({}, "override", "x", ok_body, std::nullopt, std::string_view(".m.rule.master")),
      errc::kUnknown);
  // Legacy actions and custom tweaks are still accepted.
  EXPECT_TRUE(
      put_push_rule({}, "room", "!r:x", parse(R"({"actions":["dont_notify",{"set_tweak":"led"}]})"))
          .ok());
}

TEST(PushRulesEdit, PutOrdersWithBeforeAndAfter) {
  json::object body = parse(R"({"pattern":"p","actions":[]})");
  json::object o;
  for (const char* id : {"a", "b", "c"}) {
    auto r = put_push_rule(o, "content", id, body);
    ASSERT_TRUE(r.ok());
    o = *r;
  }
  // New rules without position go first.
  EXPECT_EQ(ids_of(effective_push_rules(kAlice, o), "content"),
            (std::vector<std::string>{"c", "b", "a"}));
  auto r = put_push_rule(o, "content", "d", body, std::string_view("a"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(ids_of(effective_push_rules(kAlice, *r), "content"),
            (std::vector<std::string>{"c", "b", "d", "a"}));
  r = put_push_rule(o, "content", "d", body, std::nullopt, std::string_view("c"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(ids_of(effective_push_rules(kAlice, *r), "content"),
            (std::vector<std::string>{"c", "d", "b", "a"}));
  // `before` wins when both are given.
  r = put_push_rule(o, "content", "d", body, std::string_view("c"), std::string_view("a"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(ids_of(effective_push_rules(kAlice, *r), "content"),
            (std::vector<std::string>{"d", "c", "b", "a"}));
  // Moving an existing rule.
  r = put_push_rule(o, "content", "c", body, std::nullopt, std::string_view("a"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(ids_of(effective_push_rules(kAlice, *r), "content"),
            (std::vector<std::string>{"b", "a", "c"}));
  // The input overrides are never modified.
  EXPECT_EQ(ids_of(effective_push_rules(kAlice, o), "content"),
            (std::vector<std::string>{"c", "b", "a"}));
}

TEST(PushRulesEdit, PutUpdatesInPlaceAndKeepsEnabled) {
  auto r = put_push_rule({}, "content", "a", parse(R"({"pattern":"x","actions":[]})"));
  ASSERT_TRUE(r.ok());
  r = put_push_rule(*r, "content", "b", parse(R"({"pattern":"y","actions":[]})"));
  ASSERT_TRUE(r.ok());
  r = set_push_rule_enabled(*r, "content", "a", parse(R"({"enabled":false})"));
  ASSERT_TRUE(r.ok());
  r = put_push_rule(*r, "content", "a", parse(R"({"pattern":"z","actions":["notify"]})"));
  ASSERT_TRUE(r.ok());
  json::object rules = effective_push_rules(kAlice, *r);
  EXPECT_EQ(ids_of(rules, "content"), (std::vector<std::string>{"b", "a"}));
  EXPECT_EQ(rule_in(rules, "content", "a"),
            parse(R"({"rule_id":"a","default":false,"enabled":false,"actions":["notify"],
                      "pattern":"z"})"));
}

TEST(PushRulesEdit, GetOperations) {
  auto o = put_push_rule({}, "sender", "@spam:x", parse(R"({"actions":["dont_notify"]})"));
  ASSERT_TRUE(o.ok());
  auto rule = get_push_rule(kAlice, *o, "sender", "@spam:x");
  ASSERT_TRUE(rule.ok());
  EXPECT_EQ(*rule, parse(R"({"rule_id":"@spam:x","default":false,"enabled":true,
                             "actions":["dont_notify"]})"));
  auto master = get_push_rule(kAlice, *o, "override", ".m.rule.master");
  ASSERT_TRUE(master.ok());
  EXPECT_EQ(master->at("default"), true);

  auto enabled = get_push_rule_enabled(kAlice, *o, "override", ".m.rule.master");
  ASSERT_TRUE(enabled.ok());
  EXPECT_FALSE(*enabled);
  auto actions = get_push_rule_actions(kAlice, *o, "underride", ".m.rule.message");
  ASSERT_TRUE(actions.ok());
  EXPECT_EQ(*actions, json::parse(R"(["notify"])"));

  auto missing = get_push_rule(kAlice, *o, "sender", "@nobody:x");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().errcode, errc::kNotFound);
  EXPECT_EQ(missing.error().status, 404);
  // Default rules only exist under their own kind.
  EXPECT_EQ(get_push_rule_enabled(kAlice, *o, "underride", ".m.rule.master").error().errcode,
            errc::kNotFound);
  EXPECT_EQ(get_push_rule_actions(kAlice, *o, "bogus", ".m.rule.master").error().errcode,
            errc::kInvalidParam);
}

TEST(PushRulesEdit, DeleteRule) {
  auto o = put_push_rule({}, "room", "!r:x", parse(R"({"actions":[]})"));
  ASSERT_TRUE(o.ok());
  auto deleted = delete_push_rule(*o, "room", "!r:x");
  ASSERT_TRUE(deleted.ok());
  EXPECT_TRUE(ids_of(effective_push_rules(kAlice, *deleted), "room").empty());
  EXPECT_EQ(delete_push_rule(*deleted, "room", "!r:x").error().errcode, errc::kNotFound);
  auto def = delete_push_rule(*o, "override", ".m.rule.master");
  ASSERT_FALSE(def.ok());
  EXPECT_EQ(def.error().errcode, errc::kInvalidParam);
  EXPECT_EQ(delete_push_rule(*o, "nope", "!r:x").error().errcode, errc::kInvalidParam);
}

TEST(PushRulesEdit, SetEnabledOnDefaultAndUserRules) {
  auto o = set_push_rule_enabled({}, "override", ".m.rule.master", parse(R"({"enabled":true})"));
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(*get_push_rule_enabled(kAlice, *o, "override", ".m.rule.master"));
  o = put_push_rule(*o, "override", "mine", parse(R"({"conditions":[],"actions":[]})"));
  ASSERT_TRUE(o.ok());
  o = set_push_rule_enabled(*o, "override", "mine", parse(R"({"enabled":false})"));
  ASSERT_TRUE(o.ok());
  EXPECT_FALSE(*get_push_rule_enabled(kAlice, *o, "override", "mine"));
  EXPECT_TRUE(*get_push_rule_enabled(kAlice, *o, "override", ".m.rule.master"));

  EXPECT_EQ(
      set_push_rule_enabled(*o, "override", "mine", parse(R"({"enabled":"no"})")).error().errcode,
      errc::kBadJson);
  EXPECT_EQ(
      set_push_rule_enabled(*o, "override", "nope", parse(R"({"enabled":true})")).error().errcode,
      errc::kNotFound);
  EXPECT_EQ(
      set_push_rule_enabled(*o, "ovverride", "mine", parse(R"({"enabled":true})")).error().errcode,
      errc::kInvalidParam);
}

TEST(PushRulesEdit, SetActionsOnDefaultAndUserRules) {
  auto o = set_push_rule_actions({}, "underride", ".m.rule.message",
                                 parse(R"({"actions":["notify",{"set_tweak":"highlight"}]})"));
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(*get_push_rule_actions(kAlice, *o, "underride", ".m.rule.message"),
            json::parse(R"(["notify",{"set_tweak":"highlight"}])"));
  o = put_push_rule(*o, "content", "c", parse(R"({"pattern":"x","actions":[]})"));
  ASSERT_TRUE(o.ok());
  o = set_push_rule_actions(*o, "content", "c", parse(R"({"actions":["notify"]})"));
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(*get_push_rule_actions(kAlice, *o, "content", "c"), json::parse(R"(["notify"])"));
  EXPECT_EQ(get_push_rule(kAlice, *o, "content", "c")->at("pattern"), "x");

  EXPECT_EQ(
      set_push_rule_actions(*o, "content", "c", parse(R"({"actions":"notify"})")).error().errcode,
      errc::kBadJson);
  EXPECT_EQ(
      set_push_rule_actions(*o, "content", "gone", parse(R"({"actions":[]})")).error().errcode,
      errc::kNotFound);
}

// --- Evaluation -------------------------------------------------------------------------

TEST(PushRulesEval, PlainMessageInOneToOneRoom) {
  PushActions a = eval(message(text("hello")), context(2));
  EXPECT_TRUE(a.notify);
  EXPECT_FALSE(a.highlight);
  EXPECT_EQ(a.sound, "default");  // only .m.rule.room_one_to_one sets a sound
}

TEST(PushRulesEval, PlainMessageInLargerRoom) {
  PushActions a = eval(message(text("hello")), context(3));
  EXPECT_TRUE(a.notify);
  EXPECT_FALSE(a.highlight);
  EXPECT_EQ(a.sound, "");  // .m.rule.message has no sound
}

TEST(PushRulesEval, OwnEventsNeverNotify) {
  json::object event = message(text("hello"));
  event["sender"] = kAlice;
  EXPECT_FALSE(eval(event, context(2)).notify);
}

TEST(PushRulesEval, UserMentionHighlights) {
  json::object content = text("hi");
  content["m.mentions"] = parse(R"({"user_ids":["@carol:x","@alice:example.org"]})");
  PushActions a = eval(message(content), context());
  EXPECT_TRUE(a.notify);
  EXPECT_TRUE(a.highlight);
  EXPECT_EQ(a.sound, "default");

  content["m.mentions"] = parse(R"({"user_ids":["@carol:x"]})");
  EXPECT_FALSE(eval(message(content), context()).highlight);
}

TEST(PushRulesEval, RoomMentionNeedsNotificationPower) {
  json::object content = text("@room hi");
  content["m.mentions"] = parse(R"({"room":true})");
  PushContext ctx = context();
  EXPECT_FALSE(eval(message(content), ctx).highlight);  // Bob has 0, default requirement 50

  ctx.user_power_level = [](std::string_view user) -> int64_t { return user == kBob ? 50 : 0; };
  PushActions a = eval(message(content), ctx);
  EXPECT_TRUE(a.notify);
  EXPECT_TRUE(a.highlight);

  ctx.notification_power_levels = parse(R"({"room": 75})");
  EXPECT_FALSE(eval(message(content), ctx).highlight);
  ctx.notification_power_levels = parse(R"({"room": "20"})");  // old rooms use strings
  EXPECT_TRUE(eval(message(content), ctx).highlight);
}

TEST(PushRulesEval, DisplayNameHighlightsOnlyViaContainsDisplayNameRule) {
  // The current spec dropped the body-scanning defaults, so by default a name only notifies.
  PushActions plain = eval(message(text("Hey Alice Liddell!")), context());
  EXPECT_TRUE(plain.notify);
  EXPECT_FALSE(plain.highlight);

  json::object o = with_override(R"({"kind":"contains_display_name"})",
                                 R"(["notify",{"set_tweak":"highlight"}])");
  PushActions a = eval(message(text("hey alice LIDDELL, look")), context(), o);
  EXPECT_TRUE(a.highlight);
  // Whole words only, and no body or no display name means no match.
  EXPECT_FALSE(eval(message(text("hey alice liddells")), context(), o).highlight);
  EXPECT_FALSE(eval(message(text("xalice liddell")), context(), o).highlight);
  EXPECT_FALSE(eval(message({{"msgtype", "m.image"}}), context(), o).highlight);
  PushContext nameless = context();
  nameless.display_name.clear();
  EXPECT_FALSE(eval(message(text("alice liddell")), nameless, o).highlight);
}

TEST(PushRulesEval, SuppressedEvents) {
  json::object notice{{"msgtype", "m.notice"}, {"body", "bot says hi"}};
  EXPECT_FALSE(eval(message(notice), context(2)).notify);

  json::object edit = text("* fixed");
  edit["m.relates_to"] = parse(R"({"rel_type":"m.replace","event_id":"$orig"})");
  EXPECT_FALSE(eval(message(edit), context(2)).notify);
  edit["m.relates_to"] = parse(R"({"rel_type":"m.thread","event_id":"$orig"})");
  EXPECT_TRUE(eval(message(edit), context(2)).notify);

  // With a catch-all underride, only the override defaults keep these quiet.
  auto catch_all =
      put_push_rule({}, "underride", "all", parse(R"({"conditions":[],"actions":["notify"]})"));
  ASSERT_TRUE(catch_all.ok());
  json::object reaction = message({{"m.relates_to", {{"key", "+1"}}}}, "m.reaction");
  EXPECT_FALSE(eval(reaction, context(2), *catch_all).notify);
  json::object acl = message({{"allow", {"*"}}}, "m.room.server_acl");
  acl["state_key"] = "";
  EXPECT_FALSE(eval(acl, context(2), *catch_all).notify);
  EXPECT_TRUE(eval(message({}, "m.custom"), context(2), *catch_all).notify);
}

TEST(PushRulesEval, InvitesTombstonesCallsAndEncrypted) {
  json::object invite{{"type", "m.room.member"},
                      {"sender", kBob},
                      {"state_key", kAlice},
                      {"room_id", "!r:x"},
                      {"content", {{"membership", "invite"}}}};
  PushActions a = eval(invite, context());
  EXPECT_TRUE(a.notify);
  EXPECT_EQ(a.sound, "default");
  invite["state_key"] = "@carol:x";
  EXPECT_FALSE(eval(invite, context()).notify);  // .m.rule.member_event

  json::object tombstone = message({{"body", "moved"}}, "m.room.tombstone");
  tombstone["state_key"] = "";
  EXPECT_TRUE(eval(tombstone, context()).highlight);
  EXPECT_EQ(eval(message({}, "m.call.invite"), context()).sound, "ring");
  EXPECT_EQ(eval(message({}, "m.room.encrypted"), context(2)).sound, "default");
  a = eval(message({}, "m.room.encrypted"), context(10));
  EXPECT_TRUE(a.notify);
  EXPECT_EQ(a.sound, "");
  EXPECT_FALSE(eval(message({}, "m.room.topic"), context(2)).notify);  // nothing matches
}

TEST(PushRulesEval, MasterRuleSilencesEverything) {
  json::object content = text("hi");
  content["m.mentions"] = parse(R"({"user_ids":["@alice:example.org"]})");
  auto o =
      put_push_rule({}, "override", "loud", parse(R"({"conditions":[],"actions":["notify"]})"));
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(eval(message(content), context(), *o).notify);  // master disabled by default
  auto muted =
      set_push_rule_enabled(*o, "override", ".m.rule.master", parse(R"({"enabled":true})"));
  ASSERT_TRUE(muted.ok());
  PushActions a = eval(message(content), context(2), *muted);
  EXPECT_FALSE(a.notify);
  EXPECT_FALSE(a.highlight);
}

TEST(PushRulesEval, UserRuleBeatsDefaultAndDisabledRulesAreSkipped) {
  json::object notice{{"msgtype", "m.notice"}, {"body", "deploy done"}};
  json::object o =
      with_override(R"({"kind":"event_match","key":"content.body","pattern":"deploy"})",
                    R"(["notify",{"set_tweak":"sound","value":"bell"}])");
  PushActions a = eval(message(notice), context(), o);
  EXPECT_TRUE(a.notify);  // wins over .m.rule.suppress_notices
  EXPECT_EQ(a.sound, "bell");

  auto off = set_push_rule_enabled(o, "override", "custom", parse(R"({"enabled":false})"));
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(eval(message(notice), context(), *off).notify);

  // Room and sender rules beat the underride defaults; content rules match whole words.
  auto muted = put_push_rule({}, "room", "!room:example.org", parse(R"({"actions":[]})"));
  ASSERT_TRUE(muted.ok());
  EXPECT_FALSE(eval(message(text("hello")), context(2), *muted).notify);
  auto spam = put_push_rule({}, "sender", kBob, parse(R"({"actions":["dont_notify"]})"));
  ASSERT_TRUE(spam.ok());
  EXPECT_FALSE(eval(message(text("hello")), context(2), *spam).notify);
  auto cake =
      put_push_rule({}, "content", "cake", parse(R"({"pattern":"cake*lie","actions":["notify",
                                      {"set_tweak":"highlight","value":false}]})"));
  ASSERT_TRUE(cake.ok());
  auto quiet_message =
      set_push_rule_actions(*cake, "underride", ".m.rule.message", parse(R"({"actions":[]})"));
  ASSERT_TRUE(quiet_message.ok());
  a = eval(message(text("the Cake is a lie!")), context(), *quiet_message);
  EXPECT_TRUE(a.notify);
  EXPECT_FALSE(a.highlight);
  EXPECT_FALSE(eval(message(text("the cake is a lies")), context(), *quiet_message).notify);
}

TEST(PushRulesEval, GlobMatching) {
  auto matches = [](std::string_view key, std::string_view pattern, json::object event) {
    json::object cond{{"kind", "event_match"}, {"key", key}, {"pattern", pattern}};
    json::object o = with_override(json::serialize(cond));
    return eval(event, context(), o).notify;
  };
  auto topic = [](std::string_view t) { return message({{"topic", t}}, "m.room.topic"); };
  EXPECT_TRUE(matches("content.topic", "lunc?*", topic("Lunch plans")));
  EXPECT_TRUE(matches("content.topic", "lunc?*", topic("LUNCH")));
  EXPECT_FALSE(matches("content.topic", "lunc?*", topic(" lunch")));
  EXPECT_FALSE(matches("content.topic", "lunc?*", topic("lunc")));
  EXPECT_FALSE(matches("content.topic", "*", message({{"topic", nullptr}}, "m.room.topic")));
  EXPECT_FALSE(matches("content.topic", "*", message({}, "m.room.topic")));
  EXPECT_TRUE(matches("content.topic", "a*b*c", topic("aXXbYYbc")));
  EXPECT_FALSE(matches("content.topic", "a*b*c", topic("aXXbYYbcd")));
  EXPECT_TRUE(matches("content.topic", "caf?", topic("CAFÉ")));  // '?' is one code point
  EXPECT_TRUE(matches("content.topic", "café", topic("CAFÉ")));
  EXPECT_TRUE(matches("content.topic", "", topic("")));
  EXPECT_FALSE(matches("content.topic", "", topic("x")));
  // content.body matches whole-word substrings.
  auto body = [](std::string_view b) { return message(text(b), "m.custom"); };
  EXPECT_TRUE(matches("content.body", "ex*ple", body("An example event.")));
  EXPECT_TRUE(matches("content.body", "ex*ple", body("exple")));
  EXPECT_TRUE(matches("content.body", "ex*ple", body("An exciting triple-whammy")));
  EXPECT_FALSE(matches("content.body", "ex*ple", body("An examples event")));
  EXPECT_FALSE(matches("content.body", "ex*ple", body("reexample")));
  EXPECT_FALSE(matches("content.body", "ex*ple", body("under_example")));
}

TEST(PushRulesEval, DottedPathsAndPropertyConditions) {
  json::object event = message(parse(R"({"m.federate": true, "a\\b": "slash", "n": 42,
                                         "nested": {"x.y": {"z": "deep"}},
                                         "aliases": ["#a:x", 5, null, {"o": 1}]})"),
                               "m.custom");
  EXPECT_EQ(*find_event_property(event, "content.m\\.federate"), true);
  EXPECT_EQ(find_event_property(event, "content.m.federate"), nullptr);
  EXPECT_EQ(*find_event_property(event, "content.a\\\\b"), "slash");
  EXPECT_EQ(*find_event_property(event, "content.nested.x\\.y.z"), "deep");
  EXPECT_EQ(find_event_property(event, "content.n.more"), nullptr);
  EXPECT_EQ(*find_event_property(event, "content.a\\b"), "slash");  // "\b" stays literal

  auto is = [&](std::string_view key, std::string_view value_json) {
    std::string cond = R"({"kind":"event_property_is","key":")" + std::string(key) +
                       R"(","value":)" + std::string(value_json) + "}";
    return eval(event, context(), with_override(cond)).notify;
  };
  EXPECT_TRUE(is("content.m\\\\.federate", "true"));
  EXPECT_FALSE(is("content.m\\\\.federate", "\"true\""));
  EXPECT_FALSE(is("content.m\\\\.federate", "1"));
  EXPECT_TRUE(is("content.n", "42"));
  EXPECT_FALSE(is("content.n", "42.0"));
  EXPECT_TRUE(is("content.nested.x\\\\.y.z", "\"deep\""));
  EXPECT_FALSE(is("content.nested", "null"));

  auto contains = [&](std::string_view value_json) {
    std::string cond = R"({"kind":"event_property_contains","key":"content.aliases","value":)" +
                       std::string(value_json) + "}";
    return eval(event, context(), with_override(cond)).notify;
  };
  EXPECT_TRUE(contains("\"#a:x\""));
  EXPECT_TRUE(contains("5"));
  EXPECT_TRUE(contains("null"));
  EXPECT_FALSE(contains("\":x\""));
  EXPECT_FALSE(contains("\"5\""));
}

TEST(PushRulesEval, RoomMemberCountAndUnknownConditions) {
  auto count_matches = [](std::string_view is, int64_t members) {
    std::string cond = R"({"kind":"room_member_count","is":")" + std::string(is) + "\"}";
    return eval(message({}, "m.custom"), context(members), with_override(cond)).notify;
  };
  EXPECT_TRUE(count_matches("10", 10));
  EXPECT_FALSE(count_matches("10", 9));
  EXPECT_TRUE(count_matches("==3", 3));
  EXPECT_TRUE(count_matches("<10", 9));
  EXPECT_FALSE(count_matches("<10", 10));
  EXPECT_TRUE(count_matches("<=10", 10));
  EXPECT_TRUE(count_matches(">2", 3));
  EXPECT_FALSE(count_matches(">2", 2));
  EXPECT_TRUE(count_matches(">=2", 2));
  EXPECT_FALSE(count_matches("lots", 2));
  EXPECT_FALSE(count_matches("", 0));

  json::object o = with_override(R"({"kind":"org.example.future"})");
  EXPECT_FALSE(eval(message({}, "m.custom"), context(), o).notify);
}

}  // namespace
}  // namespace despatch
