// OlmDevice and MegolmInbound against a client side driven through libolm directly, the way a
// Matrix client would talk to the records keeper's device.
#include "service/records/olm_device.h"

#include <gtest/gtest.h>
#include <olm/olm.h>
#include <sodium.h>

#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "core/base64.h"
#include "core/crypto.h"
#include "olm_test_client.h"

namespace despatch {
namespace {

using namespace olm_test;  // NOLINT(google-build-using-namespace): the client side

constexpr const char* kUser = "@keeper:example.org";
constexpr const char* kDevice = "KEEPERDEV";
constexpr const char* kPickleKey = "correct horse battery staple";

// ---- Helpers ----------------------------------------------------------------------------------

OlmDevice new_device() {
  auto d = OlmDevice::create();
  EXPECT_TRUE(d.ok()) << (d.ok() ? "" : d.error().message);
  return std::move(d).value();
}

// Claims one of the device's one-time keys the way /keys/claim would hand it out.
std::string claim_one_time_key(OlmDevice& device) {
  auto keys = device.one_time_keys(kUser, kDevice, 1);
  EXPECT_TRUE(keys.ok());
  EXPECT_EQ(keys->size(), 1u);
  return std::string(keys->begin()->value().as_object().at("key").as_string());
}

std::string room_key_payload(const ClientAccount& client, const OlmDevice& device,
                             const std::string& session_id, const std::string& session_key) {
  json::object payload{
      {"type", "m.room_key"},
      {"content", json::object{{"algorithm", kMegolmAlgorithm},
                               {"room_id", "!room:example.org"},
                               {"session_id", session_id},
                               {"session_key", session_key}}},
      {"sender", "@alice:example.org"},
      {"recipient", kUser},
      {"recipient_keys", json::object{{"ed25519", device.ed25519_key()}}},
      {"keys", json::object{{"ed25519", client.ed25519()}}},
  };
  return json::serialize(payload);
}

// Flips one byte inside the message's trailing MAC, keeping the base64 well-formed.
std::string tamper(const std::string& ciphertext) {
  std::string raw = *base64_decode(ciphertext);
  raw[raw.size() - 2] ^= 0x01;
  return base64_encode(raw);
}

std::string error_of(const Error& e) { return e.errcode + " " + e.message; }

// ---- Keys -------------------------------------------------------------------------------------

TEST(OlmDeviceTest, DeviceKeysAreSignedBySelf) {
  OlmDevice d = new_device();
  EXPECT_EQ(base64_decode(d.curve25519_key()).value_or("").size(), 32u);
  EXPECT_EQ(base64_decode(d.ed25519_key()).value_or("").size(), 32u);
  EXPECT_NE(new_device().curve25519_key(), d.curve25519_key());
  json::object keys = d.device_keys(kUser, kDevice);
  EXPECT_EQ(keys.at("user_id"), kUser);
  EXPECT_EQ(keys.at("device_id"), kDevice);
  EXPECT_EQ(keys.at("algorithms"), (json::array{kOlmAlgorithm, kMegolmAlgorithm}));
  EXPECT_EQ(keys.at("keys").at("curve25519:KEEPERDEV").as_string(), d.curve25519_key());
  EXPECT_EQ(keys.at("keys").at("ed25519:KEEPERDEV").as_string(), d.ed25519_key());
  std::string pub = *base64_decode(d.ed25519_key());
  EXPECT_TRUE(verify_json(keys, kUser, "ed25519:KEEPERDEV", pub).ok());

  keys["device_id"] = "OTHER";
  EXPECT_FALSE(verify_json(keys, kUser, "ed25519:KEEPERDEV", pub).ok());
}

TEST(OlmDeviceTest, OneTimeKeysAreSignedAndPublishedOnce) {
  OlmDevice d = new_device();
  auto keys = d.one_time_keys(kUser, kDevice, 5);
  ASSERT_TRUE(keys.ok()) << error_of(keys.error());
  ASSERT_EQ(keys->size(), 5u);
  std::string pub = *base64_decode(d.ed25519_key());
  for (const auto& [id, entry] : *keys) {
    EXPECT_EQ(std::string(id).rfind("signed_curve25519:", 0), 0u) << id;
    const json::object& obj = entry.as_object();
    EXPECT_EQ(base64_decode(obj.at("key").as_string())->size(), 32u);
    EXPECT_FALSE(obj.contains("fallback"));
    EXPECT_TRUE(verify_json(obj, kUser, "ed25519:KEEPERDEV", pub).ok()) << id;
  }
  // Already published: asking for none returns none.
  auto again = d.one_time_keys(kUser, kDevice, 0);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->empty());

