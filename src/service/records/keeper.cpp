#include "service/records/keeper.h"

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

namespace {

constexpr const char* kDisplayName = "Records keeper";
constexpr size_t kMaxCachedSessions = 10000;

const json::string* str(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? &v->as_string() : nullptr;
}

const json::object* obj(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v && v->is_object() ? &v->as_object() : nullptr;
}

std::optional<json::object> parse_object(std::string_view text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.as_object());
}

// A device of user whose published keys have this curve25519 identity key (and, when
// ed25519 is not empty, this ed25519 signing key).
struct DeviceIdentity {
  std::string device_id, ed25519;
};
Result<std::optional<DeviceIdentity>> device_with_keys(Txn& t, const std::string& user, const std::string& curve25519,
                                                       const std::string& ed25519) {
  DS_ASSIGN(auto devices, t.device_keys().device_keys_of({user}));
  for (auto& d : devices) {
    auto* keys = obj(d.keys, "keys");
    if (!keys) continue;
    auto* curve = str(*keys, ("curve25519:" + d.device_id).c_str());
    auto* ed = str(*keys, ("ed25519:" + d.device_id).c_str());
    if (curve && *curve == curve25519 && ed && (ed25519.empty() || *ed == ed25519))
      return std::optional<DeviceIdentity>(DeviceIdentity{d.device_id, std::string(*ed)});
  }
  return std::optional<DeviceIdentity>{};
}

std::string cache_key(const std::string& room_id, const std::string& session_id,
                      const std::string& sender_key) {
  return room_id + "|" + session_id + "|" + sender_key;
}

// XChaCha20-Poly1305 under the keeper key: base64(nonce || ciphertext).
std::string seal_at_rest(const std::string& key, std::string_view plain) {
  constexpr size_t kNonce = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
  std::string blob(kNonce + plain.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES, '\0');
  randombytes_buf(blob.data(), kNonce);
  unsigned long long n = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      reinterpret_cast<unsigned char*>(blob.data() + kNonce), &n,
      reinterpret_cast<const unsigned char*>(plain.data()), plain.size(), nullptr, 0, nullptr,
      reinterpret_cast<const unsigned char*>(blob.data()),
      reinterpret_cast<const unsigned char*>(key.data()));
  blob.resize(kNonce + n);
  return base64_encode(blob);
}

}  // namespace

struct RecordsKeeper::Decrypted {
  json::object payload;  // {type, content, room_id}
  uint32_t index = 0;
  std::string session_id, sender_key, sender_user, source;
};

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
  DS_TRY(KeyService::mark_changed(t, user_id_));
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

Result<const RecordsKeeper::Megolm*> RecordsKeeper::find_megolm(Txn& t, const std::string& room_id,
                                                                const std::string& session_id,
                                                                const std::string& sender_key) {
  if (!sender_key.empty()) {
    auto it = megolm_.find(cache_key(room_id, session_id, sender_key));
    if (it != megolm_.end()) return &it->second;
  }
  // Newer clients may leave sender_key out of events: any session with this ID in the room.
  DS_ASSIGN(auto row, t.keeper().megolm_session(room_id, session_id, sender_key));
  if (!row) return static_cast<const Megolm*>(nullptr);
  std::string key = cache_key(room_id, session_id, row->sender_key);
  if (auto it = megolm_.find(key); it != megolm_.end()) return &it->second;
  auto session = MegolmInbound::unpickle(row->pickle, key_);
  if (!session.ok()) {
    DS_LOG(kError, "records keeper: cannot read Megolm session {}: {}", session_id, session.error().message);
    return static_cast<const Megolm*>(nullptr);
  }
  if (megolm_.size() >= kMaxCachedSessions) megolm_.clear();
  Megolm m{std::make_shared<MegolmInbound>(std::move(*session)), row->sender_user, row->source, row->sender_key,
           static_cast<uint32_t>(row->first_index)};
  return &(megolm_[key] = std::move(m));
}

