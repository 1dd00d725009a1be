#include "service/rooms/event_format.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "core/base64.h"
#include "core/canonical_json.h"

#ifndef DESPATCH_FIXTURES_DIR
#define DESPATCH_FIXTURES_DIR "tests/unit/fixtures"
#endif

namespace despatch {
namespace {

SigningKey spec_key() {
  auto seed = base64_decode("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1");
  return *SigningKey::from_seed(*seed, "1");
}

json::object obj(std::string_view text) {
  auto v = parse_strict_json(text);
  EXPECT_TRUE(v.ok()) << text;
  return v.ok() ? v->as_object() : json::object();
}

// appendices.md "Event Signing": the minimally-sized event. The vectors predate v11 and keep
// `origin` in the signed form, so they hold under v10's redaction rules.
TEST(EventFormatTest, SpecMinimalEventSigning) {
  json::object event = obj(R"({
    "room_id": "!x:domain", "sender": "@a:domain", "origin": "domain",
    "origin_server_ts": 1000000, "signatures": {}, "hashes": {}, "type": "X", "content": {},
    "prev_events": [], "auth_events": [], "depth": 3, "unsigned": {"age_ts": 1000000}})");
  hash_and_sign_event(event, "domain", spec_key(), "10");
  EXPECT_EQ(json::value(event), json::value(obj(R"({
    "auth_events": [],
    "content": {},
    "depth": 3,
    "hashes": {"sha256": "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos"},
    "origin": "domain",
    "origin_server_ts": 1000000,
    "prev_events": [],
    "room_id": "!x:domain",
    "sender": "@a:domain",
    "signatures": {"domain": {"ed25519:1":
      "KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg"}},
    "type": "X",
    "unsigned": {"age_ts": 1000000}})")));
}

// appendices.md "Event Signing": the event with redactable content.
TEST(EventFormatTest, SpecRedactableEventSigning) {
  json::object event = obj(R"({
    "content": {"body": "Here is the message content"}, "event_id": "$0:domain",
    "origin": "domain", "origin_server_ts": 1000000, "type": "m.room.message",
    "room_id": "!r:domain", "sender": "@u:domain", "signatures": {},
    "unsigned": {"age_ts": 1000000}})");
  hash_and_sign_event(event, "domain", spec_key(), "10");
  EXPECT_EQ(json::value(event), json::value(obj(R"({
    "content": {"body": "Here is the message content"},
    "event_id": "$0:domain",
    "hashes": {"sha256": "onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g"},
    "origin": "domain",
    "origin_server_ts": 1000000,
    "type": "m.room.message",
    "room_id": "!r:domain",
    "sender": "@u:domain",
    "signatures": {"domain": {"ed25519:1":
      "Wm+VzmOUOz08Ds+0NTWb1d4CZrVsJSikkeRxh6aCcUwu6pNC78FunoD7KNWzqFn241eYHYMGCA5McEiVPdhzBA"}},
    "unsigned": {"age_ts": 1000000}})")));
  EXPECT_TRUE(verify_event_content_hash(event).ok());
  SigningKey key = spec_key();
  EXPECT_TRUE(verify_event_signature(event, "10", "domain", "ed25519:1", key.public_key()).ok());
  // The signature covers only the redacted form, so it survives redaction.
  EXPECT_TRUE(verify_event_signature(redact_event(event, "10"), "10", "domain", "ed25519:1",
                                     key.public_key())
                  .ok());
}

TEST(EventFormatTest, ContentHashIgnoresUnsignedSignaturesAndHashes) {
  json::object a = obj(R"({"type":"X","content":{"k":1},"room_id":"!r:d"})");
  json::object b = a;
  b["unsigned"] = json::object{{"age", 5}};
  b["signatures"] = json::object{{"d", json::object{{"ed25519:1", "x"}}}};
  b["hashes"] = json::object{{"sha256", "y"}};
  EXPECT_EQ(compute_content_hash(a), compute_content_hash(b));
  json::object c = a;
  c["content"].as_object()["k"] = 2;
  EXPECT_NE(compute_content_hash(a), compute_content_hash(c));
  EXPECT_EQ(compute_content_hash(a), base64_encode(sha256(canonical_json(a))));
}

TEST(EventFormatTest, VerifyContentHashDetectsTamperingAndMalformedHashes) {
  json::object event = obj(R"({"type":"m.room.message","content":{"body":"hi"},
                               "room_id":"!r:d","sender":"@u:d","origin_server_ts":1})");
  hash_and_sign_event(event, "d", spec_key(), "11");
  EXPECT_TRUE(verify_event_content_hash(event).ok());

