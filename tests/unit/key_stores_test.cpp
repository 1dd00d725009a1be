// The stores of the keys domain against a real SQLite database: device, one-time and
// fallback keys, cross-signing keys and signatures, device list changes, to-device
// messages and key backups, with the reads of devices and memberships the keys code makes.
#include "storage/cross_signing_store.h"
#include "storage/database.h"
#include "storage/device_key_store.h"
#include "storage/device_list_store.h"
#include "storage/device_store.h"
#include "storage/event_store.h"
#include "storage/key_backup_store.h"
#include "storage/membership_store.h"
#include "storage/to_device_store.h"

#include <gtest/gtest.h>

#include "store_fixture.h"

#include <filesystem>

namespace despatch::storage {
namespace {

class KeyStoresTest : public test::StoreTest {
 protected:
  static json::object device_keys(const std::string& device, const std::string& curve) {
    return json::object{{"user_id", "@a:x"},
                        {"device_id", device},
                        {"algorithms", json::array{"m.olm.v1.curve25519-aes-sha2"}},
                        {"keys", json::object{{"curve25519:" + device, curve}, {"ed25519:" + device, "ed-" + device}}}};
  }
};

TEST_F(KeyStoresTest, DeviceKeysAreFoundByDeviceAndByIdentityKey) {
  write([](Txn& t) -> Status {
    DS_TRY(t.device_keys().put_device_keys("@a:x", "B", device_keys("B", "curveB")));
    DS_TRY(t.device_keys().put_device_keys("@a:x", "A", device_keys("A", "old")));
    return t.device_keys().put_device_keys("@a:x", "A", device_keys("A", "curveA"));  // replaces
  });
  auto& s = db_->read().device_keys();
  auto a = s.device_keys("@a:x", "A");
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_EQ(**a, device_keys("A", "curveA"));
  EXPECT_FALSE(s.device_keys("@a:x", "C")->has_value());
  auto all = s.device_keys_of({"@a:x", "@b:x"});
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].device_id, "A");
  EXPECT_EQ((*all)[1].device_id, "B");
  EXPECT_TRUE(s.device_keys_of({"@b:x"})->empty());
  EXPECT_TRUE(s.device_keys_of({})->empty());
  auto by_curve = s.devices_with_identity_key("curveB");
  ASSERT_EQ(by_curve->size(), 1u);
  EXPECT_EQ((*by_curve)[0].user_id, "@a:x");
  EXPECT_EQ((*by_curve)[0].device_id, "B");
  EXPECT_TRUE(s.devices_with_identity_key("old")->empty()) << "the replaced key is gone";
  EXPECT_TRUE(s.devices_with_identity_key("ed-A")->empty()) << "only curve25519 identity keys count";
}

