#include "service/records/keeper.h"

#include "service/records/keeper_detail.h"

#include "core/base64.h"
#include "core/canonical_json.h"
#include "core/crypto.h"
#include "core/log.h"
#include "service/common/time.h"
#include "service/records/audit.h"
#include "service/users/user_service.h"
#include "storage/cross_signing_store.h"
#include "storage/device_key_store.h"
#include "storage/device_store.h"
#include "storage/event_store.h"
#include "storage/keeper_store.h"
#include "storage/membership_store.h"
#include "storage/user_store.h"

#include <sodium.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace despatch {

using storage::Conn;
using storage::Txn;

using namespace keeper_detail;  // NOLINT(google-build-using-namespace): shared with keeper_events.cpp



Result<std::string> load_or_create_keeper_key(const std::string& data_dir) {
  std::string path = data_dir + "/keeper.key";
  if (std::ifstream in(path); in) {
    std::string text;
    in >> text;
    auto raw = base64_decode(text);
    if (!raw || raw->size() != 32) return Error::internal("cannot read the records keeper key " + path);
    return *raw;
  }
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  std::string key(32, '\0');
  randombytes_buf(key.data(), key.size());
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);  // empty until it is private
  }
  if (::chmod(tmp.c_str(), 0600) != 0) return Error::internal("cannot make " + tmp + " private");
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << base64_encode(key) << "\n";
    out.flush();
    if (!out) return Error::internal("cannot write " + tmp);
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) return Error::internal("cannot write " + path + ": " + ec.message());
  DS_LOG(kInfo, "generated the records keeper's key in {}", path);
  return key;
}

RecordsKeeper::RecordsKeeper(const Config& config, storage::Database& db, Archive& archive,
                             std::string key)
    : config_(config), db_(db), archive_(archive), key_(std::move(key)),
      user_id_(config.keeper_user_id()), device_id_(kKeeperDeviceId) {}

Result<std::unique_ptr<RecordsKeeper>> RecordsKeeper::open(const Config& config,
                                                           storage::Database& db,
                                                           Archive& archive) {
  DS_ASSIGN(std::string key, load_or_create_keeper_key(config.data_dir));
  std::unique_ptr<RecordsKeeper> k(new RecordsKeeper(config, db, archive, std::move(key)));
  RecordsKeeper* raw = k.get();
  db.add_on_rollback([raw] { raw->invalidate(); });
  auto job = [raw](Txn& t) -> Status {
    DS_ASSIGN(auto account, t.keeper().account(raw->user_id_));
    if (!account) DS_TRY(raw->create_account(t));
    DS_TRY(raw->load(t));
    return raw->publish_one_time_keys(t);
  };
  DS_TRY(db.transact_blocking<Ok>(job));
  DS_LOG(kInfo, "records keeper {} (device {}, ed25519 {}) is ready", raw->user_id_, raw->device_id_,
         raw->device_->ed25519_key());
  return k;
}

bool RecordsKeeper::covers(const std::string& room_kind) const {
  auto& ex = config_.records_keeper_exclude;
  return std::find(ex.begin(), ex.end(), room_kind) == ex.end();
}

