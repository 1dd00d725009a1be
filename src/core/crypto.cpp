#include "core/crypto.h"

#include <sodium.h>

#include <algorithm>
#include <cstdlib>

#include "core/base64.h"
#include "core/canonical_json.h"

namespace despatch {
namespace {

// libsodium must be initialised once before use; sodium_init is idempotent and thread-safe,
// but a static keeps the cost to one call.
void ensure_sodium() {
  static const bool kReady = [] { return sodium_init() >= 0; }();
  if (!kReady) std::abort();  // no usable randomness: nothing safe can continue
}

std::string to_string(const unsigned char* p, size_t n) {
  return std::string(reinterpret_cast<const char*>(p), n);
}

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// The bytes a signature covers: the object minus `signatures` and `unsigned`.
std::string signing_payload(const json::object& obj) {
  json::object stripped = obj;
  stripped.erase("signatures");
  stripped.erase("unsigned");
  return canonical_json(stripped);
}

}  // namespace

std::string sha256(std::string_view data) {
  ensure_sodium();
  unsigned char out[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(out, bytes(data), data.size());
  return to_string(out, sizeof out);
}

SigningKey SigningKey::generate(std::string version) {
  ensure_sodium();
  std::array<unsigned char, kEd25519SeedBytes> seed;
  randombytes_buf(seed.data(), seed.size());
  auto key = from_seed(to_string(seed.data(), seed.size()), std::move(version));
  sodium_memzero(seed.data(), seed.size());
  return std::move(key).value();  // cannot fail: the seed has the right length
}

Result<SigningKey> SigningKey::from_seed(std::string_view seed32, std::string version) {
  if (seed32.size() != kEd25519SeedBytes) {
    return Error::invalid_param("ed25519 seed must be 32 bytes");
  }
  ensure_sodium();
  SigningKey key;
  std::copy(seed32.begin(), seed32.end(), key.seed_.begin());
  crypto_sign_seed_keypair(key.public_key_.data(), key.secret_key_.data(), key.seed_.data());
  key.version_ = std::move(version);
  return key;
}

SigningKey::~SigningKey() {
  sodium_memzero(seed_.data(), seed_.size());
  sodium_memzero(secret_key_.data(), secret_key_.size());
}

std::string SigningKey::seed() const { return to_string(seed_.data(), seed_.size()); }

std::string SigningKey::public_key() const {
  return to_string(public_key_.data(), public_key_.size());
}

std::string SigningKey::public_key_base64() const { return base64_encode(public_key()); }

std::string SigningKey::sign(std::string_view message) const {
  unsigned char sig[crypto_sign_BYTES];
  crypto_sign_detached(sig, nullptr, bytes(message), message.size(), secret_key_.data());
  return to_string(sig, sizeof sig);
}

bool ed25519_verify(std::string_view public_key32, std::string_view message,
                    std::string_view signature64) {
  if (public_key32.size() != crypto_sign_PUBLICKEYBYTES) return false;
  if (signature64.size() != crypto_sign_BYTES) return false;
  ensure_sodium();
  return crypto_sign_verify_detached(bytes(signature64), bytes(message), message.size(),
                                     bytes(public_key32)) == 0;
}

void sign_json(json::object& obj, const std::string& entity, const SigningKey& key) {
  std::string signature = base64_encode(key.sign(signing_payload(obj)));
  json::value& sigs = obj["signatures"];
  if (!sigs.is_object()) sigs = json::object();
  json::value& mine = sigs.get_object()[entity];
  if (!mine.is_object()) mine = json::object();
  mine.get_object()[key.key_id()] = signature;
}

Status verify_json(const json::object& obj, const std::string& entity, const std::string& key_id,
                   std::string_view public_key32) {
  const json::value* sigs = obj.if_contains("signatures");
  const json::value* mine =
      sigs && sigs->is_object() ? sigs->get_object().if_contains(entity) : nullptr;
  const json::value* sig =
      mine && mine->is_object() ? mine->get_object().if_contains(key_id) : nullptr;
  if (!sig || !sig->is_string()) {
    return Error::forbidden("No signature from " + entity + " with key " + key_id);
  }
  auto raw = base64_decode(sig->get_string());
  if (!raw) return Error::forbidden("Signature from " + entity + " is not valid base64");
  if (!ed25519_verify(public_key32, signing_payload(obj), *raw)) {
    return Error::forbidden("Signature from " + entity + " with key " + key_id +
                            " does not verify");
  }
  return ok_status();
}

}  // namespace despatch
