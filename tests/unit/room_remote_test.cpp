// Events from another server joining a room's graph, against a real database: a remote join
// and message are accepted and extend the graph, an event its sender may not send is
// rejected, one that the room's current state refuses is soft-failed, and concurrent branches
// are resolved (state resolution v2) into one current state that a reload agrees with.
#include "room_fixture.h"

#include "core/ids.h"
#include "service/common/time.h"
#include "service/rooms/event_format.h"
#include "service/rooms/room_writer.h"
#include "storage/archive_store.h"
#include "storage/state_store.h"

namespace despatch {
namespace {

using test::kAlice;
constexpr const char* kBob = "@bob:remote.test";

class RoomRemoteTest : public test::RoomServiceTest {
 protected:
  // The room's current state as (type, state_key) -> event ID.
  storage::StateIds current(const std::string& room) {
    storage::StateIds out;
    auto entries = db_->read().state().current(room);
    EXPECT_TRUE(entries.ok());
    for (auto& e : *entries) out[{e.type, e.state_key}] = e.event_id;
    return out;
  }
  std::string extremity(const std::string& room) {
    auto x = db_->read().events().forward_extremities(room);
    EXPECT_TRUE(x.ok() && x->size() == 1);
    return x->front().event_id;
  }
  // An event as remote.test would send it, signed with its key; `id` receives its event ID.
  json::object remote(const std::string& room, const std::string& type, std::optional<std::string> state_key,
                      json::object content, std::vector<std::string> prevs, std::vector<std::string> auth,
                      std::string* id, int64_t ts = 0) {
    json::array p, a;
    for (auto& x : prevs) p.push_back(json::string(x));
    for (auto& x : auth) a.push_back(json::string(x));
    json::object ev{{"type", type},          {"sender", kBob},      {"room_id", room},
                    {"content", content},    {"depth", 100},        {"prev_events", p},
                    {"auth_events", a},      {"origin_server_ts", ts ? ts : now_ms()}};
    if (state_key) ev["state_key"] = *state_key;
    *id = hash_sign_and_identify(ev, "remote.test", remote_key_, "11");
    return ev;
  }
  std::vector<Received> receive(const std::string& room, std::vector<json::object> pdus, std::string from = "") {
    auto r = run(rooms_->receive_events(room, std::move(pdus), from));
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? *r : std::vector<Received>{};
  }
  // Bob joins the public room; returns his join's ID.
  std::string bob_joins(const std::string& room) {
    auto s = current(room);
    std::string id;
    auto join = remote(room, "m.room.member", kBob, json::object{{"membership", "join"}}, {extremity(room)},
                       {s[{"m.room.create", ""}], s[{"m.room.power_levels", ""}], s[{"m.room.join_rules", ""}]}, &id);
    auto r = receive(room, {join});
    EXPECT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].verdict, Acceptance::kAccepted) << r[0].reason;
    EXPECT_EQ(r[0].event_id, id);
    return id;
  }
  std::string send_local(const std::string& room, const std::string& body) {
    auto r = run(rooms_->send_event(kAlice, room, "m.room.message", json::object{{"msgtype", "m.text"}, {"body", body}},
                                    std::nullopt, std::nullopt));
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? *r : "";
  }
  std::vector<std::string> prevs_of(const std::string& event_id) {
    auto ev = db_->read().events().event(event_id);
    std::vector<std::string> out;
    if (!ev.ok() || !*ev) return out;
    for (auto& p : (*ev)->pdu.at("prev_events").as_array()) out.emplace_back(p.as_string());
    return out;
  }

  SigningKey remote_key_ = SigningKey::generate("r1");
};

TEST_F(RoomRemoteTest, RemoteJoinAndMessageExtendTheGraph) {
  std::string room = make_room();
  std::string join = bob_joins(room);
  auto m = rooms_->membership(room, kBob);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(*m, "join");
  auto s = current(room);
  EXPECT_EQ((s[{"m.room.member", kBob}]), join);
  std::string msg;
  auto ev = remote(room, "m.room.message", std::nullopt, json::object{{"msgtype", "m.text"}, {"body", "hi"}}, {join},
                   {s[{"m.room.create", ""}], s[{"m.room.power_levels", ""}], join}, &msg);
  auto r = receive(room, {ev, ev});
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].verdict, Acceptance::kAccepted) << r[0].reason;
  EXPECT_TRUE(r[1].duplicate);
  EXPECT_EQ(extremity(room), msg);
  auto timeline = db_->read().events().room_events(room, storage::EventRange{});
  ASSERT_TRUE(timeline.ok());
  EXPECT_EQ(timeline->back().event_id, msg);
  // The next local event follows the remote one.
  std::string reply = send_local(room, "hello bob");
  EXPECT_EQ(prevs_of(reply), std::vector<std::string>{msg});
}