  json::object tampered = event;
  tampered["content"].as_object()["body"] = "bye";
  auto r = verify_event_content_hash(tampered);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().errcode, "M_FORBIDDEN");
  EXPECT_FALSE(verify_event_content_hash(redact_event(event, "11")).ok());

  json::object no_hash = event;
  no_hash.erase("hashes");
  EXPECT_EQ(verify_event_content_hash(no_hash).error().errcode, "M_BAD_JSON");
  json::object bad_b64 = event;
  bad_b64["hashes"].as_object()["sha256"] = "not base64!";
  EXPECT_EQ(verify_event_content_hash(bad_b64).error().errcode, "M_BAD_JSON");
}

TEST(EventFormatTest, SigningKeepsOtherServersSignaturesAndVerifiesInV11) {
  json::object event = obj(R"({"type":"m.room.member","state_key":"@a:one","sender":"@a:one",
      "room_id":"!r:one","origin_server_ts":5,"depth":2,"prev_events":[],"auth_events":[],
      "content":{"membership":"join"},
      "signatures":{"two":{"ed25519:z":"sigfromtwo"}}})");
  SigningKey key = SigningKey::generate("a");
  hash_and_sign_event(event, "one", key, "11");
  EXPECT_EQ(event.at("signatures").at("two").at("ed25519:z").as_string(), "sigfromtwo");
  EXPECT_TRUE(verify_event_signature(event, "11", "one", "ed25519:a", key.public_key()).ok());
  // Changing a protected field breaks the signature; a redactable one does not.
  json::object changed = event;
  changed["content"].as_object()["membership"] = "leave";
  EXPECT_FALSE(verify_event_signature(changed, "11", "one", "ed25519:a", key.public_key()).ok());
  json::object extra = event;
  extra["content"].as_object()["displayname"] = "A";
  EXPECT_TRUE(verify_event_signature(extra, "11", "one", "ed25519:a", key.public_key()).ok());
}

// A new event is canonicalised once for its signature and its ID: the ID must still be the
// reference hash, and the signature must still verify, in every event ID format.
TEST(EventFormatTest, SignAndIdentifyAgreesWithComputeEventId) {
  SigningKey key = SigningKey::generate("k");
  for (const char* version : {"1", "3", "4", "10", "11"}) {
    json::object event = obj(R"({"type":"m.room.message","room_id":"!r:one","sender":"@u:one",
      "origin_server_ts":5,"depth":3,"prev_events":[],"auth_events":[],
      "content":{"body":"hello"},"unsigned":{"age":1}})");
    if (std::string(version) == "1") event["event_id"] = "$chosen:one";
    std::string id = hash_sign_and_identify(event, "one", key, version);
    EXPECT_EQ(id, compute_event_id(event, version)) << "room version " << version;
    EXPECT_TRUE(verify_event_signature(event, version, "one", "ed25519:k", key.public_key()).ok())
        << "room version " << version;
    EXPECT_TRUE(verify_event_content_hash(event).ok());
  }
}

