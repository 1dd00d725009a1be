// The records stores (archive, legal holds, audit log, records keeper) against a real SQLite
// database in a temp folder: every method, through a write job's Txn and the read view.
#include "storage/archive_store.h"
#include "storage/audit_store.h"
#include "storage/database.h"
#include "storage/keeper_store.h"
#include "storage/legal_hold_store.h"

#include <gtest/gtest.h>

#include "store_fixture.h"

#include "test_support.h"

#include <filesystem>

#include "service/records/archive.h"
#include "service/records/audit.h"

namespace despatch::storage {
namespace {

class RecordsStoreTest : public test::StoreTest {
 protected:

  static ArchiveRow record(int64_t seq, const std::string& sender, const std::string& room, int64_t ts,
                           const std::string& type = "m.room.message", const std::string& kind = "event") {
    ArchiveRow a;
    a.seq = seq;
    a.stream_pos = seq * 10;
    a.event_id = "$e" + std::to_string(seq);
    a.room_id = room;
    a.sender = sender;
    a.type = type;
    a.ts = ts;
    a.classification = "OFFICIAL";
    a.kind = kind;
    a.key_id = 1;
    a.sealed = "sealed" + std::to_string(seq);
    a.content_hash = "c" + std::to_string(seq);
    a.prev_hash = "h" + std::to_string(seq - 1);
    a.hash = "h" + std::to_string(seq);
    return a;
  }