Status RecordsKeeper::create_account(Txn& t) {
  DS_ASSIGN(bool existing, t.users().exists(user_id_));
  if (existing)
    return Error::internal("the account " + user_id_ + " exists but is not the records keeper this server made; "
                           "choose another name with [records] keeper_localpart");
  DS_TRY(insert_user(t, user_id_, "", false));  // no password: nobody logs in as the keeper
  DS_TRY(t.users().set_displayname(user_id_, std::string(kDisplayName)));
  DS_TRY(t.devices().add_or_touch(user_id_, device_id_, std::string(kDisplayName), now_ms()));
  DS_ASSIGN(OlmDevice dev, OlmDevice::create());
  json::object dk = dev.device_keys(user_id_, device_id_);
  DS_TRY(t.device_keys().put_device_keys(user_id_, device_id_, dk));

  // Cross-signing keys made by the server: the self-signing key signs the device, so clients
  // that share keys only with cross-signed devices share with the keeper too.
  auto make_key = []() -> Result<SigningKey> {
    SigningKey k = SigningKey::generate("tmp");
    return SigningKey::from_seed(k.seed(), k.public_key_base64());
  };
  DS_ASSIGN(SigningKey master, make_key());
  DS_ASSIGN(SigningKey self_signing, make_key());
  json::object mk{{"user_id", user_id_},
                  {"usage", json::array{"master"}},
                  {"keys", json::object{{master.key_id(), master.public_key_base64()}}}};
  dev.sign_object(mk, user_id_, device_id_);
  json::object ssk{{"user_id", user_id_},
                   {"usage", json::array{"self_signing"}},
                   {"keys", json::object{{self_signing.key_id(), self_signing.public_key_base64()}}}};
  sign_json(ssk, user_id_, master);
  json::object signed_dk = dk;
  sign_json(signed_dk, user_id_, self_signing);
  std::string device_sig(signed_dk["signatures"].as_object()[user_id_].as_object()[self_signing.key_id()].as_string());
  for (auto [usage, key] : {std::pair{"master", &mk}, std::pair{"self_signing", &ssk}})
    DS_TRY(t.cross_signing().put_key(user_id_, usage, *key));
  DS_TRY(t.cross_signing().put_signature({user_id_, device_id_, user_id_, self_signing.key_id(), device_sig}));

  json::object seeds{{"master", base64_encode(master.seed())},
                     {"self_signing", base64_encode(self_signing.seed())}};
  DS_ASSIGN(std::string pickle, dev.pickle_account(key_));
  DS_TRY(t.keeper().create_account(
      {user_id_, device_id_, pickle, seal_at_rest(key_, json::serialize(seeds)), now_ms()}));
  DS_TRY(KeyService::mark_changed(t, user_id_, device_id_));
  json::object details{{"user_id", user_id_},
                       {"device_id", device_id_},
                       {"ed25519", dev.ed25519_key()},
                       {"curve25519", dev.curve25519_key()},
                       {"master_key", master.public_key_base64()}};
  DS_TRY(audit_append(t, "server", "records.keeper_created", "", details));
  return ok_status();
}

Status RecordsKeeper::load(Txn& t) {
  DS_ASSIGN(auto account, t.keeper().account(user_id_));
  if (!account) return Error::internal("the records keeper's account is missing");
  device_id_ = account->device_id;
  DS_ASSIGN(OlmDevice dev, OlmDevice::unpickle_account(account->pickle, key_));
  device_ = std::make_unique<OlmDevice>(std::move(dev));
  loaded_senders_.clear();
  megolm_.clear();
  stale_ = false;
  return ok_status();
}

Status RecordsKeeper::ensure_fresh(Txn& t) {
  if (!stale_) return ok_status();
  return load(t);
}

Status RecordsKeeper::save_account(Txn& t) {
  DS_ASSIGN(std::string pickle, device_->pickle_account(key_));
  return t.keeper().set_account_pickle(user_id_, pickle);
}

