// Incoming transactions before any room sees them: the body's shape and the spec's limits
// (50 PDUs, 100 EDUs), the checks of one PDU that need no keys (room, size, sender, the
// allow-list), the content hash (a mismatch redacts), and whom an outgoing PDU goes to.
#include "service/federation/inbox.h"
#include "service/federation/outbox.h"
#include "service/rooms/event_format.h"

#include <gtest/gtest.h>

namespace despatch {
namespace {

json::value txn_with(size_t pdus, size_t edus) {
  json::array p, e;
  for (size_t i = 0; i < pdus; ++i) p.push_back(json::object{});
  for (size_t i = 0; i < edus; ++i) e.push_back(json::object{});
  return json::object{{"origin", "b.org"}, {"origin_server_ts", 1}, {"pdus", p}, {"edus", e}};
}

TEST(FederationTransaction, ParsesWithinTheLimits) {
  auto t = parse_transaction(txn_with(50, 100), "b.org");
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->pdus.size(), 50u);
  EXPECT_EQ(t->edus.size(), 100u);
  auto no_edus = parse_transaction(json::object{{"pdus", json::array{}}}, "b.org");
  ASSERT_TRUE(no_edus.ok());
  EXPECT_TRUE(no_edus->edus.empty());
}

TEST(FederationTransaction, RefusesTooManyOrMalformed) {
  for (auto& [body, why] : std::vector<std::pair<json::value, const char*>>{
           {txn_with(51, 0), "51 PDUs"},
           {txn_with(0, 101), "101 EDUs"},
           {json::array{}, "not an object"},
           {json::object{{"edus", json::array{}}}, "no pdus"},
           {json::object{{"pdus", json::object{}}}, "pdus not an array"},
           {json::object{{"pdus", json::array{}}, {"edus", 3}}, "edus not an array"},
           {json::object{{"origin", "c.org"}, {"pdus", json::array{}}}, "another origin"},
       }) {
    auto t = parse_transaction(body, "b.org");
    ASSERT_FALSE(t.ok()) << why;
    EXPECT_EQ(t.error().status, 400) << why;
    EXPECT_EQ(t.error().errcode, errc::kBadJson) << why;
  }
}

class PduPrecheck : public ::testing::Test {
 protected:
  json::object pdu() {
    json::object ev{{"room_id", "!room:a.org"},   {"sender", "@bob:b.org"}, {"type", "m.room.message"},
                    {"content", {{"body", "hi"}}}, {"depth", 5},            {"origin_server_ts", 1000},
                    {"prev_events", json::array{"$prev"}}, {"auth_events", json::array{"$auth"}}};
    hash_and_sign_event(ev, "b.org", key_, "11");
    return ev;
  }
  Result<CheckedPdu> check(const json::value& v) {
    auto version = [](const std::string& room) -> Result<std::string> {
      if (room == "!room:a.org") return std::string("11");
      return Error::not_found("Unknown room");
    };
    return precheck_pdu(v, version, allow_);
  }
  SigningKey key_ = SigningKey::generate("k1");
  ServerAllowList allow_{std::vector<std::string>{"b.org"}};
};

TEST_F(PduPrecheck, AcceptsAWellFormedPduAndNamesItsSigner) {
  json::object ev = pdu();
  auto p = check(ev);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->room_id, "!room:a.org");
  EXPECT_EQ(p->event_id, compute_event_id(ev, "11"));
  EXPECT_EQ(required_signers(*p), std::vector<std::string>{"b.org"});
  ASSERT_TRUE(apply_content_hash(*p).ok());
  EXPECT_FALSE(p->redacted);
  EXPECT_TRUE(verify_event_signature(p->pdu, "11", "b.org", key_.key_id(), key_.public_key()).ok());
}

TEST_F(PduPrecheck, RefusesWhatItCannotPlace) {
  json::object other_room = pdu();
  other_room["room_id"] = "!elsewhere:a.org";
  json::object bad_room = pdu();
  bad_room["room_id"] = "not a room";
  json::object stranger = pdu();
  stranger["sender"] = "@eve:c.org";
  json::object no_sender = pdu();
  no_sender.erase("sender");
  json::object unsigned_pdu = pdu();
  unsigned_pdu.erase("signatures");
  json::object huge = pdu();
  huge["content"].as_object()["body"] = std::string(70000, 'x');
  EXPECT_EQ(check(json::value(42)).error().errcode, errc::kBadJson);
  EXPECT_EQ(check(json::array{}).error().errcode, errc::kBadJson);
  EXPECT_EQ(check(other_room).error().errcode, errc::kNotFound);
  EXPECT_EQ(check(bad_room).error().errcode, errc::kBadJson);
  EXPECT_EQ(check(stranger).error().errcode, errc::kForbidden) << "c.org is not on the allow-list";
  EXPECT_EQ(check(no_sender).error().errcode, errc::kBadJson);
  EXPECT_EQ(check(unsigned_pdu).error().errcode, errc::kForbidden);
  EXPECT_EQ(check(huge).error().errcode, errc::kTooLarge);
}

