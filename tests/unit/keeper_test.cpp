// The records keeper against a client driven through libolm: room keys over Olm, Megolm
// events decrypted into the archive, undecryptable events retried when keys arrive, forged or
// misaddressed messages dropped, one-time keys topped up, and all of it across a restart.
#include "service/records/keeper.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "core/base64.h"
#include "core/canonical_json.h"
#include "core/crypto.h"
#include "olm_test_client.h"
#include "service/records/verify.h"
#include "storage/archive_store.h"
#include "storage/device_key_store.h"

namespace despatch {
namespace {

using namespace olm_test;  // NOLINT(google-build-using-namespace): the client side
using storage::Conn;

constexpr const char* kRoom = "!room:example.org";
constexpr const char* kAlice = "@alice:example.org";
constexpr const char* kKeeper = "@records:example.org";

class KeeperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("despatch_keeper_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    config_.data_dir = dir_.string();
    config_.server_name = "example.org";
    open();
    write([&](Conn& c) -> Status {
      for (const char* user : {kKeeper, kAlice})
        DS_TRY(c.exec("INSERT INTO memberships(room_id, user_id, membership, event_id, stream_pos) "
                      "VALUES(?,?,'join','$m',1)",
                      {std::string(kRoom), std::string(user)}));
      json::object dk{{"user_id", kAlice},
                      {"device_id", "ALICEDEV"},
                      {"keys", json::object{{"curve25519:ALICEDEV", alice_.curve25519()},
                                            {"ed25519:ALICEDEV", alice_.ed25519()}}}};
      // Through the store, which also files the identity key under which forwarded keys are found.
      return db_->txn_over(c)->device_keys().put_device_keys(kAlice, "ALICEDEV", dk);
    });
  }
  void TearDown() override {
    close();
    std::filesystem::remove_all(dir_);
  }

  void open() {
    auto db = storage::Database::open_sqlite(dir_.string());
    ASSERT_TRUE(db.ok()) << db.error().message;
    db_ = std::move(db).value();
    archive_ = std::make_unique<Archive>(*db_, server_key_, records_.public_key, 0);
    auto k = RecordsKeeper::open(config_, *db_, *archive_);
    ASSERT_TRUE(k.ok()) << k.error().message;
    keeper_ = std::move(k).value();
    auto row = storage::query_one(db_->reader(), "SELECT json FROM device_keys WHERE user_id=?", {std::string(kKeeper)});
    ASSERT_TRUE(row.ok() && *row);
    json::object keys = json::parse((*row)->str(0)).as_object().at("keys").as_object();
    keeper_curve_ = std::string(keys.at("curve25519:RECORDSKEEPER").as_string());
    keeper_ed_ = std::string(keys.at("ed25519:RECORDSKEEPER").as_string());
  }
  void close() {
    keeper_.reset();
    archive_.reset();
    db_.reset();
  }

  void write(std::function<Status(Conn&)> fn) {
    auto r = db_->write_blocking<Ok>(fn);
    ASSERT_TRUE(r.ok()) << r.error().message;
  }

  // Takes one of the keeper's published one-time keys, as /keys/claim would.
  std::string claim() {
    std::string key;
    write([&](Conn& c) -> Status {
      DS_ASSIGN(auto row, storage::query_one(c, "SELECT key_id, json FROM one_time_keys WHERE user_id=? LIMIT 1",
                                             {std::string(kKeeper)}));
      if (!row) return Error::not_found("no one-time keys");
      key = std::string(json::parse(row->str(1)).as_object().at("key").as_string());
      DS_TRY(c.exec("DELETE FROM one_time_keys WHERE user_id=? AND key_id=?", {std::string(kKeeper), row->str(0)}));
      return keeper_->keys_claimed(c);
    });
    return key;
  }

  // An Olm to-device message from alice to the keeper carrying type/content.
  json::object olm_message(ClientSession& s, const std::string& type, json::object content,
                           const std::string& sender = kAlice, const std::string& recipient = kKeeper) {
    json::object payload{{"type", type},
                         {"content", std::move(content)},
                         {"sender", sender},
                         {"recipient", recipient},
                         {"recipient_keys", json::object{{"ed25519", keeper_ed_}}},
                         {"keys", json::object{{"ed25519", alice_.ed25519()}}}};
    auto [msg_type, body] = s.encrypt(json::serialize(payload));
    return json::object{
        {"algorithm", kOlmAlgorithm},
        {"sender_key", alice_.curve25519()},
        {"ciphertext", json::object{{keeper_curve_, json::object{{"type", msg_type}, {"body", body}}}}}};
  }

