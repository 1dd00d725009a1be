// State resolution v2 and v2.1 from fixtures: each file in tests/unit/fixtures/state_res is a
// small event DAG (events with their prev_events and auth_events), the states to resolve
// (given as lists of event IDs, or as the events whose states after them are resolved), and
// the expected resolved state. The description in each file says why that is the result.
#include "service/rooms/state_res.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "service/rooms/event_format.h"
#include "test_support.h"


namespace despatch {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> fixture_names() { return test::fixture_names("state_res"); }

json::object load(const std::string& name) { return test::load_fixture("state_res", name); }

std::string str(const json::value& v) { return std::string(v.as_string()); }

std::string show(const StateIds& state) {
  std::string out;
  for (const auto& [key, id] : state)
    out += "  (" + key.first + ", " + key.second + ") " + id + "\n";
  return out;
}

// A fixture's events by ID, each given the fixture's room_id unless it is a v12 create event.
class Dag {
 public:
  explicit Dag(const json::object& f) : version_(str(f.at("room_version"))) {
    for (const json::value& v : f.at("events").as_array()) {
      json::object e = v.as_object();
      bool v12_create = version_ == "12" && e.at("type") == "m.room.create";
      if (!e.contains("room_id") && !v12_create) e["room_id"] = f.at("room_id");
      std::string id = str(e.at("event_id"));
      order_.push_back(id);
      events_.emplace(std::move(id), std::move(e));
    }
    if (const json::value* r = f.if_contains("rejected")) {
      for (const json::value& id : r->as_array()) rejected_.insert(str(id));
    }
  }

  const json::object* find(const std::string& id) const {
    auto it = events_.find(id);
    return it == events_.end() ? nullptr : &it->second;
  }
  bool rejected(const std::string& id) const { return rejected_.contains(id); }
  const std::vector<std::string>& ids() const { return order_; }

  StateIds state_of(const json::array& ids) const {
    StateIds state;
    for (const json::value& v : ids) {
      const json::object* e = find(str(v));
      EXPECT_NE(e, nullptr) << str(v);
      if (e != nullptr) state[{str(e->at("type")), str(e->at("state_key"))}] = str(v);
    }
    return state;
  }

  Result<StateIds> resolve(const std::vector<StateIds>& sets) const {
    return resolve_state(
        version_, sets, [this](const std::string& id) { return find(id); },
        [this](const std::string& id) { return rejected(id); });
  }

  // S'(E): the state before E (the resolution of the states after its prev_events) with E
  // applied when it is a state event.
  Result<StateIds> state_after(const std::string& id) {
    if (auto it = after_.find(id); it != after_.end()) return it->second;
    const json::object* e = find(id);
    if (e == nullptr) return Error::not_found("fixture lacks " + id);
    std::vector<StateIds> before;
    for (const std::string& prev : event_refs(*e, "prev_events")) {
      DS_ASSIGN(StateIds s, state_after(prev));
      before.push_back(std::move(s));
    }
    DS_ASSIGN(StateIds state, resolve(before));
    if (e->contains("state_key")) state[{str(e->at("type")), str(e->at("state_key"))}] = id;
    after_.emplace(id, state);
    return state;
  }

  // The state an event's auth events make, as the checks on receipt use it.
  StateMap auth_state(const json::object& e) const {
    StateMap state;
    for (const std::string& a : event_refs(e, "auth_events")) {
      if (const json::object* ae = find(a)) {
        json::object copy = *ae;
        copy["event_id"] = a;
        state[{str(ae->at("type")), str(ae->at("state_key"))}] = copy;
      }
    }
    if (const json::value* room = e.if_contains("room_id"); room && version_ == "12") {
      std::string create_id = "$" + str(*room).substr(1);
      if (const json::object* c = find(create_id)) {
        json::object copy = *c;
        copy["event_id"] = create_id;
        state[{"m.room.create", ""}] = copy;
      }
    }
    return state;
  }