TEST_F(KeyStoresTest, SchemaStep8FindsTheIdentityKeysOfDevicesStoredBeforeIt) {
  // Take the database back to step 7 (no curve25519 column) with devices stored then, one
  // with a quote in its ID, and open it again. The steps after 8 are undone too, so that
  // they run again after it (step 9: the server key tables; step 10: the federation queue;
  // step 11: remote memberships; step 12: device list columns and the remote device lists;
  // step 13: reports; step 14: the announcement channels' tables; step 15: alerts and retired tokens;
  // step 16: the records checkpoints over three heads, chained data keys, format 2 records;
  // step 17: other departments' records heads; step 18: single sign-on's tables and the
  // access token expiry column; step 19: account moderation and the account changes log;
  // step 20: SCIM and registration tokens).
  json::object quoted = device_keys("Q\"1", "curveQ");
  auto r = db_->write_blocking<Ok>([&](Conn& c) -> Status {
    DS_TRY(c.exec_script("DROP INDEX device_keys_curve25519; ALTER TABLE device_keys DROP COLUMN curve25519; "
                         "DROP TABLE server_keys; DROP TABLE server_key_responses; DROP TABLE federation_queue; "
                         "DROP TABLE remote_memberships; "
                         "ALTER TABLE device_list_changes DROP COLUMN device_id; DROP TABLE remote_device_lists; "
                         "DROP TABLE remote_devices; DROP TABLE reports; "
                         "DROP TABLE announce_channels; DROP TABLE announce_followers; DROP TABLE announce_posts; "
                         "DROP TABLE announce_deliveries; DROP TABLE announce_keys; DROP TABLE alerts; DROP TABLE retired_tokens; "
                         "DROP TABLE records_checkpoints; ALTER TABLE archive_keys DROP COLUMN hash; "
                         "ALTER TABLE archive DROP COLUMN format; ALTER TABLE archive DROP COLUMN live_kind; "
                         "ALTER TABLE archive DROP COLUMN sealed_hash; ALTER TABLE events DROP COLUMN purged; "
                         "DROP TABLE peer_record_heads; "
                         "CREATE TABLE archive_checkpoints (seq INTEGER PRIMARY KEY, hash TEXT NOT NULL, "
                         "ts INTEGER NOT NULL, key_id TEXT NOT NULL, signature TEXT NOT NULL); "
                         "DROP TABLE oauth_clients; DROP TABLE oauth_codes; DROP TABLE refresh_tokens; "
                         "DROP TABLE login_tokens; DROP TABLE sso_identities; "
                         "ALTER TABLE access_tokens DROP COLUMN expires_ts; "
                         "ALTER TABLE users DROP COLUMN locked; ALTER TABLE users DROP COLUMN suspended; "
                         "DROP TABLE account_changes; DROP TABLE scim_tokens; DROP TABLE scim_users; DROP TABLE scim_groups; "
                         "DROP TABLE scim_group_members; DROP TABLE scim_group_rooms; DROP TABLE registration_tokens; "
                         "DELETE FROM schema_version WHERE version>=8;"));
    DS_TRY(c.exec("INSERT INTO device_keys(user_id, device_id, json) VALUES('@a:x', 'A', ?)",
                  {json::serialize(device_keys("A", "curveA"))}));
    DS_TRY(c.exec("INSERT INTO device_keys(user_id, device_id, json) VALUES('@a:x', 'Q\"1', ?)",
                  {json::serialize(quoted)}));
    return c.exec("INSERT INTO device_keys(user_id, device_id, json) VALUES('@a:x', 'N', '{\"keys\":{}}')");
  });
  ASSERT_TRUE(r.ok()) << r.error().message;
  db_.reset();
  auto db = Database::open_sqlite(dir_.string());
  ASSERT_TRUE(db.ok()) << db.error().message;
  db_ = std::move(db).value();
  auto& s = db_->read().device_keys();
  auto a = s.devices_with_identity_key("curveA");
  ASSERT_EQ(a->size(), 1u);
  EXPECT_EQ((*a)[0].device_id, "A");
  auto q = s.devices_with_identity_key("curveQ");
  ASSERT_EQ(q->size(), 1u);
  EXPECT_EQ((*q)[0].keys, quoted);
  EXPECT_EQ(s.device_keys_of({"@a:x"})->size(), 3u) << "a device without an identity key is kept";
}