  json::object room_key(ClientGroupSession& g) {
    return json::object{{"algorithm", kMegolmAlgorithm}, {"room_id", kRoom}, {"session_id", g.id()},
                        {"session_key", g.key()}};
  }

  void deliver(const json::object& content, const std::string& sender = kAlice) {
    write([&](Conn& c) -> Status { return keeper_->receive_to_device(c, sender, "m.room.encrypted", content); });
  }

  // A Megolm event from alice, stored in the events table (as RoomWriter would) and handed to
  // the keeper.
  void send(ClientGroupSession& g, const std::string& event_id, const std::string& body,
            json::object relates_to = {}) {
    json::object inner{{"type", "m.room.message"},
                       {"content", json::object{{"msgtype", "m.text"}, {"body", body}}},
                       {"room_id", kRoom}};
    json::object content{{"algorithm", kMegolmAlgorithm},
                         {"sender_key", alice_.curve25519()},
                         {"session_id", g.id()},
                         {"device_id", "ALICEDEV"},
                         {"ciphertext", g.encrypt(json::serialize(inner))}};
    if (!relates_to.empty()) content["m.relates_to"] = relates_to;
    json::object ev{{"type", "m.room.encrypted"}, {"room_id", kRoom},         {"sender", kAlice},
                    {"origin_server_ts", 1000},   {"content", std::move(content)}};
    write([&](Conn& c) -> Status {
      int64_t pos = db_->next_stream_pos();
      DS_TRY(c.exec("INSERT INTO events(stream_pos, event_id, room_id, type, sender, origin_server_ts, json) "
                    "VALUES(?,?,?,?,?,?,?)",
                    {pos, event_id, std::string(kRoom), std::string("m.room.encrypted"), std::string(kAlice),
                     int64_t{1000}, json::serialize(ev)}));
      json::object with_id = ev;
      with_id["event_id"] = event_id;
      return keeper_->on_encrypted_event(*db_->txn_over(c), with_id, pos);
    });
  }

  // The decrypted record of an event from the archive, opened with the office's key.
  std::optional<json::object> plaintext(const std::string& event_id) {
    return record(event_id, "plaintext");
  }
  std::optional<json::object> record(const std::string& event_id, const std::string& kind) {
    storage::ArchiveStore& archive = db_->read().archive();
    auto rows = archive.records_after(0, 1'000'000);
    EXPECT_TRUE(rows.ok());
    if (!rows.ok()) return std::nullopt;
    auto it = std::find_if(rows->begin(), rows->end(),
                           [&](const ArchiveRow& a) { return a.event_id == event_id && a.kind == kind; });
    if (it == rows->end()) return std::nullopt;
    ArchiveOpener opener(archive, records_);
    auto text = opener.open(*it);
    EXPECT_TRUE(text.ok());
    return json::parse(*text).as_object();
  }

  int64_t count(const std::string& sql) {
    auto row = storage::query_one(db_->reader(), sql);
    EXPECT_TRUE(row.ok() && *row);
    return (*row)->i64(0);
  }