  auto too_many = d.one_time_keys(kUser, kDevice, d.max_one_time_keys() + 1);
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(too_many.error().errcode, errc::kInvalidParam);
}

TEST(OlmDeviceTest, FallbackKeyIsSignedAndReusable) {
  OlmDevice d = new_device();
  auto keys = d.fallback_key(kUser, kDevice);
  ASSERT_TRUE(keys.ok()) << error_of(keys.error());
  ASSERT_EQ(keys->size(), 1u);
  const json::object& obj = keys->begin()->value().as_object();
  EXPECT_EQ(obj.at("fallback"), true);
  EXPECT_TRUE(verify_json(obj, kUser, "ed25519:KEEPERDEV", *base64_decode(d.ed25519_key())).ok());
  // Unlike a one-time key, it starts any number of sessions.
  for (int i = 0; i < 2; ++i) {
    ClientAccount client;
    ClientSession s;
    s.start_outbound(client, d.curve25519_key(), std::string(obj.at("key").as_string()));
    auto [type, body] = s.encrypt("via fallback");
    auto plain = d.decrypt_olm(client.curve25519(), type, body);
    ASSERT_TRUE(plain.ok()) << i << ": " << error_of(plain.error());
  }
  auto next = d.fallback_key(kUser, kDevice);
  ASSERT_TRUE(next.ok());
  EXPECT_NE(next->begin()->value().at("key"), obj.at("key"));
}

// ---- Olm ----------------------------------------------------------------------------------------

TEST(OlmDeviceTest, PreKeyThenNormalMessage) {
  OlmDevice d = new_device();
  ClientAccount alice;
  ClientSession to_keeper;
  to_keeper.start_outbound(alice, d.curve25519_key(), claim_one_time_key(d));

  std::string payload = room_key_payload(alice, d, "sid", "skey");
  auto [type, body] = to_keeper.encrypt(payload);
  ASSERT_EQ(type, kOlmPreKeyMessage);
  auto plain = d.decrypt_olm(alice.curve25519(), type, body);
  ASSERT_TRUE(plain.ok()) << error_of(plain.error());
  EXPECT_EQ(*plain, payload);
  EXPECT_EQ(d.session_count(alice.curve25519()), 1u);

  // Once the keeper replies, the client switches to normal messages.
  auto reply = d.encrypt_olm(alice.curve25519(), R"({"type":"m.dummy"})");
  ASSERT_TRUE(reply.ok()) << error_of(reply.error());
  EXPECT_EQ(reply->first, kOlmNormalMessage);
  EXPECT_EQ(to_keeper.decrypt(reply->first, reply->second), R"({"type":"m.dummy"})");

  auto [type2, body2] = to_keeper.encrypt("second");
  ASSERT_EQ(type2, kOlmNormalMessage);
  auto plain2 = d.decrypt_olm(alice.curve25519(), type2, body2);
  ASSERT_TRUE(plain2.ok()) << error_of(plain2.error());
  EXPECT_EQ(*plain2, "second");
  EXPECT_EQ(d.session_count(), 1u);
}

TEST(OlmDeviceTest, RepeatedPreKeyMessagesReuseTheSession) {
  OlmDevice d = new_device();
  ClientAccount alice;
  ClientSession to_keeper;
  to_keeper.start_outbound(alice, d.curve25519_key(), claim_one_time_key(d));
  for (int i = 0; i < 3; ++i) {
    auto [type, body] = to_keeper.encrypt("msg " + std::to_string(i));
    ASSERT_EQ(type, kOlmPreKeyMessage);
    auto plain = d.decrypt_olm(alice.curve25519(), type, body);
    ASSERT_TRUE(plain.ok()) << i << ": " << error_of(plain.error());
    EXPECT_EQ(*plain, "msg " + std::to_string(i));
  }
  EXPECT_EQ(d.session_count(alice.curve25519()), 1u);
}

TEST(OlmDeviceTest, PreKeyMessageConsumesTheOneTimeKey) {
  OlmDevice d = new_device();
  std::string otk = claim_one_time_key(d);
  ClientAccount alice, mallory;
  ClientSession a, m;
  a.start_outbound(alice, d.curve25519_key(), otk);
  auto [type, body] = a.encrypt("first");
  ASSERT_TRUE(d.decrypt_olm(alice.curve25519(), type, body).ok());

  // A second session on the same one-time key, from anyone, no longer starts.
  m.start_outbound(mallory, d.curve25519_key(), otk);
  auto [mtype, mbody] = m.encrypt("reuse");
  auto reused = d.decrypt_olm(mallory.curve25519(), mtype, mbody);
  ASSERT_FALSE(reused.ok());
  EXPECT_NE(reused.error().message.find("BAD_MESSAGE_KEY_ID"), std::string::npos)
      << reused.error().message;
  EXPECT_EQ(d.session_count(mallory.curve25519()), 0u);
}

TEST(OlmDeviceTest, ForgedPreKeyMessageDoesNotConsumeTheKey) {
  OlmDevice d = new_device();
  ClientAccount alice;
  ClientSession a;
  a.start_outbound(alice, d.curve25519_key(), claim_one_time_key(d));
  auto [type, body] = a.encrypt("genuine");
  auto forged = d.decrypt_olm(alice.curve25519(), type, tamper(body));
  ASSERT_FALSE(forged.ok());
  EXPECT_NE(forged.error().message.find("BAD_MESSAGE_MAC"), std::string::npos)
      << forged.error().message;
  EXPECT_EQ(d.session_count(), 0u);

  auto plain = d.decrypt_olm(alice.curve25519(), type, body);
  ASSERT_TRUE(plain.ok()) << error_of(plain.error());
  EXPECT_EQ(*plain, "genuine");
}

TEST(OlmDeviceTest, SenderKeyMustMatchThePreKeyMessage) {
  OlmDevice d = new_device();
  ClientAccount alice, bob;
  ClientSession a;
  a.start_outbound(alice, d.curve25519_key(), claim_one_time_key(d));
  auto [type, body] = a.encrypt("from alice");
  EXPECT_FALSE(d.decrypt_olm(bob.curve25519(), type, body).ok());
  EXPECT_TRUE(d.decrypt_olm(alice.curve25519(), type, body).ok());
}

TEST(OlmDeviceTest, GarbageFailsCleanly) {
  OlmDevice d = new_device();
  ClientAccount alice;
  const std::string& sender = alice.curve25519();

  auto no_session = d.decrypt_olm(sender, kOlmNormalMessage, "AwogAAAA");
  ASSERT_FALSE(no_session.ok());
  EXPECT_EQ(no_session.error().errcode, errc::kNotFound);

  EXPECT_FALSE(d.decrypt_olm(sender, kOlmPreKeyMessage, "not base64 !!").ok());
  EXPECT_FALSE(d.decrypt_olm(sender, kOlmPreKeyMessage, "").ok());
  EXPECT_FALSE(d.decrypt_olm(sender, kOlmPreKeyMessage, base64_encode("garbage bytes")).ok());
  EXPECT_EQ(d.decrypt_olm(sender, 2, "AAAA").error().errcode, errc::kInvalidParam);
  EXPECT_EQ(d.decrypt_olm("short", kOlmPreKeyMessage, "AAAA").error().errcode, errc::kInvalidParam);

  // With a live session, a corrupt normal message still fails without harming the session.
  ClientSession a;
  a.start_outbound(alice, d.curve25519_key(), claim_one_time_key(d));
  auto [type, body] = a.encrypt("hello");
  ASSERT_TRUE(d.decrypt_olm(sender, type, body).ok());
  auto reply = d.encrypt_olm(sender, "ack");
  ASSERT_TRUE(reply.ok());
  a.decrypt(reply->first, reply->second);
  auto [type2, body2] = a.encrypt("after");
  ASSERT_EQ(type2, kOlmNormalMessage);
  EXPECT_EQ(d.decrypt_olm(sender, type2, tamper(body2)).error().errcode, errc::kNotFound);
  EXPECT_FALSE(d.decrypt_olm(sender, kOlmNormalMessage, base64_encode("junk")).ok());
  auto ok = d.decrypt_olm(sender, type2, body2);
  ASSERT_TRUE(ok.ok()) << error_of(ok.error());
  EXPECT_EQ(*ok, "after");
}

TEST(OlmDeviceTest, OutboundSessionReachesAClient) {
  OlmDevice d = new_device();
  ClientAccount bob;
  EXPECT_EQ(d.encrypt_olm(bob.curve25519(), "x").error().errcode, errc::kNotFound);
  ASSERT_TRUE(d.create_outbound_session(bob.curve25519(), bob.one_time_key()).ok());
  auto msg = d.encrypt_olm(bob.curve25519(), "hello bob");
  ASSERT_TRUE(msg.ok());
  ASSERT_EQ(msg->first, kOlmPreKeyMessage);
  ClientSession inbound;
  inbound.start_inbound(bob, d.curve25519_key(), msg->second);
  EXPECT_EQ(inbound.decrypt(msg->first, msg->second), "hello bob");
  EXPECT_FALSE(d.create_outbound_session(bob.curve25519(), "bad key").ok());
}

TEST(OlmDeviceTest, SessionsPerSenderAreBounded) {
  OlmDevice d = new_device();
  ClientAccount alice;
  auto keys = d.one_time_keys(kUser, kDevice, kMaxOlmSessionsPerSender + 2);
  ASSERT_TRUE(keys.ok());
  for (const auto& [id, entry] : *keys) {
    ClientSession s;
    s.start_outbound(alice, d.curve25519_key(), std::string(entry.at("key").as_string()));
    auto [type, body] = s.encrypt("m");
    ASSERT_TRUE(d.decrypt_olm(alice.curve25519(), type, body).ok());
  }
  EXPECT_EQ(d.session_count(alice.curve25519()), kMaxOlmSessionsPerSender);
}

// ---- Pickles ------------------------------------------------------------------------------------

TEST(OlmDeviceTest, PickleRoundTripKeepsKeysAndSessions) {
  OlmDevice d = new_device();
  ClientAccount alice;
  ClientSession a;
  a.start_outbound(alice, d.curve25519_key(), claim_one_time_key(d));
  std::string spare_otk = claim_one_time_key(d);
  auto [type, body] = a.encrypt("before");
  ASSERT_TRUE(d.decrypt_olm(alice.curve25519(), type, body).ok());

  auto pickled = d.pickle(kPickleKey);
  ASSERT_TRUE(pickled.ok()) << error_of(pickled.error());
  EXPECT_EQ(pickled->find(d.ed25519_key()), std::string::npos);  // keys stay encrypted
  auto restored = OlmDevice::unpickle(*pickled, kPickleKey);
  ASSERT_TRUE(restored.ok()) << error_of(restored.error());
  EXPECT_EQ(restored->curve25519_key(), d.curve25519_key());
  EXPECT_EQ(restored->ed25519_key(), d.ed25519_key());
  EXPECT_EQ(restored->session_count(alice.curve25519()), 1u);

  // The existing session still decrypts, and unused one-time keys still start sessions.
  auto [type2, body2] = a.encrypt("after");
  auto plain = restored->decrypt_olm(alice.curve25519(), type2, body2);
  ASSERT_TRUE(plain.ok()) << error_of(plain.error());
  EXPECT_EQ(*plain, "after");
  ClientAccount carol;
  ClientSession c;
  c.start_outbound(carol, d.curve25519_key(), spare_otk);
  auto [type3, body3] = c.encrypt("carol");
  EXPECT_TRUE(restored->decrypt_olm(carol.curve25519(), type3, body3).ok());
}

TEST(OlmDeviceTest, AccountAndSessionPicklesRestoreSeparately) {
  OlmDevice d = new_device();
  ClientAccount alice;
  ClientSession a;
  a.start_outbound(alice, d.curve25519_key(), claim_one_time_key(d));
  auto [type, body] = a.encrypt("one");
  ASSERT_TRUE(d.decrypt_olm(alice.curve25519(), type, body).ok());

  auto account = d.pickle_account(kPickleKey);
  auto sessions = d.pickle_sessions(kPickleKey, alice.curve25519());
  ASSERT_TRUE(account.ok());
  ASSERT_TRUE(sessions.ok());
  ASSERT_EQ(sessions->size(), 1u);
  EXPECT_EQ(sessions->front().sender_key, alice.curve25519());
  EXPECT_FALSE(sessions->front().session_id.empty());
  auto none = d.pickle_sessions(kPickleKey, "someone else");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());