// Expected IDs computed independently with Python's json/hashlib over the redacted event.
TEST(EventFormatTest, EventIdIsReferenceHashOfRedactedEvent) {
  json::object event = obj(R"({"type":"m.room.member","state_key":"@u:domain",
      "sender":"@u:domain","room_id":"!r:domain","origin":"domain","origin_server_ts":1000,
      "depth":5,"prev_events":["$a"],"auth_events":["$b"],"hashes":{"sha256":"abc"},
      "signatures":{"domain":{"ed25519:1":"sig"}},"unsigned":{"age":1},"membership":"join",
      "content":{"membership":"join","displayname":"U",
                 "join_authorised_via_users_server":"@x:domain"}})");
  EXPECT_EQ(compute_event_id(event, "10"), "$PD7AfrK5IZo-HinvpT3dVsxLlTZRTJuim1hLWaAPh1E");
  EXPECT_EQ(compute_event_id(event, "11"), "$1Md8teQ5q3MmCVXCG3VzwPIioVm73MNFTdAeE6LJVXM");

  json::object variant = event;
  variant["event_id"] = "$whatever";
  variant["signatures"] = json::object{};
  variant["unsigned"] = json::object{{"age", 99}};
  variant["content"].as_object()["displayname"] = "Other";
  EXPECT_EQ(compute_event_id(variant, "11"), compute_event_id(event, "11"));
  variant["depth"] = 6;
  EXPECT_NE(compute_event_id(variant, "11"), compute_event_id(event, "11"));
}

TEST(EventFormatTest, TopLevelKeysV10) {
  json::object event = obj(R"({"event_id":"$e","type":"m.room.message","room_id":"!r:d",
      "sender":"@u:d","state_key":"","content":{"body":"x"},"hashes":{"sha256":"h"},
      "signatures":{},"depth":1,"prev_events":[],"prev_state":[],"auth_events":[],
      "origin":"d","origin_server_ts":1,"membership":"join","unsigned":{"a":1},
      "redacts":"$x","extra":true})");
  json::object r = redact_event(event, "10");
  EXPECT_EQ(json::value(r), json::value(obj(R"({"event_id":"$e","type":"m.room.message",
      "room_id":"!r:d","sender":"@u:d","state_key":"","content":{},"hashes":{"sha256":"h"},
      "signatures":{},"depth":1,"prev_events":[],"prev_state":[],"auth_events":[],
      "origin":"d","origin_server_ts":1,"membership":"join"})")));

  json::object r11 = redact_event(event, "11");
  EXPECT_EQ(json::value(r11), json::value(obj(R"({"event_id":"$e","type":"m.room.message",
      "room_id":"!r:d","sender":"@u:d","state_key":"","content":{},"hashes":{"sha256":"h"},
      "signatures":{},"depth":1,"prev_events":[],"auth_events":[],"origin_server_ts":1})")));
}

json::object redacted_content(std::string_view type, std::string_view content,
                              std::string_view version) {
  json::object event{{"type", type}, {"content", obj(content)}};
  return redact_event(event, version).at("content").as_object();
}

void expect_content(std::string_view type, std::string_view content, std::string_view version,
                    std::string_view expected) {
  EXPECT_EQ(json::value(redacted_content(type, content, version)), json::value(obj(expected)))
      << type << " v" << version;
}

TEST(EventFormatTest, MemberContent) {
  constexpr std::string_view kMember = R"({"membership":"invite","displayname":"D",
      "avatar_url":"mxc://a/b","join_authorised_via_users_server":"@x:d","reason":"r",
      "third_party_invite":{"display_name":"e","signed":{"mxid":"@u:d","token":"t"}}})";
  expect_content("m.room.member", kMember, "10",
                 R"({"membership":"invite","join_authorised_via_users_server":"@x:d"})");
  expect_content("m.room.member", kMember, "11",
                 R"({"membership":"invite","join_authorised_via_users_server":"@x:d",
                     "third_party_invite":{"signed":{"mxid":"@u:d","token":"t"}}})");
  // Older versions predate restricted joins.
  expect_content("m.room.member", kMember, "8", R"({"membership":"invite"})");
  // A third_party_invite without `signed` is dropped entirely in v11.
  expect_content("m.room.member", R"({"membership":"join","third_party_invite":{"x":1}})", "11",
                 R"({"membership":"join"})");
}

TEST(EventFormatTest, CreateContent) {
  constexpr std::string_view kCreate = R"({"creator":"@u:d","room_version":"10",
      "m.federate":false,"predecessor":{"room_id":"!o:d"},"type":"m.space"})";
  expect_content("m.room.create", kCreate, "10", R"({"creator":"@u:d"})");
  expect_content("m.room.create", kCreate, "11", kCreate);
}