  std::filesystem::path dir_;
  Config config_;
  SigningKey server_key_ = SigningKey::generate("test");
  RecordsKeyPair records_ = RecordsKeyPair::generate();
  std::unique_ptr<storage::Database> db_;
  std::unique_ptr<Archive> archive_;
  std::unique_ptr<RecordsKeeper> keeper_;
  std::string keeper_curve_, keeper_ed_;
  ClientAccount alice_;
};

TEST_F(KeeperTest, CreatesAnAccountWithKeysAndCrossSigningOnce) {
  EXPECT_EQ(keeper_->user_id(), kKeeper);
  EXPECT_EQ(count("SELECT COUNT(*) FROM users WHERE user_id='@records:example.org' AND password_hash=''"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM one_time_keys WHERE user_id='@records:example.org'"),
            static_cast<int64_t>(kKeeperOneTimeKeys));
  EXPECT_EQ(count("SELECT COUNT(*) FROM fallback_keys WHERE user_id='@records:example.org' AND used=0"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM cross_signing_keys WHERE user_id='@records:example.org'"), 2);
  EXPECT_EQ(count("SELECT COUNT(*) FROM audit_log WHERE action='records.keeper_created'"), 1);
  // The self-signing key's signature on the device verifies.
  auto ssk = storage::query_one(db_->reader(), "SELECT json FROM cross_signing_keys WHERE usage='self_signing'");
  auto dk = storage::query_one(db_->reader(), "SELECT json FROM device_keys WHERE user_id=?", {std::string(kKeeper)});
  auto sig = storage::query_one(db_->reader(), "SELECT signer_key_id, signature FROM key_signatures WHERE target_key='RECORDSKEEPER'");
  ASSERT_TRUE(ssk.ok() && *ssk && dk.ok() && *dk && sig.ok() && *sig);
  json::object device = json::parse((*dk)->str(0)).as_object();
  device["signatures"].as_object()[kKeeper].as_object()[(*sig)->str(0)] = (*sig)->str(1);
  std::string pub = (*sig)->str(0).substr(8);
  EXPECT_TRUE(verify_json(device, kKeeper, (*sig)->str(0), *base64_decode(pub)).ok());
  EXPECT_NE((*ssk)->str(0).find(pub), std::string::npos);
  // The at-rest key is private to the server's user.
  auto perms = std::filesystem::status(dir_ / "keeper.key").permissions();
  EXPECT_EQ(perms & (std::filesystem::perms::group_all | std::filesystem::perms::others_all),
            std::filesystem::perms::none);

  // A restart loads the same device rather than making another.
  std::string ed = keeper_ed_;
  close();
  open();
  EXPECT_EQ(keeper_ed_, ed);
  EXPECT_EQ(count("SELECT COUNT(*) FROM audit_log WHERE action='records.keeper_created'"), 1);
}

TEST_F(KeeperTest, DecryptsRoomEventsIntoTheArchiveAcrossARestart) {
  ClientSession olm;
  olm.start_outbound(alice_, keeper_curve_, claim());
  ClientGroupSession group;
  deliver(olm_message(olm, "m.room_key", room_key(group)));
  EXPECT_EQ(count("SELECT COUNT(*) FROM keeper_megolm_sessions"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM archive WHERE kind='room_key'"), 1);

  send(group, "$one", "first message");
  auto rec = plaintext("$one");
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->at("content").at("body"), "first message");
  EXPECT_EQ(rec->at("type"), "m.room.message");
  EXPECT_EQ(rec->at("sender"), kAlice);
  EXPECT_EQ(rec->at("decryption").at("message_index"), 0);
  EXPECT_EQ(rec->at("decryption").at("sender_verified"), true);

  // Sessions (Olm and Megolm) and the account come back from the database.
  close();
  open();
  send(group, "$two", "after a restart", json::object{{"rel_type", "m.replace"}, {"event_id", "$one"}});
  rec = plaintext("$two");
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->at("content").at("body"), "after a restart");
  EXPECT_EQ(rec->at("content").at("m.relates_to").at("event_id"), "$one");  // from the clear part
  // The one-time key is spent, so this pre-key message only decrypts on the stored session.
  ClientGroupSession second;
  deliver(olm_message(olm, "m.room_key", room_key(second)));
  send(second, "$three", "on a second session");
  ASSERT_TRUE(plaintext("$three"));
  EXPECT_EQ(count("SELECT COUNT(*) FROM keeper_pending"), 0);
  // Room keys and plaintext records chain like any other record.
  auto report = verify_archive(db_->read(), server_key_.public_key());
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok) << report->problem;
  EXPECT_EQ(report->records, count("SELECT COUNT(*) FROM archive"));
  // No key material is stored in the clear.
  for (const char* sql : {"SELECT pickle FROM keeper_account", "SELECT cross_signing FROM keeper_account",
                          "SELECT pickle FROM keeper_megolm_sessions LIMIT 1",
                          "SELECT pickle FROM keeper_olm_sessions LIMIT 1"}) {
    auto row = storage::query_one(db_->reader(), sql);
    ASSERT_TRUE(row.ok() && *row) << sql;
    EXPECT_EQ((*row)->str(0).find('{'), std::string::npos) << sql;
  }
}

TEST_F(KeeperTest, UndecryptableEventsAreFlaggedAndRetriedWhenKeysArrive) {
  ClientGroupSession group;
  std::string key_at_0 = group.key();
  send(group, "$early", "before the key");
  EXPECT_FALSE(plaintext("$early"));
  auto flag = record("$early", "undecryptable");
  ASSERT_TRUE(flag);
  EXPECT_NE(std::string(flag->at("reason").as_string()).find("no room key"), std::string::npos);
  EXPECT_EQ(count("SELECT COUNT(*) FROM keeper_pending"), 1);
  auto listed = keeper_->undecryptable(10);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->at("count"), 1);
  EXPECT_EQ(listed->at("events").as_array()[0].at("event_id"), "$early");

  // A withheld notice explains why.
  write([&](Conn& c) -> Status {
    return keeper_->receive_to_device(c, kAlice, "m.room_key.withheld",
                                      json::object{{"room_id", kRoom}, {"session_id", group.id()},
                                                   {"sender_key", alice_.curve25519()}, {"code", "m.unverified"}});
  });
  listed = keeper_->undecryptable(10);
  EXPECT_NE(std::string(listed->at("events").as_array()[0].at("reason").as_string()).find("m.unverified"),
            std::string::npos);

  ClientSession olm;
  olm.start_outbound(alice_, keeper_curve_, claim());
  deliver(olm_message(olm, "m.room_key", room_key(group)));  // from index 1: still too late
  EXPECT_FALSE(plaintext("$early"));
  EXPECT_EQ(count("SELECT COUNT(*) FROM keeper_pending"), 1);

  // The whole session, forwarded (exported from index 0), decrypts it.
  auto full = MegolmInbound::from_room_key(key_at_0);
  ASSERT_TRUE(full.ok());
  json::object fwd{{"algorithm", kMegolmAlgorithm},
                   {"room_id", kRoom},
                   {"sender_key", alice_.curve25519()},
                   {"session_id", group.id()},
                   {"session_key", *full->export_at(0)},
                   {"sender_claimed_ed25519_key", alice_.ed25519()},
                   {"forwarding_curve25519_key_chain", json::array{}}};
  deliver(olm_message(olm, "m.forwarded_room_key", fwd));
  auto rec = plaintext("$early");
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->at("content").at("body"), "before the key");
  EXPECT_EQ(rec->at("decryption").at("key_source"), "m.forwarded_room_key");
  EXPECT_EQ(count("SELECT COUNT(*) FROM keeper_pending"), 0);
}

TEST_F(KeeperTest, AWedgedOlmSessionIsRenewedWithAnMDummy) {
  // Alice publishes a signed one-time key, as her client does.
  std::string otk = alice_.one_time_key();
  json::object signed_key{{"key", otk}};
  std::string sig = alice_.sign(canonical_json(signed_key));
  signed_key["signatures"] = json::object{{kAlice, json::object{{"ed25519:ALICEDEV", sig}}}};
  write([&](Conn& c) -> Status {
    return c.exec("INSERT INTO one_time_keys(user_id, device_id, algorithm, key_id, json) "
                  "VALUES(?, 'ALICEDEV', 'signed_curve25519', 'AAAAAQ', ?)",
                  {std::string(kAlice), json::serialize(signed_key)});
  });
  ClientSession olm;
  olm.start_outbound(alice_, keeper_curve_, claim());
  ClientGroupSession first;
  deliver(olm_message(olm, "m.room_key", room_key(first)));
  EXPECT_EQ(count("SELECT COUNT(*) FROM keeper_megolm_sessions"), 1);

  // The keeper loses its side of the session (a restored backup, say); Alice's next message
  // on it (still a pre-key message for the one-time key used up) cannot be read.
  write([&](Conn& c) -> Status { return c.exec("DELETE FROM keeper_olm_sessions"); });
  keeper_->invalidate();
  ClientGroupSession second;
  deliver(olm_message(olm, "m.room_key", room_key(second)));
  EXPECT_EQ(count("SELECT COUNT(*) FROM keeper_megolm_sessions"), 1);

  // So the keeper claims Alice's one-time key and sends an m.dummy over a new session.
  EXPECT_EQ(count("SELECT COUNT(*) FROM one_time_keys WHERE device_id='ALICEDEV'"), 0);
  auto row = storage::query_one(db_->reader(), "SELECT sender, type, content FROM to_device WHERE user_id=? AND "
                                               "device_id='ALICEDEV'",
                                {std::string(kAlice)});
  ASSERT_TRUE(row.ok() && *row);
  EXPECT_EQ((*row)->str(0), kKeeper);
  EXPECT_EQ((*row)->str(1), "m.room.encrypted");
  json::object content = json::parse((*row)->str(2)).as_object();
  EXPECT_EQ(content.at("sender_key").as_string(), keeper_curve_);
  const json::object& entry = content.at("ciphertext").at(alice_.curve25519()).as_object();
  ASSERT_EQ(entry.at("type"), kOlmPreKeyMessage);
  std::string body(entry.at("body").as_string());
  ClientSession fresh;
  fresh.start_inbound(alice_, keeper_curve_, body);
  json::object payload = json::parse(fresh.decrypt(kOlmPreKeyMessage, body)).as_object();
  EXPECT_EQ(payload.at("type"), "m.dummy");
  EXPECT_EQ(payload.at("sender"), kKeeper);
  EXPECT_EQ(payload.at("recipient"), kAlice);
  EXPECT_EQ(payload.at("recipient_keys").at("ed25519").as_string(), alice_.ed25519());
  EXPECT_EQ(payload.at("keys").at("ed25519").as_string(), keeper_ed_);

  // Alice answers on the new session and the keeper reads her again.
  deliver(olm_message(fresh, "m.room_key", room_key(second)));
  send(second, "$renewed", "after the renewal");
  auto rec = plaintext("$renewed");
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->at("content").at("body"), "after the renewal");