  auto restored = OlmDevice::unpickle_account(*account, kPickleKey);
  ASSERT_TRUE(restored.ok());
  EXPECT_EQ(restored->session_count(), 0u);
  ASSERT_TRUE(restored->restore_session(sessions->front(), kPickleKey).ok());
  auto [type2, body2] = a.encrypt("two");
  auto plain = restored->decrypt_olm(alice.curve25519(), type2, body2);
  ASSERT_TRUE(plain.ok()) << error_of(plain.error());
  EXPECT_EQ(*plain, "two");
}

TEST(OlmDeviceTest, WrongPickleKeyFailsCleanly) {
  OlmDevice d = new_device();
  auto pickled = d.pickle(kPickleKey);
  ASSERT_TRUE(pickled.ok());
  auto wrong = OlmDevice::unpickle(*pickled, "wrong key");
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message.find("BAD_ACCOUNT_KEY"), std::string::npos)
      << wrong.error().message;

  auto account = d.pickle_account(kPickleKey);
  ASSERT_TRUE(account.ok());
  EXPECT_FALSE(OlmDevice::unpickle_account(*account, "wrong key").ok());
  EXPECT_FALSE(OlmDevice::unpickle_account(*account, "").ok());
  EXPECT_FALSE(OlmDevice::unpickle_account("garbage", kPickleKey).ok());
  EXPECT_FALSE(OlmDevice::unpickle("{}", kPickleKey).ok());
  EXPECT_FALSE(OlmDevice::unpickle("not json", kPickleKey).ok());
  EXPECT_FALSE(d.pickle("").ok());
  EXPECT_FALSE(d.restore_session({d.curve25519_key(), "", "garbage"}, kPickleKey).ok());
}