Result<bool> RecordsKeeper::store_megolm(Txn& t, const std::string& room_id, const std::string& sender_key,
                                         const std::string& owner, const std::string& shared_by,
                                         const std::string& source, MegolmInbound session) {
  std::string session_id = session.session_id();
  uint32_t first = session.first_known_index();
  DS_ASSIGN(const Megolm* have, find_megolm(t, room_id, session_id, sender_key));
  if (have) {
    if (have->sender_user != owner) return false;
    bool better = first < have->first_index || (first == have->first_index && have->source != "m.room_key" &&
                                                source == "m.room_key");
    if (!better) return false;
    // The same ratchet, only reaching further back: both must agree where the held one starts.
    auto held = have->session->export_at(have->first_index);
    auto offered = session.export_at(have->first_index);
    if (!held.ok() || !offered.ok() || *held != *offered) {
      ++rejected_;
      DS_LOG(kWarn, "records keeper: a key for session {} from {} conflicts with the one held", session_id, shared_by);
      return false;
    }
  }
  DS_ASSIGN(std::string pickle, session.pickle(key_));
  DS_ASSIGN(std::string exported, session.export_at(first));
  DS_TRY(t.keeper().put_megolm_session(
      {room_id, session_id, sender_key, owner, int64_t{first}, source, pickle, now_ms()}));
  // The key itself is sealed into the archive, so that the records office can check any
  // plaintext record against the ciphertext it came from.
  json::object rec{{"algorithm", kMegolmAlgorithm}, {"room_id", room_id},   {"session_id", session_id},
                   {"sender_key", sender_key},      {"sender", owner},      {"shared_by", shared_by},
                   {"source", source},              {"first_known_index", int64_t{first}},
                   {"session_key", exported}};
  ArchiveEntry entry{0, "", room_id, owner, source, now_ms(), "", "room_key", canonical_json(rec)};
  DS_TRY(archive_.append(t, entry));
  if (megolm_.size() >= kMaxCachedSessions) megolm_.clear();
  megolm_[cache_key(room_id, session_id, sender_key)] =
      Megolm{std::make_shared<MegolmInbound>(std::move(session)), owner, source, sender_key, first};
  return true;
}

Result<bool> RecordsKeeper::decrypt_event(Txn& t, const json::object& event, Decrypted* out, std::string* why) {
  auto* content = obj(event, "content");
  auto* alg = content ? str(*content, "algorithm") : nullptr;
  if (!alg || *alg != kMegolmAlgorithm) {
    *why = "not a Megolm event (" + (alg ? std::string(*alg) : std::string("no algorithm")) + ")";
    return false;
  }
  auto* session_id = str(*content, "session_id");
  auto* ciphertext = str(*content, "ciphertext");
  auto* sender_key = str(*content, "sender_key");
  if (!session_id || !ciphertext) {
    *why = "malformed Megolm event";
    return false;
  }
  std::string room_id(event.at("room_id").as_string());
  DS_ASSIGN(const Megolm* m, find_megolm(t, room_id, std::string(*session_id),
                                         sender_key ? std::string(*sender_key) : ""));
  if (!m) {
    DS_ASSIGN(auto w, t.keeper().withheld(room_id, std::string(*session_id)));
    if (w)
      *why = "withheld by " + w->sender + ": " + w->code + (w->reason.empty() ? "" : " (" + w->reason + ")");
    else
      *why = "no room key for session " + std::string(*session_id);
    return false;
  }
  auto plain = m->session->decrypt(std::string(*ciphertext));
  if (!plain.ok()) {
    *why = plain.error().message;
    return false;
  }
  auto payload = parse_object(plain->first);
  if (!payload || !str(*payload, "type") || !obj(*payload, "content")) {
    *why = "the decrypted payload is not an event";
    return false;
  }
  if (auto* r = str(*payload, "room_id"); !r || *r != room_id) {
    *why = "the decrypted payload names another room";
    return false;
  }
  out->payload = std::move(*payload);
  out->index = plain->second;
  out->session_id = std::string(*session_id);
  out->sender_user = m->sender_user;
  out->source = m->source;
  out->sender_key = m->sender_key;  // known even when the event leaves it out
  return true;
}

Status RecordsKeeper::archive_plaintext(Txn& t, const json::object& event, int64_t pos, const Decrypted& d) {
  json::object content = d.payload.at("content").as_object();
  // Relations travel outside the ciphertext (spec: "Mixing end-to-end encryption and relations").
  if (auto* rel = event.at("content").as_object().if_contains("m.relates_to"); rel && !content.contains("m.relates_to"))
    content["m.relates_to"] = *rel;
  std::string type(d.payload.at("type").as_string());
  std::string sender(event.at("sender").as_string());
  json::object rec{{"event_id", event.at("event_id")},
                   {"room_id", event.at("room_id")},
                   {"sender", sender},
                   {"origin_server_ts", event.at("origin_server_ts")},
                   {"type", type},
                   {"content", std::move(content)},
                   {"decryption",
                    json::object{{"algorithm", kMegolmAlgorithm},
                                 {"session_id", d.session_id},
                                 {"sender_key", d.sender_key},
                                 {"message_index", int64_t{d.index}},
                                 {"key_source", d.source},
                                 // The session belongs to a device of the event's sender.
                                 {"sender_verified", sender == d.sender_user}}}};
  ArchiveEntry entry{pos,
                     std::string(event.at("event_id").as_string()),
                     std::string(event.at("room_id").as_string()),
                     sender,
                     type,
                     event.at("origin_server_ts").as_int64(),
                     "",
                     "plaintext",
                     canonical_json(rec)};
  DS_TRY(archive_.append(t, entry));
  ++decrypted_;
  return ok_status();
}

