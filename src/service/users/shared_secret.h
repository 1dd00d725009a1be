// Shared-secret registration as Synapse's admin API has it (/_synapse/admin/v1/register),
// for existing provisioning scripts: a one-use nonce (valid 60 s), then a registration
// signed with HMAC-SHA1(secret, nonce \0 user \0 password \0 "admin"|"notadmin"). The
// secret is [admin] registration_shared_secret or the first line of
// registration_shared_secret_file; without either the endpoint is off.
#pragma once

#include "core/config.h"
#include "service/users/user_service.h"

#include <boost/asio/awaitable.hpp>

#include <mutex>
#include <string>
#include <unordered_map>

namespace despatch {

struct SharedSecretRequest {
  std::string nonce, username, password, mac;
  bool admin = false;
  std::string displayname;  // optional
};

class SharedSecretRegistration {
 public:
  SharedSecretRegistration(const Config& config, UserService& users);
  // A problem with the configured file (unreadable, empty), for start-up to report.
  Status load();
  bool enabled() const { return !secret_.empty(); }
  // M_FORBIDDEN while off.
  Result<std::string> nonce();
  // Checks the nonce (used up either way) and the HMAC, makes the account (audited, with
  // "shared_secret" as the actor) and opens a session on a new device.
  boost::asio::awaitable<Result<LoginResult>> register_user(SharedSecretRequest req);

 private:
  const Config& config_;
  UserService& users_;
  std::string secret_;
  std::mutex mu_;
  std::unordered_map<std::string, int64_t> nonces_;  // nonce -> expiry (ms)
};

}  // namespace despatch