// ---- Megolm -------------------------------------------------------------------------------------

// Shares a client's outbound group session with the device over Olm, as m.room_key, and
// builds the inbound session from what the device decrypted.
MegolmInbound share_room_key(OlmDevice& d, ClientAccount& client, ClientGroupSession& group) {
  ClientSession olm;
  olm.start_outbound(client, d.curve25519_key(), claim_one_time_key(d));
  auto [type, body] = olm.encrypt(room_key_payload(client, d, group.id(), group.key()));
  auto plain = d.decrypt_olm(client.curve25519(), type, body);
  EXPECT_TRUE(plain.ok());
  json::object event = json::parse(*plain).as_object();
  EXPECT_EQ(event.at("type"), "m.room_key");
  const json::object& content = event.at("content").as_object();
  auto inbound = MegolmInbound::from_room_key(content.at("session_key").as_string());
  EXPECT_TRUE(inbound.ok()) << error_of(inbound.error());
  return std::move(inbound).value();
}

TEST(MegolmInboundTest, RoomKeyOverOlmDecryptsRoomEvents) {
  OlmDevice d = new_device();
  ClientAccount alice;
  ClientGroupSession group;
  MegolmInbound inbound = share_room_key(d, alice, group);
  EXPECT_EQ(inbound.session_id(), group.id());
  EXPECT_EQ(inbound.first_known_index(), 0u);

  for (uint32_t i = 0; i < 3; ++i) {
    std::string event = R"({"type":"m.room.message","content":{"body":"msg )" + std::to_string(i) +
                        R"("},"room_id":"!room:example.org"})";
    auto out = inbound.decrypt(group.encrypt(event));
    ASSERT_TRUE(out.ok()) << error_of(out.error());
    EXPECT_EQ(out->first, event);
    EXPECT_EQ(out->second, i);
  }
  // A replayed ciphertext decrypts again with the same index; spotting it is the caller's job.
  std::string ct = group.encrypt("replayed");
  ASSERT_TRUE(inbound.decrypt(ct).ok());
  auto again = inbound.decrypt(ct);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->second, 3u);
}