Status RecordsKeeper::publish_one_time_keys(Txn& t) {
  bool changed = false;
  DS_ASSIGN(auto counts, t.device_keys().one_time_key_counts(user_id_, device_id_));
  int64_t have = counts.count(kSignedCurve25519) ? counts.at(kSignedCurve25519) : 0;
  if (have < static_cast<int64_t>(kKeeperOneTimeKeysLow)) {
    DS_ASSIGN(json::object keys, device_->one_time_keys(user_id_, device_id_, kKeeperOneTimeKeys - have));
    for (auto& [full, key] : keys) {
      std::string id(full);
      auto colon = id.find(':');
      DS_TRY(t.device_keys().add_one_time_key(user_id_, device_id_, {id.substr(0, colon), id.substr(colon + 1), key}));
    }
    changed = true;
  }
  DS_ASSIGN(auto fallback, t.device_keys().fallback_key(user_id_, device_id_, kSignedCurve25519));
  if (!fallback || fallback->used) {
    // A used fallback key is replaced; libolm keeps the one before for messages still due.
    if (fallback) device_->forget_old_fallback_key();
    DS_ASSIGN(json::object keys, device_->fallback_key(user_id_, device_id_));
    for (auto& [full, key] : keys) {
      std::string id(full);
      auto colon = id.find(':');
      DS_TRY(t.device_keys().put_fallback_key(user_id_, device_id_,
                                              {id.substr(0, colon), id.substr(colon + 1), key, false}));
    }
    changed = true;
  }
  if (changed) DS_TRY(save_account(t));
  return ok_status();
}

Status RecordsKeeper::keys_claimed(Conn& c) {
  auto t = db_.txn_over(c);
  Status st = ensure_fresh(*t);
  if (st.ok()) st = publish_one_time_keys(*t);
  if (!st.ok()) stale_ = true;
  return st;
}

Status RecordsKeeper::load_olm_sessions(Txn& t, const std::string& sender_key) {
  if (loaded_senders_.count(sender_key)) return ok_status();
  DS_ASSIGN(auto sessions, t.keeper().olm_sessions(sender_key));
  for (auto& s : sessions) {
    auto st = device_->restore_session({sender_key, s.session_id, s.pickle}, key_);
    if (!st.ok())
      DS_LOG(kWarn, "records keeper: dropping unreadable Olm session {}: {}", s.session_id, st.error().message);
  }
  loaded_senders_.insert(sender_key);
  return ok_status();
}

Status RecordsKeeper::save_olm_sessions(Txn& t, const std::string& sender_key) {
  DS_ASSIGN(auto pickled, device_->pickle_sessions(key_, sender_key));
  std::vector<storage::KeeperOlmSession> sessions;
  sessions.reserve(pickled.size());
  for (auto& s : pickled) sessions.push_back({std::move(s.session_id), std::move(s.pickle)});
  return t.keeper().replace_olm_sessions(sender_key, sessions);
}

Status RecordsKeeper::receive_to_device(Conn& c, const std::string& sender, const std::string& type,
                                        const json::object& content) {
  auto t = db_.txn_over(c);
  Status st = ensure_fresh(*t);
  if (st.ok()) {
    if (type == "m.room.encrypted") st = handle_olm(*t, sender, content);
    else if (type == "m.room_key.withheld") st = handle_withheld(*t, sender, content);
    else DS_LOG(kDebug, "records keeper: ignoring a {} to-device message from {}", type, sender);
  }
  if (!st.ok()) stale_ = true;
  return st;
}