TEST_F(KeyStoresTest, OneTimeKeysAreClaimedOnceInKeyIdOrder) {
  json::object k2{{"key", "k2"}}, k1{{"key", "k1"}};
  write([&](Txn& t) -> Status {
    DS_TRY(t.device_keys().add_one_time_key("@a:x", "A", {"signed_curve25519", "AAAAAQ", k2}));
    DS_TRY(t.device_keys().add_one_time_key("@a:x", "A", {"signed_curve25519", "AAAAAA", k1}));
    DS_TRY(t.device_keys().add_one_time_key("@a:x", "A", {"curve25519", "AAAAAB", json::string("plain")}));
    // The same ID again keeps the key stored first.
    return t.device_keys().add_one_time_key("@a:x", "A", {"signed_curve25519", "AAAAAA", json::object{{"key", "x"}}});
  });
  auto& s = db_->read().device_keys();
  EXPECT_EQ(**s.one_time_key("@a:x", "A", "signed_curve25519", "AAAAAA"), json::value(k1));
  EXPECT_FALSE(s.one_time_key("@a:x", "B", "signed_curve25519", "AAAAAA")->has_value());
  EXPECT_EQ(*s.one_time_key_counts("@a:x", "A"),
            (std::map<std::string, int64_t>{{"curve25519", 1}, {"signed_curve25519", 2}}));
  std::vector<std::optional<OneTimeKey>> claimed;
  write([&](Txn& t) -> Status {
    for (int i = 0; i < 3; ++i) {
      DS_ASSIGN(auto k, t.device_keys().claim_one_time_key("@a:x", "A", "signed_curve25519"));
      claimed.push_back(std::move(k));
    }
    return ok_status();
  });
  ASSERT_TRUE(claimed[0] && claimed[1]);
  EXPECT_EQ(claimed[0]->key_id, "AAAAAA");
  EXPECT_EQ(claimed[0]->key, json::value(k1));
  EXPECT_EQ(claimed[1]->key_id, "AAAAAQ");
  EXPECT_FALSE(claimed[2]) << "none left";
  EXPECT_EQ(*db_->read().device_keys().one_time_key_counts("@a:x", "A"),
            (std::map<std::string, int64_t>{{"curve25519", 1}}));
}

TEST_F(KeyStoresTest, FallbackKeysStayClaimableUntilReplaced) {
  write([](Txn& t) -> Status {
    DS_TRY(t.device_keys().put_fallback_key("@a:x", "A", {"signed_curve25519", "F1", json::object{{"key", "f1"}}}));
    return t.device_keys().put_fallback_key("@a:x", "A", {"curve25519", "F0", json::string("plain")});
  });
  EXPECT_EQ(*db_->read().device_keys().unused_fallback_algorithms("@a:x", "A"),
            (std::vector<std::string>{"curve25519", "signed_curve25519"}));
  std::optional<FallbackKey> first, second, none;
  write([&](Txn& t) -> Status {
    DS_ASSIGN(first, t.device_keys().claim_fallback_key("@a:x", "A", "signed_curve25519"));
    DS_ASSIGN(second, t.device_keys().claim_fallback_key("@a:x", "A", "signed_curve25519"));
    DS_ASSIGN(none, t.device_keys().claim_fallback_key("@a:x", "B", "signed_curve25519"));
    return ok_status();
  });
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->key_id, "F1");
  EXPECT_EQ(second->key_id, "F1") << "a fallback key is reused";
  EXPECT_FALSE(none);
  auto& s = db_->read().device_keys();
  EXPECT_TRUE((*s.fallback_key("@a:x", "A", "signed_curve25519"))->used);
  EXPECT_EQ(*s.unused_fallback_algorithms("@a:x", "A"), std::vector<std::string>{"curve25519"});
  write([](Txn& t) -> Status {
    return t.device_keys().put_fallback_key("@a:x", "A", {"signed_curve25519", "F2", json::object{{"key", "f2"}}});
  });
  auto fresh = db_->read().device_keys().fallback_key("@a:x", "A", "signed_curve25519");
  EXPECT_EQ((*fresh)->key_id, "F2");
  EXPECT_FALSE((*fresh)->used) << "a new fallback key starts unused";
}