  static std::vector<int64_t> seqs(const std::vector<ArchiveRow>& rows) {
    std::vector<int64_t> out;
    for (auto& r : rows) out.push_back(r.seq);
    return out;
  }

};

constexpr const char* kAlice = "@alice:example.org";
constexpr const char* kBob = "@bob:example.org";
constexpr const char* kRoomA = "!a:example.org";
constexpr const char* kRoomB = "!b:example.org";

TEST_F(RecordsStoreTest, ArchiveDataKeysReadBackInIdOrder) {
  write([&](Txn& t) -> Status {
    DS_TRY(t.archive().add_data_key({1, "key-one", "h1"}));
    return t.archive().add_data_key({2, "key-two", ""});
  });
  auto one = read().archive().data_key(1);
  ASSERT_TRUE(one.ok() && *one);
  EXPECT_EQ(**one, "key-one");
  auto none = read().archive().data_key(3);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(*none);
  auto last = read().archive().last_data_key();
  ASSERT_TRUE(last.ok() && *last);
  EXPECT_EQ((*last)->id, 2);
  EXPECT_EQ((*last)->hash, "") << "a key not chained yet reads back with no hash";
  write([&](Txn& t) -> Status { return t.archive().set_data_key_hash(2, "h2"); });
  auto keys = read().archive().data_keys_after(0, 10);
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[0].sealed, "key-one");
  EXPECT_EQ((*keys)[1].hash, "h2");
  auto paged = read().archive().data_keys_after(1, 10);
  ASSERT_TRUE(paged.ok());
  ASSERT_EQ(paged->size(), 1u);
  EXPECT_EQ((*paged)[0].id, 2);
}

TEST_F(RecordsStoreTest, ArchiveAppendsAndPagesRecordsInOrder) {
  auto empty = read().archive().head();
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(*empty);
  write([&](Txn& t) -> Status {
    for (int64_t seq = 1; seq <= 5; ++seq) DS_TRY(t.archive().append(record(seq, kAlice, kRoomA, 1000 * seq)));
    return ok_status();
  });
  auto head = read().archive().head();
  ASSERT_TRUE(head.ok() && *head);
  EXPECT_EQ((*head)->seq, 5);
  EXPECT_EQ((*head)->hash, "h5");

  auto page = read().archive().records_after(0, 2);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(seqs(*page), (std::vector<int64_t>{1, 2}));
  page = read().archive().records_after(2, 10);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(seqs(*page), (std::vector<int64_t>{3, 4, 5}));
  // Every column comes back as written.
  const ArchiveRow& r = page->front();
  ArchiveRow want = record(3, kAlice, kRoomA, 3000);
  EXPECT_EQ(r.stream_pos, want.stream_pos);
  EXPECT_EQ(r.event_id, want.event_id);
  EXPECT_EQ(r.room_id, want.room_id);
  EXPECT_EQ(r.sender, want.sender);
  EXPECT_EQ(r.type, want.type);
  EXPECT_EQ(r.ts, want.ts);
  EXPECT_EQ(r.classification, want.classification);
  EXPECT_EQ(r.kind, want.kind);
  EXPECT_EQ(r.key_id, want.key_id);
  EXPECT_EQ(r.sealed, want.sealed);
  EXPECT_EQ(r.content_hash, want.content_hash);
  EXPECT_EQ(r.prev_hash, want.prev_hash);
  EXPECT_EQ(r.hash, want.hash);

  auto hash = read().archive().hash_at(4);
  ASSERT_TRUE(hash.ok() && *hash);
  EXPECT_EQ(**hash, "h4");
  auto missing = read().archive().hash_at(9);
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(*missing);
  auto seq = read().archive().seq_of_hash("h2");
  ASSERT_TRUE(seq.ok() && *seq);
  EXPECT_EQ(**seq, 2);
  auto unknown = read().archive().seq_of_hash("nope");
  ASSERT_TRUE(unknown.ok());
  EXPECT_FALSE(*unknown);
}

TEST_F(RecordsStoreTest, ArchiveMatchingSelectsByClearColumnsWithoutTombstonesOrRoomKeys) {
  write([&](Txn& t) -> Status {
    DS_TRY(t.archive().append(record(1, kAlice, kRoomA, 1000)));
    DS_TRY(t.archive().append(record(2, kBob, kRoomA, 2000)));
    DS_TRY(t.archive().append(record(3, kBob, kRoomA, 3000, "m.room.member")));  // may name alice
    DS_TRY(t.archive().append(record(4, kAlice, kRoomB, 4000)));
    DS_TRY(t.archive().append(record(5, kAlice, kRoomA, 5000, "m.room.encrypted", "room_key")));
    DS_TRY(t.archive().append(record(6, kAlice, kRoomA, 6000)));
    DS_TRY(t.archive().append(record(7, kAlice, kRoomA, 7000, "m.room.encrypted", "plaintext")));
    return t.archive().tombstone(6);
  });
  ArchiveStore& a = read().archive();
  auto all = a.matching({}, 0, 100);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(seqs(*all), (std::vector<int64_t>{1, 2, 3, 4, 7}));

  auto alice = a.matching({kAlice, "", std::nullopt, std::nullopt}, 0, 100);
  ASSERT_TRUE(alice.ok());
  EXPECT_EQ(seqs(*alice), (std::vector<int64_t>{1, 3, 4, 7})) << "her records and every member event";

  auto room_b = a.matching({"", kRoomB, std::nullopt, std::nullopt}, 0, 100);
  ASSERT_TRUE(room_b.ok());
  EXPECT_EQ(seqs(*room_b), (std::vector<int64_t>{4}));

  auto window = a.matching({"", "", 2000, 4000}, 0, 100);
  ASSERT_TRUE(window.ok());
  EXPECT_EQ(seqs(*window), (std::vector<int64_t>{2, 3, 4})) << "both ends inclusive";

  auto paged = a.matching({"", kRoomA, std::nullopt, std::nullopt}, 1, 2);
  ASSERT_TRUE(paged.ok());
  EXPECT_EQ(seqs(*paged), (std::vector<int64_t>{2, 3}));
}

TEST_F(RecordsStoreTest, ArchiveTombstonesKeepHashesAndLeaveRetention) {
  write([&](Txn& t) -> Status {
    for (int64_t seq = 1; seq <= 4; ++seq) DS_TRY(t.archive().append(record(seq, kAlice, kRoomA, 1000 * seq)));
    return ok_status();
  });
  auto live = read().archive().live_before(3500, 0, 100);
  ASSERT_TRUE(live.ok());
  ASSERT_EQ(live->size(), 3u) << "ts strictly before 3500";
  EXPECT_EQ((*live)[0].seq, 1);
  EXPECT_EQ((*live)[0].room_id, kRoomA);
  EXPECT_EQ((*live)[0].sender, kAlice);
  EXPECT_EQ((*live)[0].ts, 1000);

  write([&](Txn& t) -> Status { return t.archive().tombstone(2); });
  auto rows = read().archive().records_after(1, 1);
  ASSERT_TRUE(rows.ok() && rows->size() == 1);
  EXPECT_EQ((*rows)[0].kind, "tombstone");
  EXPECT_EQ((*rows)[0].sealed, "");
  EXPECT_EQ((*rows)[0].content_hash, "c2");
  EXPECT_EQ((*rows)[0].hash, "h2");

  live = read().archive().live_before(3500, 0, 100);
  ASSERT_TRUE(live.ok());
  ASSERT_EQ(live->size(), 2u);
  EXPECT_EQ((*live)[0].seq, 1);
  EXPECT_EQ((*live)[1].seq, 3);
  live = read().archive().live_before(10'000, 1, 2);
  ASSERT_TRUE(live.ok());
  ASSERT_EQ(live->size(), 2u) << "after and limit page the scan";
  EXPECT_EQ((*live)[0].seq, 3);
  EXPECT_EQ((*live)[1].seq, 4);
}

TEST_F(RecordsStoreTest, CheckpointsKeepOrderAndTheRollingHeadCanBeDropped) {
  auto none = read().archive().last_checkpoint(false);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(*none);
  int64_t rolling = 0;
  write([&](Txn& t) -> Status {
    storage::ArchiveCheckpoint a;
    a.seq = 3;
    a.hash = "h3";
    a.audit_seq = 7;
    a.audit_hash = "a7";
    a.keys_seq = 1;
    a.keys_hash = "k1";
    a.ts = 99;
    a.key_id = "ed25519:a";
    a.signature = "sig3";
    DS_TRY(t.archive().add_checkpoint(a));
    storage::ArchiveCheckpoint b = a;
    b.seq = 10;
    b.durable = false;
    DS_ASSIGN(rolling, t.archive().add_checkpoint(b));
    return ok_status();
  });
  auto last = read().archive().last_checkpoint(false);
  ASSERT_TRUE(last.ok() && *last);
  EXPECT_EQ((*last)->seq, 10);
  EXPECT_FALSE((*last)->durable);
  auto durable = read().archive().last_checkpoint(true);
  ASSERT_TRUE(durable.ok() && *durable);
  EXPECT_EQ((*durable)->seq, 3);
  EXPECT_EQ((*durable)->audit_seq, 7);
  EXPECT_EQ((*durable)->audit_hash, "a7");
  EXPECT_EQ((*durable)->keys_hash, "k1");
  EXPECT_EQ((*durable)->signature, "sig3");
  EXPECT_EQ((*durable)->version, 2);
  write([&](Txn& t) -> Status { return t.archive().drop_checkpoint(rolling); });
  auto cps = read().archive().checkpoints();
  ASSERT_TRUE(cps.ok());
  ASSERT_EQ(cps->size(), 1u);
  EXPECT_EQ((*cps)[0].seq, 3);
}

TEST_F(RecordsStoreTest, LegalHoldsArePlacedListedAndLifted) {
  int64_t by_user = 0, by_range = 0;
  write([&](Txn& t) -> Status {
    LegalHold h;
    h.case_ref = "FOI-1";
    h.user_id = kAlice;
    h.placed_by = "@admin:example.org";
    h.placed_ts = 500;
    DS_ASSIGN(by_user, t.legal_holds().place(h));
    LegalHold r;
    r.case_ref = "FOI-2";
    r.room_id = kRoomA;
    r.from_ts = 100;
    r.to_ts = 200;
    r.placed_by = "@admin:example.org";
    r.placed_ts = 600;
    DS_ASSIGN(by_range, t.legal_holds().place(r));
    return ok_status();
  });
  EXPECT_EQ(by_range, by_user + 1);

  auto held = read().legal_holds().active(by_range);
  ASSERT_TRUE(held.ok() && *held);
  EXPECT_EQ((*held)->case_ref, "FOI-2");
  EXPECT_FALSE((*held)->user_id);
  EXPECT_EQ((*held)->room_id, std::optional<std::string>(kRoomA));
  EXPECT_EQ((*held)->from_ts, std::optional<int64_t>(100));
  EXPECT_EQ((*held)->to_ts, std::optional<int64_t>(200));
  EXPECT_EQ((*held)->placed_by, "@admin:example.org");
  EXPECT_EQ((*held)->placed_ts, 600);
  EXPECT_FALSE((*held)->lifted_ts);

  write([&](Txn& t) -> Status { return t.legal_holds().lift(by_user, "@officer:example.org", 700); });
  auto lifted = read().legal_holds().active(by_user);
  ASSERT_TRUE(lifted.ok());
  EXPECT_FALSE(*lifted) << "a lifted hold is no longer active";

  auto active = read().legal_holds().list(false);
  ASSERT_TRUE(active.ok());
  ASSERT_EQ(active->size(), 1u);
  EXPECT_EQ((*active)[0].id, by_range);
  auto all = read().legal_holds().list(true);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].id, by_user);
  EXPECT_EQ((*all)[0].user_id, std::optional<std::string>(kAlice));
  EXPECT_FALSE((*all)[0].room_id);
  EXPECT_FALSE((*all)[0].from_ts);
  EXPECT_EQ((*all)[0].lifted_by, std::optional<std::string>("@officer:example.org"));
  EXPECT_EQ((*all)[0].lifted_ts, std::optional<int64_t>(700));
}

