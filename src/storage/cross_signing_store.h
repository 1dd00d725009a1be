// Cross-signing: each user's master, self-signing and user-signing keys
// (cross_signing_keys) and the signatures uploaded for keys and devices after the fact
// (key_signatures), which /keys/query merges into the objects it returns.
#pragma once

#include "core/result.h"
#include "storage/stores.h"

#include <optional>
#include <string>
#include <vector>

namespace despatch::storage {

// A cross-signing key; usage is "master", "self_signing" or "user_signing".
struct CrossSigningKey {
  std::string user_id, usage;
  json::object key;
};

// signer's signature (made with signer_key_id) of target_user's key or device target_key: a
// device ID, or the unpadded base64 public key of a cross-signing key.
struct KeySignature {
  std::string target_user, target_key, signer, signer_key_id, signature;
};

class CrossSigningStore {
 public:
  virtual ~CrossSigningStore() = default;

  // cross_signing_keys: (user_id, usage) -> key object.
  virtual Result<std::optional<json::object>> key(const std::string& user, const std::string& usage) = 0;
  // The keys of these users, by user and usage.
  virtual Result<std::vector<CrossSigningKey>> keys_of(const std::vector<std::string>& users) = 0;
  // Stores (or replaces) the user's key of that usage.
  virtual Status put_key(const std::string& user, const std::string& usage, const json::object& key) = 0;
  virtual Status remove_key(const std::string& user, const std::string& usage) = 0;

  // key_signatures: (target_user, target_key, signer, signer_key_id) -> signature.
  // Stores (or replaces) the signature.
  virtual Status put_signature(const KeySignature& s) = 0;
  // Signatures of these users' keys and devices made by their owner or by other_signer.
  virtual Result<std::vector<KeySignature>> signatures_of(const std::vector<std::string>& target_users,
                                                          const std::string& other_signer) = 0;
  // Forgets the signatures of one key or device (a removed device).
  virtual Status remove_signatures_of(const std::string& target_user, const std::string& target_key) = 0;
};

}  // namespace despatch::storage