TEST_F(PduPrecheck, AContentHashMismatchRedactsThePdu) {
  json::object ev = pdu();
  ev["content"].as_object()["body"] = "changed on the way";
  auto p = check(ev);
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE(apply_content_hash(*p).ok());
  EXPECT_TRUE(p->redacted);
  EXPECT_TRUE(p->pdu.at("content").as_object().empty()) << "a message's content goes with redaction";
  // The signature covers the redacted form, so it still holds and the ID is unchanged.
  EXPECT_TRUE(verify_event_signature(p->pdu, "11", "b.org", key_.key_id(), key_.public_key()).ok());
  EXPECT_EQ(compute_event_id(p->pdu, "11"), p->event_id);
  json::object no_hash = pdu();
  no_hash.erase("hashes");
  auto q = check(no_hash);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(apply_content_hash(*q).error().errcode, errc::kBadJson);
}

TEST(FederationOutbox, DestinationsAreTheOtherJoinedServersAndTargets) {
  ServerAllowList allow(std::vector<std::string>{"b.org", "c.org", "d.org"});
  std::vector<std::string> joined{"@alice:a.org", "@bob:b.org", "@bea:b.org", "@zed:z.org"};
  json::object message{{"type", "m.room.message"}, {"sender", "@alice:a.org"}, {"content", json::object{}}};
  EXPECT_EQ(destinations_for(joined, {message}, "a.org", allow), std::vector<std::string>{"b.org"})
      << "itself never, z.org is not allowed, b.org once";
  json::object invite{{"type", "m.room.member"},
                      {"sender", "@alice:a.org"},
                      {"state_key", "@carl:c.org"},
                      {"content", {{"membership", "invite"}}}};
  json::object kick{{"type", "m.room.member"},
                    {"sender", "@alice:a.org"},
                    {"state_key", "@dan:d.org"},
                    {"content", {{"membership", "leave"}}}};
  json::object left{{"type", "m.room.member"},
                    {"sender", "@dan:d.org"},
                    {"state_key", "@dan:d.org"},
                    {"content", {{"membership", "leave"}}}};
  EXPECT_EQ(destinations_for(joined, {invite, kick}, "a.org", allow),
            (std::vector<std::string>{"b.org", "c.org", "d.org"}));
  EXPECT_EQ(destinations_for(joined, {left}, "a.org", allow), std::vector<std::string>{"b.org"})
      << "someone leaving by themselves has told their own server";
  // A join of c.org's user that c.org handed this server as the room's resident (send_join)
  // goes to the room's other servers, not back to c.org.
  std::vector<std::string> with_carl = joined;
  with_carl.push_back("@carl:c.org");
  json::object join{{"type", "m.room.member"},
                    {"sender", "@carl:c.org"},
                    {"state_key", "@carl:c.org"},
                    {"content", {{"membership", "join"}}}};
  EXPECT_EQ(destinations_for(with_carl, {join}, "a.org", allow), std::vector<std::string>{"b.org"});
  EXPECT_EQ(destinations_for(with_carl, {join, message}, "a.org", allow),
            (std::vector<std::string>{"b.org", "c.org"}))
      << "a batch with this server's own events goes to every server";
}

TEST(FederationOutbox, TransactionIdsNameTheBatch) {
  storage::QueueBatch b;
  b.pdus = {{7, "b.org", storage::QueueKind::kPdu, "{}"}, {9, "b.org", storage::QueueKind::kPdu, "{}"}};
  b.edus = {{8, "b.org", storage::QueueKind::kEdu, "{}"}, {12, "b.org", storage::QueueKind::kEdu, "{}"}};
  EXPECT_EQ(transaction_id(b), "7-12");
  b.edus.pop_back();
  EXPECT_EQ(transaction_id(b), "7-9");
}

}  // namespace
}  // namespace despatch
