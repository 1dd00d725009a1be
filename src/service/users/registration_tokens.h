// Registration tokens, managed through the Synapse-compatible admin API
// (/_synapse/admin/v1/registration_tokens). Every change is audited with who made it.
#pragma once

#include "storage/database.h"
#include "storage/registration_token_store.h"

#include <boost/asio/awaitable.hpp>

#include <optional>
#include <string>

namespace despatch {

class RegistrationTokens {
 public:
  explicit RegistrationTokens(storage::Database& db) : db_(db) {}
  static json::object to_json(const storage::RegistrationToken& t);
  // valid: only tokens still usable (or only the others with false) at now.
  Result<json::array> list(std::optional<bool> valid);
  Result<json::object> get(const std::string& token);
  // A new token (random of `length` characters when token is empty). M_INVALID_PARAM for a
  // bad token, length, uses_allowed or expiry_time; 400 M_INVALID_PARAM when it exists.
  boost::asio::awaitable<Result<json::object>> create(std::string token, int64_t length,
                                                      std::optional<int64_t> uses_allowed,
                                                      std::optional<int64_t> expiry_time, std::string actor);
  boost::asio::awaitable<Result<json::object>> update(std::string token, std::optional<int64_t> uses_allowed,
                                                      bool set_uses, std::optional<int64_t> expiry_time,
                                                      bool set_expiry, std::string actor);
  boost::asio::awaitable<Status> remove(std::string token, std::string actor);

  // Registration with a token (the m.login.registration_token stage, when open registration
  // is off): whether a token is usable now, whether any is (else registration stays closed),
  // and one completed registration counted against it (false when it was used up meanwhile).
  Result<bool> valid(const std::string& token);
  Result<bool> any_usable();
  boost::asio::awaitable<Result<bool>> consume(std::string token);

 private:
  storage::Database& db_;
};

}  // namespace despatch
