// The per-domain stores against a real SQLite database: what a write transaction stores,
// a read view returns, in the order and with the bounds the services rely on.
#include "storage/account_data_store.h"
#include "storage/database.h"
#include "storage/event_store.h"
#include "storage/sqlite/graph_backfill.h"
#include "storage/membership_store.h"
#include "storage/receipt_store.h"
#include "storage/room_store.h"
#include "storage/state_store.h"
#include "storage/user_store.h"

#include <gtest/gtest.h>

#include "store_fixture.h"

#include "test_support.h"

#include <filesystem>

namespace despatch::storage {
namespace {

class StoresTest : public test::StoreTest {
 protected:
  NewEvent event(const std::string& id, const std::string& room, int64_t pos, const std::string& type,
                 std::optional<std::string> key = std::nullopt) {
    json::object pdu{{"type", type}, {"room_id", room}, {"sender", "@a:x"}, {"content", json::object{{"n", pos}}}};
    if (key) pdu["state_key"] = *key;
    return NewEvent{pos, id, room, type, key, "@a:x", 1000 + pos, json::serialize(pdu), {}, {}, "", ""};
  }
};

TEST_F(StoresTest, AccountDataIsKeptPerRoomAndPagedByStreamPosition) {
  write([](Txn& t) -> Status {
    DS_TRY(t.account_data().put("@a:x", "", "m.direct", json::object{{"k", 1}}, 5));
    DS_TRY(t.account_data().put("@a:x", "!r:x", "m.tag", json::object{{"tags", json::object{}}}, 6));
    return t.account_data().put("@a:x", "", "m.direct", json::object{{"k", 2}}, 7);  // replaces
  });
  auto& s = db_->read().account_data();
  auto got = s.get("@a:x", "", "m.direct");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ(**got, (json::object{{"k", 2}}));
  EXPECT_FALSE(s.get("@b:x", "", "m.direct")->has_value());
  EXPECT_EQ(s.changed("@a:x", "", 6, 7)->size(), 1u);
  EXPECT_TRUE(s.changed("@a:x", "", 7, 100)->empty());
  EXPECT_EQ(*s.rooms_changed("@a:x", 0, 100), std::vector<std::string>{"!r:x"});
}

TEST_F(StoresTest, FiltersCountUpPerUserAndPushRulesDefaultToNothing) {
  int64_t first = -1, second = -1, other = -1;
  write([&](Txn& t) -> Status {
    DS_ASSIGN(first, t.account_data().add_filter("@a:x", json::object{{"f", 1}}));
    DS_ASSIGN(second, t.account_data().add_filter("@a:x", json::object{{"f", 2}}));
    DS_ASSIGN(other, t.account_data().add_filter("@b:x", json::object{{"f", 3}}));
    return t.account_data().set_push_rule_overrides("@a:x", json::object{{"rules", 1}});
  });
  EXPECT_EQ(first, 0);
  EXPECT_EQ(second, 1);
  EXPECT_EQ(other, 0);
  auto& s = db_->read().account_data();
  EXPECT_EQ(**s.filter("@a:x", 1), (json::value(json::object{{"f", 2}})));
  EXPECT_FALSE(s.filter("@a:x", 2)->has_value());
  EXPECT_EQ(*s.push_rule_overrides("@a:x"), (json::object{{"rules", 1}}));
  EXPECT_TRUE(s.push_rule_overrides("@b:x")->empty());
}

TEST_F(StoresTest, ReceiptsAndNotificationCounts) {
  write([](Txn& t) -> Status {
    DS_TRY(t.receipts().put_receipt({"!r:x", "@a:x", "m.read", "", "$e1", 10, 111}, 11));
    DS_TRY(t.receipts().put_receipt({"!r:x", "@a:x", "m.read.private", "", "$e2", 12, 112}, 13));
    DS_TRY(t.receipts().add_notification("!r:x", "@a:x", 11, false));
    DS_TRY(t.receipts().add_notification("!r:x", "@a:x", 14, true));
    DS_TRY(t.receipts().add_notification("!r:x", "@a:x", 15, false));
    return t.receipts().add_notification("!r:x", "@b:x", 15, true);
  });
  auto& s = db_->read().receipts();
  EXPECT_EQ(*s.read_up_to("!r:x", "@a:x"), 12);
  EXPECT_EQ(*s.read_up_to("!r:x", "@b:x"), 0);
  auto counts = s.count_notifications("!r:x", "@a:x", 12, 100);
  EXPECT_EQ(counts->notifications, 2);
  EXPECT_EQ(counts->highlights, 1);
  EXPECT_EQ(s.receipts_changed("!r:x", 11, 13)->size(), 1u);
  EXPECT_EQ(*s.rooms_changed(0, 20), std::vector<std::string>{"!r:x"});
  write([](Txn& t) -> Status { return t.receipts().clear_notifications_before("!r:x", "@a:x", 15); });
  EXPECT_EQ(db_->read().receipts().count_notifications("!r:x", "@a:x", 0, 100)->notifications, 1);
}

TEST_F(StoresTest, EventsPageByStreamPositionWithinBounds) {
  write([&](Txn& t) -> Status {
    for (int64_t p = 1; p <= 6; ++p) DS_TRY(t.events().insert(event("$e" + std::to_string(p), "!r:x", p, "m.room.message")));
    return t.events().insert(event("$other", "!s:x", 7, "m.room.message"));
  });
  auto& s = db_->read().events();
  auto newest = s.room_events("!r:x", EventRange{0, INT64_MAX, true, 2});
  ASSERT_EQ(newest->size(), 2u);
  EXPECT_EQ((*newest)[0].event_id, "$e6");
  EXPECT_EQ((*newest)[1].event_id, "$e5");
  auto middle = s.room_events("!r:x", EventRange{2, 4, false, 10});
  ASSERT_EQ(middle->size(), 2u);
  EXPECT_EQ((*middle)[0].pos, 3);
  EXPECT_EQ((*middle)[1].pos, 4);
  EXPECT_TRUE(*s.has_events("!r:x", 5, 6));
  EXPECT_FALSE(*s.has_events("!r:x", 6, 100));
  EXPECT_EQ(**s.stream_pos_of("$e3", "!r:x"), 3);
  EXPECT_FALSE(s.stream_pos_of("$e3", "!s:x")->has_value()) << "an event of another room";
  EXPECT_EQ(*s.rooms_changed(5, 7), (std::vector<std::string>{"!r:x", "!s:x"}));
  auto e = s.event("$e2");
  ASSERT_TRUE(e.ok() && e->has_value());
  EXPECT_EQ((*e)->pdu.at("content").at("n"), 2);
}

TEST_F(StoresTest, StateAsOfAPositionAndCurrentState) {
  write([&](Txn& t) -> Status {
    DS_TRY(t.events().insert(event("$t1", "!r:x", 1, "m.room.topic", "")));
    DS_TRY(t.events().insert(event("$m1", "!r:x", 2, "m.room.member", "@a:x")));
    DS_TRY(t.events().insert(event("$t2", "!r:x", 3, "m.room.topic", "")));
    DS_TRY(t.state().set_current("!r:x", {"m.room.topic", "", "$t1", 1}));
    DS_TRY(t.state().set_current("!r:x", {"m.room.member", "@a:x", "$m1", 2}));
    return t.state().set_current("!r:x", {"m.room.topic", "", "$t2", 3});  // replaces
  });
  auto& s = db_->read();
  auto at2 = s.events().state_at("!r:x", 2);
  ASSERT_EQ(at2->size(), 2u);
  for (auto& e : *at2) EXPECT_NE(e.event_id, "$t2") << "state after position 2 leaked";
  EXPECT_EQ((**s.events().state_event_at("!r:x", "m.room.topic", "", 2)).event_id, "$t1");
  EXPECT_EQ(s.state().current("!r:x")->size(), 2u);
  EXPECT_EQ((**s.state().current_entry("!r:x", "m.room.topic", "")).event_id, "$t2");
  auto vis = s.events().visibility_events("!r:x", "@a:x");
  ASSERT_EQ(vis->size(), 1u);
  EXPECT_EQ((*vis)[0].event_id, "$m1");
}

TEST_F(StoresTest, RedactionsMarkOnceAndTransactionIdsAreRemembered) {
  write([&](Txn& t) -> Status {
    DS_TRY(t.events().insert(event("$e1", "!r:x", 1, "m.room.message")));
    DS_TRY(t.events().mark_redacted("$e1", "!r:x", "$r1"));
    DS_TRY(t.events().mark_redacted("$e1", "!r:x", "$r2"));  // the first redaction stays
    return t.events().put_txn("@a:x", "DEV", "send:!r:x:t1", "$e1");
  });
  auto& s = db_->read().events();
  EXPECT_EQ((**s.event("$e1")).redacted_by, "$r1");
  EXPECT_EQ(**s.txn_event("@a:x", "DEV", "send:!r:x:t1"), "$e1");
  EXPECT_FALSE(s.txn_event("@a:x", "OTHER", "send:!r:x:t1")->has_value()) << "transaction IDs are per device";
}

TEST_F(StoresTest, MembershipsRoomsAndAliases) {
  write([](Txn& t) -> Status {
    DS_TRY(t.rooms().create({"!r:x", "11", "@a:x", false, 1, "group"}));
    DS_TRY(t.rooms().create({"!s:x", "10", "@b:x", true, 2, "direct"}));
    DS_TRY(t.rooms().add_alias({"#a:x", "!r:x", "@a:x"}));
    DS_TRY(t.memberships().set({"!r:x", "@a:x", "join", 3}, "$m1"));
    DS_TRY(t.memberships().set({"!r:x", "@b:x", "invite", 4}, "$m2"));
    DS_TRY(t.memberships().set({"!s:x", "@a:x", "leave", 5}, "$m3"));
    return t.memberships().forget("!s:x", "@a:x");
  });
  auto& s = db_->read();
  auto room = s.rooms().room("!r:x");
  ASSERT_TRUE(room.ok() && room->has_value());
  EXPECT_EQ((*room)->room_version, "11");
  EXPECT_EQ((*room)->kind, "group");
  EXPECT_EQ(*s.rooms().public_rooms(), std::vector<std::string>{"!s:x"});
  EXPECT_EQ((**s.rooms().alias("#a:x")).room_id, "!r:x");
  EXPECT_EQ(*s.rooms().aliases_of("!r:x"), std::vector<std::string>{"#a:x"});
  EXPECT_EQ(**s.memberships().membership("!r:x", "@b:x"), "invite");
  EXPECT_EQ(*s.memberships().count("!r:x", "join"), 1);
  EXPECT_TRUE(*s.memberships().forgotten("!s:x", "@a:x"));
  auto rooms = s.memberships().rooms_of("@a:x", 100);
  ASSERT_EQ(rooms->size(), 1u) << "forgotten rooms are left out";
  EXPECT_EQ((*rooms)[0].room_id, "!r:x");
  EXPECT_EQ(s.memberships().joined_and_invited("!r:x")->size(), 2u);
  // A new membership remembers a forgotten room again.
  write([](Txn& t) -> Status { return t.memberships().set({"!s:x", "@a:x", "join", 9}, "$m4"); });
  EXPECT_FALSE(*db_->read().memberships().forgotten("!s:x", "@a:x"));
}

TEST_F(StoresTest, TheGraphKeepsEdgesAndForwardExtremities) {
  // a <- b, a <- c (a fork, as two servers make), then d joins b and c.
  write([&](Txn& t) -> Status {
    auto a = event("$a", "!r:x", 1, "m.room.create", "");
    a.depth = 1;
    DS_TRY(t.events().insert(a));
    DS_TRY(t.events().advance_extremities("!r:x", {}, "$a"));
    for (auto [id, pos] : {std::pair{"$b", 2}, std::pair{"$c", 3}}) {
      auto e = event(id, "!r:x", pos, "m.room.message");
      e.depth = 2;
      e.prev_events = {"$a"};
      DS_TRY(t.events().insert(e));
      DS_TRY(t.events().advance_extremities("!r:x", e.prev_events, id));
    }
    return ok_status();
  });
  auto x = db_->read().events().forward_extremities("!r:x");
  ASSERT_EQ(x->size(), 2u);
  EXPECT_EQ((*x)[0].event_id, "$b");
  EXPECT_EQ((*x)[1].event_id, "$c");
  EXPECT_EQ((*x)[0].depth, 2);
  write([&](Txn& t) -> Status {
    auto d = event("$d", "!r:x", 4, "m.room.message");
    d.depth = 3;
    d.prev_events = {"$b", "$c"};
    DS_TRY(t.events().insert(d));
    return t.events().advance_extremities("!r:x", d.prev_events, "$d");
  });
  x = db_->read().events().forward_extremities("!r:x");
  ASSERT_EQ(x->size(), 1u);
  EXPECT_EQ((*x)[0].event_id, "$d");
  EXPECT_EQ(*db_->read().events().prev_events("$d"), (std::vector<std::string>{"$b", "$c"}));
}

TEST_F(StoresTest, RejectedSoftFailedAndOutlierEventsStayOutOfTheTimeline) {
  write([&](Txn& t) -> Status {
    DS_TRY(t.events().insert(event("$ok", "!r:x", 1, "m.room.message")));
    auto rejected = event("$rejected", "!r:x", 2, "m.room.message");
    rejected.rejected = "auth rule 9";
    auto soft = event("$soft", "!r:x", 3, "m.room.topic", "");
    soft.soft_failed = true;
    auto outlier = event("$outlier", "!r:x", 4, "m.room.member", "@z:y");
    outlier.outlier = true;
    for (auto* e : {&rejected, &soft, &outlier}) DS_TRY(t.events().insert(*e));
    return ok_status();
  });
  auto& s = db_->read().events();
  auto all = s.room_events("!r:x", EventRange{});
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].event_id, "$ok");
  EXPECT_TRUE(s.state_at("!r:x", 100)->empty());
  EXPECT_FALSE(*s.has_events("!r:x", 1, 100));
  EXPECT_TRUE(s.event("$rejected")->has_value()) << "kept, for the graph and for audits";
}