  // Another failure within the hour starts no second session.
  deliver(olm_message(olm, "m.room_key", room_key(second)));
  EXPECT_EQ(count("SELECT COUNT(*) FROM to_device"), 1);
  EXPECT_EQ(keeper_->metrics().at("keeper_olm_sessions_renewed_total"), 1);
}

TEST_F(KeeperTest, DropsMessagesThatDoNotCheckOut) {
  ClientSession olm;
  olm.start_outbound(alice_, keeper_curve_, claim());
  ClientGroupSession group;
  // Another sender claimed inside the payload, another recipient, or a relay by someone else.
  deliver(olm_message(olm, "m.room_key", room_key(group), "@mallory:example.org"));
  deliver(olm_message(olm, "m.room_key", room_key(group), kAlice, "@bob:example.org"));
  deliver(olm_message(olm, "m.room_key", room_key(group)), "@mallory:example.org");
  // A room the keeper is not in.
  json::object other = room_key(group);
  other["room_id"] = "!elsewhere:example.org";
  deliver(olm_message(olm, "m.room_key", other));
  // Garbage.
  deliver(json::object{{"algorithm", kOlmAlgorithm}, {"sender_key", "nonsense"}, {"ciphertext", "x"}});
  EXPECT_EQ(count("SELECT COUNT(*) FROM keeper_megolm_sessions"), 0);
  EXPECT_EQ(keeper_->metrics().at("keeper_rejected_to_device_total"), 5);
  // The genuine message still gets through.
  deliver(olm_message(olm, "m.room_key", room_key(group)));
  EXPECT_EQ(count("SELECT COUNT(*) FROM keeper_megolm_sessions"), 1);
}

TEST_F(KeeperTest, OneTimeKeysAreToppedUpAfterClaims) {
  for (size_t i = 0; i < kKeeperOneTimeKeys - kKeeperOneTimeKeysLow; ++i) claim();
  EXPECT_EQ(count("SELECT COUNT(*) FROM one_time_keys WHERE user_id='@records:example.org'"),
            static_cast<int64_t>(kKeeperOneTimeKeysLow));
  claim();  // below the low mark: back to the full set
  EXPECT_EQ(count("SELECT COUNT(*) FROM one_time_keys WHERE user_id='@records:example.org'"),
            static_cast<int64_t>(kKeeperOneTimeKeys));
  // A used fallback key is replaced.
  write([&](Conn& c) -> Status {
    DS_TRY(c.exec("UPDATE fallback_keys SET used=1 WHERE user_id=?", {std::string(kKeeper)}));
    return keeper_->keys_claimed(c);
  });
  EXPECT_EQ(count("SELECT COUNT(*) FROM fallback_keys WHERE user_id='@records:example.org' AND used=0"), 1);
}

}  // namespace
}  // namespace despatch
