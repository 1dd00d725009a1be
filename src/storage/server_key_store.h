// Servers' ed25519 signing keys (this server's own, current and old, and those fetched from
// other servers), and the last self-signed key response of each remote server, which a
// notary hands on unchanged (countersigned).
#pragma once

#include "core/result.h"
#include "storage/stores.h"

#include <optional>
#include <string>
#include <vector>

namespace despatch::storage {

struct ServerKey {
  std::string server_name, key_id;  // key_id: "ed25519:<version>"
  std::string key;                  // unpadded base64 public key
  int64_t valid_until_ts = 0;       // as published (remote keys); 0 for this server's own
  std::optional<int64_t> expired_ts;  // set for old_verify_keys: no longer signs requests
  int64_t fetched_ts = 0;             // when it was stored
};

struct ServerKeyResponse {
  std::string server_name;
  std::string json;  // the /_matrix/key/v2/server object as received, signatures and all
  int64_t valid_until_ts = 0, fetched_ts = 0;
};

class ServerKeyStore {
 public:
  virtual ~ServerKeyStore() = default;
  // server_keys: (server_name, key_id) -> key. Inserts or replaces.
  virtual Status put_key(const ServerKey& k) = 0;
  virtual Result<std::optional<ServerKey>> key(const std::string& server_name, const std::string& key_id) = 0;
  // Every key of one server, current and old, in key_id order.
  virtual Result<std::vector<ServerKey>> keys_of(const std::string& server_name) = 0;
  // server_key_responses: server_name -> its last verified key response. Inserts or replaces.
  virtual Status put_response(const ServerKeyResponse& r) = 0;
  virtual Result<std::optional<ServerKeyResponse>> response(const std::string& server_name) = 0;
};

}  // namespace despatch::storage
