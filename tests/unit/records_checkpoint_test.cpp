// Format 2 records and the checkpoints signed every second: what survives a tombstone, and
// that the rolling head is replaced rather than kept.
#include "core/base64.h"
#include "core/crypto.h"
#include "service/records/archive.h"
#include "storage/archive_store.h"
#include "storage/database.h"

#include <gtest/gtest.h>

#include "store_fixture.h"

namespace despatch::storage {
namespace {

class RecordsCheckpointTest : public test::StoreTest {};

TEST_F(RecordsCheckpointTest, Format2ContentHashSurvivesTheTombstone) {
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
  a.format = 2;
  a.live_kind = "event";
  a.sealed_hash = hex_encode(sha256(a.sealed));
  std::string live = archive_content_hash(a);
  ArchiveRow tomb = a;
  tomb.kind = "tombstone";
  tomb.sealed.clear();
  EXPECT_EQ(archive_content_hash(tomb), live) << "a format 2 tombstone keeps its content hash";
  tomb.sender = "@mallory:example.org";
  EXPECT_NE(archive_content_hash(tomb), live) << "and its clear columns stay covered";
  ArchiveRow v1 = a;
  v1.format = 1;
  EXPECT_NE(archive_content_hash(v1), live);
}

TEST_F(RecordsCheckpointTest, SigningEverySecondKeepsOnlyDurableCheckpointsAndTheRollingHead) {
  auto made = SigningKey::from_seed(std::string(32, '\x07'), "t");
  ASSERT_TRUE(made.ok());
  const SigningKey& key = *made;
  auto append = [&](int64_t seq) {
    write([&](Txn& t) -> Status {
      ArchiveRow r;
      r.seq = seq;
      r.stream_pos = seq;
      r.event_id = "$e" + std::to_string(seq);
      r.room_id = "!a:example.org";
      r.sender = "@alice:example.org";
      r.type = "m.room.message";
      r.kind = "event";
      r.key_id = 1;
      r.hash = "h" + std::to_string(seq);
      return t.archive().append(r);
    });
  };
  auto sign = [&] { write([&](Txn& t) -> Status { return sign_records_heads(t, key, 3); }); };
  append(1);
  sign();  // the first is durable
  sign();  // nothing moved: nothing written
  append(2);
  sign();  // rolling
  append(3);
  sign();  // replaces the rolling one
  auto cps = read().archive().checkpoints();
  ASSERT_TRUE(cps.ok());
  ASSERT_EQ(cps->size(), 2u);
  EXPECT_TRUE((*cps)[0].durable);
  EXPECT_EQ((*cps)[0].seq, 1);
  EXPECT_FALSE((*cps)[1].durable);
  EXPECT_EQ((*cps)[1].seq, 3);
  append(4);
  sign();  // three records after the last durable one: durable again
  cps = read().archive().checkpoints();
  ASSERT_TRUE(cps.ok());
  ASSERT_EQ(cps->size(), 2u);
  EXPECT_EQ((*cps)[1].seq, 4);
  EXPECT_TRUE((*cps)[1].durable);
  for (auto& cp : *cps) {
    auto sig = base64_decode(cp.signature);
    ASSERT_TRUE(sig);
    EXPECT_TRUE(ed25519_verify(key.public_key(), checkpoint_message(cp), *sig));
    EXPECT_EQ(cp.version, 2);
  }
}

}  // namespace
}  // namespace despatch::storage
