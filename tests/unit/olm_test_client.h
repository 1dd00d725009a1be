// The client's side of Olm and Megolm, straight on libolm, for tests that talk to the records
// keeper's device the way a Matrix client would.
#pragma once

#include <olm/olm.h>
#include <sodium.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"

namespace despatch::olm_test {

inline std::vector<uint8_t> random_buffer(size_t n) {
  EXPECT_GE(sodium_init(), 0);
  std::vector<uint8_t> out(n);
  if (n > 0) randombytes_buf(out.data(), n);
  return out;
}

// Owns one libolm object in malloc'd memory, which libolm constructs in place.
template <class T, size_t (*Size)(), T* (*Init)(void*), size_t (*Clear)(T*)>
class Owned {
 public:
  Owned() : p_(Init(std::malloc(Size()))) {}
  Owned(const Owned&) = delete;
  Owned& operator=(const Owned&) = delete;
  ~Owned() {
    Clear(p_);
    std::free(p_);
  }

 protected:
  T* const p_;
};

class ClientAccount : public Owned<OlmAccount, olm_account_size, olm_account, olm_clear_account> {
 public:
  ClientAccount() {
    auto r = random_buffer(olm_create_account_random_length(p_));
    EXPECT_NE(olm_create_account(p_, r.data(), r.size()), olm_error());
    std::string keys(olm_account_identity_keys_length(p_), '\0');
    keys.resize(olm_account_identity_keys(p_, keys.data(), keys.size()));
    json::object k = json::parse(keys).as_object();
    curve25519_ = std::string(k.at("curve25519").as_string());
    ed25519_ = std::string(k.at("ed25519").as_string());
  }
  OlmAccount* get() { return p_; }
  // Unpadded base64 ed25519 signature of message by the account's identity key.
  std::string sign(const std::string& message) {
    std::string out(olm_account_signature_length(p_), '\0');
    out.resize(olm_account_sign(p_, message.data(), message.size(), out.data(), out.size()));
    return out;
  }
  const std::string& curve25519() const { return curve25519_; }
  const std::string& ed25519() const { return ed25519_; }

  // One fresh one-time key, as the device side would claim it.
  std::string one_time_key() {
    auto r = random_buffer(olm_account_generate_one_time_keys_random_length(p_, 1));
    EXPECT_NE(olm_account_generate_one_time_keys(p_, 1, r.data(), r.size()), olm_error());
    std::string keys(olm_account_one_time_keys_length(p_), '\0');
    keys.resize(olm_account_one_time_keys(p_, keys.data(), keys.size()));
    olm_account_mark_keys_as_published(p_);
    json::object curve = json::parse(keys).as_object().at("curve25519").as_object();
    return std::string(curve.begin()->value().as_string());
  }

 private:
  std::string curve25519_, ed25519_;
};

class ClientSession : public Owned<OlmSession, olm_session_size, olm_session, olm_clear_session> {
 public:
  void start_outbound(ClientAccount& me, const std::string& their_identity,
                      const std::string& their_one_time_key) {
    auto r = random_buffer(olm_create_outbound_session_random_length(p_));
    ASSERT_NE(olm_create_outbound_session(p_, me.get(), their_identity.data(),
                                          their_identity.size(), their_one_time_key.data(),
                                          their_one_time_key.size(), r.data(), r.size()),
              olm_error())
        << olm_session_last_error(p_);
  }

  void start_inbound(ClientAccount& me, const std::string& their_identity,
                     const std::string& pre_key_message) {
    std::string buf = pre_key_message;
    ASSERT_NE(olm_create_inbound_session_from(p_, me.get(), their_identity.data(),
                                              their_identity.size(), buf.data(), buf.size()),
              olm_error())
        << olm_session_last_error(p_);
  }

  std::pair<int, std::string> encrypt(const std::string& plaintext) {
    int type = static_cast<int>(olm_encrypt_message_type(p_));
    auto r = random_buffer(olm_encrypt_random_length(p_));
    std::string out(olm_encrypt_message_length(p_, plaintext.size()), '\0');
    out.resize(olm_encrypt(p_, plaintext.data(), plaintext.size(), r.data(), r.size(), out.data(),
                           out.size()));
    return {type, out};
  }

  std::string decrypt(int type, const std::string& ciphertext) {
    std::string buf = ciphertext, out(ciphertext.size(), '\0');  // plaintext is always shorter
    size_t n = olm_decrypt(p_, type, buf.data(), buf.size(), out.data(), out.size());
    EXPECT_NE(n, olm_error()) << olm_session_last_error(p_);
    out.resize(n == olm_error() ? 0 : n);
    return out;
  }
};

class ClientGroupSession
    : public Owned<OlmOutboundGroupSession, olm_outbound_group_session_size,
                   olm_outbound_group_session, olm_clear_outbound_group_session> {
 public:
  ClientGroupSession() {
    auto r = random_buffer(olm_init_outbound_group_session_random_length(p_));
    EXPECT_NE(olm_init_outbound_group_session(p_, r.data(), r.size()), olm_error());
  }
  std::string id() {
    std::string out(olm_outbound_group_session_id_length(p_), '\0');
    out.resize(
        olm_outbound_group_session_id(p_, reinterpret_cast<uint8_t*>(out.data()), out.size()));
    return out;
  }
  // The session key at the current ratchet index, as an m.room_key event carries it.
  std::string key() {
    std::string out(olm_outbound_group_session_key_length(p_), '\0');
    out.resize(
        olm_outbound_group_session_key(p_, reinterpret_cast<uint8_t*>(out.data()), out.size()));
    return out;
  }
  std::string encrypt(const std::string& plaintext) {
    std::string out(olm_group_encrypt_message_length(p_, plaintext.size()), '\0');
    out.resize(olm_group_encrypt(p_, reinterpret_cast<const uint8_t*>(plaintext.data()),
                                 plaintext.size(), reinterpret_cast<uint8_t*>(out.data()),
                                 out.size()));
    return out;
  }
};

}  // namespace despatch::olm_test