Status RecordsKeeper::handle_olm(Txn& t, const std::string& sender, const json::object& content) {
  auto reject = [&](const std::string& why) {
    ++rejected_;
    DS_LOG(kWarn, "records keeper: dropped a to-device message from {}: {}", sender, why);
    return ok_status();
  };
  auto* alg = str(content, "algorithm");
  auto* sender_key_v = str(content, "sender_key");
  auto* ciphertext = obj(content, "ciphertext");
  if (!alg || *alg != kOlmAlgorithm || !sender_key_v || !ciphertext) return reject("not an Olm message");
  std::string sender_key(*sender_key_v);
  auto* mine = obj(*ciphertext, device_->curve25519_key().c_str());
  if (!mine) return reject("not encrypted for this device");
  auto* type_v = mine->if_contains("type");
  auto* body = str(*mine, "body");
  if (!type_v || !type_v->is_int64() || !body) return reject("malformed ciphertext entry");
  int message_type = static_cast<int>(type_v->as_int64());

  DS_TRY(load_olm_sessions(t, sender_key));
  auto plain = device_->decrypt_olm(sender_key, message_type, std::string(*body));
  if (!plain.ok()) {
    // The sender holds a session the keeper lost (a normal message no session decrypts, or a
    // pre-key message for a one-time key already used up).
    DS_TRY(recover_session(t, sender, sender_key));
    return reject("Olm: " + plain.error().message);
  }
  DS_TRY(save_olm_sessions(t, sender_key));
  if (message_type == kOlmPreKeyMessage) DS_TRY(save_account(t));  // a one-time key was used

  // The spec's checks on a decrypted Olm payload: who sent it, to whom, and with which keys.
  auto payload = parse_object(*plain);
  if (!payload) return reject("Olm payload is not a JSON object");
  auto* p_sender = str(*payload, "sender");
  auto* p_recipient = str(*payload, "recipient");
  auto* p_rkeys = obj(*payload, "recipient_keys");
  auto* p_keys = obj(*payload, "keys");
  auto* p_type = str(*payload, "type");
  auto* p_content = obj(*payload, "content");
  if (!p_sender || *p_sender != sender) return reject("Olm payload names another sender");
  if (!p_recipient || *p_recipient != user_id_) return reject("Olm payload names another recipient");
  if (!p_rkeys || !str(*p_rkeys, "ed25519") || *str(*p_rkeys, "ed25519") != device_->ed25519_key())
    return reject("Olm payload names another recipient key");
  if (!p_keys || !str(*p_keys, "ed25519") || !p_type || !p_content) return reject("Olm payload lacks keys, type or content");
  // The sender's device with this identity key must have this signing key.
  DS_ASSIGN(auto device, device_with_keys(t, sender, sender_key, std::string(*str(*p_keys, "ed25519"))));
  if (!device) return reject("no device of " + sender + " has these identity keys");

  if (*p_type == "m.room_key") return handle_room_key(t, sender, sender_key, *p_content, false);
  if (*p_type == "m.forwarded_room_key") return handle_room_key(t, sender, sender_key, *p_content, true);
  DS_LOG(kDebug, "records keeper: ignoring an encrypted {} from {}", std::string(*p_type), sender);
  return ok_status();
}

Status RecordsKeeper::recover_session(Txn& t, const std::string& sender, const std::string& sender_key) {
  constexpr int64_t kHourMs = 3'600'000;
  int64_t now = now_ms();
  if (auto it = recovered_at_.find(sender_key); it != recovered_at_.end() && now - it->second < kHourMs)
    return ok_status();
  // The sender's device with that identity key, and its signing key.
  DS_ASSIGN(auto device, device_with_keys(t, sender, sender_key, ""));
  if (!device) return ok_status();
  const std::string& device_id = device->device_id;
  const std::string& ed25519 = device->ed25519;
  DS_ASSIGN(auto claimed, claim_device_key(t, sender, device_id, kSignedCurve25519));
  if (!claimed) return ok_status();
  auto key_obj = claimed->key.is_object() ? std::optional(claimed->key.as_object()) : std::nullopt;
  auto* one_time = key_obj ? str(*key_obj, "key") : nullptr;
  if (!one_time || !verify_key_signature(*key_obj, sender, "ed25519:" + device_id, ed25519).ok()) {
    DS_LOG(kWarn, "records keeper: {} {} has no validly signed one-time key; cannot renew the session", sender,
           device_id);
    return ok_status();
  }
  DS_TRY(device_->create_outbound_session(sender_key, std::string(*one_time)));
  json::object payload{{"type", "m.dummy"},
                       {"content", json::object{}},
                       {"sender", user_id_},
                       {"recipient", sender},
                       {"recipient_keys", json::object{{"ed25519", ed25519}}},
                       {"keys", json::object{{"ed25519", device_->ed25519_key()}}}};
  DS_ASSIGN(auto sealed, device_->encrypt_olm(sender_key, json::serialize(payload)));
  DS_TRY(save_olm_sessions(t, sender_key));
  json::object content{{"algorithm", kOlmAlgorithm},
                       {"sender_key", device_->curve25519_key()},
                       {"ciphertext", json::object{{sender_key, json::object{{"type", sealed.first},
                                                                            {"body", sealed.second}}}}}};
  DS_TRY(KeyService::queue_to_device(t, ToDeviceLimits{}, sender, device_id, user_id_, "m.room.encrypted",
                                     json::serialize(content)));
  recovered_at_[sender_key] = now;
  ++sessions_renewed_;
  DS_LOG(kInfo, "records keeper: renewed the Olm session with {} {} after an undecryptable message", sender,
         device_id);
  return ok_status();
}

