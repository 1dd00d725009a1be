// Hashing, ed25519 signing keys and JSON signatures (appendices "Signing JSON").
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "core/result.h"

namespace despatch {

inline constexpr size_t kEd25519SeedBytes = 32;
inline constexpr size_t kEd25519PublicKeyBytes = 32;
inline constexpr size_t kEd25519SignatureBytes = 64;

// SHA-256 of `data` as 32 raw bytes.
std::string sha256(std::string_view data);

// An ed25519 key pair plus its version, the part after "ed25519:" in a key ID.
class SigningKey {
 public:
  // A fresh random key pair.
  static SigningKey generate(std::string version);
  // Rebuilds a key pair from a 32-byte seed; fails with M_INVALID_PARAM on a wrong length.
  static Result<SigningKey> from_seed(std::string_view seed32, std::string version);

  SigningKey(const SigningKey&) = default;
  SigningKey& operator=(const SigningKey&) = default;
  ~SigningKey();

  std::string seed() const;  // 32 bytes; this is what gets persisted
  const std::string& version() const { return version_; }
  std::string key_id() const { return "ed25519:" + version_; }
  std::string public_key() const;  // 32 raw bytes
  std::string public_key_base64() const;
  std::string sign(std::string_view message) const;  // 64 raw bytes

 private:
  SigningKey() = default;

  std::array<unsigned char, kEd25519SeedBytes> seed_{};
  std::array<unsigned char, kEd25519PublicKeyBytes> public_key_{};
  std::array<unsigned char, 64> secret_key_{};  // libsodium's seed||public_key form
  std::string version_;
};

// True iff `signature64` is a valid ed25519 signature of `message` by `public_key32`. Wrong
// lengths simply fail.
bool ed25519_verify(std::string_view public_key32, std::string_view message,
                    std::string_view signature64);

// Signs `obj` in place as `entity` (a server name or user ID): the canonical JSON of `obj`
// without `signatures` and `unsigned` is signed, and the unpadded base64 signature is stored
// at signatures[entity][key.key_id()]. Other signatures and `unsigned` are kept; a non-object
// `signatures` member is replaced.
void sign_json(json::object& obj, const std::string& entity, const SigningKey& key);

// Checks signatures[entity][key_id] on `obj` against `public_key32`, per appendices "Checking
// for a Signature". Any failure (missing entry, bad base64, bad signature) is 403 M_FORBIDDEN.
Status verify_json(const json::object& obj, const std::string& entity, const std::string& key_id,
                   std::string_view public_key32);

}  // namespace despatch
