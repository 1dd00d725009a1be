// An ordinary Olm/Megolm device for the records keeper, over libolm's C API: it publishes
// device and one-time keys, decrypts m.room.encrypted to-device messages (Olm) to learn room
// keys, and decrypts room events with those keys (Megolm). See the spec's "olm-megolm" pages
// and client-server "End-to-End Encryption".
//
// Neither class is thread-safe; callers serialise access. Every pickle is encrypted by libolm
// with the caller's pickle key, so pickles may be stored at rest as they are.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/result.h"

// libolm's opaque types, declared here so callers need not include <olm/olm.h>.
struct OlmAccount;
struct OlmSession;
struct OlmInboundGroupSession;

namespace despatch {

inline constexpr const char* kOlmAlgorithm = "m.olm.v1.curve25519-aes-sha2";
inline constexpr const char* kMegolmAlgorithm = "m.megolm.v1.aes-sha2";
inline constexpr const char* kSignedCurve25519 = "signed_curve25519";

// Olm message types, as in the `type` field of an m.olm.v1 ciphertext entry.
inline constexpr int kOlmPreKeyMessage = 0;
inline constexpr int kOlmNormalMessage = 1;

// Sessions kept per sender key; the least recently used beyond this are dropped, bounding
// memory when a client keeps starting fresh sessions.
inline constexpr size_t kMaxOlmSessionsPerSender = 32;

namespace olm_detail {
struct AccountDeleter {
  void operator()(OlmAccount* p) const;
};
struct SessionDeleter {
  void operator()(OlmSession* p) const;
};
struct GroupSessionDeleter {
  void operator()(OlmInboundGroupSession* p) const;
};
}  // namespace olm_detail

// One Olm session in storable form.
struct PickledOlmSession {
  std::string sender_key;  // the peer's curve25519 identity key, unpadded base64
  std::string session_id;
  std::string pickle;  // encrypted with the pickle key
};

// An Olm account (identity keys, one-time and fallback keys) plus its Olm sessions.
class OlmDevice {
 public:
  // A new account with fresh identity keys and no one-time keys.
  static Result<OlmDevice> create();
  // Restores the whole device (account and sessions) from pickle(). A wrong key or a damaged
  // pickle fails with 500 M_UNKNOWN naming libolm's reason (BAD_ACCOUNT_KEY for a wrong key).
  static Result<OlmDevice> unpickle(std::string_view pickled, std::string_view key);
  // Restores only the account, with no sessions; add them back with restore_session().
  static Result<OlmDevice> unpickle_account(std::string_view pickled, std::string_view key);

  OlmDevice(OlmDevice&&) noexcept;
  OlmDevice& operator=(OlmDevice&&) noexcept;
  ~OlmDevice();

  // The whole device as one opaque string. `key` must be non-empty.
  Result<std::string> pickle(std::string_view key) const;
  // The account alone. It changes whenever keys are generated or a pre-key message consumes a
  // one-time key, so it must be re-stored after those.
  Result<std::string> pickle_account(std::string_view key) const;
  // Sessions with `sender_key`, or all sessions when it is empty, most recently used first.
  // Sessions change on every decrypt and may be evicted, so a store should replace the whole
  // set for a sender after each decrypt_olm() from it.
  Result<std::vector<PickledOlmSession>> pickle_sessions(std::string_view key,
                                                         std::string_view sender_key = {}) const;
  // Adds a session from pickle_sessions() as the least recently used one for its sender.
  Status restore_session(const PickledOlmSession& session, std::string_view key);

  // Identity keys, unpadded base64.
  const std::string& curve25519_key() const { return curve25519_; }
  const std::string& ed25519_key() const { return ed25519_; }

  // Unpadded base64 ed25519 signature of `message` by the device key.
  std::string sign(std::string_view message) const;
  // Signs `obj` per appendices "Signing JSON" (canonical JSON without `signatures` and
  // `unsigned`), storing the result at signatures[user_id]["ed25519:" + device_id].
  void sign_object(json::object& obj, const std::string& user_id,
                   const std::string& device_id) const;

  // The signed `device_keys` object for /keys/upload.
  json::object device_keys(const std::string& user_id, const std::string& device_id) const;

  // The most one-time keys the account holds; generating more discards the oldest.
  size_t max_one_time_keys() const;
  // Generates `n` one-time keys and returns every unpublished one as the `one_time_keys`
  // object for /keys/upload ({"signed_curve25519:<id>": {key, signatures}}), then marks them
  // published. n above max_one_time_keys() is 400 M_INVALID_PARAM.
  Result<json::object> one_time_keys(const std::string& user_id, const std::string& device_id,
                                     size_t n);
  // Generates a new fallback key (keeping the previous one for late messages) and returns the
  // `fallback_keys` object for /keys/upload, with "fallback": true, marked published.
  Result<json::object> fallback_key(const std::string& user_id, const std::string& device_id);
  // Drops the fallback key before the current one, once no more messages using it are due.
  void forget_old_fallback_key();