TEST_F(RecordsStoreTest, AuditEntriesAppendAndReadNewestFirstOrInOrder) {
  auto empty = read().audit().last();
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(*empty);
  write([&](Txn& t) -> Status {
    for (int64_t seq = 1; seq <= 5; ++seq) {
      AuditRecord e;
      e.seq = seq;
      e.ts = 100 * seq;
      e.actor = "@admin:example.org";
      e.action = seq % 2 ? "records.retention" : "records.export";
      e.case_ref = "CASE-" + std::to_string(seq);
      e.details = "{\"n\":" + std::to_string(seq) + "}";
      e.prev_hash = "p" + std::to_string(seq);
      e.hash = "h" + std::to_string(seq);
      DS_TRY(t.audit().append(e));
    }
    return ok_status();
  });
  auto last = read().audit().last();
  ASSERT_TRUE(last.ok() && *last);
  EXPECT_EQ((*last)->seq, 5);
  EXPECT_EQ((*last)->ts, 500);
  EXPECT_EQ((*last)->actor, "@admin:example.org");
  EXPECT_EQ((*last)->action, "records.retention");
  EXPECT_EQ((*last)->case_ref, "CASE-5");
  EXPECT_EQ((*last)->details, "{\"n\":5}");
  EXPECT_EQ((*last)->prev_hash, "p5");
  EXPECT_EQ((*last)->hash, "h5");

  auto newest = read().audit().newest(2, 0);
  ASSERT_TRUE(newest.ok() && newest->size() == 2);
  EXPECT_EQ((*newest)[0].seq, 5);
  EXPECT_EQ((*newest)[1].seq, 4);
  auto before = read().audit().newest(10, 3);
  ASSERT_TRUE(before.ok() && before->size() == 2);
  EXPECT_EQ((*before)[0].seq, 2);
  EXPECT_EQ((*before)[1].seq, 1);

  auto after = read().audit().entries_after(2, 2);
  ASSERT_TRUE(after.ok() && after->size() == 2);
  EXPECT_EQ((*after)[0].seq, 3);
  EXPECT_EQ((*after)[1].seq, 4);

  auto runs = read().audit().with_action("records.retention");
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(runs->size(), 3u);
  EXPECT_EQ((*runs)[0].seq, 1);
  EXPECT_EQ((*runs)[1].seq, 3);
  EXPECT_EQ((*runs)[2].seq, 5);
}