// The sealed record of the archive row for event_id, parsed; an empty object when none.
json::object opened_record(storage::Stores& s, const RecordsKeyPair& keys, const std::string& event_id,
                           std::string* kind) {
  auto rows = s.archive().records_after(0, 10000);
  EXPECT_TRUE(rows.ok());
  ArchiveOpener opener(s.archive(), keys);
  for (auto& row : rows.ok() ? *rows : std::vector<storage::ArchiveRow>{}) {
    if (row.event_id != event_id) continue;
    auto plain = opener.open(row);
    EXPECT_TRUE(plain.ok());
    *kind = row.kind;
    return plain.ok() ? json::parse(*plain).as_object() : json::object{};
  }
  return json::object{};
}

TEST_F(RoomRemoteTest, ReceivedEventsAreArchivedWithTheirOriginLocalOnesWithout) {
  std::string room = make_room();
  std::string join = bob_joins(room);
  auto s = current(room);
  std::string msg;
  auto ev = remote(room, "m.room.message", std::nullopt, json::object{{"msgtype", "m.text"}, {"body", "hi"}}, {join},
                   {s[{"m.room.create", ""}], s[{"m.room.power_levels", ""}], join}, &msg);
  auto r = receive(room, {ev}, "relay.test");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].verdict, Acceptance::kAccepted) << r[0].reason;
  std::string local = send_local(room, "hello bob");
  std::string kind;
  json::object rec = opened_record(db_->read(), records_keys_, msg, &kind);
  EXPECT_EQ(kind, "event");
  ASSERT_TRUE(rec.contains(kReceivedKey));
  const json::object& meta = rec.at(kReceivedKey).as_object();
  EXPECT_TRUE(is_str(meta.at("origin"), "remote.test"));  // the sender's server
  EXPECT_TRUE(is_str(meta.at("from"), "relay.test"));    // who handed it over
  EXPECT_TRUE(is_str(meta.at("how"), "federation"));
  EXPECT_TRUE(is_str(rec.at("content").at("body"), "hi"));
  EXPECT_TRUE(is_str(rec.at("event_id"), msg));
  json::object own = opened_record(db_->read(), records_keys_, local, &kind);
  EXPECT_TRUE(is_str(own.at("event_id"), local));
  EXPECT_FALSE(own.contains(kReceivedKey));
}

TEST_F(RoomRemoteTest, RejectedAndSoftFailedEventsAreSetAside) {
  std::string room = make_room();
  std::string join = bob_joins(room);
  auto s = current(room);
  // Bob has power level 0: raising himself is rejected by the state before the event.
  std::string pl;
  json::object pl_content = json::object{{"users", json::object{{kAlice, 100}, {kBob, 100}}}};
  auto grab = remote(room, "m.room.power_levels", "", pl_content, {join},
                     {s[{"m.room.create", ""}], s[{"m.room.power_levels", ""}], join}, &pl);
  auto r = receive(room, {grab});
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].verdict, Acceptance::kRejected);
  auto flags = db_->read().events().flags(pl);
  ASSERT_TRUE(flags.ok() && flags->has_value());
  EXPECT_FALSE((*flags)->rejected.empty());
  EXPECT_EQ((current(room)[{"m.room.power_levels", ""}]), (s[{"m.room.power_levels", ""}]));
  EXPECT_EQ(extremity(room), join);

  // Alice bans Bob; a message Bob sent on the state before the ban is soft-failed.
  auto ban = run(rooms_->set_membership(kAlice, room, kBob, "ban", std::nullopt));
  ASSERT_TRUE(ban.ok()) << ban.error().message;
  std::string late;
  auto msg = remote(room, "m.room.message", std::nullopt, json::object{{"msgtype", "m.text"}, {"body", "late"}}, {join},
                    {s[{"m.room.create", ""}], s[{"m.room.power_levels", ""}], join}, &late);
  r = receive(room, {msg});
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].verdict, Acceptance::kSoftFailed) << r[0].reason;
  flags = db_->read().events().flags(late);
  ASSERT_TRUE(flags.ok() && flags->has_value());
  EXPECT_TRUE((*flags)->soft_failed);
  EXPECT_EQ(extremity(room), *ban) << "a soft-failed event is no forward extremity";
  auto timeline = db_->read().events().room_events(room, storage::EventRange{});
  ASSERT_TRUE(timeline.ok());
  for (auto& e : *timeline) EXPECT_NE(e.event_id, late) << "a soft-failed event is in the timeline";
  // An unknown prev event is reported, and nothing is stored.
  std::string orphan;
  auto o = remote(room, "m.room.message", std::nullopt, json::object{{"body", "?"}}, {"$nowhere"},
                  {s[{"m.room.create", ""}], join}, &orphan);
  r = receive(room, {o});
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].verdict, Acceptance::kRejected);
  auto stored = db_->read().events().event(orphan);
  ASSERT_TRUE(stored.ok());
  EXPECT_FALSE(stored->has_value());
}