  // Decrypts the ciphertext entry addressed to this device in an m.olm.v1 message from
  // `sender_curve25519`. A pre-key message (type 0) is tried on an existing session it
  // belongs to, else starts a new inbound session, consuming the one-time key only once the
  // message has decrypted. A normal message (type 1) is tried on each session with that
  // sender. Returns the plaintext JSON text; checking its sender, recipient and keys fields
  // is the caller's job. Errors: 400 M_INVALID_PARAM for a bad type or sender key, 404
  // M_NOT_FOUND when no session with the sender decrypts a normal message, 400 M_UNKNOWN
  // naming libolm's reason otherwise (e.g. BAD_MESSAGE_KEY_ID for a used one-time key).
  Result<std::string> decrypt_olm(const std::string& sender_curve25519, int message_type,
                                  const std::string& ciphertext);

  // Starts an outbound session to a device from its identity key and a claimed one-time (or
  // fallback) key, both unpadded base64; it becomes the session used for that device.
  Status create_outbound_session(const std::string& their_curve25519,
                                 const std::string& their_one_time_key);
  // Encrypts `plaintext` on the most recently used session with `recipient_curve25519`.
  // Returns {message type, base64 body}; 404 M_NOT_FOUND when there is no session.
  Result<std::pair<int, std::string>> encrypt_olm(const std::string& recipient_curve25519,
                                                  std::string_view plaintext);

  // Number of sessions held with `sender_key`, or in total when it is empty.
  size_t session_count(std::string_view sender_key = {}) const;

 private:
  struct Session {
    std::string id;
    std::unique_ptr<OlmSession, olm_detail::SessionDeleter> olm;
  };
  using Account = std::unique_ptr<OlmAccount, olm_detail::AccountDeleter>;

  explicit OlmDevice(Account account);
  Status load_identity_keys();
  Result<json::object> signed_keys_from(const std::string& olm_json, const std::string& user_id,
                                        const std::string& device_id, bool fallback);
  // Puts `s` first for `sender`, evicting the least recently used beyond the limit.
  void add_session(const std::string& sender, Session s);

  Account account_;
  std::string curve25519_;
  std::string ed25519_;
  // Per sender key, most recently used first.
  std::unordered_map<std::string, std::vector<Session>> sessions_;
};

// An inbound Megolm session: decrypts m.megolm.v1.aes-sha2 room events from one sender.
class MegolmInbound {
 public:
  // From the session_key of an m.room_key event (signed by the sender's ratchet). A malformed
  // or badly signed key is 400 M_INVALID_PARAM.
  static Result<MegolmInbound> from_room_key(std::string_view session_key);
  // From the session_key of an m.forwarded_room_key event or a key export (unsigned form);
  // errors as for from_room_key.
  static Result<MegolmInbound> import_key(std::string_view exported_session_key);
  // Restores a session from pickle(); a wrong key fails with 500 M_UNKNOWN (BAD_ACCOUNT_KEY).
  static Result<MegolmInbound> unpickle(std::string_view pickled, std::string_view key);

  MegolmInbound(MegolmInbound&&) noexcept;
  MegolmInbound& operator=(MegolmInbound&&) noexcept;
  ~MegolmInbound();

  Result<std::string> pickle(std::string_view key) const;

  const std::string& session_id() const { return session_id_; }
  // The earliest message index this session can decrypt.
  uint32_t first_known_index() const;

  // Decrypts a room event's base64 ciphertext, returning {plaintext JSON text, message index}.
  // The index is exposed so the caller can reject a replay (the same index seen with a
  // different event ID). Messages before first_known_index() fail with UNKNOWN_MESSAGE_INDEX;
  // tampered or foreign ciphertext fails with 400 M_UNKNOWN naming libolm's reason.
  Result<std::pair<std::string, uint32_t>> decrypt(const std::string& ciphertext);

  // The session key in exportable form starting at `index`, as m.forwarded_room_key carries.
  Result<std::string> export_at(uint32_t index) const;

 private:
  using Group = std::unique_ptr<OlmInboundGroupSession, olm_detail::GroupSessionDeleter>;

  static Result<MegolmInbound> finish(Group g);
  explicit MegolmInbound(Group g) : group_(std::move(g)) {}

  Group group_;
  std::string session_id_;
};

}  // namespace despatch