Status RecordsKeeper::on_encrypted_event(Txn& t, const json::object& event, int64_t pos) {
  Status st = ensure_fresh(t);
  if (!st.ok()) {
    stale_ = true;
    return st;
  }
  Decrypted d;
  std::string why;
  DS_ASSIGN(bool decrypted, decrypt_event(t, event, &d, &why));
  if (decrypted) return archive_plaintext(t, event, pos, d);

  // Archived as ciphertext (the event record) plus this flag, and retried when keys arrive.
  const json::object* c_obj = obj(event, "content");
  const json::object empty;
  const json::object& content = c_obj ? *c_obj : empty;
  std::string session_id = str(content, "session_id") ? std::string(*str(content, "session_id")) : "";
  std::string sender_key = str(content, "sender_key") ? std::string(*str(content, "sender_key")) : "";
  std::string event_id(event.at("event_id").as_string()), room_id(event.at("room_id").as_string());
  std::string sender(event.at("sender").as_string());
  int64_t ts = event.at("origin_server_ts").as_int64();
  storage::KeeperPending pending{event_id, room_id, session_id, sender_key, sender, pos, ts, why};
  pending.first_seen_ts = now_ms();
  DS_TRY(t.keeper().add_pending(pending));
  json::object rec{{"event_id", event_id}, {"room_id", room_id},       {"sender", sender},
                   {"origin_server_ts", ts}, {"session_id", session_id}, {"sender_key", sender_key},
                   {"reason", why}};
  ArchiveEntry entry{pos, event_id, room_id, sender, "m.room.encrypted", ts, "", "undecryptable", canonical_json(rec)};
  DS_TRY(archive_.append(t, entry));
  ++undecryptable_;
  DS_LOG(kInfo, "records keeper: cannot decrypt {} in {} yet: {}", event_id, room_id, why);
  return ok_status();
}

Status RecordsKeeper::retry_pending(Txn& t, const std::string& room_id, const std::string& session_id) {
  DS_ASSIGN(auto pending, t.keeper().pending_for_session(room_id, session_id));
  for (auto& p : pending) {
    DS_ASSIGN(auto stored, t.events().event(p.event_id));
    if (!stored) continue;
    json::object event = stored->pdu;
    event["event_id"] = p.event_id;
    Decrypted d;
    std::string why;
    DS_ASSIGN(bool decrypted, decrypt_event(t, event, &d, &why));
    if (!decrypted) {
      DS_TRY(t.keeper().note_failed_attempt(p.event_id, why));
      continue;
    }
    DS_TRY(archive_plaintext(t, event, p.stream_pos, d));
    DS_TRY(t.keeper().drop_pending(p.event_id));
    DS_LOG(kInfo, "records keeper: decrypted {} once its keys arrived", p.event_id);
  }
  return ok_status();
}

Result<json::object> RecordsKeeper::undecryptable(int64_t limit) {
  storage::KeeperStore& store = db_.read().keeper();
  DS_ASSIGN(int64_t count, store.pending_count());
  DS_ASSIGN(auto rows, store.newest_pending(limit));
  json::array events;
  for (auto& p : rows)
    events.push_back(json::object{{"event_id", p.event_id},     {"room_id", p.room_id},
                                  {"sender", p.sender},         {"session_id", p.session_id},
                                  {"sender_key", p.sender_key}, {"reason", p.reason},
                                  {"attempts", p.attempts},     {"origin_server_ts", p.ts},
                                  {"first_seen_ts", p.first_seen_ts}});
  return json::object{{"count", count}, {"events", std::move(events)}};
}

json::object RecordsKeeper::metrics() {
  auto pending = db_.read().keeper().pending_count();
  auto counts = db_.read().device_keys().one_time_key_counts(user_id_, device_id_);
  int64_t otks = 0;
  if (counts.ok())
    for (auto& [algorithm, n] : *counts) otks += n;
  return json::object{
      {"records_undecryptable", pending.ok() ? *pending : -1},
      {"keeper_one_time_keys", counts.ok() ? otks : -1},
      {"keeper_decrypted_total", decrypted_.load()},
      {"keeper_undecryptable_total", undecryptable_.load()},
      {"keeper_room_keys_total", room_keys_.load()},
      {"keeper_rejected_to_device_total", rejected_.load()},
      {"keeper_olm_sessions_renewed_total", sessions_renewed_.load()}};
}

}  // namespace despatch
