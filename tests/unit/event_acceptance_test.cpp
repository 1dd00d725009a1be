// The three checks on receipt of an event from another server: rejection against its auth
// events or the state before it, soft failure against the current state.
#include "service/rooms/event_acceptance.h"

#include <gtest/gtest.h>

namespace despatch {
namespace {

constexpr const char* kRoom = "!room:a.example";

json::object ev(const char* id, const char* type, const char* sender, std::optional<std::string> key,
                json::object content) {
  json::object e{{"event_id", id},   {"type", type},         {"sender", sender},
                 {"room_id", kRoom}, {"content", content},   {"prev_events", json::array{}},
                 {"depth", 5},       {"origin_server_ts", 1}, {"auth_events", json::array{}}};
  if (key) e["state_key"] = *key;
  return e;
}

struct Room {
  json::object create = ev("$create", "m.room.create", "@alice:a.example", "", {{"room_version", "11"}});
  json::object power = ev("$pl", "m.room.power_levels", "@alice:a.example", "",
                          {{"users", json::object{{"@alice:a.example", 100}}}, {"ban", 50}, {"kick", 50}});
  json::object join_rules = ev("$jr", "m.room.join_rules", "@alice:a.example", "", {{"join_rule", "public"}});
  json::object alice = ev("$alice", "m.room.member", "@alice:a.example", "@alice:a.example", {{"membership", "join"}});
  json::object bob = ev("$bob", "m.room.member", "@bob:b.example", "@bob:b.example", {{"membership", "join"}});
  json::object bob_banned = ev("$ban", "m.room.member", "@alice:a.example", "@bob:b.example", {{"membership", "ban"}});

  static void put(StateMap& s, const json::object& e) {
    s[{std::string(e.at("type").as_string()), std::string(e.at("state_key").as_string())}] = e;
  }
  StateMap with(std::initializer_list<const json::object*> events) const {
    StateMap s;
    for (auto* e : {&create, &power, &join_rules, &alice}) put(s, *e);
    for (auto* e : events) put(s, *e);
    return s;
  }
  // A message from bob with the auth events a correct server would pick.
  json::object bobs_message() const {
    auto m = ev("$msg", "m.room.message", "@bob:b.example", std::nullopt, {{"body", "hi"}});
    m["auth_events"] = json::array{"$create", "$pl", "$bob"};
    return m;
  }
  std::vector<json::object> bobs_auth() const { return {create, power, bob}; }
};

TEST(EventAcceptanceTest, AnEventAllowedByEveryStateIsAccepted) {
  Room r;
  auto res = check_received_event(r.bobs_message(), r.bobs_auth(), r.with({&r.bob}), r.with({&r.bob}), "11");
  EXPECT_EQ(res.verdict, Acceptance::kAccepted) << res.reason;
}

TEST(EventAcceptanceTest, ABanRacingAMessageSoftFailsIt) {
  // Bob's server had not seen the ban when bob wrote: the message is fine by its own history,
  // but the room has moved on, so it is kept out of the timeline rather than rejected.
  Room r;
  auto res = check_received_event(r.bobs_message(), r.bobs_auth(), r.with({&r.bob}), r.with({&r.bob_banned}), "11");
  EXPECT_EQ(res.verdict, Acceptance::kSoftFailed);
  EXPECT_FALSE(res.reason.empty());
}

TEST(EventAcceptanceTest, AnEventTheStateBeforeItRefusesIsRejected) {
  // Its auth events claim bob is joined, but at its place in the graph he was banned.
  Room r;
  auto res = check_received_event(r.bobs_message(), r.bobs_auth(), r.with({&r.bob_banned}), r.with({&r.bob}), "11");
  EXPECT_EQ(res.verdict, Acceptance::kRejected);
}

TEST(EventAcceptanceTest, BadAuthEventsAreRejectedWhateverTheState) {
  Room r;
  auto m = r.bobs_message();
  // No create event among the auth events (rule 2).
  auto res = check_received_event(m, {r.power, r.bob}, r.with({&r.bob}), r.with({&r.bob}), "11");
  EXPECT_EQ(res.verdict, Acceptance::kRejected);
  // Auth events that do not let the sender speak: bob's member event is missing.
  res = check_received_event(m, {r.create, r.power}, r.with({&r.bob}), r.with({&r.bob}), "11");
  EXPECT_EQ(res.verdict, Acceptance::kRejected);
}

}  // namespace
}  // namespace despatch