TEST(EventFormatTest, JoinRulesAndHistoryVisibilityContent) {
  constexpr std::string_view kJoinRules = R"({"join_rule":"restricted",
      "allow":[{"type":"m.room_membership","room_id":"!s:d"}],"other":1})";
  constexpr std::string_view kKept = R"({"join_rule":"restricted",
      "allow":[{"type":"m.room_membership","room_id":"!s:d"}]})";
  expect_content("m.room.join_rules", kJoinRules, "10", kKept);
  expect_content("m.room.join_rules", kJoinRules, "11", kKept);
  expect_content("m.room.join_rules", kJoinRules, "7", R"({"join_rule":"restricted"})");
  for (std::string_view v : {"10", "11"}) {
    expect_content("m.room.history_visibility", R"({"history_visibility":"shared","x":1})", v,
                   R"({"history_visibility":"shared"})");
  }
}

TEST(EventFormatTest, PowerLevelsContent) {
  constexpr std::string_view kPowerLevels = R"({"ban":50,"events":{"m.room.name":50},
      "events_default":0,"invite":0,"kick":50,"redact":50,"state_default":50,
      "users":{"@u:d":100},"users_default":0,"notifications":{"room":50}})";
  expect_content("m.room.power_levels", kPowerLevels, "10",
                 R"({"ban":50,"events":{"m.room.name":50},"events_default":0,"kick":50,
                     "redact":50,"state_default":50,"users":{"@u:d":100},"users_default":0})");
  expect_content("m.room.power_levels", kPowerLevels, "11",
                 R"({"ban":50,"events":{"m.room.name":50},"events_default":0,"invite":0,
                     "kick":50,"redact":50,"state_default":50,"users":{"@u:d":100},
                     "users_default":0})");
}

