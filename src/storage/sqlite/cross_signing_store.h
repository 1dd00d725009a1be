#pragma once

#include "storage/conn.h"
#include "storage/cross_signing_store.h"

namespace despatch::storage {

class SqliteCrossSigningStore final : public CrossSigningStore {
 public:
  explicit SqliteCrossSigningStore(Conn& c) : c_(c) {}
  Result<std::optional<json::object>> key(const std::string& user, const std::string& usage) override;
  Result<std::vector<CrossSigningKey>> keys_of(const std::vector<std::string>& users) override;
  Status put_key(const std::string& user, const std::string& usage, const json::object& key) override;
  Status remove_key(const std::string& user, const std::string& usage) override;
  Status put_signature(const KeySignature& s) override;
  Result<std::vector<KeySignature>> signatures_of(const std::vector<std::string>& target_users,
                                                  const std::string& other_signer) override;
  Status remove_signatures_of(const std::string& target_user, const std::string& target_key) override;

 private:
  Conn& c_;
};

}  // namespace despatch::storage