Status RecordsKeeper::handle_room_key(Txn& t, const std::string& sender, const std::string& sender_key,
                                      const json::object& content, bool forwarded) {
  auto reject = [&](const std::string& why) {
    ++rejected_;
    DS_LOG(kWarn, "records keeper: dropped a {} from {}: {}", forwarded ? "forwarded room key" : "room key",
           sender, why);
    return ok_status();
  };
  auto* alg = str(content, "algorithm");
  auto* room_id = str(content, "room_id");
  auto* session_id = str(content, "session_id");
  auto* session_key = str(content, "session_key");
  if (!alg || *alg != kMegolmAlgorithm || !room_id || !session_id || !session_key)
    return reject("not a Megolm room key");
  std::string room(*room_id);
  // Keys of rooms the keeper is in, from people who are or were members.
  DS_ASSIGN(auto mine, t.memberships().membership(room, user_id_));
  if (!mine || *mine != "join") return reject("the keeper is not in " + room);
  DS_ASSIGN(auto theirs, t.memberships().membership(room, sender));
  if (!theirs) return reject(sender + " was never in " + room);

  std::string owner_key = sender_key, owner = sender;
  if (forwarded) {
    // A forwarded key names the device that made the session; its owner must have sent the
    // events it decrypts (checked per event), whoever forwarded it.
    auto* original = str(content, "sender_key");
    if (!original) return reject("forwarded key without sender_key");
    owner_key = std::string(*original);
    DS_ASSIGN(auto devices, t.device_keys().devices_with_identity_key(owner_key));
    owner = devices.empty() ? "" : devices.back().user_id;
    if (owner.empty()) return reject("no known device has the forwarded key's sender_key");
  }
  auto session = forwarded ? MegolmInbound::import_key(std::string(*session_key))
                           : MegolmInbound::from_room_key(std::string(*session_key));
  if (!session.ok()) return reject(session.error().message);
  if (session->session_id() != *session_id) return reject("session_id does not match the session key");
  DS_ASSIGN(bool stored, store_megolm(t, room, owner_key, owner, sender,
                                      forwarded ? "m.forwarded_room_key" : "m.room_key", std::move(*session)));
  if (!stored) return ok_status();
  ++room_keys_;
  return retry_pending(t, room, std::string(*session_id));
}

Status RecordsKeeper::handle_withheld(Txn& t, const std::string& sender, const json::object& content) {
  auto* room_id = str(content, "room_id");
  auto* session_id = str(content, "session_id");
  auto* code = str(content, "code");
  if (!room_id || !session_id || !code) return ok_status();  // e.g. m.no_olm names no session
  auto* sender_key = str(content, "sender_key");
  auto* reason = str(content, "reason");
  std::string why = "withheld by " + sender + ": " + std::string(*code) +
                    (reason ? " (" + std::string(*reason) + ")" : "");
  DS_TRY(t.keeper().put_withheld({std::string(*room_id), std::string(*session_id),
                                   sender_key ? std::string(*sender_key) : "", sender, std::string(*code),
                                   reason ? std::string(*reason) : "", now_ms()}));
  return t.keeper().set_pending_reason(std::string(*room_id), std::string(*session_id), sender, why);
}

}  // namespace despatch