 private:
  std::string version_;
  std::map<std::string, json::object> events_;
  std::vector<std::string> order_;
  std::set<std::string> rejected_;
  std::map<std::string, StateIds> after_;
};

class StateResFixtureTest : public testing::TestWithParam<std::string> {};

// The fixture is a room that could exist: every event not listed as rejected passes the auth
// rules against its own auth events, which follow the version's auth events selection.
TEST_P(StateResFixtureTest, EventsPassAuthAgainstTheirAuthEvents) {
  json::object f = load(GetParam());
  Dag dag(f);
  std::string version = str(f.at("room_version"));
  for (const std::string& id : dag.ids()) {
    if (dag.rejected(id)) continue;
    const json::object& e = *dag.find(id);
    std::vector<json::object> auth_events;
    for (const std::string& a : event_refs(e, "auth_events")) {
      ASSERT_NE(dag.find(a), nullptr) << id << " cites unknown " << a;
      auth_events.push_back(*dag.find(a));
    }
    Status listed = check_auth_events(e, auth_events, version);
    EXPECT_TRUE(listed.ok()) << id << ": " << listed.error().message;
    Status allowed = check_event_auth(e, dag.auth_state(e), version);
    EXPECT_TRUE(allowed.ok()) << id << ": " << allowed.error().message;
  }
}

TEST_P(StateResFixtureTest, ResolvesToTheExpectedState) {
  json::object f = load(GetParam());
  SCOPED_TRACE(str(f.at("description")));
  Dag dag(f);
  std::vector<StateIds> sets;
  if (const json::value* given = f.if_contains("state_sets")) {
    for (const json::value& s : given->as_array()) sets.push_back(dag.state_of(s.as_array()));
  } else {
    for (const json::value& id : f.at("resolve_after").as_array()) {
      Result<StateIds> s = dag.state_after(str(id));
      ASSERT_TRUE(s.ok()) << s.error().message;
      sets.push_back(std::move(*s));
    }
  }
  Result<StateIds> resolved = dag.resolve(sets);
  ASSERT_TRUE(resolved.ok()) << resolved.error().message;
  StateIds expected = dag.state_of(f.at("expected").as_array());
  EXPECT_EQ(*resolved, expected) << "resolved:\n"
                                 << show(*resolved) << "expected:\n"
                                 << show(expected);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, StateResFixtureTest, testing::ValuesIn(fixture_names()),
                         [](const testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

TEST(StateResFixtures, CoverBothAlgorithms) {
  std::set<std::string> versions;
  for (const std::string& name : fixture_names())
    versions.insert(str(load(name).at("room_version")));
  EXPECT_GE(fixture_names().size(), 12u);
  EXPECT_TRUE(versions.contains("12")) << "v2.1";
  EXPECT_GE(versions.size(), 3u) << "v2 in several room versions";
}

// ---- Direct tests ----

json::object parse_obj(std::string_view text) { return json::parse(text).as_object(); }

TEST(ResolveState, RoomVersionOneAndUnknownVersionsAreRefused) {
  auto none = [](const std::string&) -> const json::object* { return nullptr; };
  for (std::string_view version : {"1", "13", ""}) {
    Result<StateIds> r = resolve_state(version, {}, none);
    ASSERT_FALSE(r.ok()) << version;
    EXPECT_EQ(r.error().errcode, errc::kUnsupportedRoomVersion);
  }
}

TEST(ResolveState, NoneOneOrEqualStateSetsNeedNoEvents) {
  auto none = [](const std::string&) -> const json::object* { return nullptr; };
  StateIds s{{{"m.room.create", ""}, "$c"}, {{"m.room.topic", ""}, "$t"}};
  EXPECT_TRUE(resolve_state("11", {}, none)->empty());
  EXPECT_EQ(*resolve_state("11", {s}, none), s);
  EXPECT_EQ(*resolve_state("12", {s, s, s}, none), s);
}

TEST(ResolveState, AMissingEventIsNamed) {
  json::object create = parse_obj(R"({"type":"m.room.create","state_key":"","sender":"@a:x",
      "room_id":"!r:x","content":{"room_version":"11"},"auth_events":[],"prev_events":[]})");
  json::object topic = parse_obj(R"({"type":"m.room.topic","state_key":"","sender":"@a:x",
      "room_id":"!r:x","content":{"topic":"t"},"auth_events":["$c","$gone"],"prev_events":[]})");
  auto lookup = [&](const std::string& id) -> const json::object* {
    return id == "$c" ? &create : id == "$t" ? &topic : nullptr;
  };
  StateIds with{{{"m.room.create", ""}, "$c"}, {{"m.room.topic", ""}, "$t"}};
  StateIds without{{{"m.room.create", ""}, "$c"}};
  Result<StateIds> r = resolve_state("11", {with, without}, lookup);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().status, 404);
  EXPECT_NE(r.error().message.find("$gone"), std::string::npos);
}

}  // namespace
}  // namespace despatch
