#pragma once

#include "storage/conn.h"
#include "storage/server_key_store.h"

namespace despatch::storage {

class SqliteServerKeyStore final : public ServerKeyStore {
 public:
  explicit SqliteServerKeyStore(Conn& c) : c_(c) {}
  Status put_key(const ServerKey& k) override;
  Result<std::optional<ServerKey>> key(const std::string& server_name, const std::string& key_id) override;
  Result<std::vector<ServerKey>> keys_of(const std::string& server_name) override;
  Status put_response(const ServerKeyResponse& r) override;
  Result<std::optional<ServerKeyResponse>> response(const std::string& server_name) override;

 private:
  Conn& c_;
};

}  // namespace despatch::storage