TEST(EventFormatTest, RedactionAliasesAndUnknownContent) {
  expect_content("m.room.redaction", R"({"redacts":"$x","reason":"spam"})", "10", "{}");
  expect_content("m.room.redaction", R"({"redacts":"$x","reason":"spam"})", "11",
                 R"({"redacts":"$x"})");
  expect_content("m.room.aliases", R"({"aliases":["#a:d"]})", "5", R"({"aliases":["#a:d"]})");
  expect_content("m.room.aliases", R"({"aliases":["#a:d"]})", "10", "{}");
  for (std::string_view v : {"10", "11"}) {
    expect_content("m.room.message", R"({"body":"hi","msgtype":"m.text"})", v, "{}");
    expect_content("m.room.name", R"({"name":"Room"})", v, "{}");
    expect_content("m.room.topic", R"({"topic":"T"})", v, "{}");
    expect_content("com.example.custom", R"({"membership":"join"})", v, "{}");
  }
}

TEST(EventFormatTest, MissingOrInvalidContentBecomesEmptyObject) {
  json::object no_content{{"type", "m.room.member"}};
  EXPECT_EQ(json::value(redact_event(no_content, "11")),
            json::value(obj(R"({"type":"m.room.member","content":{}})")));
  json::object bad_content{{"type", "m.room.create"}, {"content", "string"}};
  EXPECT_EQ(json::value(redact_event(bad_content, "11").at("content")),
            json::value(json::object{}));
}

TEST(EventFormatTest, UnknownRoomVersionsUseLatestRules) {
  json::object event = obj(R"({"type":"m.room.create","origin":"d",
                               "content":{"creator":"@u:d","room_version":"12"}})");
  EXPECT_EQ(json::value(redact_event(event, "12")), json::value(redact_event(event, "11")));
  EXPECT_EQ(json::value(redact_event(event, "org.example.custom")),
            json::value(redact_event(event, "11")));
  EXPECT_NE(json::value(redact_event(event, "10")), json::value(redact_event(event, "11")));
}

// ---- Per room version, from tests/unit/fixtures/event_format ----

json::object load_fixture(std::string_view name) {
  std::ifstream in(std::filesystem::path(DESPATCH_FIXTURES_DIR) / "event_format" / name);
  std::stringstream text;
  text << in.rdbuf();
  return json::parse(text.str()).as_object();
}

std::string str(const json::value& v) { return std::string(v.as_string()); }

TEST(EventFormatFixtures, EventIdsPerRoomVersion) {
  json::object f = load_fixture("event_ids.json");
  std::set<std::string> covered;
  for (const json::value& c : f.at("cases").as_array()) {
    const json::object& tc = c.as_object();
    SCOPED_TRACE(str(tc.at("description")));
    for (const json::value& v : tc.at("room_versions").as_array()) {
      EXPECT_EQ(compute_event_id(tc.at("event").as_object(), str(v)), str(tc.at("event_id")))
          << "room version " << str(v);
      covered.insert(str(v));
    }
  }
  EXPECT_EQ(covered.size(), 12u) << "every room version has an event ID case";
  for (const json::value& c : f.at("room_ids").as_array()) {
    const json::object& tc = c.as_object();
    SCOPED_TRACE(str(tc.at("description")));
    EXPECT_EQ(compute_room_id(tc.at("create").as_object(), str(tc.at("room_version"))),
              str(tc.at("room_id")));
  }
}

// "A-B" or "A" as the versions A to B.
std::vector<std::string> version_range(std::string_view range) {
  size_t dash = range.find('-');
  int first = std::stoi(std::string(range.substr(0, dash)));
  int last =
      dash == std::string_view::npos ? first : std::stoi(std::string(range.substr(dash + 1)));
  std::vector<std::string> out;
  for (int n = first; n <= last; ++n) out.push_back(std::to_string(n));
  return out;
}

TEST(EventFormatFixtures, RedactionPerRoomVersion) {
  json::object f = load_fixture("redactions.json");
  ASSERT_GE(f.at("cases").as_array().size(), 9u);
  for (const json::value& c : f.at("cases").as_array()) {
    const json::object& tc = c.as_object();
    SCOPED_TRACE(str(tc.at("description")));
    std::multiset<std::string> covered;
    for (const auto& [range, expected] : tc.at("expect").as_object()) {
      for (const std::string& v : version_range(range)) {
        covered.insert(v);
        EXPECT_EQ(json::value(redact_event(tc.at("event").as_object(), v)), expected)
            << "room version " << v;
      }
    }
    EXPECT_EQ(covered.size(), 12u) << "the ranges cover versions 1 to 12 once each";
    EXPECT_EQ(std::set<std::string>(covered.begin(), covered.end()).size(), 12u);
  }
}

TEST(EventFormatTest, EventRefsReadPlainIdsAndV1Pairs) {
  json::object v4 = obj(R"({"prev_events":["$a","$b"],"auth_events":[]})");
  EXPECT_EQ(event_refs(v4, "prev_events"), (std::vector<std::string>{"$a", "$b"}));
  EXPECT_TRUE(event_refs(v4, "auth_events").empty());
  json::object v1 = obj(R"({"prev_events":[["$a:d",{"sha256":"x"}],["$b:d",{"sha256":"y"}]],
                            "auth_events":[["$c:d",{}], 5, []]})");
  EXPECT_EQ(event_refs(v1, "prev_events"), (std::vector<std::string>{"$a:d", "$b:d"}));
  EXPECT_EQ(event_refs(v1, "auth_events"), (std::vector<std::string>{"$c:d"}));
  EXPECT_TRUE(event_refs(v1, "missing").empty());
}

// The reference hash is what both v3 and v4+ IDs encode; only the alphabet differs.
TEST(EventFormatTest, V3AndV4IdsEncodeTheSameReferenceHash) {
  json::object event = obj(R"({"type":"m.room.member","state_key":"@u:d","sender":"@u:d",
      "room_id":"!r:d","origin_server_ts":9,"depth":2,"prev_events":["$p"],"auth_events":[],
      "content":{"membership":"join"}})");
  std::string hash = reference_hash(event, "3");
  EXPECT_EQ(compute_event_id(event, "3"), "$" + base64_encode(hash));
  EXPECT_EQ(compute_event_id(event, "4"), "$" + base64url_encode(hash));
  EXPECT_EQ(reference_hash(event, "4"), hash);
}

}  // namespace
}  // namespace despatch