TEST_F(KeyStoresTest, RemovingADeviceForgetsItsKeysAndMessagesOnly) {
  write([](Txn& t) -> Status {
    for (const char* d : {"A", "B"}) {
      DS_TRY(t.device_keys().put_device_keys("@a:x", d, device_keys(d, std::string("c") + d)));
      DS_TRY(t.device_keys().add_one_time_key("@a:x", d, {"signed_curve25519", "K", json::object{}}));
      DS_TRY(t.device_keys().put_fallback_key("@a:x", d, {"signed_curve25519", "F", json::object{}}));
      DS_TRY(t.cross_signing().put_signature({"@a:x", d, "@a:x", "ed25519:ssk", "sig"}));
      DS_TRY(t.to_device().add({t.next_stream_pos(), "@a:x", d, "@b:x", "m.test", "{}"}));
    }
    DS_TRY(t.device_keys().remove_device("@a:x", "A"));
    DS_TRY(t.cross_signing().remove_signatures_of("@a:x", "A"));
    return t.to_device().remove_device("@a:x", "A");
  });
  auto& s = db_->read();
  EXPECT_FALSE(s.device_keys().device_keys("@a:x", "A")->has_value());
  EXPECT_TRUE(s.device_keys().one_time_key_counts("@a:x", "A")->empty());
  EXPECT_FALSE(s.device_keys().fallback_key("@a:x", "A", "signed_curve25519")->has_value());
  EXPECT_FALSE(*s.to_device().any_upto("@a:x", "A", 100));
  EXPECT_TRUE(s.device_keys().device_keys("@a:x", "B")->has_value());
  EXPECT_EQ(s.device_keys().one_time_key_counts("@a:x", "B")->size(), 1u);
  EXPECT_TRUE(*s.to_device().any_upto("@a:x", "B", 100));
  auto sigs = s.cross_signing().signatures_of({"@a:x"}, "");
  ASSERT_EQ(sigs->size(), 1u);
  EXPECT_EQ((*sigs)[0].target_key, "B");
}

TEST_F(KeyStoresTest, CrossSigningKeysAndSignatures) {
  json::object master{{"usage", json::array{"master"}}}, ssk{{"usage", json::array{"self_signing"}}};
  write([&](Txn& t) -> Status {
    DS_TRY(t.cross_signing().put_key("@a:x", "master", json::object{{"old", true}}));
    DS_TRY(t.cross_signing().put_key("@a:x", "master", master));  // replaces
    DS_TRY(t.cross_signing().put_key("@a:x", "self_signing", ssk));
    DS_TRY(t.cross_signing().put_key("@a:x", "user_signing", json::object{}));
    DS_TRY(t.cross_signing().put_signature({"@a:x", "DEV", "@a:x", "ed25519:ssk", "s1"}));
    DS_TRY(t.cross_signing().put_signature({"@a:x", "DEV", "@a:x", "ed25519:ssk", "s2"}));  // replaces
    DS_TRY(t.cross_signing().put_signature({"@a:x", "mpub", "@b:x", "ed25519:busk", "s3"}));
    return t.cross_signing().put_signature({"@a:x", "mpub", "@c:x", "ed25519:cusk", "s4"});
  });
  auto& s = db_->read().cross_signing();
  EXPECT_EQ(**s.key("@a:x", "master"), master);
  EXPECT_FALSE(s.key("@b:x", "master")->has_value());
  auto keys = s.keys_of({"@a:x", "@b:x"});
  ASSERT_EQ(keys->size(), 3u);
  EXPECT_EQ((*keys)[0].user_id, "@a:x");
  EXPECT_EQ((*keys)[0].usage, "master");
  EXPECT_EQ((*keys)[1].usage, "self_signing");
  EXPECT_EQ((*keys)[1].key, ssk);
  // The owner's signatures and those of the one other signer asked about, not anyone's.
  auto sigs = s.signatures_of({"@a:x", "@b:x"}, "@b:x");
  ASSERT_EQ(sigs->size(), 2u);
  EXPECT_EQ((*sigs)[0].target_key, "DEV");
  EXPECT_EQ((*sigs)[0].signature, "s2");
  EXPECT_EQ((*sigs)[1].signer, "@b:x");
  EXPECT_EQ((*sigs)[1].signer_key_id, "ed25519:busk");
  write([](Txn& t) -> Status {
    DS_TRY(t.cross_signing().remove_key("@a:x", "self_signing"));
    return t.cross_signing().remove_key("@a:x", "user_signing");
  });
  EXPECT_EQ(db_->read().cross_signing().keys_of({"@a:x"})->size(), 1u);
}

