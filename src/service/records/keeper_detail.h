// What keeper.cpp (the keeper's account, Olm sessions and room keys) and keeper_events.cpp
// (encrypted events recorded into the archive) share.
#pragma once

#include "core/base64.h"
#include "service/records/keeper.h"
#include "storage/device_key_store.h"
#include "storage/device_list_store.h"

#include <sodium.h>

#include <optional>
#include <string>
#include <string_view>

namespace despatch::keeper_detail {

inline constexpr const char* kDisplayName = "Records keeper";
inline constexpr size_t kMaxCachedSessions = 10000;

inline const json::string* str(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? &v->as_string() : nullptr;
}

inline const json::object* obj(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v && v->is_object() ? &v->as_object() : nullptr;
}

inline std::optional<json::object> parse_object(std::string_view text) {
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
// The device of user whose published keys hold curve25519 (and ed25519, unless empty): a
// local device's keys, or for a user of another server the copy of their device list this
// server keeps (a list marked stale is not trusted).
inline std::optional<DeviceIdentity> matching_device(const std::string& device_id, const json::object& signed_keys,
                                                     const std::string& curve25519, const std::string& ed25519) {
  auto* keys = obj(signed_keys, "keys");
  if (!keys) return std::nullopt;
  auto* curve = str(*keys, ("curve25519:" + device_id).c_str());
  auto* ed = str(*keys, ("ed25519:" + device_id).c_str());
  if (curve && *curve == curve25519 && ed && (ed25519.empty() || *ed == ed25519))
    return DeviceIdentity{device_id, std::string(*ed)};
  return std::nullopt;
}

inline Result<std::optional<DeviceIdentity>> device_with_keys(storage::Txn& t, const std::string& user, const std::string& curve25519,
                                                       const std::string& ed25519) {
  DS_ASSIGN(auto devices, t.device_keys().device_keys_of({user}));
  for (auto& d : devices)
    if (auto found = matching_device(d.device_id, d.keys, curve25519, ed25519)) return found;
  DS_ASSIGN(auto lists, t.device_lists().remote_lists({user}));
  for (auto& list : lists) {
    if (list.stale) continue;
    for (auto& d : list.devices)
      if (auto found = matching_device(d.device_id, d.keys, curve25519, ed25519)) return found;
  }
  return std::optional<DeviceIdentity>{};
}

inline std::string cache_key(const std::string& room_id, const std::string& session_id,
                      const std::string& sender_key) {
  return room_id + "|" + session_id + "|" + sender_key;
}

// XChaCha20-Poly1305 under the keeper key: base64(nonce || ciphertext).
inline std::string seal_at_rest(const std::string& key, std::string_view plain) {
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


}  // namespace despatch::keeper_detail

namespace despatch {

struct RecordsKeeper::Decrypted {
  json::object payload;  // {type, content, room_id}
  uint32_t index = 0;
  std::string session_id, sender_key, sender_user, source;
};

}  // namespace despatch