TEST_F(RecordsStoreTest, KeeperAccountIsCreatedAndRepickled) {
  auto none = read().keeper().account("@records:example.org");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(*none);
  write([&](Txn& t) -> Status {
    return t.keeper().create_account({"@records:example.org", "RECORDSKEEPER", "pickle-1", "seeds", 1234});
  });
  write([&](Txn& t) -> Status { return t.keeper().set_account_pickle("@records:example.org", "pickle-2"); });
  auto account = read().keeper().account("@records:example.org");
  ASSERT_TRUE(account.ok() && *account);
  EXPECT_EQ((*account)->user_id, "@records:example.org");
  EXPECT_EQ((*account)->device_id, "RECORDSKEEPER");
  EXPECT_EQ((*account)->pickle, "pickle-2");
  EXPECT_EQ((*account)->cross_signing, "seeds");
  EXPECT_EQ((*account)->created_ts, 1234);
}

TEST_F(RecordsStoreTest, KeeperOlmSessionsAreReplacedPerSenderInRankOrder) {
  write([&](Txn& t) -> Status {
    DS_TRY(t.keeper().replace_olm_sessions("curveA", {{"s1", "p1"}, {"s2", "p2"}, {"s1", "dup"}}));
    return t.keeper().replace_olm_sessions("curveB", {{"s9", "p9"}});
  });
  auto a = read().keeper().olm_sessions("curveA");
  ASSERT_TRUE(a.ok());
  ASSERT_EQ(a->size(), 2u) << "a repeated session keeps its first place";
  EXPECT_EQ((*a)[0].session_id, "s1");
  EXPECT_EQ((*a)[0].pickle, "p1");
  EXPECT_EQ((*a)[1].session_id, "s2");

  write([&](Txn& t) -> Status { return t.keeper().replace_olm_sessions("curveA", {{"s3", "p3"}, {"s2", "p2b"}}); });
  a = read().keeper().olm_sessions("curveA");
  ASSERT_TRUE(a.ok());
  ASSERT_EQ(a->size(), 2u);
  EXPECT_EQ((*a)[0].session_id, "s3");
  EXPECT_EQ((*a)[1].session_id, "s2");
  EXPECT_EQ((*a)[1].pickle, "p2b");
  auto b = read().keeper().olm_sessions("curveB");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->size(), 1u) << "other senders' sessions stay";
  auto none = read().keeper().olm_sessions("curveC");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_F(RecordsStoreTest, KeeperMegolmSessionsAreFoundWithOrWithoutSenderKey) {
  write([&](Txn& t) -> Status {
    return t.keeper().put_megolm_session(
        {kRoomA, "sess", "curveA", kAlice, 5, "m.forwarded_room_key", "pickle-1", 100});
  });
  auto any = read().keeper().megolm_session(kRoomA, "sess", "");
  ASSERT_TRUE(any.ok() && *any);
  EXPECT_EQ((*any)->room_id, kRoomA);
  EXPECT_EQ((*any)->session_id, "sess");
  EXPECT_EQ((*any)->sender_key, "curveA");
  EXPECT_EQ((*any)->sender_user, kAlice);
  EXPECT_EQ((*any)->first_index, 5);
  EXPECT_EQ((*any)->source, "m.forwarded_room_key");
  EXPECT_EQ((*any)->pickle, "pickle-1");
  EXPECT_EQ((*any)->received_ts, 100);
  auto other_key = read().keeper().megolm_session(kRoomA, "sess", "curveZ");
  ASSERT_TRUE(other_key.ok());
  EXPECT_FALSE(*other_key);
  auto other_room = read().keeper().megolm_session(kRoomB, "sess", "");
  ASSERT_TRUE(other_room.ok());
  EXPECT_FALSE(*other_room);

  // A better copy of the same session replaces it.
  write([&](Txn& t) -> Status {
    return t.keeper().put_megolm_session({kRoomA, "sess", "curveA", kAlice, 0, "m.room_key", "pickle-2", 200});
  });
  auto exact = read().keeper().megolm_session(kRoomA, "sess", "curveA");
  ASSERT_TRUE(exact.ok() && *exact);
  EXPECT_EQ((*exact)->first_index, 0);
  EXPECT_EQ((*exact)->source, "m.room_key");
  EXPECT_EQ((*exact)->pickle, "pickle-2");
  EXPECT_EQ((*exact)->received_ts, 200);
}