TEST_F(KeyStoresTest, DeviceListChangesAreReadByStreamPosition) {
  write([](Txn& t) -> Status {
    DS_TRY(t.device_lists().mark_changed("@b:x", 3, "B1"));
    DS_TRY(t.device_lists().mark_changed("@a:x", 4, "A1"));
    DS_TRY(t.device_lists().mark_changed("@a:x", 4, "A1"));  // once per position
    return t.device_lists().mark_changed("@a:x", 6, "");      // cross-signing keys
  });
  auto& s = db_->read().device_lists();
  EXPECT_EQ(*s.changed(0, 10), (std::vector<std::string>{"@a:x", "@b:x"})) << "each user once";
  EXPECT_EQ(*s.changed(3, 5), std::vector<std::string>{"@a:x"});
  EXPECT_TRUE(s.changed(6, 10)->empty());
  auto rows = s.changes(0, 10, 2);
  ASSERT_EQ(rows->size(), 2u) << "the limit";
  EXPECT_EQ((*rows)[0].stream_pos, 3);
  EXPECT_EQ((*rows)[0].device_id, "B1");
  EXPECT_EQ((*rows)[1].user_id, "@a:x");
  rows = s.changes(4, 10, 10);
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].device_id, "") << "a change of cross-signing keys names no device";
  EXPECT_EQ(*s.last_device_change("@a:x", 100), 4) << "changes naming no device are not counted";
  EXPECT_EQ(*s.last_device_change("@a:x", 4), 0);
}

TEST_F(KeyStoresTest, RemoteDeviceListsAreReplacedAndUpdatedByDevice) {
  json::object master{{"user_id", "@r:y"}, {"usage", json::array{"master"}}, {"keys", json::object{{"ed25519:m", "m"}}}};
  write([&](Txn& t) -> Status {
    RemoteDeviceList l{"@r:y", 7, false, master, std::nullopt, {}};
    l.devices.push_back({"D1", json::object{{"device_id", "D1"}}, std::string("Phone")});
    l.devices.push_back({"D2", json::object{{"device_id", "D2"}}, std::nullopt});
    DS_TRY(t.device_lists().put_remote_list(l, 1000));
    l.devices.pop_back();  // a second fetch replaces the whole list
    return t.device_lists().put_remote_list(l, 2000);
  });
  auto lists = db_->read().device_lists().remote_lists({"@r:y", "@unknown:y"});
  ASSERT_EQ(lists->size(), 1u) << "only cached users";
  auto& l = (*lists)[0];
  EXPECT_EQ(l.stream_id, 7);
  EXPECT_FALSE(l.stale);
  ASSERT_TRUE(l.master_key);
  EXPECT_EQ(*l.master_key, master);
  EXPECT_FALSE(l.self_signing_key);
  ASSERT_EQ(l.devices.size(), 1u);
  EXPECT_EQ(l.devices[0].display_name, std::optional<std::string>("Phone"));
  write([&](Txn& t) -> Status {
    DS_TRY(t.device_lists().put_remote_device("@r:y", {"D3", json::object{{"device_id", "D3"}}, std::nullopt}));
    DS_TRY(t.device_lists().remove_remote_device("@r:y", "D1"));
    DS_TRY(t.device_lists().put_remote_cross_signing("@r:y", "self_signing", master));
    return t.device_lists().set_remote_stream("@r:y", 9, true);
  });
  lists = db_->read().device_lists().remote_lists({"@r:y"});
  ASSERT_EQ(lists->size(), 1u);
  EXPECT_EQ((*lists)[0].stream_id, 9);
  EXPECT_TRUE((*lists)[0].stale);
  EXPECT_TRUE((*lists)[0].self_signing_key);
  ASSERT_EQ((*lists)[0].devices.size(), 1u);
  EXPECT_EQ((*lists)[0].devices[0].device_id, "D3");
}