TEST_F(StoresTest, StateGroupsRecordTheStateBeforeAndAfterEachEvent) {
  int64_t g1 = 0, g2 = 0, g3 = 0;
  write([&](Txn& t) -> Status {
    DS_ASSIGN(g1, t.state().add_group("!r:x", 0, {{"m.room.create", "", "$c"}}));
    DS_ASSIGN(g2, t.state().add_group("!r:x", g1, {{"m.room.member", "@a:x", "$m"}}));
    DS_ASSIGN(g3, t.state().add_group("!r:x", g2, {{"m.room.member", "@a:x", ""}, {"m.room.topic", "", "$t"}}));
    DS_TRY(t.state().set_event_groups("$c", {0, g1}));
    return t.state().set_event_groups("$msg", {g2, g2});
  });
  auto& s = db_->read().state();
  EXPECT_EQ(*s.group_state(g1), (StateIds{{{"m.room.create", ""}, "$c"}}));
  EXPECT_EQ(*s.group_state(g2), (StateIds{{{"m.room.create", ""}, "$c"}, {{"m.room.member", "@a:x"}, "$m"}}));
  EXPECT_EQ(*s.group_state(g3), (StateIds{{{"m.room.create", ""}, "$c"}, {{"m.room.topic", ""}, "$t"}}))
      << "an empty event ID removes a key";
  EXPECT_TRUE(s.group_state(0)->empty());
  EXPECT_EQ((**s.event_groups("$c")).before, 0);
  EXPECT_EQ((**s.event_groups("$msg")).after, g2);
  EXPECT_FALSE(s.event_groups("$unknown")->has_value());
}