TEST_F(RecordsStoreTest, KeeperPendingEventsAreAddedRetriedAndDropped) {
  auto pending = [](const std::string& id, const std::string& session, const std::string& sender, int64_t pos) {
    KeeperPending p{id, kRoomA, session, "curveA", sender, pos, pos * 100, "no room key"};
    p.first_seen_ts = 7;
    return p;
  };
  write([&](Txn& t) -> Status {
    DS_TRY(t.keeper().add_pending(pending("$3", "s1", kAlice, 3)));
    DS_TRY(t.keeper().add_pending(pending("$1", "s1", kAlice, 1)));
    DS_TRY(t.keeper().add_pending(pending("$2", "s1", kBob, 2)));
    DS_TRY(t.keeper().add_pending(pending("$4", "s2", kAlice, 4)));
    KeeperPending again = pending("$1", "s9", kBob, 99);
    again.reason = "changed";
    return t.keeper().add_pending(again);  // already pending: nothing changes
  });
  auto count = read().keeper().pending_count();
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 4);

  auto s1 = read().keeper().pending_for_session(kRoomA, "s1");
  ASSERT_TRUE(s1.ok());
  ASSERT_EQ(s1->size(), 3u);
  EXPECT_EQ((*s1)[0].event_id, "$1");
  EXPECT_EQ((*s1)[1].event_id, "$2");
  EXPECT_EQ((*s1)[2].event_id, "$3");
  const KeeperPending& first = (*s1)[0];
  EXPECT_EQ(first.room_id, kRoomA);
  EXPECT_EQ(first.session_id, "s1");
  EXPECT_EQ(first.sender_key, "curveA");
  EXPECT_EQ(first.sender, kAlice);
  EXPECT_EQ(first.stream_pos, 1);
  EXPECT_EQ(first.ts, 100);
  EXPECT_EQ(first.reason, "no room key");
  EXPECT_EQ(first.attempts, 1);
  EXPECT_EQ(first.first_seen_ts, 7);

  write([&](Txn& t) -> Status {
    DS_TRY(t.keeper().note_failed_attempt("$1", "still no key"));
    DS_TRY(t.keeper().set_pending_reason(kRoomA, "s1", kBob, "withheld by bob"));
    return t.keeper().drop_pending("$3");
  });
  s1 = read().keeper().pending_for_session(kRoomA, "s1");
  ASSERT_TRUE(s1.ok());
  ASSERT_EQ(s1->size(), 2u);
  EXPECT_EQ((*s1)[0].reason, "still no key");
  EXPECT_EQ((*s1)[0].attempts, 2);
  EXPECT_EQ((*s1)[1].reason, "withheld by bob") << "only the sender's events";
  EXPECT_EQ((*s1)[1].attempts, 1);

  auto newest = read().keeper().newest_pending(2);
  ASSERT_TRUE(newest.ok());
  ASSERT_EQ(newest->size(), 2u);
  EXPECT_EQ((*newest)[0].event_id, "$4");
  EXPECT_EQ((*newest)[1].event_id, "$2");
  count = read().keeper().pending_count();
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 3);
}

