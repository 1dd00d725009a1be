#include "service/records/olm_device.h"

#include <olm/olm.h>
#include <sodium.h>

#include <algorithm>
#include <cstdlib>

#include "core/base64.h"
#include "core/canonical_json.h"

namespace despatch {

namespace olm_detail {
// libolm objects live in caller-provided memory: clear the secrets, then free the block.
void AccountDeleter::operator()(OlmAccount* p) const {
  olm_clear_account(p);
  std::free(p);
}
void SessionDeleter::operator()(OlmSession* p) const {
  olm_clear_session(p);
  std::free(p);
}
void GroupSessionDeleter::operator()(OlmInboundGroupSession* p) const {
  olm_clear_inbound_group_session(p);
  std::free(p);
}
}  // namespace olm_detail

namespace {

using SessionPtr = std::unique_ptr<OlmSession, olm_detail::SessionDeleter>;

constexpr int kDevicePickleVersion = 1;

bool failed(size_t r) { return r == olm_error(); }

// malloc's alignment suits every libolm object; the init functions placement-construct into
// the block and return the same address, which the deleters free.
void* olm_memory(size_t size) {
  void* mem = std::malloc(size);
  if (!mem) std::abort();  // out of memory: nothing sensible to return
  return mem;
}

std::unique_ptr<OlmAccount, olm_detail::AccountDeleter> new_account() {
  return std::unique_ptr<OlmAccount, olm_detail::AccountDeleter>(
      olm_account(olm_memory(olm_account_size())));
}

SessionPtr new_session() { return SessionPtr(olm_session(olm_memory(olm_session_size()))); }

// Random bytes for libolm, wiped once used since they become key material.
class RandomBytes {
 public:
  explicit RandomBytes(size_t n) : bytes_(n) {
    static const bool kReady = [] { return sodium_init() >= 0; }();
    if (!kReady) std::abort();  // no usable randomness: nothing safe can continue
    if (n > 0) randombytes_buf(bytes_.data(), n);
  }
  RandomBytes(const RandomBytes&) = delete;
  RandomBytes& operator=(const RandomBytes&) = delete;
  ~RandomBytes() {
    if (!bytes_.empty()) sodium_memzero(bytes_.data(), bytes_.size());
  }
  uint8_t* data() { return bytes_.data(); }
  size_t size() const { return bytes_.size(); }

