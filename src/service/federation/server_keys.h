// Server signing keys (server-server spec "Retrieving server keys"): this server's own
// (published at /_matrix/key/v2/server, with rotated keys kept as old_verify_keys), other
// servers' keys fetched, checked against their self-signature and cached with their
// validity, and the notary answers of /_matrix/key/v2/query.
#pragma once

#include "core/config.h"
#include "core/crypto.h"
#include "service/federation/metrics.h"
#include "service/federation/sender.h"
#include "storage/database.h"
#include "storage/server_key_store.h"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace despatch {

// Keys are trusted at most this long after they were fetched, whatever valid_until_ts says.
inline constexpr int64_t kMaxKeyValidityMs = 7LL * 24 * 3600 * 1000;
// How long this server's published key response is valid.
inline constexpr int64_t kOwnKeysValidityMs = 24LL * 3600 * 1000;

// Checks a /_matrix/key/v2/server response from server_name: its server_name, its keys'
// form (ed25519, 32 bytes), valid_until_ts, and its self-signature: at least one of its
// verify_keys has signed it, and every verify_keys signature present verifies. Returns
// its keys (verify_keys and old_verify_keys) as stored at now; 401 M_UNAUTHORIZED otherwise.
Result<std::vector<storage::ServerKey>> check_server_keys(const json::object& response, const std::string& server_name,
                                                          int64_t now);

class ServerKeys {
 public:
  ServerKeys(const Config& config, storage::Database& db, const SigningKey& key, FederationSender& sender,
             FederationMetrics& metrics);

  // At start-up: stores this server's current key, and retires any other stored key of its
  // own (the signing key was replaced) into old_verify_keys.
  Status init_blocking();

  // The signed GET /_matrix/key/v2/server answer.
  json::object own_keys(int64_t now) const;

  // The raw public key that signs requests from server_name with key_id, valid now: from
  // memory, the store, or fetched from the server itself (allowed servers only, at most
  // once every 30 seconds after a failure or when a fresh answer lacked the key). 401
  // M_UNAUTHORIZED when it cannot be had.
  boost::asio::awaitable<Result<std::string>> request_key(const std::string& server_name, const std::string& key_id);

  // Notary: the key responses for server_name valid until at least minimum_valid_until_ts,
  // each countersigned by this server: its own, else the cached one, else fetched (allowed
  // servers only, at most once every 30 seconds per server), else the last one cached even
  // if older. Empty when none can be had.
  boost::asio::awaitable<json::array> notary(const std::string& server_name, int64_t minimum_valid_until_ts);

  // Fetches server_name's keys, checks them and stores them with the response.
  boost::asio::awaitable<Result<json::object>> fetch(const std::string& server_name);

 private:
  struct CachedKey {
    std::string raw;
    int64_t valid_until = 0;  // min(valid_until_ts, fetched + 7 days)
  };
  std::optional<std::string> cached(const std::string& server_name, const std::string& key_id, int64_t now);
  bool may_fetch(const std::string& server_name, int64_t now);

  const Config& config_;
  storage::Database& db_;
  const SigningKey& key_;
  FederationSender& sender_;
  FederationMetrics& metrics_;
  std::vector<storage::ServerKey> old_keys_;  // this server's retired keys

  std::mutex mu_;
  std::map<std::pair<std::string, std::string>, CachedKey> keys_;  // (server, key_id)
  std::map<std::string, int64_t> last_fetch_;  // server -> last fetch that failed or lacked a key
};

}  // namespace despatch