TEST(MegolmInboundTest, LateKeyAndForwardedKeyStartLater) {
  ClientGroupSession group;
  std::string early = group.encrypt("index 0");
  // A key shared after a message was sent starts at the next index.
  auto late = MegolmInbound::from_room_key(group.key());
  ASSERT_TRUE(late.ok());
  EXPECT_EQ(late->first_known_index(), 1u);
  auto missing = late->decrypt(early);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("UNKNOWN_MESSAGE_INDEX"), std::string::npos)
      << missing.error().message;
  std::string one = group.encrypt("index 1");
  std::string two = group.encrypt("index 2");

  // Forwarded (exported) keys import at the index they were exported from.
  auto exported = late->export_at(2);
  ASSERT_TRUE(exported.ok()) << error_of(exported.error());
  auto forwarded = MegolmInbound::import_key(*exported);
  ASSERT_TRUE(forwarded.ok()) << error_of(forwarded.error());
  EXPECT_EQ(forwarded->session_id(), group.id());
  EXPECT_EQ(forwarded->first_known_index(), 2u);
  EXPECT_FALSE(forwarded->decrypt(one).ok());
  auto out = forwarded->decrypt(two);
  ASSERT_TRUE(out.ok()) << error_of(out.error());
  EXPECT_EQ(out->first, "index 2");
  EXPECT_EQ(out->second, 2u);
  EXPECT_FALSE(late->export_at(0).ok());
}