 private:
  std::vector<uint8_t> bytes_;
};

Error olm_failure(const std::string& what, const char* reason) {
  return Error::unknown(what + ": " + reason);
}

// At-rest state that will not load is the server's problem, not the client's.
Error pickle_failure(const std::string& what, const char* reason) {
  std::string message = what + ": " + reason;
  if (std::string_view(reason) == "BAD_ACCOUNT_KEY") message += " (wrong pickle key?)";
  return Error::internal(std::move(message));
}

Status check_pickle_key(std::string_view key) {
  if (key.empty()) return Error::invalid_param("Olm pickle key must not be empty");
  return ok_status();
}

Status check_curve25519(const std::string& key, const char* what) {
  auto raw = base64_decode(key);
  if (!raw || raw->size() != 32) {
    return Error::invalid_param(std::string(what) + " is not a base64 curve25519 key");
  }
  return ok_status();
}

Result<std::string> pickle_session(OlmSession* s, std::string_view key) {
  std::string out(olm_pickle_session_length(s), '\0');
  size_t n = olm_pickle_session(s, key.data(), key.size(), out.data(), out.size());
  if (failed(n)) return pickle_failure("Cannot pickle Olm session", olm_session_last_error(s));
  out.resize(n);
  return out;
}

Result<SessionPtr> unpickle_session(std::string_view pickled, std::string_view key) {
  SessionPtr s = new_session();
  std::string buf(pickled);  // libolm decodes in place
  if (failed(olm_unpickle_session(s.get(), key.data(), key.size(), buf.data(), buf.size()))) {
    return pickle_failure("Cannot unpickle Olm session", olm_session_last_error(s.get()));
  }
  return s;
}

std::string session_id(OlmSession* s) {
  std::string id(olm_session_id_length(s), '\0');
  size_t n = olm_session_id(s, id.data(), id.size());
  id.resize(failed(n) ? 0 : n);
  return id;
}

// Decrypts on one session. libolm leaves the session unchanged when the MAC fails, so a
// failed attempt on the wrong session is harmless.
Result<std::string> session_decrypt(OlmSession* s, int type, const std::string& ciphertext) {
  std::string buf = ciphertext;  // both calls below destroy their input
  size_t max = olm_decrypt_max_plaintext_length(s, type, buf.data(), buf.size());
  if (failed(max)) return olm_failure("Bad Olm message", olm_session_last_error(s));
  buf = ciphertext;
  std::string plain(max, '\0');
  size_t n = olm_decrypt(s, type, buf.data(), buf.size(), plain.data(), plain.size());
  if (failed(n)) return olm_failure("Cannot decrypt Olm message", olm_session_last_error(s));
  plain.resize(n);
  return plain;
}

}  // namespace

// ---- OlmDevice ----------------------------------------------------------------------------

OlmDevice::OlmDevice(Account account) : account_(std::move(account)) {}
OlmDevice::OlmDevice(OlmDevice&&) noexcept = default;
OlmDevice& OlmDevice::operator=(OlmDevice&&) noexcept = default;
OlmDevice::~OlmDevice() = default;

Result<OlmDevice> OlmDevice::create() {
  Account account = new_account();
  RandomBytes random(olm_create_account_random_length(account.get()));
  if (failed(olm_create_account(account.get(), random.data(), random.size()))) {
    return olm_failure("Cannot create Olm account", olm_account_last_error(account.get()));
  }
  OlmDevice device(std::move(account));
  DS_TRY(device.load_identity_keys());
  return device;
}

Result<OlmDevice> OlmDevice::unpickle_account(std::string_view pickled, std::string_view key) {
  DS_TRY(check_pickle_key(key));
  Account account = new_account();
  std::string buf(pickled);  // libolm decodes in place
  if (failed(olm_unpickle_account(account.get(), key.data(), key.size(), buf.data(), buf.size()))) {
    return pickle_failure("Cannot unpickle Olm account", olm_account_last_error(account.get()));
  }
  OlmDevice device(std::move(account));
  DS_TRY(device.load_identity_keys());
  return device;
}

Result<OlmDevice> OlmDevice::unpickle(std::string_view pickled, std::string_view key) {
  boost::system::error_code ec;
  json::value v = json::parse(pickled, ec);
  const json::object* obj = !ec && v.is_object() ? &v.get_object() : nullptr;
  const json::value* version = obj ? obj->if_contains("v") : nullptr;
  const json::value* account = obj ? obj->if_contains("account") : nullptr;
  const json::value* sessions = obj ? obj->if_contains("sessions") : nullptr;
  if (!version || !version->is_int64() || version->get_int64() != kDevicePickleVersion ||
      !account || !account->is_string() || !sessions || !sessions->is_array()) {
    return Error::internal("Olm device pickle is damaged or of an unknown version");
  }
  DS_ASSIGN(OlmDevice device, unpickle_account(account->get_string(), key));
  for (const json::value& entry : sessions->get_array()) {
    const json::object* e = entry.if_object();
    const json::value* sender = e ? e->if_contains("sender_key") : nullptr;
    const json::value* pickle = e ? e->if_contains("pickle") : nullptr;
    if (!sender || !sender->is_string() || !pickle || !pickle->is_string()) {
      return Error::internal("Olm device pickle has a damaged session entry");
    }
    DS_TRY(device.restore_session(
        {std::string(sender->get_string()), {}, std::string(pickle->get_string())}, key));
  }
  return device;
}

Status OlmDevice::load_identity_keys() {
  std::string buf(olm_account_identity_keys_length(account_.get()), '\0');
  size_t n = olm_account_identity_keys(account_.get(), buf.data(), buf.size());
  if (failed(n)) {
    return olm_failure("Cannot read Olm identity keys", olm_account_last_error(account_.get()));
  }
  buf.resize(n);
  boost::system::error_code ec;
  json::value v = json::parse(buf, ec);
  const json::object* keys = !ec ? v.if_object() : nullptr;
  const json::value* curve = keys ? keys->if_contains("curve25519") : nullptr;
  const json::value* ed = keys ? keys->if_contains("ed25519") : nullptr;
  if (!curve || !curve->is_string() || !ed || !ed->is_string()) {
    return Error::internal("libolm returned malformed identity keys");
  }
  curve25519_ = std::string(curve->get_string());
  ed25519_ = std::string(ed->get_string());
  return ok_status();
}

Result<std::string> OlmDevice::pickle_account(std::string_view key) const {
  DS_TRY(check_pickle_key(key));
  std::string out(olm_pickle_account_length(account_.get()), '\0');
  size_t n = olm_pickle_account(account_.get(), key.data(), key.size(), out.data(), out.size());
  if (failed(n)) {
    return pickle_failure("Cannot pickle Olm account", olm_account_last_error(account_.get()));
  }
  out.resize(n);
  return out;
}

Result<std::vector<PickledOlmSession>> OlmDevice::pickle_sessions(
    std::string_view key, std::string_view sender_key) const {
  DS_TRY(check_pickle_key(key));
  std::vector<PickledOlmSession> out;
  for (const auto& [sender, list] : sessions_) {
    if (!sender_key.empty() && sender != sender_key) continue;
    for (const Session& s : list) {
      DS_ASSIGN(std::string pickled, pickle_session(s.olm.get(), key));
      out.push_back({sender, s.id, std::move(pickled)});
    }
  }
  return out;
}

Result<std::string> OlmDevice::pickle(std::string_view key) const {
  DS_ASSIGN(std::string account, pickle_account(key));
  DS_ASSIGN(std::vector<PickledOlmSession> sessions, pickle_sessions(key));
  json::array list;
  for (PickledOlmSession& s : sessions) {
    list.push_back(json::object{{"sender_key", s.sender_key}, {"pickle", s.pickle}});
  }
  return json::serialize(json::object{
      {"v", kDevicePickleVersion}, {"account", account}, {"sessions", std::move(list)}});
}

Status OlmDevice::restore_session(const PickledOlmSession& session, std::string_view key) {
  DS_TRY(check_pickle_key(key));
  DS_TRY(check_curve25519(session.sender_key, "Session sender key"));
  DS_ASSIGN(SessionPtr s, unpickle_session(session.pickle, key));
  std::vector<Session>& list = sessions_[session.sender_key];
  if (list.size() >= kMaxOlmSessionsPerSender) return ok_status();  // would be evicted anyway
  std::string id = session_id(s.get());
  list.push_back({std::move(id), std::move(s)});
  return ok_status();
}

std::string OlmDevice::sign(std::string_view message) const {
  std::string sig(olm_account_signature_length(account_.get()), '\0');
  size_t n =
      olm_account_sign(account_.get(), message.data(), message.size(), sig.data(), sig.size());
  sig.resize(failed(n) ? 0 : n);  // only fails on a short buffer, which cannot happen here
  return sig;
}

void OlmDevice::sign_object(json::object& obj, const std::string& user_id,
                            const std::string& device_id) const {
  json::object payload = obj;
  payload.erase("signatures");
  payload.erase("unsigned");
  std::string signature = sign(canonical_json(payload));
  json::value& sigs = obj["signatures"];
  if (!sigs.is_object()) sigs = json::object();
  json::value& mine = sigs.get_object()[user_id];
  if (!mine.is_object()) mine = json::object();
  mine.get_object()["ed25519:" + device_id] = signature;
}

json::object OlmDevice::device_keys(const std::string& user_id,
                                    const std::string& device_id) const {
  json::object keys{
      {"user_id", user_id},
      {"device_id", device_id},
      {"algorithms", json::array{kOlmAlgorithm, kMegolmAlgorithm}},
      {"keys",
       json::object{{"curve25519:" + device_id, curve25519_}, {"ed25519:" + device_id, ed25519_}}},
  };
  sign_object(keys, user_id, device_id);
  return keys;
}

size_t OlmDevice::max_one_time_keys() const {
  return olm_account_max_number_of_one_time_keys(account_.get());
}

// libolm lists keys as {"curve25519": {"<key id>": "<key>"}}; each becomes a signed KeyObject.
Result<json::object> OlmDevice::signed_keys_from(const std::string& olm_json,
                                                 const std::string& user_id,
                                                 const std::string& device_id, bool fallback) {
  boost::system::error_code ec;
  json::value v = json::parse(olm_json, ec);
  const json::object* top = !ec ? v.if_object() : nullptr;
  const json::value* curve = top ? top->if_contains("curve25519") : nullptr;
  if (!curve || !curve->is_object()) return Error::internal("libolm returned malformed keys");
  json::object out;
  for (const auto& [id, key] : curve->get_object()) {
    if (!key.is_string()) return Error::internal("libolm returned a malformed key");
    json::object entry{{"key", key}};
    if (fallback) entry["fallback"] = true;
    sign_object(entry, user_id, device_id);
    out[std::string(kSignedCurve25519) + ":" + std::string(id)] = std::move(entry);
  }
  return out;
}

Result<json::object> OlmDevice::one_time_keys(const std::string& user_id,
                                              const std::string& device_id, size_t n) {
  OlmAccount* a = account_.get();
  if (n > max_one_time_keys()) {
    return Error::invalid_param("At most " + std::to_string(max_one_time_keys()) +
                                " one-time keys can be held");
  }
  if (n > 0) {
    RandomBytes random(olm_account_generate_one_time_keys_random_length(a, n));
    if (failed(olm_account_generate_one_time_keys(a, n, random.data(), random.size()))) {
      return olm_failure("Cannot generate one-time keys", olm_account_last_error(a));
    }
  }
  std::string buf(olm_account_one_time_keys_length(a), '\0');
  size_t len = olm_account_one_time_keys(a, buf.data(), buf.size());
  if (failed(len)) return olm_failure("Cannot read one-time keys", olm_account_last_error(a));
  buf.resize(len);
  DS_ASSIGN(json::object out, signed_keys_from(buf, user_id, device_id, false));
  olm_account_mark_keys_as_published(a);
  return out;
}

Result<json::object> OlmDevice::fallback_key(const std::string& user_id,
                                             const std::string& device_id) {
  OlmAccount* a = account_.get();
  RandomBytes random(olm_account_generate_fallback_key_random_length(a));
  if (failed(olm_account_generate_fallback_key(a, random.data(), random.size()))) {
    return olm_failure("Cannot generate a fallback key", olm_account_last_error(a));
  }
  std::string buf(olm_account_unpublished_fallback_key_length(a), '\0');
  size_t len = olm_account_unpublished_fallback_key(a, buf.data(), buf.size());
  if (failed(len)) return olm_failure("Cannot read the fallback key", olm_account_last_error(a));
  buf.resize(len);
  DS_ASSIGN(json::object out, signed_keys_from(buf, user_id, device_id, true));
  olm_account_mark_keys_as_published(a);
  return out;
}

void OlmDevice::forget_old_fallback_key() { olm_account_forget_old_fallback_key(account_.get()); }

void OlmDevice::add_session(const std::string& sender, Session s) {
  std::vector<Session>& list = sessions_[sender];
  list.insert(list.begin(), std::move(s));
  while (list.size() > kMaxOlmSessionsPerSender) list.pop_back();
}

Result<std::string> OlmDevice::decrypt_olm(const std::string& sender_curve25519, int message_type,
                                           const std::string& ciphertext) {
  if (message_type != kOlmPreKeyMessage && message_type != kOlmNormalMessage) {
    return Error::invalid_param("Unknown Olm message type " + std::to_string(message_type));
  }
  DS_TRY(check_curve25519(sender_curve25519, "Sender key"));
  const std::string& sender = sender_curve25519;
  auto found = sessions_.find(sender);

  if (message_type == kOlmPreKeyMessage) {
    // A sender keeps sending pre-key messages until we reply, which the keeper rarely does,
    // so most of them belong to a session we already have.
    if (found != sessions_.end()) {
      std::vector<Session>& list = found->second;
      for (size_t i = 0; i < list.size(); ++i) {
        std::string buf = ciphertext;  // destroyed by the check
        size_t match = olm_matches_inbound_session_from(list[i].olm.get(), sender.data(),
                                                        sender.size(), buf.data(), buf.size());
        if (failed(match)) {
          return olm_failure("Bad Olm pre-key message", olm_session_last_error(list[i].olm.get()));
        }
        if (match != 1) continue;
        DS_ASSIGN(std::string plain, session_decrypt(list[i].olm.get(), message_type, ciphertext));
        std::rotate(list.begin(), list.begin() + i, list.begin() + i + 1);
        return plain;
      }
    }
    SessionPtr s = new_session();
    std::string buf = ciphertext;  // destroyed by libolm
    if (failed(olm_create_inbound_session_from(s.get(), account_.get(), sender.data(),
                                               sender.size(), buf.data(), buf.size()))) {
      return olm_failure("Cannot start an Olm session from pre-key message",
                         olm_session_last_error(s.get()));
    }
    DS_ASSIGN(std::string plain, session_decrypt(s.get(), message_type, ciphertext));
    // Only an authenticated message may use up the one-time key. A fallback key is reported
    // but kept by libolm, and a failure here cannot undo the decryption, so it is ignored.
    olm_remove_one_time_keys(account_.get(), s.get());
    std::string id = session_id(s.get());
    add_session(sender, {std::move(id), std::move(s)});
    return plain;
  }

  if (found == sessions_.end() || found->second.empty()) {
    return Error::not_found("No Olm session with " + sender);
  }
  std::vector<Session>& list = found->second;
  std::string last_reason;
  for (size_t i = 0; i < list.size(); ++i) {
    auto plain = session_decrypt(list[i].olm.get(), message_type, ciphertext);
    if (!plain.ok()) {
      last_reason = plain.error().message;
      continue;
    }
    std::rotate(list.begin(), list.begin() + i, list.begin() + i + 1);
    return plain;
  }
  return Error::not_found("None of the " + std::to_string(list.size()) + " Olm sessions with " +
                          sender + " decrypts this message (" + last_reason + ")");
}

Status OlmDevice::create_outbound_session(const std::string& their_curve25519,
                                          const std::string& their_one_time_key) {
  DS_TRY(check_curve25519(their_curve25519, "Identity key"));
  DS_TRY(check_curve25519(their_one_time_key, "One-time key"));
  SessionPtr s = new_session();
  RandomBytes random(olm_create_outbound_session_random_length(s.get()));
  if (failed(olm_create_outbound_session(
          s.get(), account_.get(), their_curve25519.data(), their_curve25519.size(),
          their_one_time_key.data(), their_one_time_key.size(), random.data(), random.size()))) {
    return olm_failure("Cannot start an outbound Olm session", olm_session_last_error(s.get()));
  }
  std::string id = session_id(s.get());
  add_session(their_curve25519, {std::move(id), std::move(s)});
  return ok_status();
}

Result<std::pair<int, std::string>> OlmDevice::encrypt_olm(const std::string& recipient_curve25519,
                                                           std::string_view plaintext) {
  auto found = sessions_.find(recipient_curve25519);
  if (found == sessions_.end() || found->second.empty()) {
    return Error::not_found("No Olm session with " + recipient_curve25519);
  }
  OlmSession* s = found->second.front().olm.get();
  int type = static_cast<int>(olm_encrypt_message_type(s));
  RandomBytes random(olm_encrypt_random_length(s));
  std::string out(olm_encrypt_message_length(s, plaintext.size()), '\0');
  size_t n = olm_encrypt(s, plaintext.data(), plaintext.size(), random.data(), random.size(),
                         out.data(), out.size());
  if (failed(n)) return olm_failure("Cannot encrypt Olm message", olm_session_last_error(s));
  out.resize(n);
  return std::make_pair(type, std::move(out));
}

size_t OlmDevice::session_count(std::string_view sender_key) const {
  size_t count = 0;
  for (const auto& [sender, list] : sessions_) {
    if (sender_key.empty() || sender == sender_key) count += list.size();
  }
  return count;
}

// ---- MegolmInbound ------------------------------------------------------------------------

namespace {

using GroupPtr = std::unique_ptr<OlmInboundGroupSession, olm_detail::GroupSessionDeleter>;

GroupPtr new_group() {
  return GroupPtr(olm_inbound_group_session(olm_memory(olm_inbound_group_session_size())));
}

}  // namespace

MegolmInbound::MegolmInbound(MegolmInbound&&) noexcept = default;
MegolmInbound& MegolmInbound::operator=(MegolmInbound&&) noexcept = default;
MegolmInbound::~MegolmInbound() = default;

Result<MegolmInbound> MegolmInbound::finish(Group g) {
  std::string id(olm_inbound_group_session_id_length(g.get()), '\0');
  size_t n =
      olm_inbound_group_session_id(g.get(), reinterpret_cast<uint8_t*>(id.data()), id.size());
  if (failed(n)) {
    return olm_failure("Cannot read Megolm session ID",
                       olm_inbound_group_session_last_error(g.get()));
  }
  id.resize(n);
  MegolmInbound session(std::move(g));
  session.session_id_ = std::move(id);
  return session;
}

Result<MegolmInbound> MegolmInbound::from_room_key(std::string_view session_key) {
  GroupPtr g = new_group();
  if (failed(olm_init_inbound_group_session(
          g.get(), reinterpret_cast<const uint8_t*>(session_key.data()), session_key.size()))) {
    return Error::invalid_param(std::string("Bad m.room_key session_key: ") +
                                olm_inbound_group_session_last_error(g.get()));
  }
  return finish(std::move(g));
}

Result<MegolmInbound> MegolmInbound::import_key(std::string_view exported_session_key) {
  GroupPtr g = new_group();
  std::string buf(exported_session_key);  // libolm decodes in place
  if (failed(olm_import_inbound_group_session(g.get(), reinterpret_cast<uint8_t*>(buf.data()),
                                              buf.size()))) {
    return Error::invalid_param(std::string("Bad exported Megolm session_key: ") +
                                olm_inbound_group_session_last_error(g.get()));
  }
  return finish(std::move(g));
}

Result<MegolmInbound> MegolmInbound::unpickle(std::string_view pickled, std::string_view key) {
  DS_TRY(check_pickle_key(key));
  GroupPtr g = new_group();
  std::string buf(pickled);  // libolm decodes in place
  if (failed(olm_unpickle_inbound_group_session(g.get(), key.data(), key.size(), buf.data(),
                                                buf.size()))) {
    return pickle_failure("Cannot unpickle Megolm session",
                          olm_inbound_group_session_last_error(g.get()));
  }
  return finish(std::move(g));
}

Result<std::string> MegolmInbound::pickle(std::string_view key) const {
  DS_TRY(check_pickle_key(key));
  OlmInboundGroupSession* g = group_.get();
  std::string out(olm_pickle_inbound_group_session_length(g), '\0');
  size_t n = olm_pickle_inbound_group_session(g, key.data(), key.size(), out.data(), out.size());
  if (failed(n)) {
    return pickle_failure("Cannot pickle Megolm session", olm_inbound_group_session_last_error(g));
  }
  out.resize(n);
  return out;
}

uint32_t MegolmInbound::first_known_index() const {
  return olm_inbound_group_session_first_known_index(group_.get());
}

Result<std::pair<std::string, uint32_t>> MegolmInbound::decrypt(const std::string& ciphertext) {
  OlmInboundGroupSession* g = group_.get();
  std::string buf = ciphertext;  // both calls below destroy their input
  size_t max =
      olm_group_decrypt_max_plaintext_length(g, reinterpret_cast<uint8_t*>(buf.data()), buf.size());
  if (failed(max)) {
    return olm_failure("Bad Megolm message for session " + session_id_,
                       olm_inbound_group_session_last_error(g));
  }
  buf = ciphertext;
  std::string plain(max, '\0');
  uint32_t index = 0;
  size_t n = olm_group_decrypt(g, reinterpret_cast<uint8_t*>(buf.data()), buf.size(),
                               reinterpret_cast<uint8_t*>(plain.data()), plain.size(), &index);
  if (failed(n)) {
    std::string what = "Cannot decrypt Megolm message with session " + session_id_;
    if (olm_inbound_group_session_last_error_code(g) == OLM_UNKNOWN_MESSAGE_INDEX) {
      what += " (its first known index is " + std::to_string(first_known_index()) + ")";
    }
    return olm_failure(what, olm_inbound_group_session_last_error(g));
  }
  plain.resize(n);
  return std::make_pair(std::move(plain), index);
}

Result<std::string> MegolmInbound::export_at(uint32_t index) const {
  OlmInboundGroupSession* g = group_.get();
  std::string out(olm_export_inbound_group_session_length(g), '\0');
  size_t n = olm_export_inbound_group_session(g, reinterpret_cast<uint8_t*>(out.data()), out.size(),
                                              index);
  if (failed(n)) {
    return olm_failure(
        "Cannot export Megolm session " + session_id_ + " at index " + std::to_string(index),
        olm_inbound_group_session_last_error(g));
  }
  out.resize(n);
  return out;
}

}  // namespace despatch