TEST_F(StoresTest, LongStateChainsStoreAWholeStateNowAndThen) {
  int64_t group = 0;
  const int kSteps = 200;
  write([&](Txn& t) -> Status {
    for (int i = 0; i < kSteps; ++i) {
      DS_ASSIGN(group, t.state().add_group("!r:x", group, {{"m.room.member", "@u" + std::to_string(i) + ":x", "$m"}}));
    }
    return ok_status();
  });
  auto state = db_->read().state().group_state(group);
  ASSERT_TRUE(state.ok()) << state.error().message;
  EXPECT_EQ(state->size(), static_cast<size_t>(kSteps));
  auto chain = query_one(db_->reader(), "SELECT MAX(chain), COUNT(*) FROM state_groups WHERE prev_id IS NULL");
  ASSERT_TRUE(chain.ok() && chain->has_value());
  EXPECT_GE((*chain)->i64(1), 3) << "whole states every kMaxDeltaChain groups";
}

TEST_F(StoresTest, BackfillBuildsTheGraphOfEventsStoredBeforeIt) {
  // Events as the server stored them before schema step 6: rows with JSON, no graph.
  auto pdu = [](const char* type, std::optional<std::string> key, int depth, std::vector<std::string> prev) {
    json::object o{{"type", type}, {"room_id", "!r:x"}, {"sender", "@a:x"}, {"depth", depth}, {"content", json::object{}}};
    if (key) o["state_key"] = *key;
    json::array p;
    for (auto& id : prev) p.push_back(json::string(id));
    o["prev_events"] = std::move(p);
    return json::serialize(o);
  };
  auto r = db_->write_blocking<Ok>([&](Conn& c) -> Result<Ok> {
    DS_TRY(c.exec("INSERT INTO rooms(room_id, room_version, creator, created_ts) VALUES('!r:x', '11', '@a:x', 1)"));
    struct Row { const char* id; const char* type; std::optional<std::string> key; int depth; std::vector<std::string> prev; };
    std::vector<Row> rows{{"$create", "m.room.create", "", 1, {}},
                          {"$join", "m.room.member", "@a:x", 2, {"$create"}},
                          {"$msg", "m.room.message", std::nullopt, 3, {"$join"}},
                          {"$topic", "m.room.topic", "", 4, {"$msg"}}};
    int64_t pos = 0;
    for (auto& e : rows)
      DS_TRY(c.exec("INSERT INTO events(stream_pos, event_id, room_id, type, state_key, sender, origin_server_ts, json) "
                    "VALUES(?,?,'!r:x',?,?,'@a:x',1,?)",
                    {++pos, std::string(e.id), std::string(e.type), e.key ? Value(*e.key) : Value(nullptr),
                     pdu(e.type, e.key, e.depth, e.prev)}));
    DS_TRY(backfill_event_graph(c));
    return Ok{};
  });
  ASSERT_TRUE(r.ok()) << r.error().message;
  auto& s = db_->read();
  auto x = s.events().forward_extremities("!r:x");
  ASSERT_EQ(x->size(), 1u);
  EXPECT_EQ((*x)[0].event_id, "$topic");
  EXPECT_EQ((*x)[0].depth, 4);
  EXPECT_EQ(*s.events().prev_events("$msg"), std::vector<std::string>{"$join"});
  auto msg = s.state().event_groups("$msg");
  auto topic = s.state().event_groups("$topic");
  ASSERT_TRUE(msg->has_value() && topic->has_value());
  EXPECT_EQ((*msg)->before, (*msg)->after) << "a message does not change the state";
  EXPECT_EQ((*topic)->before, (*msg)->after);
  EXPECT_EQ(s.state().group_state((*msg)->after)->size(), 2u);
  auto after_topic = s.state().group_state((*topic)->after);
  EXPECT_EQ(after_topic->size(), 3u);
  EXPECT_EQ(after_topic->at({"m.room.topic", ""}), "$topic");
  EXPECT_EQ((**s.state().event_groups("$create")).before, 0);
}

TEST_F(StoresTest, ReadViewsHandOutNoStreamPositions) {
  // Stores is what a read view is; only a Txn has next_stream_pos, and a write job gets one.
  int64_t pos = 0;
  write([&](Txn& t) -> Status {
    pos = t.next_stream_pos();
    return ok_status();
  });
  EXPECT_EQ(pos, 1);
  EXPECT_EQ(db_->committed_stream_pos(), 1);
}

}  // namespace
}  // namespace despatch::storage