TEST_F(RecordsStoreTest, KeeperWithheldNoticesAreReplacedAndFound) {
  auto none = read().keeper().withheld(kRoomA, "s1");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(*none);
  write([&](Txn& t) -> Status {
    DS_TRY(t.keeper().put_withheld({kRoomA, "s1", "curveA", kAlice, "m.unverified", "", 10}));
    return t.keeper().put_withheld({kRoomA, "s1", "curveA", kAlice, "m.blacklisted", "not you", 20});
  });
  auto w = read().keeper().withheld(kRoomA, "s1");
  ASSERT_TRUE(w.ok() && *w);
  EXPECT_EQ((*w)->room_id, kRoomA);
  EXPECT_EQ((*w)->session_id, "s1");
  EXPECT_EQ((*w)->sender_key, "curveA");
  EXPECT_EQ((*w)->sender, kAlice);
  EXPECT_EQ((*w)->code, "m.blacklisted");
  EXPECT_EQ((*w)->reason, "not you");
  EXPECT_EQ((*w)->ts, 20);
  auto other = read().keeper().withheld(kRoomA, "s2");
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(*other);
}

TEST_F(RecordsStoreTest, AFailedJobLeavesNoRecordsBehind) {
  auto r = db_->transact_blocking<Ok>([&](Txn& t) -> Status {
    DS_TRY(t.archive().append(record(1, kAlice, kRoomA, 1000)));
    DS_TRY(t.audit().append({1, 1, "a", "b", "", "{}", "p", "h"}));
    return Error::forbidden("refused after writing");
  });
  EXPECT_FALSE(r.ok());
  auto head = read().archive().head();
  ASSERT_TRUE(head.ok());
  EXPECT_FALSE(*head);
  auto last = read().audit().last();
  ASSERT_TRUE(last.ok());
  EXPECT_FALSE(*last);
}