TEST(MegolmInboundTest, PickleRoundTrip) {
  ClientGroupSession group;
  auto inbound = MegolmInbound::from_room_key(group.key());
  ASSERT_TRUE(inbound.ok());
  ASSERT_TRUE(inbound->decrypt(group.encrypt("before")).ok());
  auto pickled = inbound->pickle(kPickleKey);
  ASSERT_TRUE(pickled.ok());
  auto restored = MegolmInbound::unpickle(*pickled, kPickleKey);
  ASSERT_TRUE(restored.ok()) << error_of(restored.error());
  EXPECT_EQ(restored->session_id(), group.id());
  auto out = restored->decrypt(group.encrypt("after"));
  ASSERT_TRUE(out.ok()) << error_of(out.error());
  EXPECT_EQ(out->first, "after");
  EXPECT_EQ(out->second, 1u);

  auto wrong = MegolmInbound::unpickle(*pickled, "wrong key");
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message.find("BAD_ACCOUNT_KEY"), std::string::npos)
      << wrong.error().message;
  EXPECT_FALSE(MegolmInbound::unpickle("garbage", kPickleKey).ok());
  EXPECT_FALSE(MegolmInbound::unpickle(*pickled, "").ok());
}

TEST(MegolmInboundTest, BadKeysAndCiphertextFailCleanly) {
  EXPECT_EQ(MegolmInbound::from_room_key("").error().errcode, errc::kInvalidParam);
  EXPECT_FALSE(MegolmInbound::from_room_key("bm90IGEga2V5").ok());
  EXPECT_FALSE(MegolmInbound::import_key("!!!").ok());

  ClientGroupSession group, other;
  auto inbound = MegolmInbound::from_room_key(group.key());
  ASSERT_TRUE(inbound.ok());
  EXPECT_FALSE(inbound->decrypt("").ok());
  EXPECT_FALSE(inbound->decrypt("not base64 !!").ok());
  EXPECT_FALSE(inbound->decrypt(base64_encode("random junk bytes here")).ok());
  EXPECT_FALSE(inbound->decrypt(other.encrypt("someone else's session")).ok());
  auto forged = inbound->decrypt(tamper(group.encrypt("tampered")));
  ASSERT_FALSE(forged.ok());
  EXPECT_EQ(forged.error().errcode, errc::kUnknown);
  // The session is unharmed by the failures.
  auto out = inbound->decrypt(group.encrypt("fine"));
  ASSERT_TRUE(out.ok()) << error_of(out.error());
  EXPECT_EQ(out->first, "fine");
}

}  // namespace
}  // namespace despatch