TEST_F(RoomRemoteTest, ConcurrentBranchesResolveAndSurviveAReload) {
  std::string room = make_room();
  std::string join = bob_joins(room);
  // Alice lets Bob set the topic, then both set it from the same point in the graph.
  auto s = current(room);
  json::object pl_content;
  {
    auto pl_ev = db_->read().events().event(s[{"m.room.power_levels", ""}]);
    ASSERT_TRUE(pl_ev.ok() && pl_ev->has_value());
    pl_content = (*pl_ev)->pdu.at("content").as_object();
    pl_content["users"].as_object()[kBob] = 50;
  }
  auto pl = run(rooms_->send_event(kAlice, room, "m.room.power_levels", pl_content, std::string(), std::nullopt));
  ASSERT_TRUE(pl.ok()) << pl.error().message;
  std::string fork_point = *pl;
  auto mine = run(rooms_->send_event(kAlice, room, "m.room.topic", json::object{{"topic", "A"}}, std::string(),
                                     std::nullopt));
  ASSERT_TRUE(mine.ok());
  std::string theirs;
  auto topic = remote(room, "m.room.topic", "", json::object{{"topic", "B"}}, {fork_point},
                      {s[{"m.room.create", ""}], *pl, join}, &theirs, now_ms() + 60'000);
  auto r = receive(room, {topic});
  ASSERT_EQ(r.size(), 1u);
  ASSERT_EQ(r[0].verdict, Acceptance::kAccepted) << r[0].reason;
  // Two extremities; the later topic wins under v2 (same power, later origin_server_ts).
  auto x = db_->read().events().forward_extremities(room);
  ASSERT_TRUE(x.ok());
  EXPECT_EQ(x->size(), 2u);
  for (auto& e : *x) {
    auto g = db_->read().state().event_groups(e.event_id);
    EXPECT_TRUE(g.ok() && g->has_value()) << "no state groups for extremity " << e.event_id << " (theirs " << theirs
                                          << ", mine " << *mine << ")";
  }
  EXPECT_EQ((current(room)[{"m.room.topic", ""}]), theirs);
  auto shown = rooms_->get_state_event(kAlice, room, "m.room.topic", "");
  ASSERT_TRUE(shown.ok()) << shown.error().message;
  EXPECT_EQ(shown->at("content").at("topic").as_string(), "B");

  // A second service over the same database loads the forked room from storage: its next
  // event follows both branches and starts from the resolved state.
  RoomService again(config_, *db_, notifier_, key_, *push_, *archive_);
  auto next = run(again.send_event(kAlice, room, "m.room.message", json::object{{"body", "joined up"}}, std::nullopt,
                                   std::nullopt));
  ASSERT_TRUE(next.ok()) << next.error().message << " (theirs " << theirs << ", mine " << *mine << ", pl " << *pl << ")";
  auto prevs = prevs_of(*next);
  EXPECT_EQ(prevs.size(), 2u);
  auto groups = db_->read().state().event_groups(*next);
  ASSERT_TRUE(groups.ok() && groups->has_value());
  auto before = db_->read().state().group_state((*groups)->before);
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(*before, current(room));
  x = db_->read().events().forward_extremities(room);
  ASSERT_TRUE(x.ok());
  EXPECT_EQ(x->size(), 1u);
}

}  // namespace
}  // namespace despatch
