// Registration tokens (registration_tokens): what the m.login.registration_token stage of
// registration checks, managed through the Synapse-compatible admin API.
#pragma once

#include "core/result.h"
#include "storage/stores.h"

#include <optional>
#include <string>
#include <vector>

namespace despatch::storage {

struct RegistrationToken {
  std::string token;
  std::optional<int64_t> uses_allowed;  // nullopt: unlimited
  int64_t pending = 0;                  // registrations under way with it
  int64_t completed = 0;                // registrations it completed
  std::optional<int64_t> expiry_time;   // ms since the epoch; nullopt: never
};

class RegistrationTokenStore {
 public:
  virtual ~RegistrationTokenStore() = default;
  // False when the token exists already.
  virtual Result<bool> add(const RegistrationToken& t) = 0;
  virtual Result<std::optional<RegistrationToken>> get(const std::string& token) = 0;
  virtual Result<std::vector<RegistrationToken>> list() = 0;
  // Replaces uses_allowed and expiry_time; false for an unknown token.
  virtual Result<bool> update(const RegistrationToken& t) = 0;
  virtual Result<bool> remove(const std::string& token) = 0;
  // One more completed registration; false when the token is unknown, used up or expired at now.
  virtual Result<bool> use(const std::string& token, int64_t now) = 0;
};

}  // namespace despatch::storage