TEST_F(KeyStoresTest, ToDeviceMessagesAreSizedPagedAndAcknowledged) {
  write([](Txn& t) -> Status {
    DS_TRY(t.to_device().add({3, "@a:x", "A", "@b:x", "m.one", R"({"n":1})"}));
    DS_TRY(t.to_device().add({5, "@a:x", "A", "@c:x", "m.two", R"({"n":22})"}));
    DS_TRY(t.to_device().add({7, "@a:x", "A", "@b:x", "m.three", R"({"n":333})"}));
    return t.to_device().add({8, "@a:x", "OTHER", "@b:x", "m.four", "{}"});
  });
  auto& s = db_->read().to_device();
  auto backlog = s.backlog("@a:x", "A", "@b:x");
  EXPECT_EQ(backlog->messages, 2);
  EXPECT_EQ(backlog->bytes, 7 + 9) << "bytes are the content's size";
  EXPECT_EQ(s.backlog("@a:x", "A", "@nobody:x")->messages, 0);
  auto sizes = s.sizes("@a:x", "A", 3, 100, 10);
  ASSERT_EQ(sizes->size(), 2u);
  EXPECT_EQ((*sizes)[0].stream_pos, 5);
  EXPECT_EQ((*sizes)[0].bytes, 8);
  EXPECT_EQ(s.sizes("@a:x", "A", 0, 100, 1)->size(), 1u) << "at most limit";
  auto msgs = s.messages("@a:x", "A", 0, 5);
  ASSERT_EQ(msgs->size(), 2u);
  EXPECT_EQ((*msgs)[0].type, "m.one");
  EXPECT_EQ((*msgs)[1].sender, "@c:x");
  EXPECT_EQ((*msgs)[1].content, (json::object{{"n", 22}}));
  EXPECT_FALSE(*s.any_upto("@a:x", "A", 2));
  EXPECT_TRUE(*s.any_upto("@a:x", "A", 3));
  write([](Txn& t) -> Status { return t.to_device().remove_upto("@a:x", "A", 5); });
  auto left = db_->read().to_device().messages("@a:x", "A", 0, 100);
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ((*left)[0].stream_pos, 7);
  EXPECT_TRUE(*db_->read().to_device().any_upto("@a:x", "OTHER", 100)) << "other devices keep theirs";
}

TEST_F(KeyStoresTest, ToDeviceTransactionIdsArePerDevice) {
  write([](Txn& t) -> Status { return t.to_device().put_txn("@a:x", "A", "t1"); });
  auto& s = db_->read().to_device();
  EXPECT_TRUE(*s.has_txn("@a:x", "A", "t1"));
  EXPECT_FALSE(*s.has_txn("@a:x", "B", "t1"));
  EXPECT_FALSE(*s.has_txn("@a:x", "A", "t2"));
}

TEST_F(KeyStoresTest, BackupVersionsCountUpAndStayDeleted) {
  int64_t v1 = 0, v2 = 0, v3 = 0, other = 0;
  json::object auth{{"public_key", "pk"}};
  write([&](Txn& t) -> Status {
    DS_ASSIGN(v1, t.key_backups().create_version("@a:x", "m.megolm_backup.v1", auth));
    DS_ASSIGN(v2, t.key_backups().create_version("@a:x", "m.megolm_backup.v1", auth));
    DS_ASSIGN(other, t.key_backups().create_version("@b:x", "m.megolm_backup.v1", auth));
    return t.key_backups().set_auth_data("@a:x", v2, json::object{{"public_key", "pk2"}});
  });
  EXPECT_EQ(v1, 1);
  EXPECT_EQ(v2, 2);
  EXPECT_EQ(other, 1);
  auto& s = db_->read().key_backups();
  EXPECT_EQ(**s.current_version("@a:x"), 2);
  auto got = s.version("@a:x", 2);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->algorithm, "m.megolm_backup.v1");
  EXPECT_EQ((*got)->auth_data, (json::object{{"public_key", "pk2"}}));
  EXPECT_EQ((*got)->etag, 0);
  EXPECT_FALSE((*got)->deleted);
  bool deleted = false, again = true;
  write([&](Txn& t) -> Status {
    DS_ASSIGN(deleted, t.key_backups().delete_version("@a:x", 2));
    DS_ASSIGN(again, t.key_backups().delete_version("@a:x", 2));
    DS_ASSIGN(v3, t.key_backups().create_version("@a:x", "m.megolm_backup.v1", auth));
    return ok_status();
  });
  EXPECT_TRUE(deleted);
  EXPECT_FALSE(again) << "a deleted version cannot be deleted again";
  EXPECT_EQ(v3, 3) << "numbers are never reused";
  EXPECT_TRUE((**db_->read().key_backups().version("@a:x", 2)).deleted);
  write([](Txn& t) -> Status {
    DS_ASSIGN(bool gone, t.key_backups().delete_version("@a:x", 3));
    return gone ? ok_status() : Error::internal("version 3 was not deleted");
  });
  EXPECT_EQ(**db_->read().key_backups().current_version("@a:x"), 1) << "the newest version not deleted";
  EXPECT_FALSE(db_->read().key_backups().current_version("@c:x")->has_value());
}