// The hash formats that `records verify` and `audit verify` check old archives against;
// the expected values were computed outside Despatch (SHA-256 over canonical JSON).
TEST(RecordsHashFormat, ArchiveAndAuditHashesAreUnchanged) {
  ArchiveRow a;
  a.seq = 7;
  a.stream_pos = 42;
  a.event_id = "$ev:example.org";
  a.room_id = "!room:example.org";
  a.sender = "@alice:example.org";
  a.type = "m.room.message";
  a.ts = 1700000000000;
  a.classification = "OFFICIAL";
  a.kind = "event";
  a.key_id = 3;
  a.sealed = "c2VhbGVk";
  std::string content = archive_content_hash(a);
  EXPECT_EQ(content, "4797311113356b01a5653b9c82eb4853f79bf0f47abee317f21f7aa1c0e2ba41");
  std::string prev;
  for (int i = 0; i < 32; ++i) prev += "ab";
  EXPECT_EQ(archive_chain_hash(prev, content), "f9da00fd7aaf8f6ad3ded454059052f6f3cfa8594f45a0eea1bfb1b75ac617a3");

  AuditEntry e;
  e.seq = 1;
  e.ts = 1700000000000;
  e.actor = "@admin:example.org";
  e.action = "legal_hold.place";
  e.case_ref = "FOI-1";
  e.details = "{\"hold_id\":1}";
  EXPECT_EQ(audit_hash(kGenesisHash, e), "3adf3f3922a76b4b73a40a486b914af83411e6f35bb469e2cd918de8f9a4c48a");
}

}  // namespace
}  // namespace despatch::storage