TEST_F(KeyStoresTest, BackupKeysByRoomAndSession) {
  auto data = [](int index) {
    return json::object{{"first_message_index", index}, {"forwarded_count", 0}, {"is_verified", false},
                        {"session_data", json::object{}}};
  };
  int64_t v = 0;
  write([&](Txn& t) -> Status {
    DS_ASSIGN(v, t.key_backups().create_version("@a:x", "m.megolm_backup.v1", json::object{}));
    DS_TRY(t.key_backups().put_key("@a:x", v, {"!r:x", "s1", data(5)}));
    DS_TRY(t.key_backups().put_key("@a:x", v, {"!r:x", "s1", data(1)}));  // replaces
    DS_TRY(t.key_backups().put_key("@a:x", v, {"!r:x", "s2", data(2)}));
    DS_TRY(t.key_backups().put_key("@a:x", v, {"!s:x", "s3", data(3)}));
    return t.key_backups().bump_etag("@a:x", v);
  });
  auto& s = db_->read().key_backups();
  EXPECT_EQ(**s.key("@a:x", v, "!r:x", "s1"), data(1));
  EXPECT_FALSE(s.key("@a:x", v, "!s:x", "s1")->has_value());
  EXPECT_EQ(*s.count_keys("@a:x", v), 3);
  EXPECT_EQ(s.keys("@a:x", v, "", "")->size(), 3u);
  auto room = s.keys("@a:x", v, "!r:x", "");
  ASSERT_EQ(room->size(), 2u);
  EXPECT_EQ((*room)[0].session_id, "s1");
  EXPECT_EQ((*room)[1].session_id, "s2");
  EXPECT_EQ(s.keys("@a:x", v, "!r:x", "s2")->size(), 1u);
  EXPECT_EQ((**s.version("@a:x", v)).etag, 1);
  int64_t removed_one = 0, removed_room = 0;
  write([&](Txn& t) -> Status {
    DS_ASSIGN(removed_one, t.key_backups().remove_keys("@a:x", v, "!r:x", "s2"));
    DS_ASSIGN(removed_room, t.key_backups().remove_keys("@a:x", v, "!r:x", ""));
    return ok_status();
  });
  EXPECT_EQ(removed_one, 1);
  EXPECT_EQ(removed_room, 1);
  EXPECT_EQ(*db_->read().key_backups().count_keys("@a:x", v), 1);
  bool deleted = false;
  write([&](Txn& t) -> Status {
    DS_ASSIGN(deleted, t.key_backups().delete_version("@a:x", v));
    return ok_status();
  });
  EXPECT_TRUE(deleted);
  EXPECT_EQ(*db_->read().key_backups().count_keys("@a:x", v), 0) << "a deleted version's keys go with it";
}

TEST_F(KeyStoresTest, DevicesAreReadWithTheirDisplayNames) {
  auto r = db_->write_blocking<Ok>([](Conn& c) -> Status {
    DS_TRY(c.exec("INSERT INTO devices(user_id, device_id, display_name, created_ts) VALUES('@a:x', 'B', 'Phone', 1)"));
    DS_TRY(c.exec("INSERT INTO devices(user_id, device_id, created_ts) VALUES('@b:x', 'A', 1)"));
    return c.exec("INSERT INTO devices(user_id, device_id, created_ts) VALUES('@a:x', 'A', 1)");
  });
  ASSERT_TRUE(r.ok()) << r.error().message;
  auto& s = db_->read().devices();
  auto devices = s.devices_of_users({"@a:x"});
  ASSERT_EQ(devices->size(), 2u);
  EXPECT_EQ((*devices)[0].device_id, "A");
  EXPECT_FALSE((*devices)[0].display_name);
  EXPECT_EQ((*devices)[1].display_name, "Phone");
  auto both = s.devices_of_users({"@b:x", "@a:x"});
  ASSERT_EQ(both->size(), 3u);
  EXPECT_EQ((*both)[2].user_id, "@b:x");
  EXPECT_TRUE(*s.exists("@a:x", "B"));
  EXPECT_FALSE(*s.exists("@a:x", "C"));
  EXPECT_FALSE(*s.exists("@b:x", "B"));
}

TEST_F(KeyStoresTest, WhoSharesARoomAndWhichMembersChanged) {
  // @a and @b share !r; @c was in !r and left; @a and @d share nothing.
  write([](Txn& t) -> Status {
    DS_TRY(t.memberships().set({"!r:x", "@a:x", "join", 1}, "$1"));
    DS_TRY(t.memberships().set({"!r:x", "@b:x", "join", 2}, "$2"));
    DS_TRY(t.memberships().set({"!r:x", "@c:x", "leave", 3}, "$3"));
    DS_TRY(t.memberships().set({"!s:x", "@d:x", "join", 4}, "$4"));
    DS_TRY(t.memberships().set({"!s:x", "@a:x", "invite", 5}, "$5"));
    DS_TRY(t.memberships().set({"!t:x", "@a:x", "leave", 6}, "$6"));
    return t.memberships().forget("!t:x", "@a:x");
  });
  auto& m = db_->read().memberships();
  auto co = m.co_members("@a:x");
  std::sort(co->begin(), co->end());
  EXPECT_EQ(*co, (std::vector<std::string>{"@a:x", "@b:x"}));
  EXPECT_TRUE(m.co_members("@c:x")->empty());
  EXPECT_TRUE(*m.share_room("@a:x", "@b:x"));
  EXPECT_FALSE(*m.share_room("@a:x", "@c:x"));
  EXPECT_FALSE(*m.share_room("@a:x", "@d:x")) << "an invite is not a shared room";
  auto rooms = m.all_rooms_of("@a:x");
  std::sort(rooms->begin(), rooms->end());
  EXPECT_EQ(*rooms, (std::vector<std::string>{"!r:x", "!s:x", "!t:x"})) << "any membership, forgotten too";

  auto member = [](const std::string& id, int64_t pos, const std::string& room, const std::string& who) {
    json::object pdu{{"type", "m.room.member"}, {"room_id", room}, {"state_key", who}, {"sender", who},
                     {"content", json::object{{"membership", "join"}}}};
    return NewEvent{pos, id, room, "m.room.member", who, who, pos, json::serialize(pdu), {}, {}, "", "", 0, {}};
  };
  write([&](Txn& t) -> Status {
    DS_TRY(t.events().insert(member("$j1", 11, "!r:x", "@a:x")));
    json::object msg{{"type", "m.room.message"}, {"room_id", "!r:x"}, {"sender", "@a:x"}, {"content", json::object{}}};
    DS_TRY(t.events().insert(
        NewEvent{12, "$m", "!r:x", "m.room.message", std::nullopt, "@a:x", 12, json::serialize(msg), {}, {}, "", "", 0, {}}));
    DS_TRY(t.events().insert(member("$j2", 13, "!s:x", "@d:x")));
    NewEvent rejected = member("$j3", 14, "!s:x", "@e:x");
    rejected.rejected = "not allowed";
    return t.events().insert(rejected);
  });
  auto changes = db_->read().events().member_changes(10, 14);
  using Change = std::pair<std::string, std::string>;
  EXPECT_EQ(*changes, (std::vector<Change>{{"!r:x", "@a:x"}, {"!s:x", "@d:x"}})) << "member events only, accepted";
  EXPECT_EQ(*db_->read().events().member_changes(11, 12), std::vector<Change>{});
}

}  // namespace
}  // namespace despatch::storage
